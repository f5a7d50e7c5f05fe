/**
 * The built engine worker (dist/worker.js) runs the Cross-check tab's request as the
 * playground does: started from a blob: URL under the webview's CSP, the tiny-llama
 * safetensors folder read by byte ranges, then `xcheckRun`: the model exported to ONNX in the
 * worker and run on onnxruntime-web beside the engine. On the CPU setting (the CPU engine and
 * ort's wasm EP) and on WebGPU (SwiftShader: the WebGPU engine and ort's WebGPU EP). And the
 * second pairing with no model loaded: the fixture ONNX file and the tiny-llama folder, both
 * read by byte ranges through the page as the playground's host serves them.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { csp } from '../../extension/html';
import { parseWorkerMessage, type XcheckView } from '../../engine/protocol/index';
import { launchBrowser, repoRoot, serve, type StaticServer } from './harness';

const FX = path.resolve(repoRoot, '../shared/fixtures');
const dist = (f: string) => path.join(repoRoot, 'dist', f);
let browser: Browser;
let server: StaticServer;

const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp("'self'", 'n')}">
<script nonce="n">
window.runWorker = async (backend, device, pair) => {
  const names = ['model.safetensors', 'config.json', 'tokenizer.json'];
  const files = {};
  for (const n of names) files[n] = new Uint8Array(await (await fetch('/m/' + n)).arrayBuffer());
  const onnx = { 'model.onnx': new Uint8Array(await (await fetch('/o/model.onnx')).arrayBuffer()) };
  const st = { modelId: 'st', name: 'tiny-llama', format: 'safetensors', weights: 'model.safetensors', tokenizer: 'tokenizer.json',
    files: names.map((n, i) => ({ name: n, size: files[n].length, role: ['weights', 'config', 'tokenizer'][i] })) };
  const text = await (await fetch('/worker.js')).text();
  const url = URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
  const w = new Worker(url);
  const log = [];
  const done = new Promise((resolve) => {
    w.onmessage = (ev) => {
      const m = ev.data;
      if (m.type === 'readRange') {
        const of = m.modelId === 'onnx' ? onnx : files;
        w.postMessage({ type: 'rangeData', reqId: m.reqId, bytes: of[m.file].slice(m.offset, m.offset + m.length) });
        return;
      }
      if (m.type !== 'loadProgress') log.push(m);
      if (m.type === 'env' && pair) w.postMessage({ type: 'xcheckRun', id: 3, text: 'a b c d', steps: 12, pair: { engine: st, onnx: {
        modelId: 'onnx', name: 'tiny-llama-onnx', format: 'onnx', weights: 'model.onnx', files: [{ name: 'model.onnx', size: onnx['model.onnx'].length, role: 'weights' }] } } });
      else if (m.type === 'env') w.postMessage({ type: 'loadModel', id: 2, contextLength: 64, device, spec: st });
      if (m.type === 'loaded') w.postMessage({ type: 'xcheckRun', id: 3, text: 'a b c d', steps: 8 });
      if (['xcheckResult', 'xcheckError', 'loadFailed', 'fatal'].includes(m.type)) resolve();
    };
    w.onerror = (e) => { log.push({ type: 'onerror', message: e.message }); resolve(); };
  });
  w.postMessage({ type: 'probe', id: 1, backend, ortWasm: new URL('/ort/ort-wasm-simd-threaded.jsep.wasm', location.href).href });
  await done;
  w.terminate();
  return log;
};
</script></head><body></body></html>`;

beforeAll(async () => {
  if (!existsSync(dist('worker.js')) || !existsSync(dist('ort/ort-wasm-simd-threaded.jsep.wasm')))
    throw new Error('dist/ is not built: run `node scripts/build.mjs` first (npm test does)');
  const m = (f: string) => readFileSync(path.join(FX, 'models/tiny-llama', f));
  server = await serve({
    '/': { body: PAGE },
    '/worker.js': { body: readFileSync(dist('worker.js')) },
    '/ort/ort-wasm-simd-threaded.jsep.wasm': { body: readFileSync(dist('ort/ort-wasm-simd-threaded.jsep.wasm')), type: 'application/wasm' },
    '/m/model.safetensors': { body: m('model.safetensors') },
    '/m/config.json': { body: m('config.json') },
    '/m/tokenizer.json': { body: readFileSync(path.join(FX, 'tokenizers/tiny-bytelevel-gpt2/tokenizer.json')) },
    '/o/model.onnx': { body: readFileSync(path.join(FX, 'onnx/tiny-llama/model.onnx')) },
  });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function run(backend: string, device: string, pair = false): Promise<XcheckView> {
  const pg = await browser.newPage();
  await pg.goto(server.url + '/');
  const log = (await pg.evaluate(`runWorker(${JSON.stringify(backend)}, ${JSON.stringify(device)}, ${pair})`)) as { type: string }[];
  await pg.close();
  const end = log[log.length - 1];
  expect(end, JSON.stringify(log)).toMatchObject({ type: 'xcheckResult' });
  // the webview's validator accepts what the worker sent
  const r = (parseWorkerMessage(end) as { result: XcheckView }).result;
  console.log(
    `cross-check in the worker (${backend}/${device}): ${r.engine.label} vs ${r.ort.label}: max |Δ| ${r.maxAbs.toExponential(2)}, first divergence ${r.firstDivergence}, ${r.engine.msPerToken.toFixed(2)} vs ${r.ort.msPerToken.toFixed(2)} ms/token`,
  );
  return r;
}

test('CPU setting: the CPU engine against ort wasm agree to 1e-4 and on the greedy path', async () => {
  const r = await run('cpu', 'cpu');
  expect(r.provider).toBe('wasm');
  expect(r.ort.label).toBe('onnxruntime-web (wasm EP)');
  expect(r.maxAbs).toBeLessThan(1e-4);
  expect(r.firstDivergence).toBe(-1);
  expect(r.engine.ids).toHaveLength(8);
});

test('WebGPU (SwiftShader): the WebGPU engine against ort’s WebGPU EP', async () => {
  const r = await run('auto', 'gpu');
  expect(r.provider).toBe('webgpu');
  expect(r.ort.label).toBe('onnxruntime-web (WebGPU EP)');
  expect(r.engine.label).toMatch(/WebGPU/);
  // ort's WGSL kernels are not f32 op for op (README: 3.6e-3 from HF on SwiftShader)
  expect(r.maxAbs).toBeLessThan(2e-2);
  expect(r.engine.ids).toHaveLength(8);
});

test('a pair from the list, nothing loaded (CPU setting): the ONNX file on ort wasm against the tiny-llama folder on the CPU engine', async () => {
  const r = await run('cpu', 'cpu', true);
  expect(r.source).toBe('pair');
  expect(r.models).toEqual({ engine: 'tiny-llama', onnx: 'tiny-llama-onnx' });
  expect(r.provider).toBe('wasm');
  expect(r.engine.label).toMatch(/^CPU/);
  for (const d of r.maxAbsPerPosition) expect(d).toBeLessThanOrEqual(1e-4);
  expect(r.firstDivergence).toBe(-1);
  expect(r.engine.ids).toHaveLength(12);
  expect(r.maxAbsPerPosition).toHaveLength(r.promptTokens + 11);
});
