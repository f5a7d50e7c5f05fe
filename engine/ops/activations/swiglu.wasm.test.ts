import { describe, expect, test } from 'vitest';
import { WasmArena } from '../wasm';
import { silu, swiglu } from './activations';
import { WasmSwiglu } from './swiglu.wasm';

function rand(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

/**
 * The kernel's error against the reference (f64, Math.exp), in ulps of the f32 result: exp is
 * within 2 ulp, then 1 + e, the quotient and the product round once each in f32, so a handful
 * of ulps at most; 8 leaves room and still catches any wrong coefficient or lane.
 */
function ulpsOff(got: number, want: number): number {
  if (got === want) return 0;
  const ulp = Math.max(Math.abs(want), 2 ** -126) * 2 ** -23;
  return Math.abs(got - want) / ulp;
}

describe('WebAssembly SIMD swiglu', () => {
  const arena = WasmArena.create(1 << 20)!;
  const wasm = WasmSwiglu.create(arena, 1000)!;

  test.each([
    ['in the arena', true, 1027],
    ['staged, several chunks and a ragged end', false, 2503],
    ['fewer than four', false, 3],
  ] as const)('%s: within 8 ulps of the reference', (_, inArena, n) => {
    const g0 = rand(n, 1, 12);
    const u = rand(n, 2, 3);
    const want = g0.slice();
    swiglu(want, u, n);
    const g = inArena ? arena.adopt(g0) : g0.slice();
    const uu = inArena ? arena.adopt(u) : u;
    wasm.run(g, uu, n);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, ulpsOff(g[i], want[i]));
    expect(worst).toBeLessThanOrEqual(8);
  });

  test('the tails of silu: 0 and −0, large of either sign, overflow of exp', () => {
    const g = Float32Array.from([0, -0, 1e-30, -1e-30, 20, -20, 87, -87, 88.5, -88.5, 100, -100, 1e30, -1e30, 3.4e38, -3.4e38]);
    const u = new Float32Array(g.length).fill(1.5);
    const got = g.slice();
    wasm.run(got, u, g.length);
    for (let i = 0; i < g.length; i++) {
      const want = Math.fround(silu(g[i]) * 1.5);
      if (Math.abs(want) < 1e-30) expect(Math.abs(got[i]), `silu(${g[i]})`).toBeLessThan(1e-30);
      else expect(ulpsOff(got[i], want), `silu(${g[i]}) = ${got[i]}, want ${want}`).toBeLessThanOrEqual(8);
    }
  });

  test('leaves entries past n alone and refuses n beyond the arrays', () => {
    const g = Float32Array.from([1, 2, 3, 4, 5, 6]);
    wasm.run(g, new Float32Array(6).fill(1), 5);
    expect(g[5]).toBe(6);
    expect(() => wasm.run(g, new Float32Array(4), 5)).toThrow(/swiglu: 5 entries/);
  });
});
