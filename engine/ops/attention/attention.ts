/**
 * Scaled dot-product attention over a KV cache, CPU reference (HF "eager"
 * attention): causal, grouped-query (query head h reads KV head
 * ⌊h / (nHeads / nKvHeads)⌋, as repeat_kv does), optional sliding window,
 * optional capture of the softmax probabilities. Scores, softmax and the
 * weighted sum of V are all in f64; results are rounded to f32 on store.
 *
 * Query row t sits at cache slot `start + t` and sees slots
 * [max(0, start + t − window + 1), start + t] (window = ∞ when absent).
 * attentionInt8 is the same over an int8 cache (ops/kvquant); a function of its own so the
 * f32 loops stay as they are. attention.wasm.ts runs the f32 case in WebAssembly SIMD with the
 * same arithmetic (equal bits).
 */
export interface AttentionArgs {
  out: Float32Array; // [T, nHeads, headDim]
  q: Float32Array; // [T, nHeads, headDim]  (already rotated)
  kCache: Float32Array; // [ctx, nKvHeads, headDim]  slots 0 … start+T−1 filled
  vCache: Float32Array; // [ctx, nKvHeads, headDim]
  T: number;
  start: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Multiplies q·k (usually headDim^−½). */
  scale: number;
  /** Attend to at most this many slots, self included. */
  window?: number;
  /** When given, receives the probabilities: [nHeads, T, Tk] with Tk = start + T (zeros outside the mask). */
  probs?: Float32Array; // [nHeads, T, Tk]
  /** Scratch, at least Tk long. */
  scores: Float64Array; // [Tk]
  /** Scratch, at least headDim long. */
  acc: Float64Array; // [headDim]
}

/** The checks every attention kernel makes on its arguments (the scratch ones are the reference's). */
export function checkAttentionArgs(a: Pick<AttentionArgs, 'kCache' | 'vCache' | 'T' | 'start' | 'nHeads' | 'nKvHeads' | 'headDim'>): void {
  const { kCache, vCache, T, start, nHeads, nKvHeads, headDim } = a;
  if (nHeads % nKvHeads !== 0) throw new RangeError(`attention: ${nHeads} query heads do not group over ${nKvHeads} KV heads`);
  const Tk = start + T;
  if (kCache.length < Tk * nKvHeads * headDim || vCache.length < Tk * nKvHeads * headDim) throw new RangeError('attention: cache too small');
}

export function attention(a: AttentionArgs): void {
  const { out, q, kCache, vCache, T, start, nHeads, nKvHeads, headDim, scale, window, probs, scores, acc } = a;
  checkAttentionArgs(a);
  const Tk = start + T;
  if (scores.length < Tk || acc.length < headDim) throw new RangeError('attention: scratch too small');
  if (probs !== undefined) {
    if (probs.length < nHeads * T * Tk) throw new RangeError('attention: probs too small');
    probs.fill(0, 0, nHeads * T * Tk);
  }
  const group = nHeads / nKvHeads;
  const kvStride = nKvHeads * headDim;
  for (let t = 0; t < T; t++) {
    const slot = start + t;
    const lo = window === undefined ? 0 : Math.max(0, slot - window + 1);
    for (let h = 0; h < nHeads; h++) {
      const qo = (t * nHeads + h) * headDim;
      const kvh = (h / group) | 0;
      // scores[j] = scale · q·k_j for j in [lo, slot]
      let max = -Infinity;
      for (let j = lo; j <= slot; j++) {
        const ko = j * kvStride + kvh * headDim;
        let s = 0;
        for (let d = 0; d < headDim; d++) s += q[qo + d] * kCache[ko + d];
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      // softmax over the visible slots
      let sum = 0;
      for (let j = lo; j <= slot; j++) {
        const e = Math.exp(scores[j] - max);
        scores[j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      acc.fill(0, 0, headDim);
      for (let j = lo; j <= slot; j++) {
        const p = scores[j] * inv;
        const vo = j * kvStride + kvh * headDim;
        for (let d = 0; d < headDim; d++) acc[d] += p * vCache[vo + d];
        if (probs !== undefined) probs[(h * T + t) * Tk + j] = p;
      }
      for (let d = 0; d < headDim; d++) out[qo + d] = acc[d];
    }
  }
}

/** attention() over an int8 cache: K and V rows of int8 with one f32 scale per (slot, KV head), read as q · s (ops/kvquant). */
export interface AttentionInt8Args extends Omit<AttentionArgs, 'kCache' | 'vCache'> {
  kCache: Int8Array; // [ctx, nKvHeads, headDim]
  vCache: Int8Array; // [ctx, nKvHeads, headDim]
  kScale: Float32Array; // [ctx, nKvHeads]
  vScale: Float32Array; // [ctx, nKvHeads]
}

/**
 * The same as attention(), each cached value read as fround(q · s): exactly the f32 value an
 * int8 round trip (int8RoundTripRows) leaves in an f32 cache, so the two give the same bits.
 */
export function attentionInt8(a: AttentionInt8Args): void {
  const { out, q, kCache, vCache, kScale, vScale, T, start, nHeads, nKvHeads, headDim, scale, window, probs, scores, acc } = a;
  if (nHeads % nKvHeads !== 0) throw new RangeError(`attention: ${nHeads} query heads do not group over ${nKvHeads} KV heads`);
  const Tk = start + T;
  if (scores.length < Tk || acc.length < headDim) throw new RangeError('attention: scratch too small');
  if (kCache.length < Tk * nKvHeads * headDim || vCache.length < Tk * nKvHeads * headDim) throw new RangeError('attention: cache too small');
  if (kScale.length < Tk * nKvHeads || vScale.length < Tk * nKvHeads) throw new RangeError('attention: cache scales too small');
  if (probs !== undefined) {
    if (probs.length < nHeads * T * Tk) throw new RangeError('attention: probs too small');
    probs.fill(0, 0, nHeads * T * Tk);
  }
  const group = nHeads / nKvHeads;
  const kvStride = nKvHeads * headDim;
  const fr = Math.fround;
  for (let t = 0; t < T; t++) {
    const slot = start + t;
    const lo = window === undefined ? 0 : Math.max(0, slot - window + 1);
    for (let h = 0; h < nHeads; h++) {
      const qo = (t * nHeads + h) * headDim;
      const kvh = (h / group) | 0;
      // scores[j] = scale · q·k_j for j in [lo, slot], k_j = its int8 row · its scale
      let max = -Infinity;
      for (let j = lo; j <= slot; j++) {
        const ko = j * kvStride + kvh * headDim;
        const ks = kScale[j * nKvHeads + kvh];
        let s = 0;
        for (let d = 0; d < headDim; d++) s += q[qo + d] * fr(kCache[ko + d] * ks);
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = lo; j <= slot; j++) {
        const e = Math.exp(scores[j] - max);
        scores[j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      acc.fill(0, 0, headDim);
      for (let j = lo; j <= slot; j++) {
        const p = scores[j] * inv;
        const vo = j * kvStride + kvh * headDim;
        const vs = vScale[j * nKvHeads + kvh];
        for (let d = 0; d < headDim; d++) acc[d] += p * fr(vCache[vo + d] * vs);
        if (probs !== undefined) probs[(h * T + t) * Tk + j] = p;
      }
      for (let d = 0; d < headDim; d++) out[qo + d] = acc[d];
    }
  }
}
