/**
 * The built engine worker (dist/worker.js) on an ONNX model, as the playground runs it:
 * started from a blob: URL under the webview's CSP, onnxruntime-web's wasm fetched from
 * dist/ort by the URL the probe carries, the model read by byte ranges, then the Generate
 * tab's request. On the CPU setting (wasm EP) and on WebGPU (SwiftShader: the WebGPU EP).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { csp } from '../../extension/html';
import { launchBrowser, repoRoot, serve, type StaticServer } from './harness';

const FX = path.resolve(repoRoot, '../shared/fixtures');
const dist = (f: string) => path.join(repoRoot, 'dist', f);
let browser: Browser;
let server: StaticServer;

// The page plays the webview: it starts the worker as webview/engine.ts does and answers its range reads.
const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp("'self'", 'n')}">
<script nonce="n">
window.runWorker = async (backend, device) => {
  const names = ['model.onnx', 'config.json', 'tokenizer.json'];
  const files = {};
  for (const n of names) files[n] = new Uint8Array(await (await fetch('/m/' + n)).arrayBuffer());
  const text = await (await fetch('/worker.js')).text();
  const url = URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
  const w = new Worker(url);
  const log = [];
  const done = new Promise((resolve) => {
    w.onmessage = (ev) => {
      const m = ev.data;
      if (m.type === 'readRange') {
        w.postMessage({ type: 'rangeData', reqId: m.reqId, bytes: files[m.file].slice(m.offset, m.offset + m.length) });
        return;
      }
      log.push(m.type === 'genText' ? { type: m.type } : m);
      if (m.type === 'env') w.postMessage({ type: 'loadModel', id: 2, contextLength: 64, device, spec: {
        modelId: 'onnx', name: 'tiny', format: 'onnx', weights: 'model.onnx', tokenizer: 'tokenizer.json',
        files: names.map((n, i) => ({ name: n, size: files[n].length, role: ['weights', 'config', 'tokenizer'][i] })) } });
      if (m.type === 'loaded') w.postMessage({ type: 'generate', id: 3, prompt: 'a b c', maxTokens: 12, stop: [] });
      if (['genDone', 'genError', 'loadFailed', 'fatal'].includes(m.type)) resolve();
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
  server = await serve({
    '/': { body: PAGE },
    '/worker.js': { body: readFileSync(dist('worker.js')) },
    '/ort/ort-wasm-simd-threaded.jsep.wasm': { body: readFileSync(dist('ort/ort-wasm-simd-threaded.jsep.wasm')), type: 'application/wasm' },
    '/m/model.onnx': { body: readFileSync(path.join(FX, 'onnx/tiny-llama/model.onnx')) },
    '/m/config.json': { body: readFileSync(path.join(FX, 'models/tiny-llama/config.json')) },
    '/m/tokenizer.json': { body: readFileSync(path.join(FX, 'tokenizers/tiny-bytelevel-gpt2/tokenizer.json')) },
  });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

type Msg = { type: string; message?: string; text?: string; tokens?: number; summary?: { device: string; note?: string } };

async function run(backend: string, device: string): Promise<Msg[]> {
  const pg = await browser.newPage();
  const refused: string[] = [];
  pg.on('console', (m) => /Content Security Policy/.test(m.text()) && refused.push(m.text()));
  await pg.goto(server.url + '/');
  const log = (await pg.evaluate(`runWorker(${JSON.stringify(backend)}, ${JSON.stringify(device)})`)) as Msg[];
  await pg.close();
  expect(refused).toEqual([]);
  return log;
}

test('CPU setting: the ONNX model loads on onnxruntime-web (wasm) and the Generate tab runs', async () => {
  const log = await run('cpu', 'cpu');
  const end = log[log.length - 1];
  expect(end, JSON.stringify(log.filter((m) => m.type !== 'loadProgress'))).toMatchObject({ type: 'genDone', tokens: 12 });
  expect(log.find((m) => m.type === 'loaded')).toMatchObject({ summary: { device: 'cpu' } });
});

test('WebGPU (SwiftShader): the WebGPU execution provider runs it', async () => {
  const log = await run('auto', 'gpu');
  const loaded = log.find((m) => m.type === 'loaded');
  console.log(`worker on WebGPU: ${JSON.stringify(loaded?.summary)}`);
  const end = log[log.length - 1];
  expect(end, JSON.stringify(log.filter((m) => m.type !== 'loadProgress'))).toMatchObject({ type: 'genDone', tokens: 12 });
});
