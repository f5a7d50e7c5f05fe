import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { Model } from '../model/model';
import { expectedShapes } from '../model/shapes';
import { hfLinearTargets, loadHfModel, memoryFolder, transpose2d } from './hf';
import { loadHfModelFromPath } from './hf-node';
import { readSafetensorsHeader, readSafetensorsTensor, writeSafetensors, type TensorToWrite } from './safetensors';
import { memorySource } from './source';
import { fixturePath } from '../../tests/unit/fixtures';

const dir = (name: string) => fixturePath('models', name);
const bytes = (name: string, file: string) => new Uint8Array(readFileSync(`${dir(name)}/${file}`));
const json = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

async function tensors(name: string): Promise<TensorToWrite[]> {
  const src = memorySource(bytes(name, 'model.safetensors'));
  const h = await readSafetensorsHeader(src);
  const out: TensorToWrite[] = [];
  for (const [n, e] of h.tensors) out.push({ name: n, shape: e.shape, data: (await readSafetensorsTensor(src, e)).data });
  return out;
}

async function rejects(p: Promise<unknown>): Promise<FormatError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(FormatError);
  return e as FormatError;
}

describe('loadHfModel', () => {
  it('loads every tiny model with the canonical names and shapes', async () => {
    for (const name of ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2']) {
      const m = await loadHfModelFromPath(dir(name));
      const want = expectedShapes(m.config);
      expect([...m.weights.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [k, s] of want) expect(m.weights.get(k)!.shape).toEqual(s);
      expect(m.source).toEqual({ format: 'safetensors', files: [`${dir(name)}/model.safetensors`], dtypes: ['F32'] });
    }
  });

  it('accepts the .safetensors file path as well as the folder', async () => {
    const m = await loadHfModelFromPath(`${dir('tiny-qwen3')}/model.safetensors`);
    expect(m.config.architecture).toBe('qwen3');
  });

  it('GPT-2: splits c_attn, transposes Conv1D, maps wpe/ln_*', async () => {
    const m = await loadHfModelFromPath(dir('tiny-gpt2'));
    const raw = new Map((await tensors('tiny-gpt2')).map((t) => [t.name, t]));
    const cAttn = raw.get('transformer.h.1.attn.c_attn.weight')!; // [in=64, out=192]
    const k = m.weights.get('model.layers.1.self_attn.k_proj.weight')!; // [64, 64] = columns 64..127, transposed
    for (const [o, i] of [
      [0, 0],
      [5, 9],
      [63, 63],
    ])
      expect(k.data[o * 64 + i]).toBe(cAttn.data[i * 192 + 64 + o]);
    const bias = m.weights.get('model.layers.1.self_attn.v_proj.bias')!;
    expect(bias.data[3]).toBe(raw.get('transformer.h.1.attn.c_attn.bias')!.data[128 + 3]);
    const fc = m.weights.get('model.layers.0.mlp.up_proj.weight')!; // [256, 64]
    expect(fc.shape).toEqual([256, 64]);
    expect(fc.data[10 * 64 + 3]).toBe(raw.get('transformer.h.0.mlp.c_fc.weight')!.data[3 * 256 + 10]);
    expect(m.weights.get('model.embed_positions.weight')!.data).toBe(m.weights.get('model.embed_positions.weight')!.data);
    expect(m.weights.get('model.embed_positions.weight')!.data).toEqual(raw.get('transformer.wpe.weight')!.data);
    expect(m.weights.get('model.norm.bias')!.data).toEqual(raw.get('transformer.ln_f.bias')!.data);
    expect(transpose2d({ shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) })).toEqual({ shape: [3, 2], data: Float32Array.from([1, 4, 2, 5, 3, 6]) });
  });

  it('GPT-2 checkpoints without the "transformer." prefix (the original hub layout)', async () => {
    const ts = (await tensors('tiny-gpt2')).map((t) => ({ ...t, name: t.name.replace(/^transformer\./, '') }));
    const m = await loadHfModel(memoryFolder('gpt2', { 'config.json': bytes('tiny-gpt2', 'config.json'), 'model.safetensors': writeSafetensors(ts) }));
    const ref = await loadHfModelFromPath(dir('tiny-gpt2'));
    for (const [k, t] of ref.weights) expect(m.weights.get(k)!.data).toEqual(t.data);
  });

  it('Mixtral: router and experts w1/w3/w2', async () => {
    const m = await loadHfModelFromPath(dir('tiny-mixtral-moe'));
    const raw = new Map((await tensors('tiny-mixtral-moe')).map((t) => [t.name, t]));
    expect(m.weights.get('model.layers.1.mlp.router.weight')!.data).toEqual(raw.get('model.layers.1.block_sparse_moe.gate.weight')!.data);
    expect(m.weights.get('model.layers.0.mlp.experts.2.gate_proj.weight')!.data).toEqual(raw.get('model.layers.0.block_sparse_moe.experts.2.w1.weight')!.data);
    expect(m.weights.get('model.layers.0.mlp.experts.2.up_proj.weight')!.data).toEqual(raw.get('model.layers.0.block_sparse_moe.experts.2.w3.weight')!.data);
    expect(m.weights.get('model.layers.0.mlp.experts.2.down_proj.weight')!.data).toEqual(raw.get('model.layers.0.block_sparse_moe.experts.2.w2.weight')!.data);
    expect(hfLinearTargets(m.config, 'model.layers.0.block_sparse_moe.experts.3.w3')).toEqual([{ canonical: 'model.layers.0.mlp.experts.3.up_proj.weight' }]);
    expect(hfLinearTargets(m.config, 'model.layers.0.mlp.experts.3.up_proj')).toBeUndefined();
  });

  it('F16 and BF16 checkpoints load as f32 and run', async () => {
    const ts = await tensors('tiny-llama');
    for (const dtype of ['F16', 'BF16'] as const) {
      const m = await loadHfModel(
        memoryFolder(dtype, { 'config.json': bytes('tiny-llama', 'config.json'), 'model.safetensors': writeSafetensors(ts.map((t) => ({ ...t, dtype }))) }),
      );
      expect(m.source.dtypes).toEqual([dtype]);
      const w = m.weights.get('model.layers.0.self_attn.q_proj.weight')!.data;
      const orig = ts.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!.data;
      const tol = dtype === 'F16' ? 2 ** -11 : 2 ** -8;
      for (let i = 0; i < w.length; i++) expect(Math.abs(w[i] - orig[i])).toBeLessThanOrEqual(Math.abs(orig[i]) * tol + 2 ** -24);
      const model = new Model(m, { contextLength: 8 });
      expect(model.forward([1, 2, 3]).logits.every(Number.isFinite)).toBe(true);
    }
  });

  it('generation_config.json eos/bos take precedence', async () => {
    const m = await loadHfModel(
      memoryFolder('g', {
        'config.json': bytes('tiny-llama', 'config.json'),
        'generation_config.json': json({ eos_token_id: [2, 5], bos_token_id: 1 }),
        'model.safetensors': bytes('tiny-llama', 'model.safetensors'),
      }),
    );
    expect(m.config.eosTokenIds).toEqual([2, 5]);
  });
});

