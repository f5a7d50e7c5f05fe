/**
 * Lazy tensors (model/types.ts: LazyTensor) and the two ways across: tensors already in memory
 * seen as lazy ones (so the device upload has one input), and lazy ones read whole as f32
 * (so the eager loaders are the lazy ones plus one read).
 */
import type { LazyTensor, LazyWeightMap, Tensor, WeightMap } from './types';

/** Rows of a row-major tensor: shape[0], or 1 for a vector. */
export function rowCount(shape: readonly number[]): number {
  return shape.length > 1 ? shape[0] : 1;
}

/** Values per row (the product of every dim after the first; a vector's length). */
export function rowLength(shape: readonly number[]): number {
  return shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : (shape[0] ?? 1);
}

/** A tensor in memory as a lazy one (rows are views, nothing copied). */
export function inMemory(t: Tensor): LazyTensor {
  const row = rowLength(t.shape);
  return { shape: t.shape, dtype: 'F32', byteSize: t.data.byteLength, rowsF32: async (r0, r1) => t.data.subarray(r0 * row, r1 * row) };
}

/** Tensors in memory seen as lazy ones (the device upload's one input). */
export function lazyView(weights: WeightMap): LazyWeightMap {
  return new Map([...weights].map(([name, t]) => [name, inMemory(t)]));
}

/**
 * A lazy tensor computed from a whole one (a transpose, a row permutation, a split): `whole`
 * runs on the first read and its result is kept until the last row has been read, so reading
 * the rows in order in chunks computes it once.
 */
export function fromWhole(shape: number[], dtype: string, byteSize: number, whole: () => Promise<Float32Array>): LazyTensor {
  const row = rowLength(shape);
  const rows = rowCount(shape);
  let kept: Promise<Float32Array> | undefined;
  return {
    shape,
    dtype,
    byteSize,
    async rowsF32(r0, r1) {
      kept ??= whole();
      const data = await kept;
      if (r1 >= rows) kept = undefined;
      return data.subarray(r0 * row, r1 * row);
    },
  };
}

/** Reads every lazy tensor whole, as f32: what the eager loaders return (the CPU path, the logit lens). */
export async function materialise(lazy: LazyWeightMap): Promise<WeightMap> {
  const weights: WeightMap = new Map();
  for (const [name, t] of lazy) {
    const data = await t.rowsF32(0, rowCount(t.shape));
    // a view of a bigger array (fromWhole) becomes its own copy, so one tensor does not hold another's memory
    weights.set(name, { shape: t.shape, data: data.byteLength === data.buffer.byteLength ? data : data.slice() });
  }
  return weights;
}
