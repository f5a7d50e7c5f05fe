/**
 * LLM Playground: Export Model… in real VS Code (code-server): the bundled stories260K exported
 * as a Q8_0 GGUF through the quick picks and the save dialog; the file loads in the engine with
 * its tokenizer, no temporary is left, and a second export to the same name is asked about first.
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh` (code-server, chromium);
 * the harness is tests/vscode/workbench.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { openModel } from '../../engine/formats/load-node';
import { openWorkbench, runCommand, type Workbench } from './workbench';

let wb: Workbench | undefined;
let page: Page;
let folder = '';

/** Waits for the quick pick titled like `title`, types `text` and takes the first row. */
async function pick(title: RegExp, text: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title, .quick-input-header', { hasText: title }).first().waitFor({ state: 'visible', timeout: 30_000 });
  const input = widget.locator('.quick-input-box input');
  await input.fill(text);
  await page.waitForTimeout(300);
  await input.press('Enter');
}

describe('Export Model (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({
      name: 'export',
      requires: ['dist/export-worker.js'],
      prepare: (tmpRoot) => {
        folder = path.join(tmpRoot, 'work');
        fs.mkdirSync(folder);
        return { folder };
      },
    });
    page = wb.page;
  }, 240_000);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });
  afterAll(() => wb?.close());

  it('exports the bundled model as a Q8_0 GGUF that runs', async () => {
    await runCommand(page, 'LLM Playground: Export Model…', { waitHidden: false });
    const widget = page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await input.fill('stories260K');
    await page.waitForTimeout(300);
    await input.press('Enter');
    await pick(/format/, 'GGUF');
    await pick(/weight type/, 'q8_0');
    // the save dialog (code-server's simple dialog) proposes <workspace>/stories260K.q8_0.gguf
    await expect.poll(async () => input.inputValue(), { timeout: 15_000 }).toMatch(/stories260K\.q8_0\.gguf$/);
    await input.press('Enter');
    const out = path.join(folder, 'stories260K.q8_0.gguf');
    await expect.poll(() => fs.existsSync(out), { timeout: 60_000 }).toBe(true);
    await expect.poll(async () => page.locator('.notifications-toasts').innerText(), { timeout: 30_000 }).toMatch(/exported stories260K/);
    const m = await openModel(out);
    expect(m.loaded.source.dtypes).toContain('Q8_0');
    expect(m.tokenizer?.encodeIds('Once upon a time').length).toBeGreaterThan(1);
    expect(fs.readdirSync(folder).filter((f) => f.endsWith('.partial'))).toEqual([]);

    // again to the same name: the dialog asks before replacing it; declining writes nothing
    const before = fs.statSync(out).mtimeMs;
    await runCommand(page, 'LLM Playground: Export Model…', { waitHidden: false });
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await input.fill('stories260K');
    await page.waitForTimeout(300);
    await input.press('Enter');
    await pick(/format/, 'GGUF');
    await pick(/weight type/, 'q8_0');
    await expect.poll(async () => input.inputValue(), { timeout: 15_000 }).toMatch(/stories260K\.q8_0\.gguf$/);
    await input.press('Enter');
    await expect.poll(async () => widget.innerText(), { timeout: 15_000 }).toMatch(/already exists\. Are you sure you want to overwrite it\?/);
    await page.keyboard.press('Escape');
    await page.waitForTimeout(1_000);
    expect(fs.statSync(out).mtimeMs).toBe(before);
  }, 240_000);
});
