import { describe, expect, it } from 'vitest';
import { matmul } from '../matmul/matmul';
import { loraAdd, loraMerged } from './lora';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

describe('lora op', () => {
  it('unmerged (x·Aᵀ)·Bᵀ·scale equals x·(W + scale·B·A)ᵀ − x·Wᵀ', () => {
    const [T, K, N, r, scale] = [5, 12, 7, 3, 2.5];
    const x = rand(T * K, 1);
    const W = rand(N * K, 2);
    const A = rand(r * K, 3);
    const B = rand(N * r, 4);
    const unmerged = new Float32Array(T * N);
    matmul(unmerged, x, W, T, K, N);
    loraAdd(unmerged, x, A, B, T, K, N, r, scale, new Float32Array(T * r));
    const Wm = loraMerged(W, A, B, N, K, r, scale);
    const merged = new Float32Array(T * N);
    matmul(merged, x, Wm, T, K, N);
    for (let i = 0; i < T * N; i++) expect(unmerged[i]).toBeCloseTo(merged[i], 5);
    // W itself untouched; ΔW = scale·B·A
    expect(Wm).not.toBe(W);
    let s = 0;
    for (let i = 0; i < r; i++) s += B[2 * r + i] * A[i * K + 5];
    expect(Wm[2 * K + 5]).toBeCloseTo(W[2 * K + 5] + scale * s, 6);
  });
});
