import { describe, expect, test } from 'vitest';
import { WasmArena } from '../wasm';
import { rmsnorm } from './rmsnorm';
import { WasmRmsnorm } from './rmsnorm.wasm';

function rand(n: number, seed: number, scale = 2): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

describe('WebAssembly rmsnorm (with the residual add)', () => {
  const arena = WasmArena.create(1 << 20)!;
  const wasm = WasmRmsnorm.create(arena)!;

  test.each([
    [1, 384],
    [3, 64],
    [5, 13], // a row length that is not a multiple of four
    [2, 3],
  ])('%i rows of %i: the reference’s bits, with and without the residual, in the arena or not', (rows, dim) => {
    const x0 = rand(rows * dim, 1);
    const r = rand(rows * dim, 2, 5);
    const w = rand(dim, 3);
    for (const withResidual of [false, true]) {
      const wantX = x0.slice();
      if (withResidual) for (let i = 0; i < wantX.length; i++) wantX[i] += r[i];
      const want = new Float32Array(rows * dim);
      rmsnorm(want, wantX, w, dim, 1e-5);
      const x = arena.adopt(x0);
      const out = arena.alloc(rows * dim, 'out');
      wasm.run(out, x, arena.adopt(w), dim, 1e-5, withResidual ? arena.adopt(r) : undefined);
      expect(Array.from(x)).toEqual(Array.from(wantX));
      expect(Array.from(out)).toEqual(Array.from(want));
      // in place, as the model's q/k norms run
      wasm.run(x, x, arena.adopt(w), dim, 1e-5);
      expect(Array.from(x)).toEqual(Array.from(want));
      // arrays outside the arena take the reference
      const xj = x0.slice();
      const outj = new Float32Array(rows * dim);
      wasm.run(outj, xj, w, dim, 1e-5, withResidual ? r : undefined);
      expect(Array.from(outj)).toEqual(Array.from(want));
    }
  });

  test('refuses x that is not whole rows', () => {
    expect(() => wasm.run(new Float32Array(10), new Float32Array(10), new Float32Array(4), 4, 1e-5)).toThrow(/rmsnorm: x \[10\] is not whole rows of 4/);
  });
});
