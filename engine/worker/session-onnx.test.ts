/** The worker's model session on an ONNX model: it loads on the ort backend and the Generate tab runs on it. */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { OrtBackend } from '../backend/ort';
import { memoryFolder } from '../formats/hf';
import { loadOnnxModel } from '../formats/onnx-model';
import { generateAll } from '../generate/generate';
import type { ModelLoadSpec, WorkerToWebview } from '../protocol/index';
import { tokenizerFromBytes } from '../tokenizer/index';
import { fixturePath } from '../../tests/unit/fixtures';
import { ModelSession } from './session';

const files: Record<string, Uint8Array> = {
  'model.onnx': new Uint8Array(readFileSync(fixturePath('onnx/tiny-llama/model.onnx'))),
  // the fixture has no config.json or tokenizer.json: the HF config of the same weights, and a byte-level BPE
  'config.json': new Uint8Array(readFileSync(fixturePath('models/tiny-llama/config.json'))),
  'tokenizer.json': new Uint8Array(readFileSync(fixturePath('tokenizers/tiny-bytelevel-gpt2/tokenizer.json'))),
};
const PROMPT = 'a b c';

describe('ModelSession with an ONNX model', () => {
  test('loads on the ort backend (wasm: no GPU in Node) and generates the same text as the backend does directly', async () => {
    const tok = tokenizerFromBytes(files['tokenizer.json'], 'tokenizer.json');
    const promptIds = tok.encodeIds(PROMPT);
    expect(Math.max(...promptIds)).toBeLessThan(512); // the tokenizer's ids for this prompt fit the tiny model's vocabulary
    const out: WorkerToWebview[] = [];
    const s: ModelSession = new ModelSession((m) => {
      out.push(m);
      if (m.type === 'readRange') queueMicrotask(() => s.handle({ type: 'rangeData', reqId: m.reqId, bytes: files[m.file].slice(m.offset, m.offset + m.length) }));
    });
    const spec: ModelLoadSpec = {
      modelId: 'onnx',
      name: 'tiny-llama-onnx',
      format: 'onnx',
      weights: 'model.onnx',
      tokenizer: 'tokenizer.json',
      files: [
        { name: 'model.onnx', size: files['model.onnx'].length, role: 'weights' },
        { name: 'config.json', size: files['config.json'].length, role: 'config' },
        { name: 'tokenizer.json', size: files['tokenizer.json'].length, role: 'tokenizer' },
      ],
    };
    await s.load(1, spec, 64, 'gpu');
    const loaded = out.find((m) => m.type === 'loaded' || m.type === 'loadFailed');
    expect(loaded, JSON.stringify(loaded)).toMatchObject({ type: 'loaded', summary: { device: 'cpu', ort: 'wasm', contextLength: 64 } });
    expect((loaded as Extract<WorkerToWebview, { type: 'loaded' }>).summary.note).toMatch(/onnxruntime-web \(WebAssembly\)/);
    await s.generate(2, PROMPT, 12, []);
    const done = out.find((m) => m.type === 'genDone' || m.type === 'genError') as Extract<WorkerToWebview, { type: 'genDone' }>;
    expect(done, JSON.stringify(done)).toMatchObject({ type: 'genDone', promptTokens: promptIds.length });
    const direct = await OrtBackend.create(await loadOnnxModel(memoryFolder('x', files), 'model.onnx'), { contextLength: 64 });
    const r = await generateAll(direct, { promptIds, maxNewTokens: 12, eosIds: direct.config.eosTokenIds });
    expect(done.text).toBe(tok.decode(r.ids));
    direct.dispose();
    s.dispose();
  });
});
