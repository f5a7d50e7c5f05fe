/**
 * The built extension inside real VS Code (code-server 4.139.1 = VS Code 1.139),
 * driven like a person would: Playwright + Debian chromium, headless, WebGPU on
 * SwiftShader.
 *
 * Needs: `node scripts/build.mjs` (dist/) and `bash scripts/setup.sh` (code-server,
 * chromium); `npm test` does both first.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type FrameLocator, type Locator, type Page } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS } from '../browser/harness';
import { CODE_SERVER_VERSION, isInstalled, paths, repoRoot, startCodeServer, type CodeServer } from '../../scripts/code-server.mjs';

const RESULTS = path.join(repoRoot, 'test-results');

let cs: CodeServer | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let tmpRoot = '';
let failed = false;
const consoleLines: string[] = [];
let killOnExit: (() => void) | undefined;

function requireBuilt(): void {
  const missing = ['dist/extension.js', 'dist/webview.js', 'dist/worker.js'].filter((f) => !fs.existsSync(path.join(repoRoot, f)));
  if (missing.length) {
    throw new Error(`tests/vscode needs the built extension, but ${missing.join(', ')} is missing: run \`node scripts/build.mjs\` first (npm test does).`);
  }
  if (!isInstalled()) {
    throw new Error(`tests/vscode needs code-server in ${paths().cache}: run \`bash scripts/setup.sh\` first (npm test does).`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`tests/vscode needs ${CHROMIUM}: run \`bash scripts/setup.sh\` (apt-get install chromium).`);
}

/**
 * Runs a command from the command palette: F1, type its title, Enter on the matching row.
 * Extension commands join the palette a few seconds after the workbench shows, so it
 * closes and reopens the palette until the row is there.
 */
async function runCommand(title: string, timeoutMs = 90_000): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  const row = widget.locator('.monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press('F1');
    const opened = await input.waitFor({ state: 'visible', timeout: 10_000 }).then(
      () => true,
      () => false,
    );
    if (opened) {
      await input.fill(`>${title}`);
      const found = await row.waitFor({ state: 'visible', timeout: 3_000 }).then(
        () => true,
        () => false,
      );
      if (found) break;
      await page.keyboard.press('Escape');
    }
    if (Date.now() > deadline) throw new Error(`the command palette did not offer "${title}" within ${timeoutMs} ms`);
    await page.waitForTimeout(1_000);
  }
  // Enter runs the first row: make sure it is ours.
  await expect.poll(async () => (await widget.locator('.monaco-list-row').first().innerText()).split('\n')[0], { timeout: 5_000 }).toBe(title);
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** The playground document inside the webview whose outer iframe matches `outer`. */
function playgroundIn(outer: Locator): FrameLocator {
  return outer.contentFrame().locator('#active-frame').contentFrame();
}

/**
 * Waits for a webview iframe that holds the playground (`#app`) and is not one of `except`;
 * returns the index of its outer `iframe.webview.ready`.
 */
async function findPlaygroundFrame(except: number[] = [], timeoutMs = 90_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frames = page.locator('iframe.webview.ready');
    const n = await frames.count();
    for (let i = 0; i < n; i++) {
      if (except.includes(i)) continue;
      const app = playgroundIn(frames.nth(i)).locator('#app');
      if ((await app.count().catch(() => 0)) > 0) return i;
    }
    if (Date.now() > deadline) throw new Error(`no playground webview appeared within ${timeoutMs} ms (webview iframes: ${n})`);
    await page.waitForTimeout(500);
  }
}

/** Shows the Engine tab when the UI has tabs (the status lives there). */
async function showEngine(doc: FrameLocator): Promise<void> {
  const tab = doc.locator('#tab-engine, vscode-tab-header:has-text("Engine")').first();
  if ((await tab.count()) > 0 && !(await doc.locator('#engine-status').first().isVisible().catch(() => false))) {
    await tab.click();
  }
}

async function expectWebGpu(doc: FrameLocator): Promise<string> {
  const status = doc.locator('#engine-status[data-backend]');
  await status.waitFor({ state: 'attached', timeout: 120_000 });
  await showEngine(doc);
  await status.waitFor({ state: 'visible', timeout: 10_000 });
  const backend = await status.getAttribute('data-backend');
  const text = (await status.innerText()).trim();
  const err = await doc.locator('#engine-reason, #engine-error').allInnerTexts();
  expect(backend, `engine status: "${text}" ${err.join(' ')}`).toBe('webgpu');
  expect(text).toMatch(/Running on \S/);
  expect(text).not.toMatch(/unnamed adapter/);
  // The adapter table: a Vendor row with a value.
  const vendorRow = doc.locator('vscode-table-row', { hasText: 'Vendor' }).first();
  await vendorRow.waitFor({ state: 'visible', timeout: 10_000 });
  const vendor = (await vendorRow.locator('vscode-table-cell').nth(1).innerText()).trim();
  expect(vendor).not.toBe('');
  expect(vendor).not.toBe('—');
  return text;
}

