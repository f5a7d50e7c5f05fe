/**
 * The playground webview outside VS Code: the built dist/webview.js and
 * dist/worker.js served with the same CSP the host sets, a stub of
 * acquireVsCodeApi that records messages and state, and the host's `init`.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { csp } from '../../extension/html';
import { launchBrowser, repoRoot, serve, type StaticServer } from './harness';

let browser: Browser;
let server: StaticServer;

const dist = (f: string) => path.join(repoRoot, 'dist', f);

function page(initialState: unknown): string {
  const n = 'testnonce';
  return `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp("'self'", n)}">
<script nonce="${n}">
  window.__sent = []; window.__state = ${JSON.stringify(initialState ?? null)};
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => window.__sent.push(m),
    getState: () => window.__state,
    setState: (s) => { window.__state = s; },
  });
</script></head><body class="vscode-dark"><main id="app"></main>
<script type="module" nonce="${n}" src="/webview.js"></script></body></html>`;
}

beforeAll(async () => {
  if (!existsSync(dist('webview.js'))) throw new Error('dist/webview.js is missing: run `node scripts/build.mjs` first (npm test does)');
  server = await serve({
    '/': { body: page(null) },
    '/restored': { body: page({ engine: { env: { backend: 'cpu', reason: 'restored from state' } }, tab: 'engine' }), type: 'text/html' },
    '/webview.js': { body: readFileSync(dist('webview.js')) },
    '/worker.js': { body: readFileSync(dist('worker.js')) },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function open(p: string): Promise<Page> {
  const pg = await browser.newPage();
  const errors: string[] = [];
  pg.on('pageerror', (e) => errors.push(String(e)));
  pg.on('console', (m) => {
    if (/Content Security Policy/.test(m.text())) errors.push(m.text());
  });
  await pg.goto(server.url + p);
  await pg.waitForFunction(() => (window as unknown as { __sent: { type: string }[] }).__sent.some((m) => m.type === 'ready'));
  (pg as unknown as { errors: string[] }).errors = errors;
  await pg.locator('vscode-tab-header[data-tab=engine]').click();
  return pg;
}

function init(pg: Page, workerUri: string, backend = 'auto'): Promise<void> {
  return pg.evaluate(
    ([workerUri, backend]) => {
      window.postMessage(
        { type: 'init', location: 'panel', workerUri, bundledModel: { name: 'stories260K', format: 'llama2c', bundled: true }, extensionVersion: 'test', settings: { backend } },
        '*',
      );
    },
    [workerUri, backend],
  );
}

test('every tab renders under the CSP with no inline style or script refused', async () => {
  const pg = await open('/');
  await init(pg, server.url + '/worker.js', 'cpu');
  for (const tab of await pg.locator('vscode-tab-header[data-tab]').evaluateAll((hs) => hs.map((h) => h.getAttribute('data-tab')!))) {
    await pg.locator(`vscode-tab-header[data-tab=${tab}]`).click();
    await pg.waitForTimeout(300);
  }
  // the playground's own CSS applies (adopted stylesheets): a field is laid out inline
  expect(await pg.evaluate(() => getComputedStyle(document.querySelector('.field')!).display)).toBe('inline-block');
  expect((pg as unknown as { errors: string[] }).errors).toEqual([]);
  await pg.close();
});

test('starts the worker from a blob: URL under the CSP and shows the WebGPU adapter', async () => {
  const pg = await open('/');
  await init(pg, server.url + '/worker.js');
  const status = pg.locator('#engine-status[data-backend]');
  await status.waitFor({ timeout: 60_000 });
  // SwiftShader: a WebGPU adapter is found (data-adapter), but it is a software one, so the CPU runs the model.
  expect(await status.getAttribute('data-adapter')).toBe('webgpu');
  expect(await status.getAttribute('data-backend')).toBe('cpu');
  await expect.poll(() => pg.locator('#engine').innerText()).toContain('maxStorageBufferBindingSize');
  const text = await pg.locator('#engine').innerText();
  expect(text).toMatch(/swiftshader/i);
  expect(text).toMatch(/q\|k\|v matvec .*: max \|GPU − CPU\| = .* ✓/);
  const sent = (await pg.evaluate('window.__sent')) as { type: string; env?: { backend: string } }[];
  expect(sent.find((m) => m.type === 'env')?.env?.backend).toBe('webgpu');
  // State survives hide/show: the env was saved with setState.
  const state = (await pg.evaluate('window.__state')) as { engine?: { env?: { backend: string } } };
  expect(state.engine?.env?.backend).toBe('webgpu');
  expect((pg as unknown as { errors: string[] }).errors).toEqual([]);
  await pg.screenshot({ path: path.join(repoRoot, 'test-results', 'webview-standalone.png'), fullPage: true });
  await pg.close();
});

test('a worker that cannot start gives a clear message in the panel and the log, not a blank panel', async () => {
  const pg = await open('/');
  await init(pg, server.url + '/missing-worker.js');
  const err = pg.locator('#engine-error');
  await err.waitFor({ timeout: 30_000 });
  expect(await err.innerText()).toMatch(/engine worker could not start: .*HTTP 404/);
  const sent = (await pg.evaluate('window.__sent')) as { type: string; message?: string }[];
  expect(sent.some((m) => m.type === 'error' && /HTTP 404/.test(m.message ?? ''))).toBe(true);
  expect(await pg.locator('vscode-button', { hasText: 'Retry' }).count()).toBe(1);
  await pg.close();
});

test('the CPU setting skips WebGPU and says why', async () => {
  const pg = await open('/');
  await init(pg, server.url + '/worker.js', 'cpu');
  const status = pg.locator('#engine-status[data-backend]');
  await status.waitFor({ timeout: 60_000 });
  expect(await status.getAttribute('data-backend')).toBe('cpu');
  expect(await pg.locator('#engine-reason').innerText()).toContain('llmPlayground.backend');
  await pg.close();
});

test('state restored with getState is shown before the host answers', async () => {
  const pg = await open('/restored');
  expect(await pg.locator('#engine-status').getAttribute('data-backend')).toBe('cpu');
  expect(await pg.locator('#engine-reason').innerText()).toBe('restored from state');
  await pg.close();
});

test('an error from the host (e.g. a rejected message) shows in the panel, dismissibly', async () => {
  const pg = await open('/');
  await pg.evaluate(() => window.postMessage({ type: 'showError', message: 'The extension rejected a malformed message: unknown message type "nuke"' }, '*'));
  const banner = pg.locator('#banner [role=alert]');
  await banner.waitFor();
  expect(await banner.innerText()).toContain('unknown message type "nuke"');
  await banner.locator('vscode-button').click();
  expect(await pg.locator('#banner [role=alert]').count()).toBe(0);
  await pg.close();
});
