/**
 * What a new user meets first, in real VS Code (code-server): the bundled model is active on
 * the first screen; out-of-range numbers (max new tokens, context length, vocabulary size)
 * show a message beside the field and nothing runs; the generated text, its stats and the
 * trained BPE merges survive hiding and showing the editor panel and the side view (and the
 * model is not loaded again); a model without a tokenizer made active says why Generate is
 * unavailable, and the previous model's output is gone.
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh` (code-server, chromium);
 * the harness is tests/vscode/workbench.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FrameLocator, Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/code-server.mjs';
import { findWebview, openWorkbench, RESULTS, runCommand, useModel, type Workbench } from './workbench';

const FIX = path.resolve(repoRoot, '../shared/fixtures');

let wb: Workbench | undefined;
let page: Page;
/** The editor panel's playground. */
let doc: FrameLocator;
let qwen = '';

const shot = (name: string) => page.screenshot({ path: path.join(RESULTS, `vscode-ux-${name}.png`) });
const tab = (d: FrameLocator, id: string) => d.locator(`vscode-tab-header[data-tab="${id}"]`).click();

interface Result {
  text: string;
  stats: string;
  tokens?: string;
  merges: number;
  lastMerge: string;
  bpeStatus: string;
  loadStatus: string;
}

/** What the playground shows: the generated text and stats, the merges, the Model tab's load line. */
async function result(d: FrameLocator): Promise<Result> {
  return {
    text: (await d.locator('#gen-text').textContent()) ?? '',
    stats: (await d.locator('#gen-stats').textContent()) ?? '',
    tokens: (await d.locator('#gen-stats').getAttribute('data-tokens')) ?? undefined,
    merges: await d.locator('#bpe-merges li').count(),
    lastMerge:
      (await d
        .locator('#bpe-merges li')
        .last()
        .textContent()
        .catch(() => '')) ?? '',
    bpeStatus: (await d.locator('#bpe-status').textContent()) ?? '',
    loadStatus: (await d.locator('#model-load-status').textContent()) ?? '',
  };
}

async function generate(d: FrameLocator, maxTokens: number): Promise<void> {
  await tab(d, 'generate');
  await d.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 180_000 });
  await d.locator('#gen-prompt').fill('Once upon a time');
  await d.locator('#gen-max').fill(String(maxTokens));
  await expect.poll(async () => d.locator('#gen-run').getAttribute('disabled'), { timeout: 30_000 }).toBeNull();
  await d.locator('#gen-run').click();
  await expect.poll(async () => d.locator('#gen-stats').textContent(), { timeout: 180_000 }).toMatch(new RegExp(`^${maxTokens} tokens · [\\d.]+ tokens/s · max tokens reached$`));
}

async function trainBpe(d: FrameLocator, vocab: number): Promise<void> {
  await tab(d, 'tokenizer');
  await d.locator('#bpe-size').fill(String(vocab));
  await d.locator('#bpe-train').click();
  await expect.poll(async () => d.locator('#bpe-status').textContent(), { timeout: 180_000 }).toMatch(/^Trained a byte-level BPE/);
  expect(await d.locator('#bpe-merges li').count()).toBeGreaterThan(0);
}

/** Runs "Add Model from Path…" and types the path into its input box. */
async function addModel(p: string): Promise<void> {
  await runCommand(page, 'LLM Playground: Add Model from Path…', { waitHidden: false });
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  await input.fill(p);
  await page.waitForTimeout(300);
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 15_000 });
}

/** Opens a file of the workspace by Quick Open (the palette without its ">"). */
async function openFile(name: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await page.keyboard.press('F1');
  const input = widget.locator('.quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(name);
  await widget.locator('.monaco-list-row', { hasText: name }).first().waitFor({ state: 'visible', timeout: 15_000 });
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 10_000 });
}

const activityIcon = (label: string) => page.locator(`.activitybar .action-item a[aria-label^="${label}"], .activitybar .action-item[aria-label^="${label}"] a`).first();