describe('loadHfModel bad input', () => {
  it('shape that disagrees with the config → FormatError naming the tensor and expected shape', async () => {
    const cfg = JSON.parse(new TextDecoder().decode(bytes('tiny-llama', 'config.json')));
    const e = await rejects(
      loadHfModel(memoryFolder('m', { 'config.json': json({ ...cfg, intermediate_size: 175 }), 'model.safetensors': bytes('tiny-llama', 'model.safetensors') })),
    );
    expect(e.key).toBe('model.layers.0.mlp.gate_proj.weight');
    expect(e.expected).toBe('[175, 64]');
    expect(e.found).toBe('[176, 64]');
    expect(e.file).toBe('m/model.safetensors');
    expect(e.offset).toBeTypeOf('number');
    const g = JSON.parse(new TextDecoder().decode(bytes('tiny-gpt2', 'config.json')));
    const e2 = await rejects(loadHfModel(memoryFolder('g', { 'config.json': json({ ...g, n_positions: 256 }), 'model.safetensors': bytes('tiny-gpt2', 'model.safetensors') })));
    expect([e2.key, e2.expected]).toEqual(['transformer.wpe.weight', '[256, 64]']);
  });

  it('missing tensors: untied head, q_norm', async () => {
    const ts = (await tensors('tiny-llama')).filter((t) => t.name !== 'lm_head.weight');
    const e = await rejects(loadHfModel(memoryFolder('m', { 'config.json': bytes('tiny-llama', 'config.json'), 'model.safetensors': writeSafetensors(ts) })));
    expect(e.key).toBe('lm_head.weight');
    expect(e.expected).toContain('[512, 64]');
    const q = (await tensors('tiny-qwen3')).filter((t) => t.name !== 'model.layers.1.self_attn.q_norm.weight');
    const e2 = await rejects(loadHfModel(memoryFolder('q', { 'config.json': bytes('tiny-qwen3', 'config.json'), 'model.safetensors': writeSafetensors(q) })));
    expect(e2.key).toBe('model.layers.1.self_attn.q_norm.weight');
  });

  it('a tied config ignores a saved lm_head', async () => {
    const cfg = JSON.parse(new TextDecoder().decode(bytes('tiny-llama', 'config.json')));
    const m = await loadHfModel(memoryFolder('m', { 'config.json': json({ ...cfg, tie_word_embeddings: true }), 'model.safetensors': bytes('tiny-llama', 'model.safetensors') }));
    expect(m.weights.has('lm_head.weight')).toBe(false);
  });

  it('missing or broken files', async () => {
    let e = await rejects(loadHfModel(memoryFolder('m', { 'model.safetensors': bytes('tiny-llama', 'model.safetensors') })));
    expect(e.file).toBe('m/config.json');
    e = await rejects(loadHfModel(memoryFolder('m', { 'config.json': bytes('tiny-llama', 'config.json') })));
    expect(e.expected).toMatch(/model\.safetensors/);
    e = await rejects(
      loadHfModel(memoryFolder('m', { 'config.json': new TextEncoder().encode('{"model_type": '), 'model.safetensors': bytes('tiny-llama', 'model.safetensors') })),
    );
    expect([e.file, e.offset]).toEqual(['m/config.json', 0]);
    e = await rejects(loadHfModel(memoryFolder('m', { 'config.json': json({ model_type: 'bert' }), 'model.safetensors': bytes('tiny-llama', 'model.safetensors') })));
    expect(e).toBeInstanceOf(UnsupportedError);
    e = await rejects(
      loadHfModel(
        memoryFolder('m', {
          'config.json': bytes('tiny-llama', 'config.json'),
          'generation_config.json': json({ eos_token_id: 'x' }),
          'model.safetensors': bytes('tiny-llama', 'model.safetensors'),
        }),
      ),
    );
    expect(e.key).toBe('eos_token_id');
    await expect(loadHfModelFromPath(fixturePath('models', 'no-such-model'))).rejects.toThrow();
  });
});
