/** The engine's seeded Rng: reproducible per seed, distinct across seeds, uniform enough to sample with. */
import { describe, expect, test } from 'vitest';
import { Rng } from './rng';

const u32s = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextU32());

/** Pearson's chi-square statistic of observed counts against expected ones. */
function chiSquare(observed: ArrayLike<number>, expected: ArrayLike<number>): number {
  let x = 0;
  for (let i = 0; i < observed.length; i++) x += (observed[i] - expected[i]) ** 2 / expected[i];
  return x;
}

describe('Rng', () => {
  test('the same seed gives the same sequence, and these exact values (sampled runs stay reproducible across versions)', () => {
    expect(u32s(new Rng(1), 1000)).toEqual(u32s(new Rng(1), 1000));
    expect(u32s(new Rng(), 4)).toEqual([2442144158, 3238099751, 3819917871, 2104621829]); // the default seed is 1
    expect(u32s(new Rng(0), 4)).toEqual([3809008728, 1133695204, 53579671, 2891528803]);
    expect(u32s(new Rng(42), 4)).toEqual([2837322924, 544945897, 479756282, 3500138142]);
    const a = new Rng(9);
    const b = new Rng(9);
    expect([a.next(), a.normal(), ...a.floats(3, -2, 5)]).toEqual([b.next(), b.normal(), ...b.floats(3, -2, 5)]);
  });

  test('different seeds differ, the high bits and the sign included', () => {
    const seeds = [...Array.from({ length: 64 }, (_, i) => i), -1, -2, 2 ** 32, 2 ** 32 + 1, -(2 ** 32), 2 ** 40 + 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    const firsts = seeds.map((s) => u32s(new Rng(s), 2).join(','));
    expect(new Set(firsts).size).toBe(seeds.length);
  });

  test('seeds must be safe integers', () => {
    for (const bad of [1.5, NaN, Infinity, 2 ** 53]) expect(() => new Rng(bad)).toThrow(/seed must be an integer/);
  });

  test('next() is in [0, 1), nextU32() a 32-bit unsigned integer, floats() in [lo, hi)', () => {
    const r = new Rng(3);
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = r.next();
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(lo).toBeLessThan(1e-3);
    expect(hi).toBeGreaterThan(1 - 1e-3);
    for (const u of u32s(r, 1000)) expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
    const f = r.floats(10_000, -3, 0.5);
    expect(f.length).toBe(10_000);
    expect(f.every((x) => x >= -3 && x < 0.5)).toBe(true);
  });

  test('uniform: 16 bins pass chi-square, every bit is set about half the time', () => {
    const r = new Rng(12345);
    const N = 160_000;
    const bins = new Float64Array(16);
    const bits = new Float64Array(32);
    for (let i = 0; i < N; i++) {
      const u = r.nextU32();
      bins[Math.floor((u / 2 ** 32) * 16)]++;
      for (let b = 0; b < 32; b++) bits[b] += (u >>> b) & 1;
    }
    // 15 degrees of freedom: P(χ² > 37.70) = 0.001 for a uniform source.
    expect(chiSquare(bins, new Float64Array(16).fill(N / 16))).toBeLessThan(37.7);
    // Each bit ~ Binomial(N, 1/2): sd = 200; 5 sd.
    for (const c of bits) expect(Math.abs(c - N / 2)).toBeLessThan(1000);
  });

  test('normal(): mean 0, variance 1', () => {
    const r = new Rng(77);
    const N = 100_000;
    let sum = 0;
    let sq = 0;
    let finite = true;
    for (let i = 0; i < N; i++) {
      const z = r.normal();
      finite &&= Number.isFinite(z);
      sum += z;
      sq += z * z;
    }
    expect(finite).toBe(true);
    const mean = sum / N;
    expect(Math.abs(mean)).toBeLessThan(0.015); // sd of the mean 0.0032
    expect(Math.abs(sq / N - mean * mean - 1)).toBeLessThan(0.03); // sd of the variance ≈ 0.0045
  });
});
