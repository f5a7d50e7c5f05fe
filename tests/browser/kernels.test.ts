/** WGSL kernels from engine/ against their CPU references, in headless chromium (WebGPU on SwiftShader). */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { bundleForBrowser, launchBrowser, serve, type StaticServer } from './harness';
import type { KernelCheck } from './entries/kernels.entry';

let browser: Browser;
let server: StaticServer;

beforeAll(async () => {
  const js = await bundleForBrowser('tests/browser/entries/kernels.entry.ts');
  server = await serve({
    '/': { body: '<!doctype html><meta charset="utf-8"><title>kernels</title><script src="/kernels.js"></script>' },
    '/kernels.js': { body: js },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test('WebGPU is available in headless chromium (SwiftShader)', async () => {
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  const info = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? { vendor: a.info.vendor, architecture: a.info.architecture } : null;
  });
  expect(info, 'navigator.gpu.requestAdapter() returned no adapter').not.toBeNull();
  await page.close();
});

test('RMSNorm WGSL kernel equals its CPU reference (odd sizes, T=1, rows longer than a workgroup)', async () => {
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  const res = (await page.evaluate('runKernelChecks()')) as { adapter: string; checks: KernelCheck[] } | { error: string };
  await page.close();
  if ('error' in res) throw new Error(res.error);
  expect(res.checks.length).toBeGreaterThan(5);
  for (const c of res.checks) {
    // f32 on both sides; the GPU sums in a different order: 1e-5 relative to the output's scale.
    expect(c.maxAbsDiff, `${c.op} ${c.shape.join('x')}`).toBeLessThanOrEqual(1e-5 * Math.max(1, c.maxRef));
  }
});
