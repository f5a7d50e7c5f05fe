/**
 * Helpers for rows that are mostly masked (after top-k, say): the processors then work on
 * the unmasked ids only, in ascending id order, so every sum runs over the same values in
 * the same order as a pass over the whole row would and the results are the same to the
 * bit, without passes and allocations the size of the vocabulary.
 */

/** Scan buffer reused across calls (processors run one at a time). */
let scan = new Int32Array(0);

/** A row's unmasked ids (ascending) and its maximum. */
export interface LiveIds {
  ids: Int32Array;
  max: number;
}

/**
 * The unmasked ids of `s` when at most `limit` (default V/8) are unmasked and no score is
 * NaN; undefined otherwise (the caller takes its pass over the whole row).
 */
export function sparseLive(s: Float32Array, limit = s.length >> 3): LiveIds | undefined {
  if (scan.length < limit) scan = new Int32Array(limit);
  let n = 0;
  let max = -Infinity;
  for (let i = 0; i < s.length; i++) {
    const v = s[i];
    if (v === -Infinity) continue;
    if (n === limit || v !== v) return undefined;
    scan[n++] = i;
    if (v > max) max = v;
  }
  return { ids: scan.slice(0, n), max };
}

/** softmax over the live ids only (p[k] for ids[k]), summed in id order; `max` > -Infinity. */
export function liveProbs(s: Float32Array, { ids, max }: LiveIds): { p: Float64Array; logZ: number } {
  const p = new Float64Array(ids.length);
  let sum = 0;
  for (let k = 0; k < ids.length; k++) sum += p[k] = Math.exp(s[ids[k]] - max);
  for (let k = 0; k < p.length; k++) p[k] /= sum;
  return { p, logZ: max + Math.log(sum) };
}

/** Positions 0..n−1 of `ids` sorted by score descending, then id ascending (most probable first). */
export function byScore(s: Float32Array, ids: Int32Array): Int32Array {
  const order = new Int32Array(ids.length);
  for (let k = 0; k < order.length; k++) order[k] = k;
  return order.sort((a, b) => {
    const x = s[ids[a]];
    const y = s[ids[b]];
    return x > y ? -1 : x < y ? 1 : ids[a] - ids[b];
  });
}

/**
 * The k-th largest value of `s` (1 ≤ k ≤ s.length, counting repeats): a min-heap of k
 * values in one pass. Undefined when a NaN is seen.
 */
export function kthLargest(s: Float32Array, k: number): number | undefined {
  const h = s.slice(0, k);
  for (let i = 0; i < k; i++) if (h[i] !== h[i]) return undefined;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(h, i);
  for (let i = k; i < s.length; i++) {
    const v = s[i];
    if (v > h[0]) {
      h[0] = v;
      siftDown(h, 0);
    } else if (v !== v) return undefined;
  }
  return h[0];
}

function siftDown(h: Float32Array, i: number): void {
  const n = h.length;
  const v = h[i];
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[c + 1] < h[c]) c++;
    if (h[c] >= v) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = v;
}
