import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { loadHfModel, memoryFolder } from '../formats/hf';
import { loadHfModelFromPath, loadLoraAdapterFromPath } from '../formats/hf-node';
import { readSafetensorsHeader, readSafetensorsTensor, writeSafetensors, type TensorToWrite } from '../formats/safetensors';
import { memorySource } from '../formats/source';
import { applyLora, loadLoraAdapter, loraStatus, mergeLora, unloadLora } from './lora';
import { Model } from './model';
import { decodeArray, fixturePath, loadRef, maxAbsDiff } from '../../tests/unit/fixtures';

function logitsOf(model: Model, ids: number[]): Float32Array {
  model.reset();
  return model.forward(ids).logits;
}

describe('LoRA on tiny-llama matches PEFT', () => {
  const ref = loadRef('tiny-llama.lora.shared');

  it('unmerged, merged and unloaded', async () => {
    const model = new Model(await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), { contextLength: 32 });
    const adapter = await loadLoraAdapterFromPath(fixturePath('models', 'tiny-llama', 'lora'), model.config);
    expect(adapter.r).toBe(4);
    expect(adapter.targets.map((t) => t.canonical).sort()).toEqual(
      [0, 1].flatMap((l) => ['mlp.down_proj', 'self_attn.q_proj', 'self_attn.v_proj'].map((m) => `model.layers.${l}.${m}.weight`)).sort(),
    );
    expect(adapter.targets.every((t) => t.scale === 2)).toBe(true);
    const base = ref.cases.map((c) => logitsOf(model, c.input_ids));
    const originals = [...model.linears()].map((l) => l.w);

    applyLora(model, adapter);
    expect(loraStatus(model)?.mode).toBe('unmerged');
    const unmerged = ref.cases.map((c) => logitsOf(model, c.input_ids));
    mergeLora(model, adapter);
    expect(loraStatus(model)?.mode).toBe('merged');
    const merged = ref.cases.map((c) => logitsOf(model, c.input_ids));
    unloadLora(model);
    expect(loraStatus(model)).toBeUndefined();
    const after = ref.cases.map((c) => logitsOf(model, c.input_ids));

    const diffs = { unmerged: 0, merged: 0, unmergedVsMerged: 0, baseMoved: 0 };
    ref.cases.forEach((c, i) => {
      const want = decodeArray(c.logits).data;
      diffs.unmerged = Math.max(diffs.unmerged, maxAbsDiff(unmerged[i], want));
      diffs.merged = Math.max(diffs.merged, maxAbsDiff(merged[i], want));
      diffs.unmergedVsMerged = Math.max(diffs.unmergedVsMerged, maxAbsDiff(unmerged[i], merged[i]));
      diffs.baseMoved = Math.max(diffs.baseMoved, maxAbsDiff(base[i], want));
      expect(after[i]).toEqual(base[i]); // bit-exact
    });
    console.log(`tiny-llama+lora: ${JSON.stringify(diffs)}`);
    expect(diffs.unmerged).toBeLessThan(1e-4);
    expect(diffs.merged).toBeLessThan(1e-4);
    expect(diffs.unmergedVsMerged).toBeLessThan(1e-4);
    expect(diffs.baseMoved).toBeGreaterThan(1e-2); // the adapter really changes the logits
    // unload restores the very same weight arrays
    expect([...model.linears()].map((l) => l.w)).toEqual(originals);
    [...model.linears()].forEach((l, i) => expect(l.w).toBe(originals[i]));
    expect([...model.linears()].every((l) => l.lora.length === 0)).toBe(true);
  });

  it('refuses a second adapter until the first is unloaded', async () => {
    const model = new Model(await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), { contextLength: 8 });
    const adapter = await loadLoraAdapterFromPath(fixturePath('models', 'tiny-llama', 'lora'), model.config);
    applyLora(model, adapter);
    expect(() => applyLora(model, adapter)).toThrow(/unloadLora/);
    unloadLora(model);
    applyLora(model, adapter);
    unloadLora(model);
  });
});

/** Deterministic pseudo-random numbers in [-a, a). */
function rand(n: number, seed: number, a = 0.2): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * a;
  });
}

async function readAll(file: string): Promise<TensorToWrite[]> {
  const src = memorySource(new Uint8Array(readFileSync(file)), file);
  const h = await readSafetensorsHeader(src);
  const out: TensorToWrite[] = [];
  for (const [name, e] of h.tensors) out.push({ name, shape: e.shape, data: (await readSafetensorsTensor(src, e)).data });
  return out;
}

