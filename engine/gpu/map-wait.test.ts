import { describe, expect, it } from 'vitest';
import { canThrottle, throttledWait } from './map-wait';

/** A stand-in for Dawn's Node poll: re-queues itself with setImmediate while `active`, counting its turns. */
function spinner(): { stop: () => number } {
  let turns = 0;
  let active = true;
  const tick = () => {
    turns++;
    if (active) setImmediate(tick);
  };
  setImmediate(tick);
  return { stop: () => ((active = false), turns) };
}

const after = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

describe('throttledWait', () => {
  it('is available in Node', () => {
    expect(canThrottle()).toBe(true);
  });

  it('resolves and rejects as the promise does', async () => {
    await expect(throttledWait(after(5, 42))).resolves.toBe(42);
    await expect(throttledWait(Promise.reject(new Error('device lost')))).rejects.toThrow('device lost');
    await expect(throttledWait(Promise.resolve('now'))).resolves.toBe('now');
  });

  it('lets a polling setImmediate loop turn about once per slice instead of continuously', async () => {
    const waitMs = 40;
    const free = spinner();
    await after(waitMs, 0);
    const freeTurns = free.stop();
    const slow = spinner();
    await throttledWait(after(waitMs, 0), 0.5);
    const throttledTurns = slow.stop();
    // 40 ms in 0.5 ms slices: ~80 turns (timer lateness allowed); an unthrottled loop turns thousands of times
    expect(throttledTurns).toBeLessThanOrEqual(waitMs / 0.5 + 10);
    expect(freeTurns).toBeGreaterThan(4 * throttledTurns);
  });
});
