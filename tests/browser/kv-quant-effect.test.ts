/**
 * The worker's kvQuantEffect on the WebGPU backend (Dawn in Node; SwiftShader without a GPU):
 * the second model is a GpuModel with the int8 cache from the same weights, disposed after;
 * the bytes are predictEngineKv's for WebGPU buffers; the perplexities match the CPU path's.
 * Skipped where no WebGPU device opens.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../engine/backend/contract';
import { createBackend } from '../../engine/backend/registry';
import { openModel } from '../../engine/formats/load-node';
import { openNodeGpu } from '../../engine/gpu/gpu-node';
import { predictEngineKv } from '../../engine/model/kv/layout';
import type { KvQuantEffectView, WorkerToWebview } from '../../engine/protocol/index';
import { KvWorker } from '../../engine/worker/kv';
import { fixturePath } from '../unit/fixtures';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

let device: GPUDevice | undefined;
beforeAll(async () => {
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
});
afterAll(() => device?.destroy());

const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her dog.';

async function run(id: 'cpu' | 'webgpu', ctx: number): Promise<{ r: KvQuantEffectView; second: Backend[] }> {
  const m = await openModel(fixturePath('llama2c', 'stories260K.bin'));
  const backend = await createBackend(id, m.loaded, { contextLength: ctx, device });
  const second: Backend[] = [];
  const got: WorkerToWebview[] = [];
  const w = new KvWorker(
    (msg) => got.push(msg),
    () => ({
      backend,
      tokenizer: m.tokenizer,
      stopIds: [],
      createBackend: async (kvDtype) => {
        const b = await createBackend(id, m.loaded, { contextLength: ctx, kvDtype, device });
        second.push(b);
        return b;
      },
    }),
    async () => {},
  );
  w.handle({ type: 'kvQuantEffect', id: 1, text: TEXT });
  for (let i = 0; i < 1200 && !got.length; i++) await new Promise((r) => setTimeout(r, 50));
  backend.dispose();
  const reply = got[0];
  if (reply?.type !== 'kvQuantEffectResult') throw new Error(`no result: ${JSON.stringify(reply)}`);
  return { r: reply.result, second };
}

describe('kvQuantEffect on WebGPU', () => {
  it('int8 GpuModel from the same weights, WebGPU bytes, the CPU path’s perplexities', async (ctx) => {
    if (!device) return ctx.skip();
    const m = await openModel(fixturePath('llama2c', 'stories260K.bin'));
    const gpu = await run('webgpu', 64);
    const cpu = await run('cpu', 64);
    expect(gpu.r.backend).toMatch(/WebGPU/);
    expect(gpu.r.tokens).toBe(cpu.r.tokens);
    expect(gpu.r.bytesF32).toBe(predictEngineKv(m.loaded.config, 64, 'webgpu', 'f32').total);
    expect(gpu.r.bytesInt8).toBe(predictEngineKv(m.loaded.config, 64, 'webgpu', 'int8').total);
    expect(gpu.second.length).toBe(1);
    const ledger = (gpu.second[0] as Backend & { memory?: () => { kvCache: number } }).memory?.();
    expect(ledger?.kvCache).toBe(0); // disposed: its buffers are gone from its ledger
    expect(gpu.r.perplexityF32).toBeCloseTo(cpu.r.perplexityF32, 2);
    expect(Math.abs(gpu.r.perplexityInt8 - cpu.r.perplexityInt8) / cpu.r.perplexityInt8).toBeLessThan(0.01);
    expect(Math.abs(gpu.r.perplexityChange)).toBeLessThan(0.02);
    console.log(
      `WebGPU: ppl f32 ${gpu.r.perplexityF32.toFixed(3)} int8 ${gpu.r.perplexityInt8.toFixed(3)}; CPU: f32 ${cpu.r.perplexityF32.toFixed(3)} int8 ${cpu.r.perplexityInt8.toFixed(3)}`,
    );
  }, 300_000);
});
