/**
 * Whole-model prefill through each prefill matmul kernel (GpuTuning.prefill) in Node's Dawn
 * (on a machine without a GPU, SwiftShader): the prefill logits of fixture models with the
 * register-tiled kernel (the default without subgroup matrices) equal the CPU reference
 * within the GPU tolerance (1e-4 f32; f16 weights within 0.05 of the f32 CPU path, as in
 * tests/browser/gpu.test.ts) and the earlier 64×64 kernel's within 1e-5, and the forward runs
 * the tiled kernels (SwiGLU fused into gate|up) for T > MATVEC_MAX_ROWS; and an f16 prefill
 * through the subgroup-matrix path (LinearOp's launches, the SwiGLU epilogue) with the kernel's
 * builtins emulated. Skipped where no WebGPU device opens.
 */
import { describe, expect, it } from 'vitest';
import { openModel } from '../../engine/formats/load-node';
import { GpuModel } from '../../engine/gpu/gpu-model';
import { Dispatch } from '../../engine/gpu/kernel';
import { recordSubgroupMatrix } from '../../engine/gpu/prefill-matmul';
import type { PrefillKernel } from '../../engine/gpu/lifecycle';
import { Model } from '../../engine/model/model';
import type { WeightDtype } from '../../engine/wgsl/weight-read';
import { fixturePath } from '../unit/fixtures';
import { useNodeGpu } from './node-gpu.test-util';

const gpu = useNodeGpu();

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('GpuModel prefill kernels', () => {
  it.each(['tiny-llama', 'tiny-qwen2'])(
    '%s: prefill logits with the tiled kernel match the CPU reference and the 64×64 kernel',
    async (name) => {
      const device = gpu.device;
      if (!device) return console.warn(`skipped: ${gpu.why}`);
      const { loaded } = await openModel(fixturePath('models', name));
      const V = loaded.config.vocabSize;
      const ids = Array.from({ length: 13 }, (_, i) => (i * 37 + 5) % V); // [T]: more rows than the matvec takes
      const cpu = new Model(loaded, { contextLength: 16 }).forward(ids).logits; // [T, V]
      for (const weights of ['f32', 'f16'] as WeightDtype[]) {
        const got: Partial<Record<PrefillKernel, Float32Array>> = {};
        for (const prefill of ['tile64', 'tiled'] as PrefillKernel[]) {
          const m = await GpuModel.create(device, loaded, { contextLength: 16, weights, tuning: { prefill } });
          Dispatch.trace = [];
          got[prefill] = (await m.forward(ids)).logits;
          const labels = new Set(Dispatch.trace.map((t) => t.d.kernel.label));
          Dispatch.trace = undefined;
          m.destroy();
          const tiled = [...labels].filter((l) => l.startsWith('matmul-tiled'));
          if (prefill === 'tiled') {
            expect(tiled.length).toBeGreaterThan(0);
            expect(tiled.some((l) => l.endsWith('-act'))).toBe(true); // SwiGLU fused into gate|up
            expect([...labels].some((l) => l.startsWith('activation'))).toBe(false);
          } else expect(tiled).toEqual([]);
        }
        expect(maxDiff(got.tiled!, cpu)).toBeLessThan(weights === 'f32' ? 1e-4 : 0.05);
        expect(maxDiff(got.tiled!, got.tile64!)).toBeLessThan(1e-5);
      }
    },
    300_000,
  );

  it('tiny-llama, f16: prefill through the subgroup-matrix path (its builtins emulated) matches the tiled kernel', async () => {
    const device = gpu.device;
    if (!device) return console.warn(`skipped: ${gpu.why}`);
    const { loaded } = await openModel(fixturePath('models', 'tiny-llama'));
    const ids = Array.from({ length: 13 }, (_, i) => (i * 37 + 5) % loaded.config.vocabSize); // [T]
    const run = async (prefill: PrefillKernel) => {
      const m = await GpuModel.create(device!, loaded, { contextLength: 16, weights: 'f16', tuning: { prefill } });
      Dispatch.trace = [];
      const logits = (await m.forward(ids)).logits;
      const labels = new Set(Dispatch.trace.map((t) => t.d.kernel.label));
      Dispatch.trace = undefined;
      m.destroy();
      return { logits, labels };
    };
    const tiled = await run('tiled');
    recordSubgroupMatrix(device, { config: { M: 8, N: 8, K: 8 }, sgSize: 32, dialect: { syntax: 'layout', index: 'li', emulate: true } });
    try {
      const sg = await run('sgmatrix');
      expect([...sg.labels].some((l) => l.startsWith('matmul-sg') && l.endsWith('-act-emulated'))).toBe(true);
      expect([...sg.labels].some((l) => l.startsWith('matmul-tiled'))).toBe(false);
      // x rounded to f16 in the subgroup-matrix kernel: within the f16 tolerance of the tiled kernel's logits
      expect(maxDiff(sg.logits, tiled.logits)).toBeLessThan(0.05);
    } finally {
      recordSubgroupMatrix(device, undefined);
    }
  }, 600_000);
});
