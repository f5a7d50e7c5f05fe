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
  ] as const)('T=%i start=%i H=%i Kv=%i hd=%i window=%s: the same bits as the reference', (T, start, H, Kv, hd, window) => {
    const ctx = start + T + 3;
    const arena = WasmArena.create(2 * ctx * Kv * hd * 4 + WasmAttention.stagingBytes(ctx, H, hd) + 1024)!;
    const kCache = arena.alloc(ctx * Kv * hd, 'k');
    const vCache = arena.alloc(ctx * Kv * hd, 'v');
    kCache.set(rand(kCache.length, 1));
    vCache.set(rand(vCache.length, 2));
    const q = rand(T * H * hd, 3);
    const args = { q, kCache, vCache, T, start, nHeads: H, nKvHeads: Kv, headDim: hd, scale: 1 / Math.sqrt(hd), window };
    const want = new Float32Array(T * H * hd);
    attention({ ...args, out: want, scores: new Float64Array(ctx), acc: new Float64Array(hd) });
    const wa = WasmAttention.create(arena, ctx, H, hd)!;
    const got = new Float32Array(T * H * hd);
    const a = { ...args, out: got, scores: new Float64Array(0), acc: new Float64Array(0) };
    expect(wa.accepts(a)).toBe(true);
    wa.run(a);
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  test('declines what it cannot run: probabilities, a cache outside the arena, more slots than it holds', () => {
    const arena = WasmArena.create(1 << 16)!;
    const wa = WasmAttention.create(arena, 8, 2, 4)!;
    const k = arena.alloc(8 * 2 * 4, 'k');
    const base = {
      out: new Float32Array(8),
      q: new Float32Array(8),
      kCache: k,
      vCache: k,
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
    expect(wa.accepts({ ...base, probs: new Float32Array(2) })).toBe(false);
    expect(wa.accepts({ ...base, vCache: new Float32Array(64) })).toBe(false);
    expect(wa.accepts({ ...base, start: 8 })).toBe(false);
    expect(() => wa.run({ ...base, nKvHeads: 3 })).toThrow(/do not group/);
  });
});
