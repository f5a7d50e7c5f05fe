/**
 * The int8 KV cache on the GPU model against the CPU Model's, environment-neutral (the Node
 * test reads the fixtures from disk; the H200 runner, gpu-checks-node.ts, too): the same
 * scheme on both sides (ops/kvquant), so the logits agree to f32 rounding, up to the odd
 * value whose K or V, already different in its last bits between the two paths, sits on a
 * rounding boundary of x / s and lands one int8 step apart (an error of max|row| / 127 in one
 * element). Limits (INT8_LIMITS): logits max |Δ| ≤ 1e-2 · max|logit| over every position,
 * prefill and token-by-token decode (the default decode kernels, the grouped-query one, split
 * keys with their combine); attention probabilities (prefill capture) within 1e-3; and on
 * stories260K 64 greedy ids through the GPU's pipelined decode equal to the CPU's.
 */
import { CpuBackend } from '../../engine/backend/cpu';
import { loadHfModel, memoryFolder } from '../../engine/formats/hf';
import { generateAll } from '../../engine/generate/generate';
import { loadLlama2cModel } from '../../engine/formats/llama2c-model';
import { memorySource } from '../../engine/formats/source';
import { GpuModel, type GpuTuning } from '../../engine/gpu/gpu-model';
import { Model } from '../../engine/model/model';
import type { LoadedModel } from '../../engine/model/types';

export type Read = (rel: string) => Promise<Uint8Array>; // rel: path under the fixtures folder

export interface Int8KvCheck {
  model: string;
  /** max |GPU int8 − CPU int8| over the logits, and max |logit|. */
  logits: number;
  maxLogit: number;
  /** max |GPU int8 − CPU int8| over the prefill's attention probabilities. */
  probs: number;
  /** stories260K: 64 greedy ids through the GPU's pipelined decode equal the CPU backend's, both with the int8 cache. */
  greedyEqual?: boolean;
}

export const INT8_LIMITS = { logitsOfScale: 1e-2, probs: 1e-3 };

export const int8Ok = (r: Int8KvCheck): boolean => r.logits <= INT8_LIMITS.logitsOfScale * r.maxLogit && r.probs <= INT8_LIMITS.probs && r.greedyEqual !== false;

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
 * the GPU and the CPU, both with the int8 cache. The decode pass runs again on a GPU model with
 * `decodeTuning` (the grouped-query kernel, split keys).
 */
async function compare(device: GPUDevice, model: string, loaded: LoadedModel, cases: number[][], decodeTuning: GpuTuning): Promise<Int8KvCheck> {
  const ctx = Math.max(...cases.map((c) => c.length));
  const cpu = new Model(loaded, { contextLength: ctx, kernel: 'js', kvQuant: 'int8' });
  const gpu = await GpuModel.create(device, loaded, { contextLength: ctx, kvDtype: 'int8' });
  const tuned = await GpuModel.create(device, loaded, { contextLength: ctx, kvDtype: 'int8', tuning: decodeTuning });
  const out: Int8KvCheck = { model, logits: 0, maxLogit: 0, probs: 0 };
  const add = (r: { d: number; scale: number }) => {
    out.logits = Math.max(out.logits, r.d);
    out.maxLogit = Math.max(out.maxLogit, r.scale);
  };
  try {
    for (const ids of cases) {
      cpu.reset();
      gpu.reset();
      const want = cpu.forward(ids, undefined, { capture: { attentions: true } });
      const got = await gpu.forward(ids, undefined, { capture: { attentions: true } });
      add(maxAbs(want.logits, got.logits));
      want.attentions!.forEach((a, l) => (out.probs = Math.max(out.probs, maxAbs(a, got.attentions![l]).d)));
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
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A tiny HF fixture model over its reference inputs; decode also through the grouped-query kernel. */
export async function checkInt8Tiny(device: GPUDevice, read: Read, name: string): Promise<Int8KvCheck> {
  const ref = JSON.parse(text(await read(`refs/${name}.shared.json`))) as { cases: { input_ids: number[] }[] };
  const dir = `models/${name}`;
  const loaded = await loadHfModel(memoryFolder(name, { 'config.json': await read(`${dir}/config.json`), 'model.safetensors': await read(`${dir}/model.safetensors`) }));
  return compare(
    device,
    name,
    loaded,
    ref.cases.map((c) => c.input_ids),
    { gqaDecode: 'always' },
  );
}

/** stories260K over the first `n` ids of its first greedy reference run (BOS and 128 generated ids); decode also with split keys. */
export async function checkInt8Stories(device: GPUDevice, read: Read, n = 129): Promise<Int8KvCheck> {
  const ref = JSON.parse(text(await read('refs/stories260K.greedy.shared.json'))) as { cases: { prompt_ids: number[]; generated_ids: number[] }[] };
  const ids = [...ref.cases[0].prompt_ids, ...ref.cases[0].generated_ids].slice(0, n);
  const loaded = await loadLlama2cModel(memorySource(await read('llama2c/stories260K.bin'), 'stories260K.bin'));
  const r = await compare(device, 'stories260K', loaded, [ids], { singleSplitKeys: 8 });
  const req = { promptIds: [1, 403, 407, 261], maxNewTokens: 64, eosIds: [] };
  const gm = await GpuModel.create(device, loaded, { contextLength: 68, kvDtype: 'int8' });
  try {
    const gpu = await generateAll(gm, req);
    const cpu = await generateAll(new CpuBackend(loaded, { contextLength: 68, kvQuant: 'int8' }), req);
    r.greedyEqual = gpu.path === 'pipelined' && gpu.ids.join(',') === cpu.ids.join(',');
  } finally {
    gm.destroy();
  }
  return r;
}
