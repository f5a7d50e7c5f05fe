/**
 * The cross-check's pair pairing in the worker's model session: two models of the list, read
 * through the byte-range bridge as in the playground (here answered from the fixture files),
 * one ONNX graph on onnxruntime-web (wasm: no GPU in Node) and one on the CPU engine.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../backend/cpu';
import { loadHfModelFromPath } from '../formats/hf-node';
import { generateAll } from '../generate/generate';
import { randomLlamaGguf } from '../model/random';
import { parseWorkerMessage, type ModelLoadSpec, type WorkerToWebview, type XcheckView } from '../protocol/index';
import { tokenizerFromBytes } from '../tokenizer/index';
import { fixturePath } from '../../tests/unit/fixtures';
import { ModelSession } from './session';

const read = (...p: string[]) => new Uint8Array(readFileSync(fixturePath(...p)));
const GPT2_TOK = read('tokenizers/tiny-bytelevel-gpt2/tokenizer.json');
const LLAMA3_TOK = read('tokenizers/tiny-bytelevel-llama3/tokenizer.json');
const TEXT = 'a b c d';
const STEPS = 16;
/** The ONNX file against the engine on the same weights (the fixture README: 7e-6 from HF on the prompt). */
const TOL = 1e-4;

/** A 256-token SentencePiece vocabulary for a random GGUF (a vocabulary other than the fixtures' 512). */
function vocab256() {
  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: 253 }, (_, i) => `▁t${i}`)];
  return { tokens, scores: tokens.map((_, i) => -i), types: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : 1)) };
}
const GGUF256 = randomLlamaGguf(
  { vocabSize: 256, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 4, numKvHeads: 2, maxPositions: 128, ropeTheta: 1e4, rmsEps: 1e-5, tieEmbeddings: false },
  vocab256(),
  7,
);

/** Every model the "host" serves, by id: its files and load spec. */
const MODELS: Record<string, { files: Record<string, Uint8Array>; spec: Omit<ModelLoadSpec, 'files' | 'modelId'> }> = {
  // the ONNX fixture as it is (model.onnx and io.json: the engine reads its config from the graph), no tokenizer
  onnx: { files: { 'model.onnx': read('onnx/tiny-llama/model.onnx') }, spec: { name: 'tiny-llama-onnx', format: 'onnx', weights: 'model.onnx' } },
  // the same graph with a tokenizer of its own that splits the text otherwise
  onnxTok: {
    files: { 'model.onnx': read('onnx/tiny-llama/model.onnx'), 'tokenizer.json': LLAMA3_TOK },
    spec: { name: 'tiny-llama-onnx-l3tok', format: 'onnx', weights: 'model.onnx', tokenizer: 'tokenizer.json' },
  },
  // a truncated graph
  onnxBad: { files: { 'model.onnx': read('onnx/tiny-llama/model.onnx').slice(0, 4000) }, spec: { name: 'broken-onnx', format: 'onnx', weights: 'model.onnx' } },
  // the tiny-llama safetensors folder (no tokenizer in the fixture: the byte-level one beside it)
  llama: {
    files: { 'model.safetensors': read('models/tiny-llama/model.safetensors'), 'config.json': read('models/tiny-llama/config.json'), 'tokenizer.json': GPT2_TOK },
    spec: { name: 'tiny-llama', format: 'safetensors', weights: 'model.safetensors', tokenizer: 'tokenizer.json' },
  },
  stories: { files: { 'stories260K.gguf': read('gguf/stories260K.gguf') }, spec: { name: 'stories260K', format: 'gguf', weights: 'stories260K.gguf', tokenizer: 'embedded' } },
  random256: { files: { 'r.gguf': GGUF256 }, spec: { name: 'random-256', format: 'gguf', weights: 'r.gguf', tokenizer: 'embedded' } },
};

const ROLE = (name: string): 'weights' | 'config' | 'tokenizer' => (name.endsWith('.json') ? (name === 'tokenizer.json' ? 'tokenizer' : 'config') : 'weights');
const spec = (id: string): ModelLoadSpec => ({
  ...MODELS[id].spec,
  modelId: id,
  files: Object.entries(MODELS[id].files).map(([name, b]) => ({ name, size: b.length, role: ROLE(name) })),
});

/** A session whose range reads are answered from MODELS; every message it posts goes through the webview's validator. */
function session() {
  const out: WorkerToWebview[] = [];
  const s: ModelSession = new ModelSession((m) => {
    out.push(parseWorkerMessage(JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? [] : v)))));
    if (m.type === 'readRange') queueMicrotask(() => s.handle({ type: 'rangeData', reqId: m.reqId, bytes: MODELS[m.modelId].files[m.file].slice(m.offset, m.offset + m.length) }));
  });
  const run = async (id: number, onnx: string, engine: string, steps = STEPS, text = TEXT) => {
    s.handle({ type: 'xcheckRun', id, text, steps, pair: { onnx: spec(onnx), engine: spec(engine) } });
    await expect.poll(() => out.find((m) => (m.type === 'xcheckResult' || m.type === 'xcheckError') && m.id === id), { timeout: 60_000, interval: 20 }).toBeTruthy();
    return out.find((m) => (m.type === 'xcheckResult' || m.type === 'xcheckError') && m.id === id)!;
  };
  return { s, out, run };
}

