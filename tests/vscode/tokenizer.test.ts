/**
 * The tokenizer features in real VS Code (code-server, through the shared harness in
 * tests/vscode/workbench.ts): the token hover on a line of a text file, the status-bar count,
 * and the Tokenizer panel comparing two tokenizers on Chinese and code (screenshot in
 * test-results/vscode-tokenizer-compare.png).
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh` (npm test does both).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { loadBuiltinTokenizer } from '../../engine/tokenizer/builtin-node';
import { findWebview, hoverUntil, openWorkbench, RESULTS, runCommand, type Workbench } from './workbench';

const SAMPLE = [
  '// 你好，世界！这是一个分词器的例子。',
  'function greet(name: string): string {',
  '  return `Hello, ${name}! 🎉`;',
  '}',
  '机器学习模型把文本切分成词元，然后预测下一个词元。',
  '',
].join('\n');
const HOVER_LINE = 'function greet(name: string): string {';

let wb: Workbench | undefined;
let page: Page;

describe('Tokenizer features in VS Code (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({
      name: 'tokenizer',
      requires: ['dist/vocab/o200k_base.tiktoken.br'],
      prepare: (tmpRoot) => {
        const folder = path.join(tmpRoot, 'workspace');
        fs.mkdirSync(folder, { recursive: true });
        fs.writeFileSync(path.join(folder, 'sample.txt'), SAMPLE);
        return { folder };
      },
      afterOpen: async (p) => {
        const row = p.locator('.explorer-folders-view .monaco-list-row', { hasText: 'sample.txt' }).first();
        await row.waitFor({ state: 'visible', timeout: 60_000 });
        await row.dblclick();
        await p.locator('.monaco-editor .view-line', { hasText: 'function greet' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      },
    });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

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
    // hovers need the pointer to rest; move away (within the editor) and back until ours shows
    await hoverUntil(page, line, hover, { timeoutMs: 60_000, away: { x: box.x + 300, y: box.y + 200 }, offsetX: 30 });
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
    await runCommand(page, 'LLM Playground: Tokenize Selection');
    const doc = await findWebview(page, '#tok-input');
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
    const doc = await findWebview(page, '#tok-input');
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
