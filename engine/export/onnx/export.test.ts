import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../errors';
import { loadGgufModel } from '../../formats/gguf-model';
import { loadHfModelFromPath } from '../../formats/hf-node';
import { loadLlama2cModel } from '../../formats/llama2c-model';
import { memorySource } from '../../formats/source';
import type { LoadedModel } from '../../model/types';
import { fixturePath, loadRef } from '../../../tests/unit/fixtures';
import { compareBatchPadded, compareWithEngine } from '../../../tests/unit/onnx-harness';
import { exportOnnx, exportOnnxExternal, onnxChunks, type OnnxExportProgress } from './export';
import { concat } from './protobuf';

const HF = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];
const STEPS = 24;
const TOL = 1e-4;

const bytes = (p: string) => new Uint8Array(readFileSync(p));
const stories = JSON.parse(readFileSync(fixturePath('refs', 'stories260K.greedy.shared.json'), 'utf8')) as { cases: { prompt: string; prompt_ids: number[] }[] };
const storiesPrompt = stories.cases.find((c) => c.prompt_ids.length > 3)!.prompt_ids;

/** Measured diffs, printed at the end. */
const report: Record<string, { prefill: number; steps: number }> = {};

async function check(label: string, onnx: Uint8Array, loaded: LoadedModel, prompt: number[], options = {}) {
  const r = await compareWithEngine(onnx, loaded, prompt, STEPS, options);
  report[label] = { prefill: Math.max(report[label]?.prefill ?? 0, r.prefillDiff), steps: Math.max(report[label]?.steps ?? 0, r.stepDiff) };
  expect(r.prefillDiff).toBeLessThan(TOL);
  expect(r.stepDiff).toBeLessThan(TOL);
  expect(r.onnxIds).toEqual(r.engineIds);
  return r;
}

describe('ONNX export matches the engine in onnxruntime-web (prompt logits, then 24 greedy steps with the KV cache)', () => {
  it.each(HF)('%s', async (name) => {
    const ref = loadRef(`${name}.shared`);
    // the export reads the weights; the engine model is built on a second load (it may move them)
    const onnx = concat(exportOnnx(await loadHfModelFromPath(fixturePath('models', name))));
    for (const c of ref.cases) {
      const r = await check(name, onnx, await loadHfModelFromPath(fixturePath('models', name)), c.input_ids);
      expect(r.inputNames).toContain('attention_mask');
    }
  });

  it('stories260K from the llama2.c file (interleaved RoPE)', async () => {
    const load = () => loadLlama2cModel(memorySource(bytes(fixturePath('llama2c', 'stories260K.bin')), 'stories260K.bin'));
    await check('stories260K.bin', concat(exportOnnx(await load())), await load(), storiesPrompt);
  });

  it('stories260K from the GGUF file', async () => {
    const load = () => loadGgufModel(memorySource(bytes(fixturePath('gguf', 'stories260K.gguf')), 'stories260K.gguf'));
    await check('stories260K.gguf', concat(exportOnnx(await load())), await load(), storiesPrompt);
  });

  it('the harness agrees with the known-good fixture ONNX file (tiny-llama)', async () => {
    const ref = loadRef('tiny-llama.shared');
    const onnx = bytes(fixturePath('onnx', 'tiny-llama', 'model.onnx'));
    for (const c of ref.cases) await check('fixture onnx/tiny-llama', onnx, await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), c.input_ids);
  });

  it('dynamic NTK rope scaling (frequencies from the largest position) matches the engine past the original context', async () => {
    const load = async () => {
      const m = await loadHfModelFromPath(fixturePath('models', 'tiny-llama'));
      m.config.rope!.scaling = { type: 'dynamic', factor: 2, originalMaxPositions: 8 };
      return m;
    };
    const prompt = loadRef('tiny-llama.shared').cases[0].input_ids; // 16 tokens, past the 8 of the original context
    await check('tiny-llama, dynamic NTK', concat(exportOnnx(await load())), await load(), prompt);
  });

  it.each(['tiny-llama', 'tiny-mistral-swa', 'tiny-gpt2'])('%s: a batch of two with left padding masked by attention_mask', async (name) => {
    const load = () => loadHfModelFromPath(fixturePath('models', name));
    const prompt = loadRef(`${name}.shared`).cases[0].input_ids;
    const d = await compareBatchPadded(concat(exportOnnx(await load())), load, prompt, 3);
    report[`${name}, padded batch`] = { prefill: d, steps: d };
    expect(d).toBeLessThan(TOL);
  });

  it.each(['tiny-mixtral-moe', 'tiny-gpt2'])('%s with its weights in an external data file', async (name) => {
    const load = () => loadHfModelFromPath(fixturePath('models', name));
    const out = exportOnnxExternal(await load(), { dataFile: 'model.onnx.data' });
    const data = concat([...out.data]);
    expect(data.length).toBe(out.dataBytes);
    const model = concat(out.model);
    expect(model.length).toBeLessThan(64 * 1024); // the graph and small constants only
    const prompt = loadRef(`${name}.shared`).cases[0].input_ids;
    await check(`${name}, external data`, model, await load(), prompt, { externalData: [{ path: 'model.onnx.data', data }] });
  });

  it('prints the measured differences', () => {
    console.log(
      Object.entries(report)
        .map(([k, v]) => `${k}: prompt ${v.prefill.toExponential(2)}, steps ${v.steps.toExponential(2)}`)
        .join('\n'),
    );
  });
});

