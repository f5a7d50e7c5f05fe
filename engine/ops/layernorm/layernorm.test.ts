import { describe, expect, it } from 'vitest';
import { layernorm } from './layernorm';

describe('layernorm', () => {
  it('normalises each row to mean 0 / variance 1, then scales and shifts', () => {
    const dim = 5;
    const x = Float32Array.from([1, 2, 3, 4, 5, -10, 0, 10, 20, 30]);
    const w = Float32Array.from([1, 2, 1, 0.5, 1]);
    const b = Float32Array.from([0, 1, 0, 0, -1]);
    const out = new Float32Array(10);
    layernorm(out, x, w, b, dim, 1e-5);
    for (let t = 0; t < 2; t++) {
      const row = [...x.subarray(t * dim, t * dim + dim)];
      const mean = row.reduce((a, c) => a + c, 0) / dim;
      const v = row.reduce((a, c) => a + (c - mean) ** 2, 0) / dim;
      row.forEach((xi, i) => expect(out[t * dim + i]).toBeCloseTo(((xi - mean) / Math.sqrt(v + 1e-5)) * w[i] + b[i], 6));
    }
    const plain = new Float32Array(10);
    layernorm(plain, x, new Float32Array(dim).fill(1), undefined, dim, 0);
    const r = [...plain.subarray(0, dim)];
    expect(r.reduce((a, c) => a + c, 0)).toBeCloseTo(0, 6);
    expect(r.reduce((a, c) => a + c * c, 0) / dim).toBeCloseTo(1, 6);
  });

  it('works in place', () => {
    const x = Float32Array.from([3, 1, 4, 1]);
    const out = new Float32Array(4);
    const w = new Float32Array(4).fill(1);
    layernorm(out, x, w, undefined, 4, 1e-6);
    layernorm(x, x, w, undefined, 4, 1e-6);
    expect(x).toEqual(out);
  });
});
