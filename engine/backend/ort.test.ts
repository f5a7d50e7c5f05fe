import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { memoryFolder } from '../formats/hf';
import { loadOnnxModel } from '../formats/onnx-model';
import { greedy } from '../generate/generate';
import type { LoadedModel } from '../model/types';
import { decodeArray, fixturePath, loadRef, maxAbsDiff } from '../../tests/unit/fixtures';
import { OrtBackend } from './ort';
import { createBackend } from './registry';

const ONNX = readFileSync(fixturePath('onnx', 'tiny-llama', 'model.onnx'));
// The fixture has no config.json: it is paired with the HF config of the same weights.
const CONFIG = readFileSync(fixturePath('models', 'tiny-llama', 'config.json'));
const ref = loadRef('tiny-llama.shared');

const load = (files: Record<string, Uint8Array> = { 'model.onnx': ONNX, 'config.json': CONFIG }): Promise<LoadedModel> =>
  loadOnnxModel(memoryFolder('tiny-llama-onnx', files), 'model.onnx');

describe('ort backend: the tiny-llama ONNX export on onnxruntime-web (wasm)', () => {
  it('logits within 1e-5 of HF on every reference sequence, prefill and token by token', async () => {
    const backend = await createBackend('ort', await load(), { contextLength: 64 });
    expect(backend.id).toBe('ort');
    const V = backend.config.vocabSize;
    let dPrefill = 0;
    let dSteps = 0;
    for (const c of ref.cases) {
      backend.reset();
      const want = decodeArray(c.logits).data; // [T, V]
      const out = await backend.forward(c.input_ids);
      expect(out).toMatchObject({ rows: c.input_ids.length, vocab: V, start: 0, keys: c.input_ids.length });
      dPrefill = Math.max(dPrefill, maxAbsDiff(out.logits, want));
      backend.reset();
      for (const [t, id] of c.input_ids.entries()) {
        const step = await backend.forward([id], undefined, { lastOnly: true });
        dSteps = Math.max(dSteps, maxAbsDiff(step.logits, want.subarray(t * V, (t + 1) * V)));
      }
      expect(backend.length).toBe(c.input_ids.length);
    }
    console.log(`ort wasm vs HF: prefill ${dPrefill.toExponential(2)}, token by token ${dSteps.toExponential(2)}`);
    expect(dPrefill).toBeLessThan(1e-5);
    expect(dSteps).toBeLessThan(1e-5);
    backend.dispose();
  });

  it('greedy_24 exact with the KV cache (the shared generate pipeline)', async () => {
    const backend = await createBackend('ort', await load(), { contextLength: 64 });
    for (const c of ref.cases) expect(await greedy(backend, c.input_ids, 24)).toEqual(c.greedy_24);
    backend.dispose();
  });

  it('truncate slices the cache; kvCache reports its bytes; top-k on the host; captures refused', async () => {
    const backend = await createBackend('ort', await load(), { contextLength: 16 });
    const ids = ref.cases[0].input_ids.slice(0, 6);
    const full = await backend.forward(ids, undefined, { capture: { kvBytes: true } });
    const perToken = 2 * 4 * 8 * 4; // K and V, 4 KV heads of 8, f32
    expect(full.kvBytes).toEqual([0, 1].map((layer) => ({ layer, allocated: 6 * perToken, used: 6 * perToken, tokens: 6, capacity: 16 })));
    backend.truncate(3);
    expect(backend.length).toBe(3);
    const again = await backend.forward(ids.slice(3), undefined, { topK: 5, logits: false });
    expect(again.start).toBe(3);
    expect(again.logits.length).toBe(0);
    const V = backend.config.vocabSize;
    const last = full.logits.subarray(5 * V);
    const order = [...last.keys()].sort((a, b) => last[b] - last[a] || a - b).slice(0, 5);
    expect(again.top!.ids).toEqual(order);
    expect(backend.kvCache()[0]).toMatchObject({ tokens: 6, used: 6 * perToken });
    await expect(backend.forward([1], undefined, { capture: { attentions: true } })).rejects.toThrow(/records no attentions/);
    expect(backend.capabilities.captures).toMatchObject({ attentions: false, residuals: false, kvBytes: true });
    expect(() => backend.truncate(7)).toThrow(RangeError);
    await expect(backend.forward(new Array(11).fill(1))).rejects.toThrow(/exceed the context length 16/);
    await expect(backend.forward([512])).rejects.toThrow(/outside the vocabulary/);
    backend.dispose();
  });

  it('without config.json the config comes from the graph', async () => {
    const loaded = await load({ 'model.onnx': ONNX });
    expect(loaded.config).toMatchObject({ numLayers: 2, numKvHeads: 4, headDim: 8, vocabSize: 512 });
    expect(loaded.source).toEqual({ format: 'onnx', files: ['model.onnx'], dtypes: ['F32'] });
    const backend = await OrtBackend.create(loaded, { contextLength: 64 });
    expect(await greedy(backend, ref.cases[0].input_ids, 24)).toEqual(ref.cases[0].greedy_24);
    backend.dispose();
  });

  it('an ONNX model runs on ort only, and ort runs ONNX models only', async () => {
    const loaded = await load();
    await expect(createBackend('cpu', loaded, { contextLength: 8 })).rejects.toThrow(/an ONNX model runs on the ort backend, not cpu/);
    await expect(createBackend('ort', { config: loaded.config, weights: new Map() }, { contextLength: 8 })).rejects.toThrow(UnsupportedError);
  });
});

