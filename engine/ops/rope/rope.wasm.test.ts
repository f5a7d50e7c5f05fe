import { describe, expect, test } from 'vitest';
import { WasmArena } from '../wasm';
import { applyRope, ropeCosSin, ropeInvFreq } from './rope';
import { WasmRope } from './rope.wasm';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 6;
  });
}

describe('WebAssembly RoPE', () => {
  const arena = WasmArena.create(1 << 20)!;
  const wasm = WasmRope.create(arena)!;

  test.each([
    [1, 6, 64, 64],
    [3, 2, 16, 16],
    [2, 3, 12, 12], // an odd number of pairs
    [4, 2, 10, 6], // partial rotary: the last dimensions stay
    [1, 1, 2, 2],
  ] as const)('T=%i H=%i headDim=%i rotaryDim=%i: the reference’s bits, both layouts', (T, H, hd, rd) => {
    const pos = Array.from({ length: T }, (_, t) => 37 * t + 5);
    const cos = new Float32Array((T * rd) / 2);
    const sin = new Float32Array((T * rd) / 2);
    ropeCosSin(cos, sin, ropeInvFreq({ rotaryDim: rd, theta: 10000, scaling: { type: 'default' }, maxPositions: 4096 }), pos);
    for (const style of ['half', 'interleaved'] as const) {
      const x0 = rand(T * H * hd, T + H + hd);
      const want = x0.slice();
      applyRope(want, cos, sin, T, H, hd, rd, style);
      const x = arena.adopt(x0);
      wasm.run(x, arena.adopt(cos), arena.adopt(sin), T, H, hd, rd, style);
      expect(Array.from(x), style).toEqual(Array.from(want));
      // outside the arena: the reference itself
      const xj = x0.slice();
      wasm.run(xj, cos, sin, T, H, hd, rd, style);
      expect(Array.from(xj), style).toEqual(Array.from(want));
    }
  });

  test('refuses arrays too short for the shape', () => {
    expect(() => wasm.run(new Float32Array(8), new Float32Array(2), new Float32Array(2), 1, 2, 8, 8, 'half')).toThrow(/rope: x \[8\]/);
  });
});
