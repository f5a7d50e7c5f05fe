import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { matmul } from './matmul';
import { WasmMatmul, wasmSimdAvailable } from './matmul.wasm';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

describe('WebAssembly SIMD matmul', () => {
  test('Node has WebAssembly SIMD', () => {
    expect(wasmSimdAvailable()).toBe(true);
  });

  test.each([
    [1, 1, 1],
    [1, 7, 5],
    [1, 64, 172],
    [3, 63, 9],
    [5, 96, 33],
    [40, 17, 4],
    [17, 384, 1030],
  ])('T=%i K=%i N=%i equals the f64 reference within f32 rounding, with and without bias', (T, K, N) => {
    const x = rand(T * K, 1);
    const w = rand(N * K, 2);
    const b = rand(N, 3);
    const mm = WasmMatmul.create(N * K, K, N, 4)!;
    const ww = mm.adopt(w);
    expect(mm.owns(ww)).toBe(true);
    expect(mm.owns(w)).toBe(false);
    for (const bias of [undefined, b]) {
      const want = new Float32Array(T * N);
      matmul(want, x, w, T, K, N, bias);
      const got = new Float32Array(T * N);
      mm.matmul(got, x, ww, T, K, N, bias);
      for (let i = 0; i < want.length; i++) {
        // f32 accumulation of K products of magnitude ≤ 0.25: error ≤ K·2⁻²⁴·Σ|xw| bound, loose here.
        expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-6 * K + 1e-7);
      }
    }
  });

  test('a row gives the same bits alone (decode) or inside a block (prefill)', () => {
    const T = 9,
      K = 130,
      N = 67;
    const x = rand(T * K, 4);
    const mm = WasmMatmul.create(N * K, K, N, 4)!;
    const w = mm.adopt(rand(N * K, 5));
    const all = new Float32Array(T * N);
    mm.matmul(all, x, w, T, K, N);
    for (let t = 0; t < T; t++) {
      const one = new Float32Array(N);
      mm.matmul(one, x.subarray(t * K, (t + 1) * K), w, 1, K, N);
      expect(Array.from(one)).toEqual(Array.from(all.subarray(t * N, (t + 1) * N)));
    }
  });

  test('rows in the arena are used in place: the same bits as through the staging rows, bias and all', () => {
    const [T, K, N] = [21, 70, 37]; // more rows than a staging chunk
    const x = rand(T * K, 6);
    const b = rand(N, 7);
    const mm = WasmMatmul.create(N * K + T * (K + N), K, N, 4)!;
    const w = mm.adopt(rand(N * K, 8));
    const staged = new Float32Array(T * N);
    mm.matmul(staged, x, w, T, K, N, b);
    const xa = mm.adopt(x);
    const inPlace = mm.adopt(new Float32Array(T * N));
    mm.matmul(inPlace, xa, w, T, K, N, b);
    expect(Array.from(inPlace)).toEqual(Array.from(staged));
  });

  test('the arena refuses more weights than it was sized for', () => {
    const mm = WasmMatmul.create(8, 4, 4)!;
    mm.adopt(new Float32Array(8));
    expect(() => mm.adopt(new Float32Array(1024 * 1024))).toThrow(/arena full/);
  });

  test('matmul.wasm.gen.ts is up to date with matmul.wat', () => {
    execFileSync(process.execPath, [path.resolve(__dirname, '../../../scripts/gen-wasm.mjs'), '--check'], { stdio: 'pipe' });
  });
});
