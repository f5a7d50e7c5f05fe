import { describe, expect, it } from 'vitest';
import { openModel } from '../formats/load-node';
import { CpuBackend } from '../backend/cpu';
import { fixturePath } from '../../tests/unit/fixtures';
import { compareWithAndWithoutCache } from './cache-compare';

describe('with and without the KV cache', () => {
  it('gives the same last row of logits both ways, and times each position (a counting clock here: no wall-clock assert)', async () => {
    const b = new CpuBackend((await openModel(fixturePath('llama2c', 'stories260K.bin'))).loaded, { contextLength: 128 });
    const ids = Array.from({ length: 100 }, (_, i) => (i * 37 + 5) % 512);
    let tick = 0;
    const r = await compareWithAndWithoutCache(b, ids, [0, 1, 17, 99], { reps: 2, now: () => tick++ });
    expect(r.map((x) => x.position)).toEqual([0, 1, 17, 99]);
    for (const x of r) {
      expect(x.maxAbsDiff).toBeLessThan(1e-4);
      expect(x.withCacheMs).toBe(1);
      expect(x.withoutCacheMs).toBe(1);
    }
    expect(b.length).toBe(0);
    await expect(compareWithAndWithoutCache(b, ids, [100])).rejects.toThrow(/needs 101 ids/);
    await expect(compareWithAndWithoutCache(b, Array(200).fill(1), [150])).rejects.toThrow(/context length 128/);
  });
});
