import { describe, expect, it } from 'vitest';
import { matmul, matmulAccumulate } from './matmul';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** out[t, j] = Σ_k x[t, k]·w[j, k] + b[j], plainly, in f64. */
function naive(x: Float32Array, w: Float32Array, T: number, K: number, N: number, b?: Float32Array): Float64Array {
  const out = new Float64Array(T * N);
  for (let t = 0; t < T; t++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[t * K + k] * w[j * K + k];
      out[t * N + j] = s + (b ? b[j] : 0);
    }
  return out;
}

describe('matmul (x·Wᵀ)', () => {
  it('matches a naive f64 product for odd shapes, with and without bias', () => {
    for (const [T, K, N] of [
      [1, 1, 1],
      [1, 7, 5],
      [3, 4, 4],
      [4, 9, 3],
      [5, 16, 7],
      [9, 13, 11],
      [16, 64, 33],
    ]) {
      const x = rand(T * K, T * 31 + K);
      const w = rand(N * K, N * 17 + K);
      const b = rand(N, N);
      for (const bias of [undefined, b]) {
        const out = new Float32Array(T * N);
        matmul(out, x, w, T, K, N, bias);
        const want = naive(x, w, T, K, N, bias);
        for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - want[i])).toBeLessThanOrEqual(Math.abs(want[i]) * 2 ** -23 + 1e-12);
      }
    }
  });

  it('gives bit-identical rows whether computed alone or in a block', () => {
    const [T, K, N] = [11, 37, 19];
    const x = rand(T * K, 1);
    const w = rand(N * K, 2);
    const all = new Float32Array(T * N);
    matmul(all, x, w, T, K, N);
    for (let t = 0; t < T; t++) {
      const row = new Float32Array(N);
      matmul(row, x.subarray(t * K, (t + 1) * K), w, 1, K, N);
      expect(row).toEqual(all.subarray(t * N, (t + 1) * N));
    }
  });

  it('accumulates alpha·x·Wᵀ', () => {
    const [T, K, N] = [6, 10, 9];
    const x = rand(T * K, 3);
    const w = rand(N * K, 4);
    const out = rand(T * N, 5);
    const before = out.slice();
    matmulAccumulate(out, x, w, T, K, N, 0.5);
    const p = naive(x, w, T, K, N);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(before[i] + 0.5 * p[i], 6);
  });

  it('refuses buffers that are too small', () => {
    expect(() => matmul(new Float32Array(3), new Float32Array(8), new Float32Array(8), 2, 4, 2)).toThrow(RangeError);
  });

  it('is fast: row-blocked beats the naive triple loop', () => {
    const [T, K, N] = [32, 256, 256];
    const x = rand(T * K, 6);
    const w = rand(N * K, 7);
    const out = new Float32Array(T * N);
    const naiveF32 = (o: Float32Array) => {
      for (let t = 0; t < T; t++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += x[t * K + k] * w[j * K + k];
          o[t * N + j] = s;
        }
    };
    const time = (f: () => void) => {
      for (let i = 0; i < 3; i++) f();
      let best = Infinity;
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        f();
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const fast = time(() => matmul(out, x, w, T, K, N));
    const slow = time(() => naiveF32(out));
    console.log(`matmul [${T}×${K}]·[${N}×${K}]ᵀ: ${fast.toFixed(2)} ms (${((2 * T * K * N) / fast / 1e6).toFixed(2)} GFLOP/s), naive ${slow.toFixed(2)} ms`);
    expect(fast).toBeLessThan(slow * 1.5); // loose: the machine is shared
  });
});
