/**
 * The WebGPU engine in headless chromium (SwiftShader): every WGSL kernel against its
 * CPU reference, then GpuModel on every fixture model against the HF references
 * (logits within 1e-3, greedy_24 exact), f16 weights, LoRA, and stories260K greedy
 * against llama2.c run.c. Fixture files are read here and served to the page.
 *
 * f16 weights: logits within 0.05 of the f32 CPU path. Justification: an f16 weight
 * carries a relative rounding error ≤ 2⁻¹¹ ≈ 4.9e-4; a dot product of K terms with
 * independent errors moves by ≈ 4.9e-4·|w||x|·√K/√3, which through two layers of these
 * models (|logit| ≤ 8) is ~1e-2 (measured: 0.007–0.017 on every model, SwiftShader and
 * H200 alike); 0.05 leaves 3× room while a wrong kernel misses by ≥ 0.1.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { bundleForBrowser, launchBrowser, repoRoot, serve, type Files, type StaticServer } from './harness';
import type { GpuKernelCheck } from './entries/gpu.entry';
import { TINY, type ModelCheck, type StoriesCheck } from './gpu-checks';

const FX = path.resolve(repoRoot, '../shared/fixtures');
const F16_TOL = 0.05;

let browser: Browser;
let server: StaticServer;
let page: Page;

function addTree(files: Files, rel: string): void {
  const abs = path.join(FX, rel);
  if (statSync(abs).isDirectory()) for (const e of readdirSync(abs)) addTree(files, `${rel}/${e}`);
  else files[`/fx/${rel}`] = { body: new Uint8Array(readFileSync(abs)) };
}

beforeAll(async () => {
  const js = await bundleForBrowser('tests/browser/entries/gpu.entry.ts');
  const files: Files = {
    '/': { body: '<!doctype html><meta charset="utf-8"><title>gpu</title><script src="/gpu.js"></script>' },
    '/gpu.js': { body: js },
  };
  for (const m of TINY) addTree(files, `models/${m}`);
  for (const r of [
    ...TINY.map((m) => `refs/${m}.shared.json`),
    ...TINY.map((m) => `refs/${m}.internals.shared.json`),
    'refs/tiny-llama.lora.shared.json',
    'refs/stories260K.greedy.shared.json',
    'llama2c/stories260K.bin',
  ])
    addTree(files, r);
  server = await serve(files);
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.goto(server.url + '/');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test('every WGSL kernel equals its CPU reference (odd sizes, T = 1, T past one tile, splits)', async () => {
  const res = (await page.evaluate('runGpuKernelChecks()')) as { adapter: string; checks: GpuKernelCheck[] } | { error: string };
  if ('error' in res) throw new Error(res.error);
  const ops = new Set(res.checks.map((c) => c.op.replace(/-.*/, '')));
  for (const op of ['matvec', 'matmul', 'rmsnorm', 'layernorm', 'embedding', 'rope', 'attention', 'activation', 'moe', 'topk']) expect(ops.has(op), op).toBe(true);
  // the decode kernels with subgroup atomics; the grouped-query one with 1–4 heads per group, in one split and in several
  for (const re of [
    /^attention-decode-sg-split1$/,
    /^attention-decode-sg-split([2-9]|\d\d)$/,
    /^attention-decode-gqa4-split1$/,
    /^attention-decode-gqa\d-sg-split([2-9]|\d\d)$/,
    /^attention-decode-gqa3-/,
    /^attention-decode-gqa1-/,
    /^attention-decode-gqa\d-split([2-9]|\d\d)$/,
    /^attention-flash-rows$/,
  ])
    expect(
      res.checks.some((c) => re.test(c.op)),
      String(re),
    ).toBe(true);
  for (const c of res.checks) expect(c.maxAbsDiff, `${c.op} [${c.shape.join(', ')}]`).toBeLessThanOrEqual(c.tol);
}, 600_000);

test('GpuModel: every fixture model matches HF (logits ≤ 1e-3, greedy_24 exact), f16 weights, LoRA', async () => {
  const res = (await page.evaluate(`runGpuModelChecks(${JSON.stringify(TINY)}, false)`)) as { models: ModelCheck[] } | { error: string };
  if ('error' in res) throw new Error(res.error);
  expect(res.models.map((m) => m.model)).toEqual(TINY);
  for (const m of res.models) {
    console.log(
      `${m.model}: |GPU−HF| ${m.logitsVsHf.toExponential(2)}, |GPU−CPU| ${m.logitsVsCpu.toExponential(2)}, attentions ${m.attentionsVsHf.toExponential(2)}, decode ${m.decodeVsPrefill.toExponential(2)}, f16 ${m.f16VsCpu.toExponential(2)}${m.extra ? ' ' + JSON.stringify(m.extra) : ''}`,
    );
    expect(m.logitsVsHf, m.model).toBeLessThanOrEqual(1e-3);
    expect(m.logitsVsCpu, m.model).toBeLessThanOrEqual(1e-4);
    expect(m.attentionsVsHf, m.model).toBeLessThanOrEqual(1e-4);
    expect(m.decodeVsPrefill, m.model).toBeLessThanOrEqual(1e-3);
    expect(m.gqaDecodeVsPrefill, `${m.model}: decode through the grouped-query attention kernel`).toBeLessThanOrEqual(1e-3);
    for (const g of m.greedy) expect(g.got, `${m.model} greedy_24`).toEqual(g.want);
    expect(m.pipelineExact, `${m.model}: greedy through other decode pipelines, stops mid-block`).toBe(true);
    expect(m.f16VsCpu, `${m.model} f16 weights`).toBeLessThanOrEqual(F16_TOL);
    console.log(`${m.model} inside: ${JSON.stringify(m.inside)}`);
    expect(m.inside!.rowsVsHf, `${m.model}: attention tiles through the Inside worker requests`).toBeLessThanOrEqual(1e-4);
    expect(m.inside!.lensVsHf, `${m.model}: logit lens`).toBeLessThanOrEqual(1e-4);
    if (m.model === 'tiny-mixtral-moe') {
      expect(m.inside!.routerLogitsVsHf, 'router logits').toBeLessThanOrEqual(1e-5);
      expect(m.inside!.routerExpertsExact, 'router experts').toBe(true);
    }
    if (m.extra) {
      expect(m.extra.loraVsHf, 'LoRA prefill').toBeLessThanOrEqual(1e-3);
      expect(m.extra.loraDecodeVsHf, 'LoRA decode').toBeLessThanOrEqual(1e-3);
      expect(m.extra.top40Exact, 'GPU top-40').toBe(1);
      expect(m.extra.loraGateUpVsCpu, 'LoRA on gate/up (norm weight folded into A)').toBeLessThanOrEqual(1e-3);
    }
  }
}, 900_000);

test('GpuModel: stories260K greedy ids equal llama2.c run.c for every prompt', async () => {
  const res = (await page.evaluate('runGpuModelChecks([], true)')) as { stories: StoriesCheck[] } | { error: string };
  if ('error' in res) throw new Error(res.error);
  expect(res.stories.length).toBeGreaterThanOrEqual(4);
  for (const s of res.stories) expect(s.got, JSON.stringify(s.prompt)).toEqual(s.want);
}, 900_000);

test('same seed, same ids: stories260K, 200 tokens at temperature 0.8, top-p 0.9, on WebGPU and on the CPU', async () => {
  const res = (await page.evaluate('runSameSeed(200)')) as { gpu: number[]; cpu: number[] } | { error: string };
  if ('error' in res) throw new Error(res.error);
  expect(res.gpu.length).toBe(200);
  expect(res.gpu).toEqual(res.cpu);
}, 600_000);
