/**
 * How kernels read f16 weights (WeightRead): packed in u32 and unpacked everywhere, or as
 * f16 with `shader-f16`. SwiftShader has no shader-f16, so the f16h kernels run only on
 * a GPU that has it (the H200 fixture checks, tests/browser/gpu-checks-node.ts, compare
 * them with the packed path there); here the WGSL each choice emits is checked.
 */
import { describe, expect, it } from 'vitest';
import { embeddingWgsl } from '../ops/embedding/embedding.wgsl';
import { matmulWgsl, matvecWgsl } from '../ops/matmul/matmul.wgsl';
import { weightScalarType } from '../wgsl/weight-read';

describe('f16 weight reads', () => {
  const kernels = (r: 'f16' | 'f16h') => [
    matvecWgsl(r, false, 96),
    matvecWgsl(r, true, 2048, { pro: { kind: 'rms' }, epi: { kind: 'act', act: 0 } }),
    matmulWgsl(r),
    embeddingWgsl(r),
  ];

  it('f16h kernels enable f16 first and read f16 values, never unpack2x16float', () => {
    for (const k of kernels('f16h')) {
      const directives = k.code
        .trimStart()
        .split('\n')
        .filter((l) => l.startsWith('enable '));
      expect(directives, k.label).toContain('enable f16;');
      expect(k.code.trimStart().startsWith('enable '), k.label).toBe(true);
      expect(k.code, k.label).toMatch(/array<(f16|mat2x4<f16>)>/);
      expect(k.code, k.label).not.toContain('unpack2x16float');
      expect(k.label, k.label).toContain('f16h');
    }
  });

  it('packed f16 kernels need no f16 extension and unpack u32 pairs', () => {
    for (const k of kernels('f16')) {
      expect(k.code, k.label).not.toContain('enable f16');
      expect(k.code, k.label).toContain('unpack2x16float');
      expect(k.code, k.label).not.toContain('f16>');
    }
  });

  it('weight arrays: f32, u32 pairs, or f16 values over the same bytes', () => {
    expect([weightScalarType('f32'), weightScalarType('f16'), weightScalarType('f16h')]).toEqual(['f32', 'u32', 'f16']);
  });
});
