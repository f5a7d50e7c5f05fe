/**
 * LayerNorm, CPU reference (torch.nn.LayerNorm): y = (x - mean) / sqrt(var + eps) * weight + bias,
 * biased variance, row by row, two-pass in f64.
 */
export function layernorm(
  out: Float32Array, // [T, dim]
  x: Float32Array, // [T, dim]
  weight: Float32Array, // [dim]
  bias: Float32Array | undefined, // [dim]
  dim: number,
  eps: number,
): void {
  const rows = x.length / dim;
  for (let t = 0; t < rows; t++) {
    const o = t * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[o + i];
    const mean = sum / dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) {
      const d = x[o + i] - mean;
      ss += d * d;
    }
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[o + i] = (x[o + i] - mean) * inv * weight[i] + (bias === undefined ? 0 : bias[i]);
  }
}
