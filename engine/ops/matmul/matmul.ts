/**
 * Linear layer, CPU reference and the CPU hot loop: y = x·Wᵀ (+ bias).
 * W is in nn.Linear layout [out, in], so every output element is a dot product
 * of two contiguous rows. Rows of x are processed four at a time (each weight
 * value is loaded once per four rows) and the inner loop is unrolled four ways.
 * JavaScript arithmetic is f64, so every dot product accumulates in f64 and is
 * rounded to f32 once, on store. A row gives bit-identical results whether it is
 * computed alone (decode) or inside a block (prefill): both kernels sum in the
 * same order. No allocation per call.
 */

/** out = x·Wᵀ (+ bias). x [T, K], w [N, K], bias [N], out [T, N]. */
export function matmul(
  out: Float32Array, // [T, N]
  x: Float32Array, // [T, K]
  w: Float32Array, // [N, K]
  T: number,
  K: number,
  N: number,
  bias?: Float32Array, // [N]
): void {
  matmulInto(out, x, w, T, K, N, bias, 0);
}

/** out += alpha · x·Wᵀ (LoRA's second product, residual adds). x [T, K], w [N, K], out [T, N]. */
export function matmulAccumulate(
  out: Float32Array, // [T, N]
  x: Float32Array, // [T, K]
  w: Float32Array, // [N, K]
  T: number,
  K: number,
  N: number,
  alpha: number,
): void {
  matmulInto(out, x, w, T, K, N, undefined, alpha);
}

/**
 * The shared kernel. accumulate === 0: out = x·Wᵀ + bias; otherwise
 * out += accumulate · x·Wᵀ (bias ignored).
 */
function matmulInto(
  out: Float32Array, // [T, N]
  x: Float32Array, // [T, K]
  w: Float32Array, // [N, K]
  T: number,
  K: number,
  N: number,
  bias: Float32Array | undefined, // [N]
  accumulate: number,
): void {
  if (x.length < T * K || w.length < N * K || out.length < T * N || (bias !== undefined && bias.length < N)) {
    throw new RangeError(`matmul: buffers too small for x [${T}, ${K}] · W[${N}, ${K}]ᵀ`);
  }
  const K4 = K & ~3;
  let t = 0;
  // Four rows of x at a time: each w[j, k] is loaded once for four dot products.
  for (; t + 4 <= T; t += 4) {
    const x0 = t * K;
    const x1 = x0 + K;
    const x2 = x1 + K;
    const x3 = x2 + K;
    const o0 = t * N;
    const o1 = o0 + N;
    const o2 = o1 + N;
    const o3 = o2 + N;
    for (let j = 0; j < N; j++) {
      const wo = j * K;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let k = 0;
      for (; k < K4; k += 4) {
        const w0 = w[wo + k];
        const w1 = w[wo + k + 1];
        const w2 = w[wo + k + 2];
        const w3 = w[wo + k + 3];
        s0 += x[x0 + k] * w0 + x[x0 + k + 1] * w1 + x[x0 + k + 2] * w2 + x[x0 + k + 3] * w3;
        s1 += x[x1 + k] * w0 + x[x1 + k + 1] * w1 + x[x1 + k + 2] * w2 + x[x1 + k + 3] * w3;
        s2 += x[x2 + k] * w0 + x[x2 + k + 1] * w1 + x[x2 + k + 2] * w2 + x[x2 + k + 3] * w3;
        s3 += x[x3 + k] * w0 + x[x3 + k + 1] * w1 + x[x3 + k + 2] * w2 + x[x3 + k + 3] * w3;
      }
      for (; k < K; k++) {
        const wk = w[wo + k];
        s0 += x[x0 + k] * wk;
        s1 += x[x1 + k] * wk;
        s2 += x[x2 + k] * wk;
        s3 += x[x3 + k] * wk;
      }
      if (accumulate === 0) {
        const b = bias === undefined ? 0 : bias[j];
        out[o0 + j] = s0 + b;
        out[o1 + j] = s1 + b;
        out[o2 + j] = s2 + b;
        out[o3 + j] = s3 + b;
      } else {
        out[o0 + j] += accumulate * s0;
        out[o1 + j] += accumulate * s1;
        out[o2 + j] += accumulate * s2;
        out[o3 + j] += accumulate * s3;
      }
    }
  }
  // Remaining rows (all of decode): four output columns at a time, same summation order per element.
  for (; t < T; t++) {
    const x0 = t * K;
    const o0 = t * N;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const a = j * K;
      const b = a + K;
      const c = b + K;
      const d = c + K;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let k = 0;
      for (; k < K4; k += 4) {
        const v0 = x[x0 + k];
        const v1 = x[x0 + k + 1];
        const v2 = x[x0 + k + 2];
        const v3 = x[x0 + k + 3];
        s0 += v0 * w[a + k] + v1 * w[a + k + 1] + v2 * w[a + k + 2] + v3 * w[a + k + 3];
        s1 += v0 * w[b + k] + v1 * w[b + k + 1] + v2 * w[b + k + 2] + v3 * w[b + k + 3];
        s2 += v0 * w[c + k] + v1 * w[c + k + 1] + v2 * w[c + k + 2] + v3 * w[c + k + 3];
        s3 += v0 * w[d + k] + v1 * w[d + k + 1] + v2 * w[d + k + 2] + v3 * w[d + k + 3];
      }
      for (; k < K; k++) {
        const v = x[x0 + k];
        s0 += v * w[a + k];
        s1 += v * w[b + k];
        s2 += v * w[c + k];
        s3 += v * w[d + k];
      }
      if (accumulate === 0) {
        out[o0 + j] = s0 + (bias === undefined ? 0 : bias[j]);
        out[o0 + j + 1] = s1 + (bias === undefined ? 0 : bias[j + 1]);
        out[o0 + j + 2] = s2 + (bias === undefined ? 0 : bias[j + 2]);
        out[o0 + j + 3] = s3 + (bias === undefined ? 0 : bias[j + 3]);
      } else {
        out[o0 + j] += accumulate * s0;
        out[o0 + j + 1] += accumulate * s1;
        out[o0 + j + 2] += accumulate * s2;
        out[o0 + j + 3] += accumulate * s3;
      }
    }
    for (; j < N; j++) {
      const a = j * K;
      let s0 = 0;
      let k = 0;
      for (; k < K4; k += 4) {
        s0 += x[x0 + k] * w[a + k] + x[x0 + k + 1] * w[a + k + 1] + x[x0 + k + 2] * w[a + k + 2] + x[x0 + k + 3] * w[a + k + 3];
      }
      for (; k < K; k++) s0 += x[x0 + k] * w[a + k];
      if (accumulate === 0) out[o0 + j] = s0 + (bias === undefined ? 0 : bias[j]);
      else out[o0 + j] += accumulate * s0;
    }
  }
}
