import { describe, expect, test } from 'vitest';
import { WasmArena } from '../wasm';
import { attention } from './attention';
import { WasmAttention } from './attention.wasm';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 4;
  });
}

/**
 * How far the kernel may be from the reference. Its scores are the reference's rounded to f32;
 * the softmax runs in f32 with an exp within 2 ulp, so each probability is off by a few f32
 * ulps; each output is a convex combination of V rows summed in f32 (|out| ≤ max |v|), so its
 * error is a few ulps of max |v| times √(keys) in the typical case. 1e-5 of max |v| leaves room
 * for 2,048+ keys (the cases here stay under 2 % of it); probabilities (≤ 1) are held to 1e-6
 * absolute (under 10 % of it here).
 */
function expectClose(got: Float32Array, want: Float32Array, bound: number, what: string): void {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= worst)) [worst, at] = [e, i];
  }
  expect(worst, `${what}: worst |error| ${worst} at ${at} (got ${got[at]}, want ${want[at]})`).toBeLessThanOrEqual(bound);
}

const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

describe('WebAssembly SIMD attention', () => {
  // [T, start, nHeads, nKvHeads, headDim, window]
  test.each([
    [1, 0, 1, 1, 8, undefined],
    [1, 37, 8, 4, 8, undefined],
    [5, 3, 6, 6, 64, undefined],
    [40, 0, 4, 2, 16, undefined], // more query rows than a staging chunk
    [3, 9, 2, 1, 13, undefined], // headDim not a multiple of 4 or 8
    [7, 2, 3, 3, 6, undefined],
    [9, 20, 4, 4, 12, 6], // sliding window
    [1, 30, 4, 2, 20, 1],
    [20, 0, 2, 2, 24, 1000], // a window wider than the cache
    [1, 2100, 8, 2, 64, undefined], // a long context, grouped query heads
    [3, 2500, 4, 1, 24, undefined], // a long context, one KV head, 16 + 8 dimensions
    [2, 2300, 4, 4, 13, 700], // a long context through a sliding window, an odd head size
    [33, 2048, 6, 3, 40, undefined], // a prefill chunk at a long context
  ] as const)('T=%i start=%i H=%i Kv=%i hd=%i window=%s: within f32 rounding of the reference', (T, start, H, Kv, hd, window) => {
    const ctx = start + T + 3;
    const arena = WasmArena.create(WasmAttention.cacheBytes(ctx * Kv * hd) + WasmAttention.stagingBytes(ctx, H, hd) + 1024)!;
    // the reference reads [ctx, Kv, hd] rows; the kernel the same values written into its layout
    const kRows = rand(ctx * Kv * hd, 1);
    const vRows = rand(ctx * Kv * hd, 2);
    const q = rand(T * H * hd, 3);
    const args = { q, T, start, nHeads: H, nKvHeads: Kv, headDim: hd, scale: 1 / Math.sqrt(hd), window };
    const want = new Float32Array(T * H * hd);
    const wantProbs = new Float32Array(H * T * (start + T));
    attention({ ...args, kCache: kRows, vCache: vRows, out: want, scores: new Float64Array(ctx), acc: new Float64Array(hd), probs: wantProbs });
    const wa = WasmAttention.create(arena, ctx, H, hd)!;
    const { k: kCache, v: vCache } = wa.allocCache(Kv, 'test');
    wa.write(kCache, vCache, kRows, vRows, 0, ctx, Kv);
    const got = new Float32Array(T * H * hd);
    const a = { ...args, kCache, vCache, out: got, scores: new Float64Array(0), acc: new Float64Array(0) };
    expect(wa.accepts(a)).toBe(true);
    wa.run(a);
    const bound = 1e-5 * maxAbs(vRows);
    expectClose(got, want, bound, 'out');
    // with probabilities captured: the same output, and probabilities near the reference's
    const got2 = new Float32Array(T * H * hd);
    const probs = new Float32Array(H * T * (start + T)).fill(7);
    wa.run({ ...a, out: got2, probs });
    expect(Array.from(got2)).toEqual(Array.from(got));
    expectClose(probs, wantProbs, 1e-6, 'probs');
  });

  test('writes in slot order as the model does: a prefill then single rows stay within f32 rounding of the reference', () => {
    const [H, Kv, hd, ctx] = [4, 2, 20, 23];
    const arena = WasmArena.create(WasmAttention.cacheBytes(ctx * Kv * hd) + WasmAttention.stagingBytes(ctx, H, hd) + 1024)!;
    const wa = WasmAttention.create(arena, ctx, H, hd)!;
    const { k: kCache, v: vCache } = wa.allocCache(Kv, 'test');
    const kRows = rand(ctx * Kv * hd, 4);
    const vRows = rand(ctx * Kv * hd, 5);
    const q = rand(ctx * H * hd, 6);
    const R = Kv * hd;
    const step = (start: number, T: number) => {
      wa.write(kCache, vCache, kRows.subarray(start * R, (start + T) * R), vRows.subarray(start * R, (start + T) * R), start, T, Kv);
      const args = { q: q.subarray(start * H * hd, (start + T) * H * hd), T, start, nHeads: H, nKvHeads: Kv, headDim: hd, scale: 0.3 };
      const want = new Float32Array(T * H * hd);
      attention({ ...args, kCache: kRows, vCache: vRows, out: want, scores: new Float64Array(ctx), acc: new Float64Array(hd) });
      const got = new Float32Array(T * H * hd);
      wa.run({ ...args, kCache, vCache, out: got, scores: new Float64Array(0), acc: new Float64Array(0) });
      expectClose(got, want, 1e-5 * maxAbs(vRows), `rows ${start}…${start + T - 1}`);
    };
    step(0, 5);
    for (let s = 5; s < ctx; s++) step(s, 1);
  });

  test('rows in the arena: the kernel writes the cache as the TypeScript copy does, and runs on them in place', () => {
    for (const [H, Kv, hd, ctx] of [
      [4, 2, 20, 23],
      [6, 6, 64, 37],
      [2, 1, 13, 9],
      [3, 3, 40, 16],
    ]) {
      const arena = WasmArena.create(2 * WasmAttention.cacheBytes(ctx * Kv * hd) + WasmAttention.stagingBytes(ctx, H, hd) + 4 * ctx * (Kv + H) * hd * 4 + 4096)!;
      const wa = WasmAttention.create(arena, ctx, H, hd)!;
      const js = wa.allocCache(Kv, 'js');
      const kernel = wa.allocCache(Kv, 'kernel');
      const kRows = rand(ctx * Kv * hd, 7);
      const vRows = rand(ctx * Kv * hd, 8);
      wa.write(js.k, js.v, kRows, vRows, 0, 5, Kv);
      wa.write(kernel.k, kernel.v, arena.adopt(kRows.subarray(0, 5 * Kv * hd)), arena.adopt(vRows.subarray(0, 5 * Kv * hd)), 0, 5, Kv);
      for (let s = 5; s < ctx; s++) {
        const rows = (a: Float32Array) => a.subarray(s * Kv * hd, (s + 1) * Kv * hd);
        wa.write(js.k, js.v, rows(kRows), rows(vRows), s, 1, Kv);
        wa.write(kernel.k, kernel.v, arena.adopt(rows(kRows)), arena.adopt(rows(vRows)), s, 1, Kv);
      }
      expect(Array.from(kernel.k)).toEqual(Array.from(js.k));
      expect(Array.from(kernel.v)).toEqual(Array.from(js.v));
      const T = 3;
      const q = rand(T * H * hd, 9);
      const args = {
        T,
        start: ctx - T,
        nHeads: H,
        nKvHeads: Kv,
        headDim: hd,
        scale: 0.2,
        kCache: kernel.k,
        vCache: kernel.v,
        scores: new Float64Array(0),
        acc: new Float64Array(0),
      };
      const staged = new Float32Array(T * H * hd);
      wa.run({ ...args, q, out: staged });
      const inPlace = arena.alloc(T * H * hd, 'out');
      wa.run({ ...args, q: arena.adopt(q), out: inPlace });
      expect(Array.from(inPlace)).toEqual(Array.from(staged));
    }
  });

  test('declines what it cannot run: a cache outside the arena or not of its slots, more slots than it holds', () => {
    const arena = WasmArena.create(1 << 16)!;
    const wa = WasmAttention.create(arena, 8, 2, 4)!;
    const { k, v } = wa.allocCache(2, 'test');
    const base = {
      out: new Float32Array(8),
      q: new Float32Array(8),
      kCache: k,
      vCache: v,
      T: 1,
      start: 0,
      nHeads: 2,
      nKvHeads: 2,
      headDim: 4,
      scale: 1,
      scores: new Float64Array(8),
      acc: new Float64Array(4),
    };
    expect(wa.accepts(base)).toBe(true);
    expect(wa.accepts({ ...base, vCache: new Float32Array(64) })).toBe(false);
    expect(wa.accepts({ ...base, kCache: arena.alloc(7 * 2 * 4, 'k'), vCache: arena.alloc(7 * 2 * 4, 'v') })).toBe(false);
    expect(() => wa.run({ ...base, probs: new Float32Array(1) })).toThrow(/probs too small/);
    expect(wa.accepts({ ...base, start: 8 })).toBe(false);
    expect(() => wa.run({ ...base, nKvHeads: 3 })).toThrow(/do not group/);
  });
});
