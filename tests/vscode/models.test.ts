/**
 * Issue 6 in real VS Code (code-server): the Models view, adding models by path
 * (the "Add Model from Path…" input box, as a person would type it), their
 * details and errors in the tree, making one active, and generating from it in
 * the playground's Generate tab.
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh` (code-server, chromium);
 * the harness is tests/vscode/workbench.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/code-server.mjs';
import { findWebview, hoverUntil, openWorkbench, RESULTS, runCommand, useModel, type Workbench } from './workbench';

const FIX = path.resolve(repoRoot, '../shared/fixtures');
const REF = JSON.parse(fs.readFileSync(path.join(FIX, 'refs/stories260K.greedy.shared.json'), 'utf8')) as { cases: { prompt: string; stdout: string }[] };

let wb: Workbench | undefined;
let page: Page;
const paths = { gguf: '', qwen: '', truncated: '' };

/** Runs "Add Model from Path…" and types the path into its input box. */
async function addModel(p: string): Promise<void> {
  await runCommand(page, 'LLM Playground: Add Model from Path…', { waitHidden: false });
  const widget = page.locator('.quick-input-widget');
  await widget
    .locator('.quick-input-title, .quick-input-message', { hasText: /Add Model from Path|Path of a/ })
    .first()
    .waitFor({ state: 'visible', timeout: 15_000 });
  const input = widget.locator('.quick-input-box input');
  await input.fill(p);
  // The input box validates the path (it must exist) before Enter takes it.
  await page.waitForTimeout(300);
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 15_000 });
}

/** The Models tree's row whose accessible label starts with `name`. */
function treeRow(name: string): Locator {
  return page.locator(`.part.sidebar .monaco-list-row[aria-label^="${name}"]`).first();
}

