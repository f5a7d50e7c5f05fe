/**
 * Low-rank adapters (LoRA), CPU reference (PEFT's LoraLayer):
 *   unmerged:  y = x·Wᵀ (+ b) + scale · (x·Aᵀ)·Bᵀ        A [r, in], B [out, r]
 *   merged:    W' = W + scale · B·A
 * scale = alpha / r (or alpha / √r with rsLoRA).
 */
import { matmul, matmulAccumulate } from '../matmul/matmul';

/** out += scale · (x·Aᵀ)·Bᵀ. tmp is scratch for x·Aᵀ. */
export function loraAdd(
  out: Float32Array, // [T, N]
  x: Float32Array, // [T, K]
  A: Float32Array, // [r, K]
  B: Float32Array, // [N, r]
  T: number,
  K: number,
  N: number,
  r: number,
  scale: number,
  tmp: Float32Array, // [T, r]
): void {
  matmul(tmp, x, A, T, K, r); // [T, r]
  matmulAccumulate(out, tmp, B, T, r, N, scale); // [T, N]
}

/** A new weight W + scale · B·A (f64 sums, rounded once). W is not modified. */
export function loraMerged(
  W: Float32Array, // [N, K]
  A: Float32Array, // [r, K]
  B: Float32Array, // [N, r]
  N: number,
  K: number,
  r: number,
  scale: number,
): Float32Array {
  const out = new Float32Array(N * K); // [N, K]
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let i = 0; i < r; i++) s += B[n * r + i] * A[i * K + k];
      out[n * K + k] = W[n * K + k] + scale * s;
    }
  }
  return out;
}
