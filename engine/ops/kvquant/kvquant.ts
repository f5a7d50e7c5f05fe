/**
 * int8 KV-cache quantisation, symmetric, one scale per (token, head): for each row x of
 * `width` values, s = max|x| / 127 and q = round(x / s) ∈ [−127, 127]; x is read back as q · s.
 * The rounding error of an element is at most s / 2 = max|x| / 254.
 */

/** Quantises `rows` rows of `width` values of x (from `offset`) into q [rows, width] and scales [rows]. */
export function quantizeInt8Rows(x: Float32Array, offset: number, rows: number, width: number, q: Int8Array, scales: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = offset + r * width;
    let m = 0;
    for (let i = 0; i < width; i++) m = Math.max(m, Math.abs(x[base + i]));
    const s = m / 127;
    scales[r] = s;
    for (let i = 0; i < width; i++) q[r * width + i] = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(x[base + i] / s)));
  }
}

/** Replaces each row of x with its int8 round trip (q · s), in place: what attention reads from an int8 cache. */
export function int8RoundTripRows(x: Float32Array, offset: number, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const base = offset + r * width;
    let m = 0;
    for (let i = 0; i < width; i++) m = Math.max(m, Math.abs(x[base + i]));
    const s = m / 127;
    if (s === 0) continue;
    for (let i = 0; i < width; i++) x[base + i] = Math.max(-127, Math.min(127, Math.round(x[base + i] / s))) * s;
  }
}
