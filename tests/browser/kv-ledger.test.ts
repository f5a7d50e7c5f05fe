/**
 * The GPU model's buffer accounts (engine/gpu/ledger.ts) through Dawn in Node (the webgpu package; on a
 * machine without a GPU, SwiftShader): the KV cache it allocates equals the prediction from the
 * config, decode steps create no buffers, and 100 generations leave memory where it started.
 * Skipped where no WebGPU device opens.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../engine/formats/load-node';
import { generateAll } from '../../engine/generate/generate';
import { predictEngineKv } from '../../engine/model/kv/layout';
import type { LoadedModel } from '../../engine/model/types';
import { fixturePath } from '../unit/fixtures';
import { GpuModel } from '../../engine/gpu/gpu-model';
import { openNodeGpu } from '../../engine/gpu/gpu-node';
import { runCli } from '../../engine/cli/run-cli.test-util';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

const FIXTURES = [
  ...['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'].map((m) => fixturePath('models', m)),
  fixturePath('llama2c', 'stories260K.bin'),
  fixturePath('gguf', 'stories260K.gguf'),
];

let device: GPUDevice | undefined;
let why = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
});
afterAll(() => device?.destroy());

/** A fresh copy of the weights: a GpuModel may be built from the same LoadedModel many times. */
const load = async (file: string): Promise<LoadedModel> => (await openModel(file)).loaded;

describe('GpuModel KV cache and buffer accounts', () => {
  it.each(FIXTURES)('%s: predicted KV bytes equal the K/V buffers created, at contexts 1, 17 and the maximum', async (file) => {
    if (!device) return console.warn(`skipped: ${why}`);
    const loaded = await load(file);
    for (const ctx of [1, 17, loaded.config.maxPositions]) {
      const m = await GpuModel.create(device, loaded, { contextLength: ctx });
      const p = predictEngineKv(loaded.config, ctx, 'webgpu');
      expect(m.kvCache().map((r) => r.allocated)).toEqual(p.perLayer);
      expect(m.memory().kvCache).toBe(p.total);
      m.destroy();
      expect(m.memory()).toMatchObject({ weights: 0, kvCache: 0, scratch: 0, buffers: 0 });
    }
  });

  it.each(FIXTURES)('%s, int8 cache: predicted KV bytes equal the packed K/V buffers and their scale buffers, at contexts 1, 17 and the maximum', async (file) => {
    if (!device) return console.warn(`skipped: ${why}`);
    const loaded = await load(file);
    const c = loaded.config;
    for (const ctx of [1, 17, c.maxPositions]) {
      const m = await GpuModel.create(device, loaded, { contextLength: ctx, kvDtype: 'int8' });
      const p = predictEngineKv(c, ctx, 'webgpu', 'int8');
      expect(m.kvCache().map((r) => r.allocated)).toEqual(p.perLayer);
      expect(m.memory().kvCache).toBe(p.total);
      // the saving: int8 values (hd bytes) and one f32 scale per token and KV head, against hd·4 bytes
      expect(p.total).toBeLessThan(predictEngineKv(c, ctx, 'webgpu').total);
      m.destroy();
      expect(m.memory()).toMatchObject({ weights: 0, kvCache: 0, scratch: 0, buffers: 0 });
    }
  });

  it('kv --backend webgpu --kv-dtype int8 reports predicted = allocated (the ledger’s cache buffers)', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    const r = await runCli('kv', '--model', fixturePath('llama2c', 'stories260K.bin'), '--context', '17', '--backend', 'webgpu', '--kv-dtype', 'int8', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    // per layer: K and V of 17·4·8 = 544 bytes, and scales of 17·4·4 = 272 bytes, each a buffer of 16-byte multiples
    expect(j).toMatchObject({ kv_dtype: 'int8', backend: 'webgpu', predicted_bytes: 5 * 2 * (544 + 272), allocated_bytes: 5 * 2 * (544 + 272) });
    expect(j.gpu_buffers.kv_cache).toBe(j.allocated_bytes);
  });

  it.each(['f32', 'int8'] as const)(
    'decode steps create no buffers (forward one token at a time, and the pipelined greedy decode), %s cache',
    async (kvDtype) => {
      if (!device) return console.warn(`skipped: ${why}`);
      const m = await GpuModel.create(device, await load(fixturePath('llama2c', 'stories260K.bin')), { contextLength: 256, kvDtype });
      await m.forward([1, 403, 407, 261], undefined, { lastOnly: true });
      await m.forward([300], undefined, { lastOnly: true }); // the first decode step sizes the one-row read-back
      const before = m.memory();
      for (let i = 0; i < 40; i++) await m.forward([300 + i], undefined, { lastOnly: true });
      expect(m.memory()).toEqual(before);
      m.reset();
      // the pipelined path fills its per-slot input table and read-back pool on the first run through the slots
      await generateAll(m, { promptIds: [1, 403], maxNewTokens: 60, eosIds: [] });
      const warm = m.memory();
      m.reset();
      const r = await generateAll(m, { promptIds: [1, 403], maxNewTokens: 60, eosIds: [] });
      expect(r.ids.length).toBe(60);
      expect(m.memory()).toEqual(warm);
      m.destroy();
    },
    600_000,
  );

  it('memory (bytes and live buffers) is back to its baseline after 100 generations', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    const m = await GpuModel.create(device, await load(fixturePath('llama2c', 'stories260K.bin')), { contextLength: 64 });
    await generateAll(m, { promptIds: [1, 403], maxNewTokens: 2 });
    const base = m.memory();
    for (let i = 0; i < 100; i++) {
      m.reset();
      await generateAll(m, { promptIds: [1, 403 + (i % 9)], maxNewTokens: 2 });
    }
    const after = m.memory();
    expect({ ...after, created: 0 }).toEqual({ ...base, created: 0 });
    m.destroy();
    expect(m.memory().buffers).toBe(0);
  }, 600_000);
});
