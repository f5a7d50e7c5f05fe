/**
 * Top-k of a vector, CPU reference for `topk.wgsl.ts`: the k largest values, best
 * first, the lower index first among equal values (so k = 1 is `argmax`, the first
 * maximum, as torch.argmax). NaNs are never chosen.
 */
export function topK(
  x: ArrayLike<number>, // [n]
  k: number,
): { ids: number[]; values: number[] } {
  const order: number[] = [];
  for (let i = 0; i < x.length; i++) if (!Number.isNaN(x[i])) order.push(i);
  order.sort((a, b) => (x[b] === x[a] ? a - b : x[b] - x[a]));
  const ids = order.slice(0, k);
  return { ids, values: ids.map((i) => x[i]) };
}