/**
 * Builds a random adapter for `modules` ({name: [out, in] of the adapted linear}), and the base
 * checkpoint with that adapter merged at the HF level (Conv1D weights [in, out] get (B·A)ᵀ, as PEFT's
 * fan_in_fan_out does). Unmerged LoRA on the base must equal the HF-merged checkpoint.
 */
async function checkAgainstHfMerge(modelName: string, modules: Record<string, [number, number]>, conv1d: boolean) {
  const dir = fixturePath('models', modelName);
  const r = 2;
  const alpha = 6;
  const adapterTensors: TensorToWrite[] = [];
  const deltas = new Map<string, Float32Array>(); // HF weight name → delta in HF layout
  let seed = 7;
  for (const [mod, [out, inn]] of Object.entries(modules)) {
    const A = rand(r * inn, seed++); // [r, in]
    const B = rand(out * r, seed++); // [out, r]
    adapterTensors.push({ name: `base_model.model.${mod}.lora_A.weight`, shape: [r, inn], data: A }, { name: `base_model.model.${mod}.lora_B.weight`, shape: [out, r], data: B });
    const delta = new Float32Array(out * inn);
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inn; i++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += B[o * r + k] * A[k * inn + i];
        // nn.Linear [out, in]; Conv1D [in, out]
        delta[conv1d ? i * out + o : o * inn + i] = (alpha / r) * s;
      }
    deltas.set(`${mod}.weight`, delta);
  }
  const base = await readAll(`${dir}/model.safetensors`);
  const merged = base.map((t) => {
    const d = deltas.get(t.name);
    return d ? { ...t, data: t.data.map((v, i) => v + d[i]) } : t;
  });
  expect(merged.filter((t) => deltas.has(t.name)).length).toBe(deltas.size);
  const config = new Uint8Array(readFileSync(`${dir}/config.json`));
  const adapterConfig = new TextEncoder().encode(
    JSON.stringify({ peft_type: 'LORA', r, lora_alpha: alpha, target_modules: Object.keys(modules), fan_in_fan_out: conv1d, bias: 'none' }),
  );
  const mergedModel = new Model(await loadHfModel(memoryFolder('merged', { 'config.json': config, 'model.safetensors': writeSafetensors(merged) })), { contextLength: 16 });
  const model = new Model(await loadHfModelFromPath(dir), { contextLength: 16 });
  const adapter = await loadLoraAdapter(
    memoryFolder('adapter', { 'adapter_config.json': adapterConfig, 'adapter_model.safetensors': writeSafetensors(adapterTensors) }),
    model.config,
  );
  const ids = [1, 17, 254, 33, 89, 400, 7, 7, 301, 5];
  const want = logitsOf(mergedModel, ids);
  const base0 = logitsOf(model, ids);
  applyLora(model, adapter);
  const unmerged = logitsOf(model, ids);
  mergeLora(model, adapter);
  const ours = logitsOf(model, ids);
  unloadLora(model);
  expect(maxAbsDiff(base0, want)).toBeGreaterThan(1e-3);
  expect(maxAbsDiff(unmerged, want)).toBeLessThan(1e-4);
  expect(maxAbsDiff(ours, want)).toBeLessThan(1e-4);
  expect(logitsOf(model, ids)).toEqual(base0);
}

describe('LoRA name mapping agrees with a merge done in HF layout', () => {
  it('GPT-2 (Conv1D, fused c_attn split into q/k/v)', async () => {
    await checkAgainstHfMerge(
      'tiny-gpt2',
      {
        'transformer.h.0.attn.c_attn': [192, 64],
        'transformer.h.1.attn.c_proj': [64, 64],
        'transformer.h.0.mlp.c_fc': [256, 64],
        'transformer.h.1.mlp.c_proj': [64, 256],
      },
      true,
    );
  });

  it('Mixtral (experts w1/w3/w2, attention)', async () => {
    await checkAgainstHfMerge(
      'tiny-mixtral-moe',
      {
        'model.layers.0.block_sparse_moe.experts.1.w1': [96, 64],
        'model.layers.1.block_sparse_moe.experts.2.w2': [64, 96],
        'model.layers.1.block_sparse_moe.experts.0.w3': [96, 64],
        'model.layers.0.self_attn.k_proj': [32, 64],
      },
      false,
    );
  });
});

