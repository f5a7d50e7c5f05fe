/**
 * The logit lens: the model's final norm and head applied to the residual stream after
 * each layer, lm_head(final_norm(h_l)), read as "what the model would predict if it
 * stopped at layer l". Works on residuals captured by any backend (ForwardResult.residuals),
 * so the CPU and the WebGPU paths share it; the last layer's lens is the model's logits.
 *
 * Sums run in f64 (the reference matmul), rounded to f32 on store.
 */
import { layernorm } from '../ops/layernorm/layernorm';
import { matmul } from '../ops/matmul/matmul';
import { rmsnorm } from '../ops/rmsnorm/rmsnorm';
import type { ModelConfig, WeightMap } from './types';

/** What the lens needs of the weights: the final norm and the head. */
export interface LensWeights {
  norm: Float32Array; // [D]
  normBias?: Float32Array; // [D] (LayerNorm)
  head: Float32Array; // [V, D]
}

/** The final norm and head of a weight map (the head is the embedding when tied). */
export function lensWeights(c: ModelConfig, weights: WeightMap): LensWeights {
  const get = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new RangeError(`logit lens: the weights have no ${name}`);
    return t.data;
  };
  return {
    norm: get('model.norm.weight'),
    normBias: weights.get('model.norm.bias')?.data,
    head: c.tieEmbeddings ? get('model.embed_tokens.weight') : get('lm_head.weight'),
  };
}

/** lm_head(final_norm(residual)): residual [rows, D] → logits [rows, V]. */
export function lensLogits(c: ModelConfig, w: LensWeights, residual: Float32Array): Float32Array {
  const D = c.hiddenSize;
  const V = c.vocabSize;
  if (residual.length % D !== 0) throw new RangeError(`logit lens: residual of ${residual.length} floats is not rows of ${D}`);
  const rows = residual.length / D;
  const hid = new Float32Array(rows * D); // [rows, D]
  if (c.norm.kind === 'rms') rmsnorm(hid, residual, w.norm, D, c.norm.eps);
  else layernorm(hid, residual, w.norm, w.normBias, D, c.norm.eps);
  const logits = new Float32Array(rows * V); // [rows, V]
  matmul(logits, hid, w.head, rows, D, V);
  return logits;
}

/**
 * The lens of every layer: residuals [L + 1] × [T, D] as a forward captures them (after
 * the embeddings, then after each layer) → [L, T, V], layer l from residuals[l + 1].
 */
export function logitLens(c: ModelConfig, w: LensWeights, residuals: Float32Array[]): Float32Array {
  const L = residuals.length - 1;
  if (L < 1) throw new RangeError('logit lens: needs the residuals after at least one layer');
  const T = residuals[0].length / c.hiddenSize;
  const per = T * c.vocabSize;
  const out = new Float32Array(L * per); // [L, T, V]
  for (let l = 0; l < L; l++) out.set(lensLogits(c, w, residuals[l + 1]), l * per);
  return out;
}

/** One lens cell: the top tokens with their softmax probabilities, and a named token's rank. */
export interface LensCell {
  ids: number[];
  probs: number[];
  /** 0-based rank of the target token (0 = top-1), when one was named. */
  targetRank?: number;
  targetProb?: number;
}

/** Softmax top-k of one logits row (prob desc, id asc on ties) and the rank of `target`. */
export function lensCell(row: Float32Array, k: number, target?: number): LensCell {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const n = Math.min(k, row.length);
  // partial selection: k passes over the row
  const ids: number[] = [];
  const taken = new Uint8Array(row.length);
  for (let j = 0; j < n; j++) {
    let best = -1;
    for (let i = 0; i < row.length; i++) if (!taken[i] && (best < 0 || row[i] > row[best])) best = i;
    taken[best] = 1;
    ids.push(best);
  }
  const cell: LensCell = { ids, probs: ids.map((i) => Math.exp(row[i] - max) / sum) };
  if (target !== undefined && target >= 0 && target < row.length) {
    let rank = 0;
    const tv = row[target];
    for (let i = 0; i < row.length; i++) if (row[i] > tv || (row[i] === tv && i < target)) rank++;
    cell.targetRank = rank;
    cell.targetProb = Math.exp(tv - max) / sum;
  }
  return cell;
}
