/** --threads: the CPU backend's matmuls and attention over worker threads give the same bits as one thread. */
import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../backend/cpu';
import { loadHfModelFromPath } from '../formats/hf-node';
import { fixturePath, loadRef } from '../../tests/unit/fixtures';
import type { WasmAttention } from '../ops/attention/attention.wasm';
import type { WasmMatmul } from '../ops/matmul/matmul.wasm';
import { KernelThreads } from './threads';

// minWork 0: every call is split, however small (the tiny models' layers are all below the default)
const start = (threads: number) => ({ count: threads, start: (mm: WasmMatmul, attention?: WasmAttention) => new KernelThreads(mm, threads, attention, 0) });

describe('KernelThreads', () => {
  test.each(['tiny-llama', 'tiny-qwen2', 'tiny-mixtral-moe', 'tiny-mistral-swa'])(
    '%s: prefill and decode logits with 2 and 3 threads equal one thread to the bit',
    async (name) => {
      const ref = loadRef(`${name}.shared`);
      const ids = ref.cases[0].input_ids;
      const runAll = async (threads: number) => {
        const b = new CpuBackend(await loadHfModelFromPath(fixturePath('models', name)), { contextLength: 64, threads: threads > 1 ? start(threads) : undefined });
        try {
          expect(b.label).toBe(threads > 1 ? `CPU (WebAssembly SIMD, ${threads} threads)` : 'CPU (WebAssembly SIMD)');
          expect(b.model.wasmAttention?.runner !== undefined).toBe(threads > 1);
          const pre = await b.forward(ids); // [T, V]
          const steps: Float32Array[] = [];
          for (const id of [5, 17, 300]) steps.push((await b.forward([id])).logits);
          return [pre.logits, ...steps].map((a) => Array.from(a));
        } finally {
          b.dispose();
        }
      };
      const one = await runAll(1);
      expect(await runAll(2)).toEqual(one);
      expect(await runAll(3)).toEqual(one);
    },
  );

  test('refuses a model whose memory is not shared, and a closed pool', async () => {
    const b = new CpuBackend(await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), { contextLength: 8 });
    expect(() => new KernelThreads(b.model.wasm!, 2)).toThrow(/not shared/);
    const t = new CpuBackend(await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), { contextLength: 8, threads: start(2) });
    const pool = t.model.wasm!.runner as KernelThreads;
    t.dispose();
    expect(() => pool.matmul(0, 0, 0, 1, 64, 64)).toThrow(/closed/);
  });
});