/** The playground has rendered: its heading is in the document (it may be visually hidden). */
async function expectRendered(doc: FrameLocator): Promise<void> {
  await doc.locator('h1', { hasText: 'LLM Playground' }).first().waitFor({ state: 'attached', timeout: 30_000 });
}

describe('LLM Playground in VS Code (code-server)', () => {
  beforeAll(async () => {
    try {
      await setUp();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  async function setUp(): Promise<void> {
    requireBuilt();
    fs.mkdirSync(RESULTS, { recursive: true });
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-playground-vscode-test-'));
    cs = await startCodeServer({ tmpRoot });
    const pid = cs.pid;
    // If vitest itself is torn down, code-server's process group still goes.
    killOnExit = () => {
      if (pid !== undefined) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    process.once('exit', killOnExit);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleLines.push(`[${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
    await page.goto(cs.url, { waitUntil: 'domcontentloaded' });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 120_000 });
    // The workbench is drawn once the activity bar, the explorer with the opened
    // folder and the status bar are. (The extension activates on its command or view.)
    await page.locator('.part.activitybar, .activitybar').first().waitFor({ state: 'visible', timeout: 60_000 });
    await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
    await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ state: 'visible', timeout: 60_000 });
  }

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    if (failed && page) {
      await page.screenshot({ path: path.join(RESULTS, 'vscode-failure.png') }).catch(() => {});
    }
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    if (cs) {
      if (failed) {
        console.error(`--- code-server log (${cs.logPath}) ---\n${cs.readLog()}\n--- end of code-server log ---`);
        const exthost = findLogs(cs.userDataDir);
        for (const f of exthost) console.error(`--- ${f} ---\n${fs.readFileSync(f, 'utf8').slice(-20_000)}`);
        if (consoleLines.length) console.error(`--- browser console ---\n${consoleLines.slice(-200).join('\n')}`);
      }
      await cs.stop();
    }
    if (killOnExit) process.removeListener('exit', killOnExit);
    if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
  });

  it('runs "LLM Playground: Open Playground" from the command palette and finds a WebGPU adapter', async () => {
    expect(cs?.readLog()).toContain(`code-server ${CODE_SERVER_VERSION}`);
    await runCommand('LLM Playground: Open Playground');
    // The editor tab titled "LLM Playground".
    await page.locator('.tabs-container .tab', { hasText: 'LLM Playground' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    const i = await findPlaygroundFrame();
    const doc = playgroundIn(page.locator('iframe.webview.ready').nth(i));
    await expectRendered(doc);
    const text = await expectWebGpu(doc);
    console.log(`playground panel: ${text}`);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-playground.png') });
  });

  it('shows the playground in the LLM Playground activity-bar container', async () => {
    const before = await page.locator('iframe.webview.ready').count();
    const existing = [...Array(before).keys()];
    const icon = page.locator('.activitybar .action-item a[aria-label^="LLM Playground"], .activitybar .action-item[aria-label^="LLM Playground"] a').first();
    await icon.waitFor({ state: 'visible', timeout: 30_000 });
    await icon.click();
    // The side bar's title names the container (its one view's own header is hidden).
    await page.locator('.part.sidebar .composite.title', { hasText: /LLM Playground/i }).first().waitFor({ state: 'visible', timeout: 30_000 });
    const i = await findPlaygroundFrame(existing);
    const doc = playgroundIn(page.locator('iframe.webview.ready').nth(i));
    await expectRendered(doc);
    const text = await expectWebGpu(doc);
    console.log(`playground side view: ${text}`);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-sideview.png') });
  });

  it('has the "LLM Playground" output channel with the activation log', async () => {
    await runCommand('LLM Playground: Show Log');
    const panel = page.locator('.part.panel');
    await panel.waitFor({ state: 'visible', timeout: 30_000 });
    // The channel picker in the Output view's title names the channel shown.
    const picker = panel.locator('select.monaco-select-box, .monaco-select-box').first();
    await picker.waitFor({ state: 'visible', timeout: 30_000 });
    await expect.poll(async () => (await picker.getAttribute('title')) ?? (await picker.inputValue().catch(() => '')), { timeout: 30_000 }).toMatch(/LLM Playground/);
    await expect.poll(async () => (await panel.locator('.view-lines').first().innerText()).replace(/\s+/g, ' '), { timeout: 30_000 }).toMatch(/LLM Playground \S+ activating/);
  });
});

function findLogs(userDataDir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 6) return;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (/exthost\.log$|LLM Playground\.log$|remoteagent\.log$/.test(e.name)) out.push(p);
    }
  };
  walk(path.join(userDataDir, 'logs'), 0);
  return out;
}