/** The fixture with bytes changed: opset_import's version is the file's last byte (ai.onnx 17). */
function withOpset(v: number): Uint8Array {
  const b = Uint8Array.from(ONNX);
  expect(b[b.length - 1]).toBe(17);
  b[b.length - 1] = v;
  return b;
}

/** The fixture with one name's bytes replaced by another of the same length (an input or output renamed). */
function renamed(from: string, to: string): Uint8Array {
  const b = Uint8Array.from(ONNX);
  const f = new TextEncoder().encode(from);
  const t = new TextEncoder().encode(to);
  expect(t.length).toBe(f.length);
  let n = 0;
  for (let i = 0; i + f.length <= b.length; i++) {
    if (f.every((x, j) => b[i + j] === x)) {
      b.set(t, i);
      n++;
    }
  }
  expect(n).toBeGreaterThan(0);
  return b;
}

describe('ONNX files that are not decoders the ort backend runs', () => {
  it('an unknown opset: a typed error naming the file and the opsets onnxruntime-web runs', async () => {
    const e = await load({ 'model.onnx': withOpset(99) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(String(e)).toMatch(/tiny-llama-onnx\/model\.onnx \(key "opset_import"\): unknown ai\.onnx opset — expected 7 to 26 .*found 99/);
  });

  it('no logits output: not a decoder', async () => {
    const e = await load({ 'model.onnx': renamed('logits', 'scores') }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect(String(e)).toMatch(/model\.onnx: not a decoder: no "logits" output/);
  });

  it('missing KV inputs: the cache tensors are named', async () => {
    const e = await load({ 'model.onnx': renamed('past_key_values.1.value', 'past_key_values.1.vvvvv') }).catch((x: unknown) => x);
    expect(String(e)).toMatch(/the past_key_values tensors of layer 1 are missing/);
    const none = await load({ 'model.onnx': renamed('past_key_values', 'past_kv_values_') }).catch((x: unknown) => x);
    expect(String(none)).toMatch(/model\.onnx: no KV cache inputs — expected past_key_values\.\{i\}\.key\|value inputs/);
  });

  it('not an ONNX file at all, or a config.json of another model', async () => {
    await expect(load({ 'model.onnx': new TextEncoder().encode('{"hello": "world"}') })).rejects.toThrow(/model\.onnx.*not an ONNX model/);
    const other = readFileSync(fixturePath('models', 'tiny-qwen3', 'config.json'));
    await expect(load({ 'model.onnx': ONNX, 'config.json': other })).rejects.toThrow(/config\.json does not describe this graph: head_dim differs/);
  });
});
