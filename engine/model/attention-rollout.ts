/**
 * Attention rollout (Abnar & Zuidema, 2020): how much each input token flows into each
 * position through the layers, treating the residual connection as half of every step.
 * Per layer l, Â_l = ½·(mean over heads of A_l) + ½·I with rows renormalised to sum 1;
 * the rollout up to layer l is R_l = Â_l · Â_{l−1} · … · Â_0 ([T, T], lower triangular
 * under the causal mask). A_l's rows are recomputed from the captured queries and keys
 * (attention-rows.ts); products are in f64.
 *
 * Cost: a T × T matrix per layer and L·T³/6 multiply-adds, so it is computed for inputs
 * of at most MAX_ROLLOUT_TOKENS tokens.
 */
import { attentionRow, type AttentionInputs } from './attention-rows';

/** Longest input the rollout is computed for (tokens). */
export const MAX_ROLLOUT_TOKENS = 1024;

/** Mean over a layer's heads of the attention probabilities, in f64: [T, T]. */
export function meanAttention(a: AttentionInputs): Float64Array {
  const T = a.T;
  const m = new Float64Array(T * T); // [T, T]
  const row = new Float32Array(T);
  const scores = new Float64Array(T);
  for (let h = 0; h < a.nHeads; h++)
    for (let r = 0; r < T; r++) {
      attentionRow(a, h, r, row, scores);
      for (let j = 0; j <= r; j++) m[r * T + j] += row[j] / a.nHeads;
    }
  return m;
}

/** The rollout through layers 0..upTo (inclusive): [T, T]. */
export function attentionRollout(layers: AttentionInputs[], upTo: number): Float32Array {
  if (!Number.isInteger(upTo) || upTo < 0 || upTo >= layers.length) throw new RangeError(`layer must be an integer in [0, ${layers.length - 1}], got ${upTo}`);
  const T = layers[0].T;
  if (T > MAX_ROLLOUT_TOKENS) throw new RangeError(`attention rollout is computed for inputs of at most ${MAX_ROLLOUT_TOKENS} tokens; this input has ${T}`);
  let R = new Float64Array(T * T); // [T, T] identity: the input itself
  for (let i = 0; i < T; i++) R[i * T + i] = 1;
  let next = new Float64Array(T * T); // [T, T]
  for (let l = 0; l <= upTo; l++) {
    const A = meanAttention(layers[l]); // [T, T]
    // Â = ½A + ½I, rows renormalised (they sum to 1 already up to rounding)
    for (let i = 0; i < T; i++) {
      let s = 0;
      for (let k = 0; k <= i; k++) s += A[i * T + k] = 0.5 * A[i * T + k] + (k === i ? 0.5 : 0);
      for (let k = 0; k <= i; k++) A[i * T + k] /= s;
    }
    // next = Â · R; both lower triangular, so (i, j) sums k in [j, i]
    next.fill(0);
    for (let i = 0; i < T; i++)
      for (let k = 0; k <= i; k++) {
        const w = A[i * T + k];
        if (w === 0) continue;
        const ro = k * T;
        const no = i * T;
        for (let j = 0; j <= k; j++) next[no + j] += w * R[ro + j];
      }
    [R, next] = [next, R];
  }
  return Float32Array.from(R);
}