describe('The first hour in the playground (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({
      name: 'ux-state',
      prepare: (tmpRoot) => {
        qwen = path.join(tmpRoot, 'models', 'tiny-qwen3');
        fs.mkdirSync(qwen, { recursive: true });
        for (const f of fs.readdirSync(path.join(FIX, 'models/tiny-qwen3'))) fs.copyFileSync(path.join(FIX, 'models/tiny-qwen3', f), path.join(qwen, f));
        // A workspace with a file to open in front of the playground panel.
        const folder = path.join(tmpRoot, 'workspace');
        fs.mkdirSync(folder);
        fs.writeFileSync(path.join(folder, 'notes.txt'), 'Another editor in front of the playground.\n');
        return { folder };
      },
      requires: ['models/stories260K.bin'],
    });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('the first screen has the bundled stories260K active, ready to generate', async () => {
    await runCommand(page, 'LLM Playground: Open Playground');
    doc = await findWebview(page, '#generate', { minWidth: 600 });
    await tab(doc, 'generate');
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 180_000 });
    expect(await doc.locator('#generate-model').innerText()).toMatch(/^stories260K \(bundled\) — CPU, context \d+, llama2c tokenizer$/);
    expect(await doc.locator('#generate-empty').isVisible()).toBe(false);
    expect(await doc.locator('#gen-run').getAttribute('disabled')).toBeNull();
    expect(await doc.locator('#gen-why').textContent()).toBe('');
    await tab(doc, 'model');
    await expect.poll(async () => doc.locator('#model-active').textContent(), { timeout: 10_000 }).toBe('Active: stories260K (bundled)');
    await tab(doc, 'generate');
    await shot('first-screen');
  });

  it('out-of-range numbers show a message beside the field and do not run', async () => {
    await tab(doc, 'generate');
    const before = await doc.locator('#gen-stats').getAttribute('data-run');
    for (const [value, want] of [
      ['0', 'Max new tokens must be at least 1 (a whole number from 1 to 4,096); 0 is too small.'],
      ['-5', 'Max new tokens must be at least 1 (a whole number from 1 to 4,096); -5 is too small.'],
      ['100000', 'Max new tokens must be at most 4,096 (a whole number from 1 to 4,096); 100,000 is too large.'],
    ]) {
      await doc.locator('#gen-max').fill(value);
      await expect.poll(async () => doc.locator('#gen-max-error').textContent(), { timeout: 5_000 }).toBe(want);
      expect(await doc.locator('#gen-max-error').isVisible()).toBe(true);
      expect(await doc.locator('#gen-max').getAttribute('aria-invalid')).toBe('true');
      expect(await doc.locator('#gen-run').getAttribute('disabled')).not.toBeNull();
      expect(await doc.locator('#gen-why').getAttribute('data-reason')).toBe('invalid');
      // Neither the button nor the keyboard starts a run.
      await doc.locator('#gen-run').click({ force: true });
      await doc.locator('#gen-prompt').press('Control+Enter');
      await page.waitForTimeout(500);
      expect(await doc.locator('#gen-stats').getAttribute('data-run')).toBe(before);
    }
    await shot('invalid-max-tokens');
    await doc.locator('#gen-max').fill('40');
    await expect.poll(async () => doc.locator('#gen-max-error').isVisible(), { timeout: 5_000 }).toBe(false);
    expect(await doc.locator('#gen-run').getAttribute('disabled')).toBeNull();

    // The Model tab's context length: the message shows, the memory plan keeps the last valid value.
    await tab(doc, 'model');
    const ctxBefore = await doc.locator('#model-ctx').inputValue();
    const kvRow = async () => doc.locator('#model-memory-table').innerText();
    const planBefore = await kvRow();
    await doc.locator('#model-ctx').fill('5');
    await doc.locator('#model-ctx').press('Tab');
    await expect
      .poll(async () => doc.locator('#model-ctx-error').textContent(), { timeout: 5_000 })
      .toMatch(/^Context length must be at least 16 \(a whole number from 16 to [\d,]+\); 5 is too small\.$/);
    expect(await kvRow()).toBe(planBefore);
    await doc.locator('#model-ctx').fill('99999');
    await doc.locator('#model-ctx').press('Tab');
    await expect.poll(async () => doc.locator('#model-ctx-error').textContent(), { timeout: 5_000 }).toMatch(/^Context length must be at most [\d,]+ .*99,999 is too large\.$/);
    expect(await kvRow()).toBe(planBefore);
    expect(await doc.locator('vscode-button', { hasText: 'Reload with these settings' }).count()).toBe(0);
    await shot('invalid-context');
    await doc.locator('#model-ctx').fill(ctxBefore);
    await doc.locator('#model-ctx').press('Tab');
    await expect.poll(async () => doc.locator('#model-ctx-error').isVisible(), { timeout: 5_000 }).toBe(false);

    // The BPE trainer's vocabulary size.
    await tab(doc, 'tokenizer');
    const status = await doc.locator('#bpe-status').textContent();
    for (const [value, want] of [
      ['10', 'Vocabulary size must be at least 257 (a whole number from 257 to 100,000); 10 is too small.'],
      ['200000', 'Vocabulary size must be at most 100,000 (a whole number from 257 to 100,000); 200,000 is too large.'],
    ]) {
      await doc.locator('#bpe-size').fill(value);
      await doc.locator('#bpe-train').click();
      await expect.poll(async () => doc.locator('#bpe-size-error').textContent(), { timeout: 5_000 }).toBe(want);
      await page.waitForTimeout(500);
      expect(await doc.locator('#bpe-status').textContent()).toBe(status);
      expect(await doc.locator('#bpe-cancel').isDisabled()).toBe(true);
    }
    await shot('invalid-vocab');
    await doc.locator('#bpe-size').fill('300');
    await expect.poll(async () => doc.locator('#bpe-size-error').isVisible(), { timeout: 5_000 }).toBe(false);
  });

  it('the editor panel keeps the generated text, its stats and the BPE merges when hidden and shown', async () => {
    await generate(doc, 40);
    await trainBpe(doc, 300);
    await tab(doc, 'model');
    const before = await result(doc);
    expect(before.text.length).toBeGreaterThan(0);
    expect(before.loadStatus).toMatch(/^Loaded on the CPU in/);
    await shot('panel-before-hide');
    // Another editor in the same group hides the panel; its tab shows it again.
    await openFile('notes.txt');
    await page.locator('.tabs-container .tab.active', { hasText: 'notes.txt' }).waitFor({ state: 'visible', timeout: 15_000 });
    expect(await page.locator('.tabs-container .tab.active', { hasText: 'LLM Playground' }).count()).toBe(0);
    await page.waitForTimeout(1_000);
    await page.locator('.tabs-container .tab', { hasText: 'LLM Playground' }).first().click();
    await doc.locator('#model-load-status').waitFor({ state: 'visible', timeout: 30_000 });
    // The same model load (not loaded again: the same line, ready at once), text, stats and merges.
    expect(await doc.locator('#model-load-status').getAttribute('data-phase')).toBe('ready');
    expect(await result(doc)).toEqual(before);
    await tab(doc, 'generate');
    await shot('panel-after-show');
  }, 600_000);

  it('the side view keeps them too when another view container is shown and it comes back', async () => {
    const frames = await page.locator('iframe.webview.ready').count();
    await activityIcon('LLM Playground').click();
    const side = await findWebview(page, '#generate', { skip: frames });
    await generate(side, 20);
    await trainBpe(side, 280);
    await tab(side, 'model');
    const before = await result(side);
    expect(before.tokens).toBe('20');
    await activityIcon('Explorer').click();
    await page
      .locator('.part.sidebar .composite.title', { hasText: /Explorer/i })
      .first()
      .waitFor({ state: 'visible', timeout: 15_000 });
    await page.waitForTimeout(1_000);
    await activityIcon('LLM Playground').click();
    await side.locator('#model-load-status').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await side.locator('#model-load-status').getAttribute('data-phase')).toBe('ready');
    expect(await result(side)).toEqual(before);
    await tab(side, 'generate');
    // The narrow side view shows the output below the form.
    await side.locator('#gen-stats').scrollIntoViewIfNeeded();
    await shot('sideview-after-show');
  }, 600_000);

  it('after a window reload the panel shows the kept text, stats and merges again (the webview state)', async () => {
    await tab(doc, 'generate');
    const before = await result(doc);
    await runCommand(page, 'Developer: Reload Window', { waitHidden: false });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 120_000 });
    await page.locator('.tabs-container .tab', { hasText: 'LLM Playground' }).first().click({ timeout: 60_000 });
    // The tab's hover would cover the playground's tabs.
    await page.mouse.move(700, 880);
    doc = await findWebview(page, '#generate', { minWidth: 600 });
    await expect.poll(async () => doc.locator('#gen-text').textContent(), { timeout: 60_000 }).toBe(before.text);
    const after = await result(doc);
    expect({ ...after, loadStatus: '' }).toEqual({ ...before, loadStatus: '' });
    // The extension forgot the trained tokenizer with the reload: nothing to export now.
    await expect.poll(async () => doc.locator('#bpe-export').isDisabled(), { timeout: 30_000 }).toBe(true);
    // A reloaded window has a new worker: the model loads again there.
    await tab(doc, 'model');
    await expect.poll(async () => (await doc.locator('#model-load-status').textContent()) ?? '', { timeout: 120_000 }).toMatch(/^Loaded on the CPU/);
    await tab(doc, 'generate');
    await shot('panel-after-reload');
  }, 300_000);

  it('making a model without a tokenizer active says why Generate is unavailable and clears the old output', async () => {
    await page.mouse.move(700, 880);
    await addModel(qwen);
    await useModel(page, 'tiny-qwen3');
    doc = await findWebview(page, '#generate', { minWidth: 600 });
    await tab(doc, 'generate');
    await expect.poll(async () => doc.locator('#generate-model').innerText(), { timeout: 120_000 }).toMatch(/^tiny-qwen3 — CPU, context \d+, no tokenizer$/);
    const why = doc.locator('#gen-why');
    await expect.poll(async () => why.getAttribute('data-reason'), { timeout: 30_000 }).toBe('no-tokenizer');
    expect(await why.isVisible()).toBe(true);
    expect(await why.textContent()).toMatch(
      /^tiny-qwen3 has no tokenizer, so a prompt cannot be turned into tokens \(Missing tokenizer: .*\)\. Put its tokenizer\.json beside the weights, or use a model with a tokenizer, such as the bundled stories260K\.$/,
    );
    expect(await doc.locator('#gen-run').getAttribute('disabled')).not.toBeNull();
    // stories260K's output is not shown under tiny-qwen3's name.
    expect(await doc.locator('#gen-text').textContent()).toBe('');
    expect(await doc.locator('#gen-output').isVisible()).toBe(false);
    expect(await doc.locator('#gen-stats').textContent()).toBe('');
    await shot('no-tokenizer');
  }, 300_000);
});