describe('Models view and Generate (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({
      name: 'models',
      // Copies of the fixtures in folders of our own (outside the workspace), and a truncated GGUF.
      prepare: (tmpRoot) => {
        const models = path.join(tmpRoot, 'models');
        fs.mkdirSync(path.join(models, 'tiny-qwen3'), { recursive: true });
        paths.gguf = path.join(models, 'stories260K.gguf');
        fs.copyFileSync(path.join(FIX, 'gguf/stories260K.gguf'), paths.gguf);
        paths.qwen = path.join(models, 'tiny-qwen3');
        for (const f of fs.readdirSync(path.join(FIX, 'models/tiny-qwen3'))) fs.copyFileSync(path.join(FIX, 'models/tiny-qwen3', f), path.join(paths.qwen, f));
        fs.mkdirSync(path.join(tmpRoot, 'broken'));
        paths.truncated = path.join(tmpRoot, 'broken', 'stories260K-truncated.gguf');
        fs.writeFileSync(paths.truncated, fs.readFileSync(paths.gguf).subarray(0, 600_000));
      },
    });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('shows the Models view with the bundled stories260K first', async () => {
    const icon = page.locator('.activitybar .action-item a[aria-label^="LLM Playground"], .activitybar .action-item[aria-label^="LLM Playground"] a').first();
    await icon.waitFor({ state: 'visible', timeout: 60_000 });
    await icon.click();
    await page.locator('.part.sidebar .pane-header', { hasText: 'Models' }).first().waitFor({ state: 'visible', timeout: 60_000 });
    const header = page.locator('.part.sidebar .pane-header', { hasText: 'Models' }).first();
    if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
    await expect.poll(async () => treeRow('stories260K (bundled)').getAttribute('aria-label'), { timeout: 60_000 }).toMatch(/llama · 260\.0K · F32/);
  });

  it('adds the GGUF and the tiny-qwen3 folder by path; both show their details', async () => {
    await addModel(paths.gguf);
    await expect
      .poll(
        async () =>
          treeRow('stories260K.gguf')
            .getAttribute('aria-label')
            .catch(() => null),
        { timeout: 60_000 },
      )
      .toMatch(/stories260K\.gguf, llama · 260\.0K · F32/);
    await addModel(paths.qwen);
    await expect
      .poll(
        async () =>
          treeRow('tiny-qwen3')
            .getAttribute('aria-label')
            .catch(() => null),
        { timeout: 60_000 },
      )
      .toMatch(/Missing tokenizer: no tokenizer\.json/);
    // The tooltip holds the details table.
    const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'Context length' }).first();
    await hoverUntil(page, treeRow('stories260K.gguf'), hover, { timeoutMs: 30_000 });
    const text = await hover.innerText();
    for (const want of ['Architecture', 'llama', 'Parameters', 'Dtypes', 'File size', 'Vocabulary', 'gguf-llama', 'KV cache']) expect(text).toContain(want);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-models-tree.png') });
    await page.mouse.move(0, 0);
  });

  it('a truncated copy shows its error in the tree', async () => {
    await addModel(paths.truncated);
    const row = treeRow('stories260K-truncated.gguf');
    await expect.poll(async () => row.getAttribute('aria-label').catch(() => null), { timeout: 60_000 }).toMatch(/Truncated file: it ends at offset 600000/);
    expect(await row.locator('.codicon-error').count()).toBe(1);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-models-error.png') });
  });

  it("makes stories260K.gguf active and generates llama2.c's greedy continuation", async () => {
    await useModel(page, 'stories260K.gguf');
    await expect.poll(async () => treeRow('stories260K.gguf').getAttribute('aria-label'), { timeout: 30_000 }).toMatch(/● active/);
    // The widest visible playground: the editor panel rather than the side view.
    const doc = await findWebview(page, '#generate', { minWidth: 600 });
    const tab = doc.locator('vscode-tab-header', { hasText: 'Generate' }).first();
    await tab.click();
    // SwiftShader is a software (fallback) adapter, so the CPU path is the default here.
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 120_000 });
    expect(await doc.locator('#generate-model').innerText()).toMatch(/stories260K\.gguf — CPU, context \d+, gguf-llama tokenizer/);
    const generate = async (): Promise<string> => {
      await doc.locator('#gen-prompt').fill('Once upon a time');
      await doc.locator('#gen-max').fill('40');
      await doc.locator('#gen-prompt').press('Control+Enter');
      await expect.poll(async () => doc.locator('#gen-stats').innerText(), { timeout: 120_000 }).toMatch(/40 tokens · [\d.]+ tokens\/s · max tokens reached/);
      return doc.locator('#gen-text').innerText();
    };
    const expected = ', there was a little girl named Lily. She loved to play outside in the park.';
    const onCpu = await generate();
    expect(onCpu).toContain(expected);
    const out = `Once upon a time${onCpu}`;
    const ref = REF.cases.find((c) => c.prompt === 'Once upon a time')!.stdout;
    expect(ref.replace(/\s+/g, ' ').startsWith(out.replace(/\s+/g, ' ').trim())).toBe(true);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-generate.png') });
    // The same on the WebGPU path (the GpuModel), chosen in the Model tab.
    await doc.locator('vscode-tab-header', { hasText: 'Model' }).first().click();
    await doc.locator('#model-device').selectOption('gpu');
    await doc.locator('vscode-button', { hasText: 'Reload with these settings' }).click();
    await tab.click();
    await expect
      .poll(async () => doc.locator('#generate-model').innerText(), { timeout: 120_000 })
      .toMatch(/stories260K\.gguf — WebGPU \([^)]+\), context \d+, gguf-llama tokenizer/);
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 120_000 });
    expect(await generate()).toBe(onCpu);
    // And with f16 weights on the GPU (packed two per u32): the same greedy text.
    await doc.locator('vscode-tab-header', { hasText: 'Model' }).first().click();
    await doc.locator('#model-device').selectOption('gpu-f16');
    await doc.locator('vscode-button', { hasText: 'Reload with these settings' }).click();
    await tab.click();
    await expect.poll(async () => doc.locator('#generate-model').innerText(), { timeout: 120_000 }).toMatch(/stories260K\.gguf — WebGPU \([^)]+\), f16 weights, context \d+/);
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 120_000 });
    expect(await generate()).toBe(onCpu);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-generate-webgpu.png') });
    // The Model tab shows the active model's details and the memory plan.
    await doc.locator('vscode-tab-header', { hasText: 'Model' }).first().click();
    await doc.locator('#model-details').waitFor({ state: 'visible', timeout: 10_000 });
    const details = await doc.locator('#model-details').innerText();
    for (const want of ['Architecture', 'llama', 'Parameters', 'KV cache per token', 'gguf-llama']) expect(details).toContain(want);
    await doc.locator('#model-memory-table').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await doc.locator('#model-memory-table').innerText()).toMatch(/KV cache \(\d+ tokens\)/);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-model-details.png') });
  });
});
