/**
 * The MLP norm folded into gate|up, CPU reference: column j of a row-major [rows, cols] weight
 * scaled by the RMSNorm weight w[j] (engine/gpu/weights.ts, LayerWeights.mlpNormIn). Each
 * product is one correctly rounded f32 multiply (a JavaScript f64 product of two f32 values is
 * exact, and storing it to a Float32Array rounds it once). For f16 weights the host then rounds
 * each product to half bits with engine/formats/quant.ts `f32BitsToF16` (round to nearest even);
 * `normfold.wgsl.ts` beside this file does both steps on the GPU, on the half bits as uploaded.
 */

/**
 * Row-major [rows, cols] `data` with column j scaled by w[j], written to `out` (its first
 * data.length values; `data` itself is allowed) or to a new array; `data` itself when w is
 * undefined (nothing to fold).
 */
export function foldColumns(data: Float32Array, cols: number, w: Float32Array | undefined, out?: Float32Array): Float32Array {
  if (!w) return data;
  out = out ? out.subarray(0, data.length) : new Float32Array(data.length);
  for (let i = 0; i < data.length; i += cols) for (let j = 0; j < cols; j++) out[i + j] = data[i + j] * w[j];
  return out;
}
