/**
 * The GPU model's int8 KV cache against the CPU Model's (kv-int8-checks.ts says what and why
 * the limits) through Dawn in Node (the webgpu package; on a machine without a GPU,
 * SwiftShader), and the refusal of an int8 cache whose head dim is not a multiple of 4. Skipped
 * where no WebGPU device opens.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../engine/errors';
import { openModel } from '../../engine/formats/load-node';
import { GpuModel } from '../../engine/gpu/gpu-model';
import { openNodeGpu } from '../../engine/gpu/gpu-node';
import type { ModelConfig, WeightMap } from '../../engine/model/types';
import { fixturePath } from '../unit/fixtures';
import { checkInt8Stories, checkInt8Tiny, INT8_LIMITS, type Int8KvCheck } from './kv-int8-checks';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

const TINY = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];
const read = async (rel: string) => new Uint8Array(await readFile(fixturePath(rel)));

let device: GPUDevice | undefined;
let why = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
});
afterAll(() => device?.destroy());

const measured: Record<string, string> = {};
function expectClose(r: Int8KvCheck): void {
  measured[r.model] = `max |Δ logits| ${r.logits.toExponential(2)} (max |logit| ${r.maxLogit.toFixed(2)}), attention probabilities ${r.probs.toExponential(2)}`;
  expect(r.logits).toBeLessThanOrEqual(INT8_LIMITS.logitsOfScale * r.maxLogit);
  expect(r.probs).toBeLessThanOrEqual(INT8_LIMITS.probs);
  if (r.greedyEqual !== undefined) expect(r.greedyEqual).toBe(true);
}

describe('GpuModel with the int8 KV cache against the CPU Model with it', () => {
  it.each(TINY)('%s: logits within 1e-2 of their scale (prefill, decode, grouped-query decode), probabilities within 1e-3', async (name) => {
    if (!device) return console.warn(`skipped: ${why}`);
    expectClose(await checkInt8Tiny(device, read, name));
  });

  it('refuses an int8 cache when the head dim is not a multiple of 4, naming the option and the head dim', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    const base = (await openModel(fixturePath('models', 'tiny-llama'))).loaded.config;
    const [V, D, H, hd, I] = [16, 12, 2, 6, 8];
    const config: ModelConfig = {
      ...base,
      vocabSize: V,
      hiddenSize: D,
      numHeads: H,
      numKvHeads: H,
      headDim: hd,
      intermediateSize: I,
      numLayers: 1,
      tieEmbeddings: true,
      qkvBias: false,
    };
    const weights: WeightMap = new Map();
    const t = (name: string, shape: number[]) => weights.set(name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01) });
    t('model.embed_tokens.weight', [V, D]);
    t('model.norm.weight', [D]);
    const p = 'model.layers.0.';
    t(`${p}input_layernorm.weight`, [D]);
    t(`${p}post_attention_layernorm.weight`, [D]);
    for (const n of ['q', 'k', 'v']) t(`${p}self_attn.${n}_proj.weight`, [H * hd, D]);
    t(`${p}self_attn.o_proj.weight`, [D, H * hd]);
    t(`${p}mlp.gate_proj.weight`, [I, D]);
    t(`${p}mlp.up_proj.weight`, [I, D]);
    t(`${p}mlp.down_proj.weight`, [D, I]);
    const err = await GpuModel.create(device, { config, weights }, { contextLength: 8, kvDtype: 'int8' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/kvDtype.*multiple of 4.*head dim 6/);
    const f32 = await GpuModel.create(device, { config, weights }, { contextLength: 8 }); // the f32 cache takes it
    f32.destroy();
  });

  it('stories260K: the same over the 129 ids of its first greedy reference (decode also with split keys); 64 pipelined greedy ids equal the CPU’s', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    expectClose(await checkInt8Stories(device, read));
    console.log(JSON.stringify(measured, null, 1));
  }, 600_000);
});
