/**
 * int8 KV-cache quantisation, symmetric, one scale per (token, head): for each row x of
 * `width` values, s = max|x| / 127, computed as the f32 product max|x| · f32(1/127) (the
 * scale the cache stores; a multiply, which WGSL rounds exactly as f32 does, where a division
 * by a constant may be compiled to a reciprocal multiply), and q = round(x / s) ∈ [−127, 127],
 * with x / s rounded to f32 first (as the WGSL kernel kvquant.wgsl.ts divides) and halves
 * rounded up (Math.round). x is read back as q · s rounded to f32: exactly what a WGSL f32
 * multiply of the two gives. A row of zeros has s = 0 and reads back as zeros. The rounding
 * error of an element is at most about s / 2 = max|x| / 254.
 */

/** f32(1/127): the scale is max|x| times this. */
export const INV_127 = Math.fround(1 / 127);

/**
 * Quantises `rows` rows of `width` values of x (from element `offset`) into q and scales,
 * row r landing at q[(outRow + r) · width …] and scales[outRow + r] (a cache's slots).
 */
export function quantizeInt8Rows(x: Float32Array, offset: number, rows: number, width: number, q: Int8Array, scales: Float32Array, outRow = 0): void {
  for (let r = 0; r < rows; r++) {
    const base = offset + r * width;
    const qb = (outRow + r) * width;
    let m = 0;
    for (let i = 0; i < width; i++) m = Math.max(m, Math.abs(x[base + i]));
    const s = Math.fround(m * INV_127);
    scales[outRow + r] = s;
    for (let i = 0; i < width; i++) q[qb + i] = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(Math.fround(x[base + i] / s))));
  }
}

/** x[i] = q[i] · scales[row of i], rounded to f32: `rows` rows of `width`, from row `firstRow`. */
export function dequantizeInt8Rows(q: Int8Array, scales: Float32Array, firstRow: number, rows: number, width: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const s = scales[firstRow + r];
    const qb = (firstRow + r) * width;
    for (let i = 0; i < width; i++) out[r * width + i] = q[qb + i] * s;
  }
}

/** Replaces each row of x with its int8 round trip (q · s), in place: what attention reads from an int8 cache. */
export function int8RoundTripRows(x: Float32Array, offset: number, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const base = offset + r * width;
    let m = 0;
    for (let i = 0; i < width; i++) m = Math.max(m, Math.abs(x[base + i]));
    const s = Math.fround(m * INV_127);
    if (s === 0) {
      x.fill(0, base, base + width);
      continue;
    }
    for (let i = 0; i < width; i++) x[base + i] = Math.max(-127, Math.min(127, Math.round(Math.fround(x[base + i] / s)))) * s;
  }
}
