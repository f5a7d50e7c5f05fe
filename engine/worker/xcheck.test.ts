/** The cross-check: what the worker reports equals what the engine and onnxruntime-web give when run directly. */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../backend/cpu';
import { OrtBackend } from '../backend/ort';
import { exportOnnx } from '../export/onnx/export';
import { concat } from '../export/onnx/protobuf';
import { loadHfModelFromPath } from '../formats/hf-node';
import { generateAll } from '../generate/generate';
import { parseWorkerMessage, type WorkerToWebview } from '../protocol/index';
import { tokenizerFromBytes } from '../tokenizer/index';
import { fixturePath } from '../../tests/unit/fixtures';
import { XCHECK_ONNX_REFUSAL } from '../protocol/xcheck';
import { XcheckWorker, type XcheckSessionModel } from './xcheck';

const tok = tokenizerFromBytes(new Uint8Array(readFileSync(fixturePath('tokenizers/tiny-bytelevel-gpt2/tokenizer.json'))), 'tokenizer.json');
const TEXT = 'a b c d';
const STEPS = 12;
const CTX = 64;
/** The export against the engine (engine/export/onnx/export.test.ts holds it to the same bound). */
const TOL = 1e-4;

async function session(): Promise<XcheckSessionModel> {
  const loaded = await loadHfModelFromPath(fixturePath('models', 'tiny-llama'));
  return { backend: new CpuBackend(loaded, { contextLength: CTX }), tokenizer: tok, loaded, onnx: false, webgpu: false };
}

function worker(m: XcheckSessionModel | string) {
  const out: WorkerToWebview[] = [];
  // every message goes through the webview's validator, as in the playground
  const w = new XcheckWorker(
    (msg) => out.push(parseWorkerMessage(JSON.parse(JSON.stringify(msg)))),
    () => m,
    () => Promise.resolve(),
  );
  return { w, out };
}

describe('cross-check (tiny-llama: the CPU engine against its ONNX export on onnxruntime-web wasm)', () => {
  test('the reported differences, greedy ids and divergence equal the two backends run directly', async () => {
    const m = await session();
    const { w, out } = worker(m);
    await w.run(1, TEXT, STEPS);
    const res = out.find((x) => x.type === 'xcheckResult' || x.type === 'xcheckError');
    expect(res, JSON.stringify(res)).toMatchObject({ type: 'xcheckResult' });
    const r = (res as Extract<WorkerToWebview, { type: 'xcheckResult' }>).result;
    expect(out.some((x) => x.type === 'xcheckProgress' && x.phase === 'exporting')).toBe(true);
    expect(out.some((x) => x.type === 'xcheckProgress' && x.phase === 'running')).toBe(true);

    // directly: the engine on a fresh load, ort on a fresh export of the same weights
    const ids = tok.encodeIds(TEXT);
    if (tok.bosId !== null && ids[0] !== tok.bosId) ids.unshift(tok.bosId);
    expect(r.promptTokens).toBe(ids.length);
    const V = 512;
    const cpu = new CpuBackend(await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), { contextLength: CTX });
    const loaded = await loadHfModelFromPath(fixturePath('models', 'tiny-llama'));
    const ort = await OrtBackend.create({ config: loaded.config, onnx: { file: 'export.onnx', bytes: concat(exportOnnx(loaded)), parameters: 0 } }, { contextLength: CTX });
    const a = (await cpu.forward(ids)).logits;
    const b = (await ort.forward(ids)).logits;
    for (let t = 0; t < ids.length; t++) {
      let d = 0;
      for (let i = t * V; i < (t + 1) * V; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
      expect(r.maxAbsPerPosition[t]).toBeCloseTo(d, 7);
    }
    cpu.reset();
    ort.reset();
    const ga = await generateAll(cpu, { promptIds: ids, maxNewTokens: STEPS, eosIds: [] });
    const gb = await generateAll(ort, { promptIds: ids, maxNewTokens: STEPS, eosIds: [] });
    expect(r.engine.ids).toEqual(ga.ids);
    expect(r.ort.ids).toEqual(gb.ids);
    expect(r.engine.pieces).toEqual(ga.ids.map((t) => tok.decode([t])));
    const firstDiff = ga.ids.findIndex((t, i) => t !== gb.ids[i]);
    expect(r.firstDivergence).toBe(firstDiff);
    // the export agrees with the engine: the paths agree, and every step was compared
    expect(r.firstDivergence).toBe(-1);
    expect(r.maxAbsPerPosition).toHaveLength(ids.length + STEPS - 1);
    expect(r.maxAbs).toBe(Math.max(...r.maxAbsPerPosition));
    expect(r.maxAbs).toBeLessThan(TOL);
    expect(r.logitScale).toBeGreaterThan(0);
    expect(r.provider).toBe('wasm');
    expect(r.ort.label).toBe('onnxruntime-web (wasm EP)');
    expect(r.engine.msPerToken).toBeGreaterThan(0);
    expect(r.ort.msPerToken).toBeGreaterThan(0);
    cpu.dispose();
    ort.dispose();
    m.backend.dispose();
  });

  test('cancel stops the run with a cancelled error; refusals say why', async () => {
    const m = await session();
    const { w, out } = worker(m);
    const run = w.run(2, TEXT, STEPS);
    w.handle({ type: 'xcheckCancel', id: 2 });
    await run;
    expect(out.at(-1)).toEqual({ type: 'xcheckError', id: 2, message: 'The cross-check was cancelled.', cancelled: true });

    const onnx = worker({ ...m, onnx: true });
    await onnx.w.run(3, TEXT, STEPS);
    expect(onnx.out.at(-1)).toEqual({ type: 'xcheckError', id: 3, message: XCHECK_ONNX_REFUSAL });
    const none = worker('No model is loaded yet.');
    await none.w.run(4, TEXT, STEPS);
    expect(none.out.at(-1)).toMatchObject({ type: 'xcheckError', message: 'No model is loaded yet.' });
    const bad = worker(m);
    await bad.w.run(5, TEXT, 1);
    expect(bad.out.at(-1)).toMatchObject({ type: 'xcheckError', message: /greedy steps must be an integer in \[2, 256\], got 1/ });
    await bad.w.run(6, '   ', 4);
    expect(bad.out.at(-1)).toMatchObject({ type: 'xcheckError', message: /The text is empty/ });
    m.backend.dispose();
  });
});
