import { describe, expect, it } from 'vitest';
import { activate, erf, gelu, geluNew, silu, swiglu } from './activations';

describe('activations', () => {
  it('silu(x) = x·σ(x)', () => {
    for (const x of [-20, -3, -0.5, 0, 0.5, 3, 20]) expect(silu(x)).toBeCloseTo(x * (1 / (1 + Math.exp(-x))), 14);
    expect(silu(1)).toBeCloseTo(0.7310585786300049, 14);
  });

  it('gelu_new is the tanh approximation', () => {
    expect(geluNew(1)).toBeCloseTo(0.8411919906082768, 14);
    expect(geluNew(-2)).toBeCloseTo(-0.04540230591222334, 14);
    expect(geluNew(0)).toBe(0);
  });

  it('erf and exact gelu', () => {
    const known: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ];
    for (const [x, v] of known) {
      expect(Math.abs(erf(x) - v)).toBeLessThan(1e-14);
      expect(Math.abs(erf(-x) + v)).toBeLessThan(1e-14);
    }
    expect(gelu(1)).toBeCloseTo(0.8413447460685429, 13);
    expect(Math.abs(gelu(1) - geluNew(1))).toBeLessThan(1e-3);
  });

  it('activate and swiglu work in place over n entries', () => {
    const g = Float32Array.from([1, -1, 2, 9]);
    const u = Float32Array.from([2, 3, -1, 9]);
    swiglu(g, u, 3);
    expect(g[0]).toBeCloseTo(silu(1) * 2, 6);
    expect(g[1]).toBeCloseTo(silu(-1) * 3, 6);
    expect(g[2]).toBeCloseTo(-silu(2), 6);
    expect(g[3]).toBe(9);
    const x = Float32Array.from([0.5, -0.5]);
    activate(x, 2, 'gelu_new');
    expect(x[0]).toBeCloseTo(geluNew(0.5), 6);
    expect(x[1]).toBeCloseTo(geluNew(-0.5), 6);
  });
});
