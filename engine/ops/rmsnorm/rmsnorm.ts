/**
 * RMSNorm, CPU reference: y = x / sqrt(mean(x^2) + eps) * weight, row by row.
 * Its WGSL twin is `rmsnorm.wgsl.ts` beside this file.
 */
export function rmsnorm(
  out: Float32Array, // [T, dim]
  x: Float32Array, // [T, dim]
  weight: Float32Array, // [dim]
  dim: number,
  eps: number,
): void {
  const rows = x.length / dim;
  for (let t = 0; t < rows; t++) {
    const o = t * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[o + i] * x[o + i];
    const scale = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[o + i] = x[o + i] * scale * weight[i];
  }
}
