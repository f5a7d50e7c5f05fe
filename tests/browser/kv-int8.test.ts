/**
 * The GPU model's int8 KV cache (ops/kvquant) through Dawn in Node (the webgpu package; on a
 * machine without a GPU, SwiftShader) against the CPU Model's int8 cache: the same scheme on
 * both sides, so the logits agree to f32 rounding, up to the odd value whose K or V, already
 * different in its last bits between the two paths, sits on a rounding boundary of x / s and
 * lands one int8 step apart (an error of max|row| / 127 in one element). Tolerance: max |Δ|
 * ≤ 1e-2 · max|logit| over every position, prefill and token-by-token decode (the default
 * decode kernels, the grouped-query one, split keys with their combine), and the attention
 * probabilities (prefill capture) within 1e-3.
 * Skipped where no WebGPU device opens.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../engine/formats/load-node';
import { GpuModel, type GpuTuning } from '../../engine/gpu/gpu-model';
import { openNodeGpu } from '../../engine/gpu/gpu-node';
import { Model } from '../../engine/model/model';
import { fixturePath, loadRef } from '../unit/fixtures';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

const TINY = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];

let device: GPUDevice | undefined;
let why = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
});
afterAll(() => device?.destroy());

const measured: Record<string, string> = {};

function maxAbs(a: Float32Array, b: Float32Array): { d: number; scale: number } {
  let d = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return { d, scale };
}

/**
 * Prefill logits and attention probabilities, and token-by-token logits, of each of `cases` on
 * the GPU and the CPU, both with the int8 cache: max |Δ| and max |logit|. The decode pass runs
 * again on a GPU model with `decodeTuning` (the grouped-query kernel, split keys).
 */
async function compare(file: string, cases: number[][], decodeTuning: GpuTuning): Promise<{ d: number; scale: number; probs: number }> {
  const loaded = (await openModel(file)).loaded;
  const ctx = Math.max(...cases.map((c) => c.length));
  const cpu = new Model(loaded, { contextLength: ctx, kernel: 'js', kvQuant: 'int8' });
  const gpu = await GpuModel.create(device!, loaded, { contextLength: ctx, kvDtype: 'int8' });
  const tuned = await GpuModel.create(device!, loaded, { contextLength: ctx, kvDtype: 'int8', tuning: decodeTuning });
  let d = 0;
  let scale = 0;
  let probs = 0;
  const add = (r: { d: number; scale: number }) => {
    d = Math.max(d, r.d);
    scale = Math.max(scale, r.scale);
  };
  try {
    for (const ids of cases) {
      cpu.reset();
      gpu.reset();
      const want = cpu.forward(ids, undefined, { capture: { attentions: true } });
      const got = await gpu.forward(ids, undefined, { capture: { attentions: true } });
      add(maxAbs(want.logits, got.logits));
      want.attentions!.forEach((a, l) => (probs = Math.max(probs, maxAbs(a, got.attentions![l]).d)));
      for (const m of [gpu, tuned]) {
        cpu.reset();
        m.reset();
        for (const id of ids) add(maxAbs(cpu.forward([id]).logits, (await m.forward([id])).logits));
      }
    }
  } finally {
    gpu.destroy();
    tuned.destroy();
  }
  return { d, scale, probs };
}

describe('GpuModel with the int8 KV cache against the CPU Model with it', () => {
  it.each(TINY)('%s: logits within 1e-2 of their scale, prefill and decode', async (name) => {
    if (!device) return console.warn(`skipped: ${why}`);
    const cases = loadRef(`${name}.shared`).cases.map((c: { input_ids: number[] }) => c.input_ids);
    const r = await compare(fixturePath('models', name), cases, { gqaDecode: 'always' });
    measured[name] = `max |Δ| ${r.d.toExponential(2)} (max |logit| ${r.scale.toFixed(2)}), attention probabilities ${r.probs.toExponential(2)}`;
    expect(r.d).toBeLessThanOrEqual(1e-2 * r.scale);
    expect(r.probs).toBeLessThanOrEqual(1e-3);
  });

  it('stories260K: logits within 1e-2 of their scale over 140 tokens of a story (decode also with split keys)', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    const m = await openModel(fixturePath('llama2c', 'stories260K.bin'));
    const ids = [1, ...m.tokenizer!.encodeIds('Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.')];
    while (ids.length < 140) ids.push(ids[1 + (ids.length % 20)]);
    const r = await compare(fixturePath('llama2c', 'stories260K.bin'), [ids], { singleSplitKeys: 8 });
    measured['stories260K'] = `max |Δ| ${r.d.toExponential(2)} (max |logit| ${r.scale.toFixed(2)}), attention probabilities ${r.probs.toExponential(2)}`;
    console.log(JSON.stringify(measured, null, 1));
    expect(r.d).toBeLessThanOrEqual(1e-2 * r.scale);
  }, 600_000);
});
