/**
 * Sparse mixture-of-experts routing, CPU reference (HF Mixtral / Qwen-MoE):
 * softmax over the router logits (f64), top-k (lower expert id wins ties, as
 * torch.topk does for equal values in practice), then optionally renormalise the
 * k kept weights to sum to 1. The experts themselves run through the model's
 * gated MLP; `expertTokens` groups the token rows per expert and `scatterAddRows`
 * adds an expert's weighted output back.
 */

/** Softmax of each row in place (f64 inside). logits: [T, E] → probabilities. */
export function softmaxRows(
  x: Float32Array, // [T, E]
  T: number,
  E: number,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * E;
    let max = -Infinity;
    for (let e = 0; e < E; e++) if (x[o + e] > max) max = x[o + e];
    let sum = 0;
    for (let e = 0; e < E; e++) sum += Math.exp(x[o + e] - max);
    for (let e = 0; e < E; e++) x[o + e] = Math.exp(x[o + e] - max) / sum;
  }
}

/**
 * Router: from logits [T, E] to the top-k expert ids [T, k] and their weights [T, k]
 * (softmax probabilities, renormalised over the k when `normalize`). Best first.
 */
export function routeTopK(
  ids: Int32Array, // [T, k]
  weights: Float32Array, // [T, k]
  logits: Float32Array, // [T, E]
  T: number,
  E: number,
  k: number,
  normalize: boolean,
  probsOut?: Float32Array, // [T, E] full softmax, when wanted
): void {
  if (k > E) throw new RangeError(`routeTopK: top-${k} of ${E} experts`);
  const p = new Float64Array(E); // [E]
  for (let t = 0; t < T; t++) {
    const o = t * E;
    let max = -Infinity;
    for (let e = 0; e < E; e++) if (logits[o + e] > max) max = logits[o + e];
    let sum = 0;
    for (let e = 0; e < E; e++) {
      p[e] = Math.exp(logits[o + e] - max);
      sum += p[e];
    }
    for (let e = 0; e < E; e++) {
      // HF takes the softmax in float32 before top-k; round the same way so ties and order agree.
      p[e] = Math.fround(p[e] / sum);
      if (probsOut !== undefined) probsOut[o + e] = p[e];
    }
    let kept = 0;
    for (let r = 0; r < k; r++) {
      let best = -1;
      for (let e = 0; e < E; e++) {
        let taken = false;
        for (let s = 0; s < r; s++) if (ids[t * k + s] === e) taken = true;
        if (!taken && (best < 0 || p[e] > p[best])) best = e;
      }
      ids[t * k + r] = best;
      kept += p[best];
    }
    for (let r = 0; r < k; r++) {
      const w = p[ids[t * k + r]];
      weights[t * k + r] = normalize ? w / kept : w;
    }
  }
}

/**
 * For each expert, the token rows routed to it and the weight each carries:
 * result[e] = { rows: [n], weights: [n] }, rows ascending.
 */
export function expertTokens(
  ids: Int32Array, // [T, k]
  weights: Float32Array, // [T, k]
  T: number,
  k: number,
  E: number,
): { rows: number[]; weights: number[] }[] {
  const groups = Array.from({ length: E }, () => ({ rows: [] as number[], weights: [] as number[] }));
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < k; r++) {
      const g = groups[ids[t * k + r]];
      g.rows.push(t);
      g.weights.push(weights[t * k + r]);
    }
  }
  return groups;
}

/** dst[i, :] = src[rows[i], :]. */
export function gatherRows(
  dst: Float32Array, // [n, D]
  src: Float32Array, // [T, D]
  rows: number[], // [n]
  D: number,
): void {
  for (let i = 0; i < rows.length; i++) dst.set(src.subarray(rows[i] * D, rows[i] * D + D), i * D);
}

/** out[rows[i], :] += weights[i] · src[i, :]. */
export function scatterAddRows(
  out: Float32Array, // [T, D]
  src: Float32Array, // [n, D]
  rows: number[], // [n]
  weights: number[], // [n]
  D: number,
): void {
  for (let i = 0; i < rows.length; i++) {
    const o = rows[i] * D;
    const w = weights[i];
    for (let d = 0; d < D; d++) out[o + d] += w * src[i * D + d];
  }
}
