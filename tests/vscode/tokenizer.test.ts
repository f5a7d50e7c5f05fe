/**
 * The tokenizer features in real VS Code (code-server, the shared launcher in
 * scripts/code-server.mjs): the token hover on a line of a text file, the status-bar count,
 * and the Tokenizer panel comparing two tokenizers on Chinese and code (screenshot in
 * test-results/vscode-tokenizer-compare.png).
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh` (npm test does both).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type FrameLocator, type Locator, type Page } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isInstalled, paths, repoRoot, startCodeServer, type CodeServer } from '../../scripts/code-server.mjs';
import { loadBuiltinTokenizer } from '../../engine/tokenizer/builtin-node';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const RESULTS = path.join(repoRoot, 'test-results');
const SAMPLE = [
  '// 你好，世界！这是一个分词器的例子。',
  'function greet(name: string): string {',
  '  return `Hello, ${name}! 🎉`;',
  '}',
  '机器学习模型把文本切分成词元，然后预测下一个词元。',
  '',
].join('\n');
const HOVER_LINE = 'function greet(name: string): string {';

let cs: CodeServer | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let tmpRoot = '';
let failed = false;
let killOnExit: (() => void) | undefined;

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
  await expect.poll(async () => (await widget.locator('.monaco-list-row').first().innerText()).split('\n')[0], { timeout: 5_000 }).toBe(title);
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 10_000 });
}

function playgroundIn(outer: Locator): FrameLocator {
  return outer.contentFrame().locator('#active-frame').contentFrame();
}

async function findTokenizerFrame(timeoutMs = 90_000): Promise<FrameLocator> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frames = page.locator('iframe.webview.ready');
    const n = await frames.count();
    for (let i = 0; i < n; i++) {
      const doc = playgroundIn(frames.nth(i));
      if ((await doc.locator('#tok-input').count().catch(() => 0)) > 0) return doc;
    }
    if (Date.now() > deadline) throw new Error(`no playground with the Tokenizer panel appeared within ${timeoutMs} ms (webview iframes: ${n})`);
    await page.waitForTimeout(500);
  }
}

describe('Tokenizer features in VS Code (code-server)', () => {
  beforeAll(async () => {
    try {
      const missing = ['dist/extension.js', 'dist/webview.js', 'dist/vocab/o200k_base.tiktoken.br'].filter((f) => !fs.existsSync(path.join(repoRoot, f)));
      if (missing.length) throw new Error(`tests/vscode needs the built extension (${missing.join(', ')} missing): run \`node scripts/build.mjs\``);
      if (!isInstalled()) throw new Error(`tests/vscode needs code-server in ${paths().cache}: run \`bash scripts/setup.sh\``);
      fs.mkdirSync(RESULTS, { recursive: true });
      tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-playground-tok-test-'));
      const folder = path.join(tmpRoot, 'workspace');
      fs.mkdirSync(folder, { recursive: true });
      fs.writeFileSync(path.join(folder, 'sample.txt'), SAMPLE);
      cs = await startCodeServer({ tmpRoot, folder });
      const pid = cs.pid;
      killOnExit = () => {
        try {
          if (pid !== undefined) process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      };
      process.once('exit', killOnExit);
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      page = await context.newPage();
      await page.goto(cs.url, { waitUntil: 'domcontentloaded' });
      await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 120_000 });
      await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
      const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'sample.txt' }).first();
      await row.waitFor({ state: 'visible', timeout: 60_000 });
      await row.dblclick();
      await page.locator('.monaco-editor .view-line', { hasText: 'function greet' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    if (failed && page) await page.screenshot({ path: path.join(RESULTS, 'vscode-tokenizer-failure.png') }).catch(() => {});
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    if (cs) {
      if (failed) console.error(`--- code-server log ---\n${cs.readLog().slice(-20_000)}`);
      await cs.stop();
    }
    if (killOnExit) process.removeListener('exit', killOnExit);
    if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
  });

  it('the status bar shows the token count of the document (GPT-4o by default)', async () => {
    const o200k = await loadBuiltinTokenizer('o200k_base');
    const want = o200k.encodeIds(SAMPLE).length;
    const item = page.locator('.part.statusbar .statusbar-item', { hasText: /tokens?$/ }).first();
    await expect.poll(async () => ((await item.count()) ? (await item.innerText()).trim() : ''), { timeout: 90_000 }).toMatch(new RegExp(`^${want} tokens$`));
  });

  it('hovering a line shows its tokens, coloured, with ids and the count', async () => {
    const o200k = await loadBuiltinTokenizer('o200k_base');
    const ids = o200k.encodeIds(HOVER_LINE);
    const line = page.locator('.monaco-editor .view-line', { hasText: 'function greet' }).first();
    const box = (await line.boundingBox())!;
    const hover = page.locator('.monaco-hover', { hasText: 'tokens' }).first();
    const deadline = Date.now() + 60_000;
    // hovers need the pointer to rest; move away and back until ours shows
    while (!(await hover.isVisible().catch(() => false))) {
      if (Date.now() > deadline) throw new Error('no token hover appeared');
      await page.mouse.move(box.x + 300, box.y + 200);
      await page.mouse.move(box.x + 30, box.y + box.height / 2, { steps: 4 });
      await page.waitForTimeout(1_500);
    }
    const text = await hover.innerText();
    expect(text).toContain(`${ids.length} tokens`);
    expect(text).toContain(ids.join(' '));
    expect(text).toContain('GPT-4o');
    const spans = hover.locator('span[style*="background-color"]');
    expect(await spans.count()).toBe(ids.length);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-tokenizer-hover.png') });
    await page.mouse.move(box.x + 300, box.y + 300);
    await page.keyboard.press('Escape');
  });

  it('Tokenize Selection opens the Tokenizer panel; it compares GPT-4o and Llama 3 on Chinese and code', async () => {
    await page.locator('.monaco-editor .view-line', { hasText: 'function greet' }).first().click();
    await page.keyboard.press('Control+A');
    await runCommand('LLM Playground: Tokenize Selection');
    const doc = await findTokenizerFrame();
    await expect.poll(async () => doc.locator('#tok-input').inputValue(), { timeout: 60_000 }).toBe(SAMPLE);
    await doc.locator('#tok-select-0').selectOption('o200k_base');
    await doc.locator('#tok-select-1').selectOption('llama3');
    const cols = doc.locator('.tok-col');
    await expect.poll(async () => (await cols.count()) === 2 && (await doc.locator('.tok-col[data-tokenizer="llama3"] .tok-counts').count()), { timeout: 90_000 }).toBeTruthy();
    const o200k = await loadBuiltinTokenizer('o200k_base');
    const llama3 = await loadBuiltinTokenizer('llama3');
    const count = async (id: string) => Number(await doc.locator(`.tok-col[data-tokenizer="${id}"] .tok-counts`).getAttribute('data-tokens'));
    expect(await count('o200k_base')).toBe(o200k.encodeIds(SAMPLE).length);
    expect(await count('llama3')).toBe(llama3.encodeIds(SAMPLE, { addSpecialTokens: false }).length);
    // differences are marked, token details appear on focus, arrow keys move
    expect(await doc.locator('.tok-box.diff').count()).toBeGreaterThan(0);
    const first = doc.locator('.tok-col[data-tokenizer="o200k_base"] .tok-id').first();
    await first.focus();
    await expect.poll(async () => doc.locator('#tok-detail').innerText(), { timeout: 10_000 }).toMatch(/id \d+ · piece/);
    await page.keyboard.press('ArrowRight');
    await expect.poll(async () => doc.locator('#tok-detail').innerText(), { timeout: 10_000 }).toMatch(/characters \d+–\d+/);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-tokenizer-compare.png') });
  });

  it('the BPE trainer runs on Shakespeare in the panel, showing its merges, and its tokenizer joins the list', async () => {
    const doc = await findTokenizerFrame();
    await doc.locator('#bpe-source').selectOption('shakespeare');
    await doc.locator('#bpe-size').fill('600');
    await doc.locator('#bpe-train').click();
    await expect.poll(async () => doc.locator('#bpe-status').innerText(), { timeout: 120_000 }).toMatch(/Trained a byte-level BPE on tinyshakespeare: 343 merges, 600 tokens/);
    expect(await doc.locator('#bpe-merges li').count()).toBeGreaterThan(300);
    expect(await doc.locator('#bpe-merges li').first().innerText()).toMatch(/\+ .* → .* id 2\d\d/);
    await expect.poll(async () => doc.locator('#tok-select-2 option[value="trained"]').count(), { timeout: 30_000 }).toBe(1);
    await doc.locator('#tok-select-2').selectOption('trained');
    await expect.poll(async () => doc.locator('.tok-col').count(), { timeout: 60_000 }).toBe(3);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-tokenizer-trained.png') });
  });
});
