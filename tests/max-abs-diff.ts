/** Shared by the unit tests (Node) and the browser checks: no Node or DOM imports. */

/** max |a - b| over two equally long arrays (Infinity when lengths differ or a NaN shows up). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
