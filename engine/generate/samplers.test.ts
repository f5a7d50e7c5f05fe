/** Greedy and multinomial sampling: argmax rules, and draws that follow softmax(scores). */
import { describe, expect, test } from 'vitest';
import { Rng } from './rng';
import { argmax, GreedySampler, MultinomialSampler, softmax } from './samplers';

describe('argmax and softmax', () => {
  test('argmax takes the first of equal maxima, within a window when given one', () => {
    expect(argmax(Float32Array.from([1, 3, 3, 2]))).toBe(1);
    expect(argmax(Float32Array.from([-Infinity, -5]))).toBe(1);
    expect(argmax(Float32Array.from([9, 1, 4, 4, 0]), 1, 3)).toBe(1); // index within the window
  });

  test('softmax: masked tokens get 0, the rest sum to 1; a fully masked row gives zeros', () => {
    const p = softmax(Float32Array.from([0, -Infinity, 1000, 999]));
    expect(p[1]).toBe(0);
    expect(p[0]).toBe(0); // underflows in f64 next to 1000
    expect(p[2] + p[3]).toBeCloseTo(1, 15);
    expect(p[2] / p[3]).toBeCloseTo(Math.E, 12);
    expect([...softmax(new Float32Array(3).fill(-Infinity))]).toEqual([0, 0, 0]);
  });

  test('greedy picks the argmax', () => {
    const g = new GreedySampler();
    expect(g.greedy).toBe(true);
    expect(g.sample(Float32Array.from([0.5, 2, -1, 2]))).toBe(1);
  });
});

describe('MultinomialSampler', () => {
  const logits = Float32Array.from([0, 1, 2, -1, 0.5, -Infinity, 3, 1.5, -4]);

  test('draws follow softmax(scores): chi-square over 200k draws with a fixed seed', () => {
    const s = new MultinomialSampler(new Rng(2024));
    expect(s.greedy).toBe(false);
    const N = 200_000;
    const counts = new Float64Array(logits.length);
    for (let i = 0; i < N; i++) counts[s.sample(logits)]++;
    expect(counts[5]).toBe(0); // masked: never drawn
    const p = softmax(logits);
    const live = [...p.keys()].filter((i) => p[i] > 0);
    let chi = 0;
    for (const i of live) chi += (counts[i] - N * p[i]) ** 2 / (N * p[i]);
    // 8 live tokens, 7 degrees of freedom: P(χ² > 24.32) = 0.001 for a correct sampler.
    expect(chi).toBeLessThan(24.32);
    // The rarest token (p ≈ 0.0006) shows up at about its rate too.
    expect(Math.abs(counts[8] - N * p[8])).toBeLessThan(5 * Math.sqrt(N * p[8]));
  });

  test('the same seed draws the same ids; another seed does not', () => {
    const draw = (seed: number) => {
      const s = new MultinomialSampler(new Rng(seed));
      return Array.from({ length: 200 }, () => s.sample(logits));
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  test('one live token is always drawn; a fully masked row is an error', () => {
    const s = new MultinomialSampler(new Rng(1));
    const one = Float32Array.from([-Infinity, -Infinity, 0.3, -Infinity]);
    for (let i = 0; i < 100; i++) expect(s.sample(one)).toBe(2);
    expect(() => s.sample(new Float32Array(4).fill(-Infinity))).toThrow(RangeError);
  });
});