describe('bad adapters', () => {
  const llamaConfig = async () => (await loadHfModelFromPath(fixturePath('models', 'tiny-llama'))).config;
  const cfg = (o: object) => new TextEncoder().encode(JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, ...o }));
  const pair = (mod: string, a: number[], b: number[]) => [
    { name: `base_model.model.${mod}.lora_A.weight`, shape: a, data: new Float32Array(a[0] * a[1]) },
    { name: `base_model.model.${mod}.lora_B.weight`, shape: b, data: new Float32Array(b[0] * b[1]) },
  ];

  it('wrong A shape → FormatError naming the tensor and the expected shape', async () => {
    const folder = memoryFolder('a', { 'adapter_config.json': cfg({}), 'adapter_model.safetensors': writeSafetensors(pair('model.layers.0.self_attn.q_proj', [2, 63], [64, 2])) });
    const err = await loadLoraAdapter(folder, await llamaConfig()).catch((e) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(err.key).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(err.expected).toBe('[2, 64]');
  });

  it('unknown module, DoRA, missing files, other PEFT types', async () => {
    const c = await llamaConfig();
    const w = writeSafetensors(pair('model.layers.0.self_attn.rotary', [2, 64], [64, 2]));
    const head = writeSafetensors(pair('lm_head', [2, 64], [512, 2]));
    await expect(loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({}), 'adapter_model.safetensors': head }), c)).rejects.toBeInstanceOf(UnsupportedError);
    await expect(loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({}), 'adapter_model.safetensors': w }), c)).rejects.toBeInstanceOf(UnsupportedError);
    await expect(loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({ use_dora: true }), 'adapter_model.safetensors': w }), c)).rejects.toBeInstanceOf(
      UnsupportedError,
    );
    await expect(loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({ peft_type: 'IA3' }), 'adapter_model.safetensors': w }), c)).rejects.toBeInstanceOf(
      UnsupportedError,
    );
    await expect(loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({}) }), c)).rejects.toBeInstanceOf(FormatError);
    await expect(loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({ r: 0 }), 'adapter_model.safetensors': w }), c)).rejects.toThrow(/key "r"/);
    await expect(loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({ use_rslora: 'yes' }), 'adapter_model.safetensors': w }), c)).rejects.toThrow(
      /key "use_rslora".*true or false/,
    );
    const half = writeSafetensors(pair('model.layers.0.self_attn.q_proj', [2, 64], [64, 2]).slice(0, 1));
    await expect(loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({}), 'adapter_model.safetensors': half }), c)).rejects.toThrow(/incomplete/);
  });

  it('a rank_pattern key that can backtrack catastrophically is refused, naming the key', async () => {
    const c = await llamaConfig();
    const w = writeSafetensors(pair('model.layers.0.self_attn.q_proj', [2, 64], [64, 2]));
    const err = await loadLoraAdapter(memoryFolder('a', { 'adapter_config.json': cfg({ rank_pattern: { '(a+)+$': 3 } }), 'adapter_model.safetensors': w }), c).catch((e) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(err.key).toBe('rank_pattern.(a+)+$');
    expect(err.message).toMatch(/unsafe module pattern/);
  });

  it('rank_pattern / alpha_pattern and rsLoRA set the scale', async () => {
    const c = await llamaConfig();
    const w = writeSafetensors([...pair('model.layers.0.self_attn.q_proj', [3, 64], [64, 3]), ...pair('model.layers.1.self_attn.q_proj', [2, 64], [64, 2])]);
    const a = await loadLoraAdapter(
      memoryFolder('a', {
        'adapter_config.json': cfg({ rank_pattern: { 'layers\\.0\\.self_attn\\.q_proj': 3 }, alpha_pattern: { 'layers.1.self_attn.q_proj': 8 }, use_rslora: true }),
        'adapter_model.safetensors': w,
      }),
      c,
    );
    const byName = Object.fromEntries(a.targets.map((t) => [t.canonical, t]));
    expect(byName['model.layers.0.self_attn.q_proj.weight'].r).toBe(3);
    expect(byName['model.layers.0.self_attn.q_proj.weight'].scale).toBeCloseTo(4 / Math.sqrt(3), 12);
    expect(byName['model.layers.1.self_attn.q_proj.weight'].scale).toBeCloseTo(8 / Math.sqrt(2), 12);
  });
});
