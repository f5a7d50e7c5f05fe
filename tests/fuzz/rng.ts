/** A small seeded PRNG (mulberry32) so that every fuzz case is reproducible from (seed, format, index). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** A 32-bit hash of the case's identity: the run seed, the format's name and the case index. */
export function caseSeed(seed: number, format: string, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const ch of `${format}#${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Numbers that break size and count checks: zero, negatives, powers of two at type edges, NaN, huge. */
export const INTERESTING_NUMBERS = [
  0,
  -1,
  1,
  2,
  3,
  7,
  255,
  256,
  65535,
  65536,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  1e6,
  1e9,
  1e12,
  1e300,
  -1e9,
  0.5,
  -0.5,
  1e-300,
];