const resultOf = (m: WorkerToWebview): XcheckView => {
  expect(m, JSON.stringify(m)).toMatchObject({ type: 'xcheckResult' });
  return (m as Extract<WorkerToWebview, { type: 'xcheckResult' }>).result;
};

describe('cross-check of a pair: onnx/tiny-llama on onnxruntime-web against the tiny-llama folder on the CPU engine', () => {
  test('max |Δ logit| ≤ 1e-4 at every position and the greedy paths agree over 16 steps; the engine ids are the CPU engine’s', async () => {
    const { s, out, run } = session();
    const r = resultOf(await run(1, 'onnx', 'llama'));
    expect(out.some((m) => m.type === 'xcheckProgress' && m.phase === 'loading')).toBe(true);
    expect(r.source).toBe('pair');
    expect(r.models).toEqual({ engine: 'tiny-llama', onnx: 'tiny-llama-onnx' });
    expect(r.tokenizerNote).toBeUndefined();
    expect(r.onnxBytes).toBe(MODELS.onnx.files['model.onnx'].length);
    expect(r.provider).toBe('wasm');
    expect(r.ort.label).toBe('onnxruntime-web (wasm EP)');
    expect(r.engine.label).toMatch(/^CPU/);

    const tok = tokenizerFromBytes(GPT2_TOK, 'tokenizer.json');
    const ids = tok.encodeIds(TEXT);
    if (tok.bosId !== null && ids[0] !== tok.bosId) ids.unshift(tok.bosId);
    expect(r.promptTokens).toBe(ids.length);
    // every position compared (the paths never part), each within the tolerance
    expect(r.firstDivergence).toBe(-1);
    expect(r.engine.ids).toHaveLength(STEPS);
    expect(r.ort.ids).toEqual(r.engine.ids);
    expect(r.maxAbsPerPosition).toHaveLength(ids.length + STEPS - 1);
    for (const d of r.maxAbsPerPosition) expect(d).toBeLessThanOrEqual(TOL);
    expect(r.maxAbs).toBe(Math.max(...r.maxAbsPerPosition));
    expect(r.logitScale).toBeGreaterThan(0.1);
    // the engine side is the CPU engine's greedy path on these weights
    const cpu = new CpuBackend(await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), { contextLength: 64 });
    const g = await generateAll(cpu, { promptIds: ids, maxNewTokens: STEPS, eosIds: [] });
    expect(r.engine.ids).toEqual(g.ids);
    expect(r.engine.pieces).toEqual(g.ids.map((t) => tok.decode([t])));
    cpu.dispose();
    s.dispose();
  });

  test('the loaded model as the engine side is reused; tokenizers that split the text otherwise are named, the engine side’s ids run', async () => {
    const { s, out, run } = session();
    await s.load(9, spec('llama'), 64, 'cpu');
    expect(out.find((m) => m.type === 'loaded' || m.type === 'loadFailed')).toMatchObject({ type: 'loaded' });
    const reads = out.filter((m) => m.type === 'readRange').length;
    const r = resultOf(await run(2, 'onnxTok', 'llama', 12));
    // only the ONNX side's files were read for the run
    expect(out.filter((m) => m.type === 'readRange' && m.modelId === 'llama').length).toBe(reads);
    expect(r.firstDivergence).toBe(-1);
    expect(r.maxAbs).toBeLessThanOrEqual(TOL);
    expect(r.engine.ids).toHaveLength(12);
    const gpt2 = tokenizerFromBytes(GPT2_TOK, 'tokenizer.json').encodeIds(TEXT);
    expect(r.tokenizerNote).toMatch(/^The tokenizers disagree on the text: tiny-llama's gives \[.*\] and tiny-llama-onnx-l3tok's gives \[.*\]; both sides run tiny-llama's ids\.$/);
    expect(r.tokenizerNote).toContain(`[${gpt2.join(', ')}]`);
    s.dispose();
  });

  test('refusals: different vocabularies name both sizes; a side that fails to load names its file; two models of one kind', async () => {
    const { s, run } = session();
    expect(await run(3, 'onnx', 'random256')).toEqual({
      type: 'xcheckError',
      id: 3,
      message: 'The vocabularies differ: tiny-llama-onnx has 512 tokens and random-256 has 256; logits are compared id for id, so both need the same vocabulary.',
    });
    const bad = await run(4, 'onnxBad', 'stories');
    expect(bad).toMatchObject({ type: 'xcheckError' });
    expect((bad as { message: string }).message).toMatch(/^broken-onnx \(model\.onnx, the ONNX side\) did not load: .*broken-onnx\/model\.onnx/);
    expect(await run(5, 'llama', 'stories')).toMatchObject({
      type: 'xcheckError',
      message: /^A pair is one ONNX model .*: tiny-llama is a safetensors model the engine runs and stories260K is/,
    });
    expect(await run(6, 'onnx', 'onnxTok')).toMatchObject({ type: 'xcheckError', message: /tiny-llama-onnx-l3tok is an ONNX file\.$/ });
    expect(await run(7, 'onnx', 'llama', 1)).toMatchObject({ type: 'xcheckError', message: /greedy steps must be an integer in \[2, 256\], got 1/ });
    s.dispose();
  });
});
