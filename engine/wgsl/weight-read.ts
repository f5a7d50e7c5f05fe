/**
 * How kernels read a weight matrix: the stored dtype (f32, or f16 packed two per u32),
 * the WGSL element type of the array a kernel binds, and `wAt(rowWord, k)`, element k of
 * a row starting at u32 word `rowWord`. Rows are padded (f32 to 4 values, f16 to 8
 * halves, `rowStrideWords`) so every row starts on a 16-byte boundary; engine/gpu/kernel.ts
 * packs them (`packRows`).
 */

export type WeightDtype = 'f32' | 'f16';
/**
 * How a kernel reads a weight: f32; f16 packed two per u32 and unpacked with
 * unpack2x16float (works everywhere); or 'f16h', the same bytes read as f16 values with
 * the `shader-f16` feature (`enable f16;`), converted to f32 before any arithmetic, so
 * both f16 reads give the same numbers.
 */
export type WeightRead = WeightDtype | 'f16h';

/** u32 words per row of a packed weight: f32 rows padded to 4 values, f16 rows to 8 halves. */
export function rowStrideWords(cols: number, dtype: WeightDtype): number {
  return dtype === 'f32' ? Math.ceil(cols / 4) * 4 : Math.ceil(cols / 8) * 4;
}

/** The `enable` directive a kernel reading weights as `r` needs first ('' for f32 and packed f16). */
export function enableF16(r: WeightRead): string {
  return r === 'f16h' ? 'enable f16;\n' : '';
}

/** WGSL element type of a weight array: one value (4 bytes for f32 / packed f16: two halves, 2 for f16h). */
export function weightScalarType(r: WeightRead): string {
  return r === 'f32' ? 'f32' : r === 'f16' ? 'u32' : 'f16';
}

/** WGSL for reading weights: element k of the row starting at u32 word `rowWord`, over `array<weightScalarType(r)>`. */
export function weightScalarWgsl(r: WeightRead, name = 'w'): string {
  if (r === 'f32') return `fn wAt(rowWord: u32, k: u32) -> f32 { return ${name}[rowWord + k]; }\n`;
  if (r === 'f16h') return `fn wAt(rowWord: u32, k: u32) -> f32 { return f32(${name}[rowWord * 2u + k]); }\n`;
  return `fn wAt(rowWord: u32, k: u32) -> f32 { let v = unpack2x16float(${name}[rowWord + (k >> 1u)]); return select(v.x, v.y, (k & 1u) == 1u); }\n`;
}
