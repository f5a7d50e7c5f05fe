/**
 * Token embedding lookup, CPU reference: out[t] = table[ids[t]].
 * `embeddingAdd` adds rows instead (learned absolute positions, GPT-2's wpe).
 */

/** out[t, :] = table[ids[t], :]. Throws RangeError for an id outside [0, rows). */
export function embedding(
  out: Float32Array, // [T, D]
  table: Float32Array, // [V, D]
  ids: ArrayLike<number>, // [T]
  D: number,
): void {
  const rows = table.length / D;
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new RangeError(`embedding: id ${id} at ${t} is outside [0, ${rows})`);
    out.set(table.subarray(id * D, id * D + D), t * D);
  }
}

/** out[t, :] += table[ids[t], :]. Throws RangeError for an id outside [0, rows). */
export function embeddingAdd(
  out: Float32Array, // [T, D]
  table: Float32Array, // [P, D]
  ids: ArrayLike<number>, // [T]
  D: number,
): void {
  const rows = table.length / D;
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new RangeError(`embeddingAdd: index ${id} at ${t} is outside [0, ${rows})`);
    const o = t * D;
    const r = id * D;
    for (let i = 0; i < D; i++) out[o + i] += table[r + i];
  }
}
