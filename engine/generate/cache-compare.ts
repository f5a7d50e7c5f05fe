/**
 * The same decode step with the KV cache and without it: at each position p, the step with
 * the cache runs one token against the p cached ones; without a cache the model recomputes
 * the whole prefix, p + 1 tokens from an empty cache, to get the same last row of logits.
 * Time per step against position: O(p) work with the cache, O(p²) attention (and p× the
 * matmuls) without. Measured on any backend.
 */
import type { Backend } from '../backend/contract';

export interface CacheStepTiming {
  /** Tokens before the step (the step's token sits at this slot). */
  position: number;
  /** One token with `position` tokens cached (median over reps). */
  withCacheMs: number;
  /** position + 1 tokens from an empty cache, last row only (median over reps). */
  withoutCacheMs: number;
  /** Largest |difference| between the two last rows of logits (the same numbers up to rounding). */
  maxAbsDiff: number;
}

export interface CacheCompareOptions {
  /** Runs per position; the median is kept (default 3). */
  reps?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Times the step at each of `positions` both ways over the token sequence `ids` (needs max(positions) + 1 ids within the backend's context). */
export async function compareWithAndWithoutCache(backend: Backend, ids: number[], positions: number[], opts: CacheCompareOptions = {}): Promise<CacheStepTiming[]> {
  const reps = opts.reps ?? 3;
  const now = opts.now ?? (() => performance.now());
  if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`reps must be a positive integer, got ${reps}`);
  const out: CacheStepTiming[] = [];
  for (const p of positions) {
    if (!Number.isInteger(p) || p < 0 || p + 1 > ids.length) throw new RangeError(`position ${p}: needs ${p + 1} ids, ${ids.length} given`);
    if (p + 1 > backend.contextLength) throw new RangeError(`position ${p}: past the context length ${backend.contextLength}`);
    backend.reset();
    if (p > 0) await backend.forward(ids.slice(0, p), undefined, { lastOnly: true });
    const withTimes: number[] = [];
    let cached: Float32Array = new Float32Array(0);
    for (let r = 0; r < reps; r++) {
      backend.truncate(p);
      const t = now();
      cached = (await backend.forward([ids[p]], undefined, { lastOnly: true })).logits;
      withTimes.push(now() - t);
    }
    const withoutTimes: number[] = [];
    let fresh: Float32Array = new Float32Array(0);
    for (let r = 0; r < reps; r++) {
      backend.reset();
      const t = now();
      fresh = (await backend.forward(ids.slice(0, p + 1), undefined, { lastOnly: true })).logits;
      withoutTimes.push(now() - t);
    }
    let d = 0;
    for (let i = 0; i < fresh.length; i++) d = Math.max(d, Math.abs(fresh[i] - cached[i]));
    out.push({ position: p, withCacheMs: median(withTimes), withoutCacheMs: median(withoutTimes), maxAbsDiff: d });
  }
  backend.reset();
  return out;
}