describe('ONNX export: progress, cancel, refusals', () => {
  it('reports progress up to the weight bytes, and stops when the signal is aborted', async () => {
    const m = await loadHfModelFromPath(fixturePath('models', 'tiny-llama'));
    const seen: OnnxExportProgress[] = [];
    exportOnnx(m, { onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(10);
    expect(seen[seen.length - 1].bytes).toBe(seen[0].total);
    const signal = { aborted: false };
    const it = onnxChunks(m, { signal });
    it.next();
    signal.aborted = true;
    expect(() => [...it]).toThrow(/cancelled/);
  });

  it('refuses an activation it cannot express, by name', async () => {
    const m = await loadHfModelFromPath(fixturePath('models', 'tiny-llama'));
    (m.config as { activation: string }).activation = 'relu';
    expect(() => exportOnnx(m)).toThrow(UnsupportedError);
    expect(() => exportOnnx(m)).toThrow(/activation "relu" is not supported/);
  });

  it("refuses a model over protobuf's 2 GiB limit before converting anything", async () => {
    const m = await loadHfModelFromPath(fixturePath('models', 'tiny-llama'));
    // a vocabulary of 2^23 makes the embedding and the head 2 GiB each; their data is never read
    const V = 2 ** 23;
    const D = m.config.hiddenSize;
    m.config.vocabSize = V;
    const huge = { length: V * D } as unknown as Float32Array;
    for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) m.weights.set(name, { shape: [V, D], data: huge });
    let converted = 0;
    expect(() => exportOnnx(m, { onProgress: () => converted++ })).toThrow(/over protobuf's 2 GiB limit.*external data/);
    expect(converted).toBe(0);
    // with external data the .onnx file stays small and the data file holds the 4 GiB
    const ext = exportOnnxExternal(m, { dataFile: 'big.onnx.data', onProgress: () => converted++ });
    expect(ext.dataBytes).toBeGreaterThan(2 * V * D * 4);
    expect(concat(ext.model).length).toBeLessThan(64 * 1024);
    expect(converted).toBe(0);
    expect(() => exportOnnxExternal(m, { dataFile: '../x.data' })).toThrow(/plain file name/);
  });

  it('refuses a model whose weights disagree with its config, naming the tensor', async () => {
    const m = await loadHfModelFromPath(fixturePath('models', 'tiny-llama'));
    m.weights.delete('model.layers.1.mlp.up_proj.weight');
    expect(() => exportOnnx(m)).toThrow(/model\.layers\.1\.mlp\.up_proj\.weight/);
  });
});
