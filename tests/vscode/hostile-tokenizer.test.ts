/**
 * A hostile tokenizer in real VS Code (code-server): the active model's tokenizer.json has a
 * pre-tokenizer Split pattern that backtracks catastrophically (`(a+)+$`). The tokenizer is
 * refused by the pattern's shape (a typed error naming the file and key), so the editor's
 * hover shows that error at once instead of freezing the extension host on a line of `a`s,
 * keeps answering on other lines, and the playground shows the same error.
 * A second model's pattern (`a*a*a*a*a*a*b`) passes the shape check but backtracks for a
 * polynomial time (minutes on a line of 200 a's): the tokenizer worker stops the hover's job at
 * the deadline (llmPlayground.tokenizerTimeoutMs) with an error naming the file, and the hover
 * keeps answering on other lines.
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh`; harness: tests/vscode/workbench.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/code-server.mjs';
import { findWebview, hoverUntil, openWorkbench, RESULTS, runCommand, useModel as activate, type Workbench } from './workbench';

const FIX = path.resolve(repoRoot, '../shared/fixtures');
const EVIL = '(a+)+$';
const POLY = 'a*a*a*a*a*a*b';
const LINE_A = 'a'.repeat(40) + '!';
const LINE_B = 'Once upon a time there was a tokenizer.';
const LINE_POLY = 'poly: ' + 'a'.repeat(200);

let wb: Workbench | undefined;
let page: Page;
let modelDir = '';
let polyDir = '';

function treeRow(name: string): Locator {
  return page.locator(`.part.sidebar .monaco-list-row[aria-label^="${name}"]`).first();
}

/** Add Model from Path… `dir`, then Use This Model on it: waits until the Models view shows it active. */
async function useModel(dir: string, name: string): Promise<void> {
  await runCommand(page, 'LLM Playground: Add Model from Path…', { waitHidden: false });
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(dir);
  await page.waitForTimeout(300);
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 15_000 });

  await activate(page, name);
  await expect
    .poll(
      async () =>
        treeRow(name)
          .getAttribute('aria-label')
          .catch(() => null),
      { timeout: 60_000 },
    )
    .toMatch(/● active/);
}

describe('A tokenizer.json with a catastrophic pattern (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({
      name: 'hostile-tokenizer',
      prepare: (tmpRoot) => {
        const model = (name: string, pattern: string): string => {
          const dir = path.join(tmpRoot, 'models', name);
          fs.mkdirSync(dir, { recursive: true });
          for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIX, 'models/tiny-llama', f), path.join(dir, f));
          const tok = JSON.parse(fs.readFileSync(path.join(FIX, 'tokenizers/tiny-bytelevel-llama3/tokenizer.json'), 'utf8')) as Record<string, unknown>;
          tok.pre_tokenizer = { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false };
          fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok));
          return dir;
        };
        modelDir = model('evil-llama', EVIL);
        polyDir = model('poly-llama', POLY);
        const folder = path.join(tmpRoot, 'workspace');
        fs.mkdirSync(path.join(folder, '.vscode'), { recursive: true });
        fs.writeFileSync(path.join(folder, 'sample.txt'), `${LINE_A}\n${LINE_B}\n${LINE_POLY}\n`);
        fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'llmPlayground.tokenizer': 'active-model', 'llmPlayground.tokenizerTimeoutMs': 1000 }));
        return { folder };
      },
      afterOpen: async (p) => {
        const row = p.locator('.explorer-folders-view .monaco-list-row', { hasText: 'sample.txt' }).first();
        await row.waitFor({ state: 'visible', timeout: 60_000 });
        await row.dblclick();
        await p.locator('.monaco-editor .view-line', { hasText: 'Once upon' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      },
    });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('made the active model: the playground shows the refusal; the hover shows it too and keeps answering', async () => {
    // The Models view, to see the model become active.
    const icon = page.locator('.activitybar .action-item a[aria-label^="LLM Playground"], .activitybar .action-item[aria-label^="LLM Playground"] a').first();
    await icon.waitFor({ state: 'visible', timeout: 60_000 });
    await icon.click();
    const header = page.locator('.part.sidebar .pane-header', { hasText: 'Models' }).first();
    await header.waitFor({ state: 'visible', timeout: 60_000 });
    if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
    await useModel(modelDir, 'evil-llama');

    // The playground (opened by Use This Model over the editor): the load fails with the refusal.
    const doc = await findWebview(page, '#generate', { minWidth: 600 });
    await expect
      .poll(async () => doc.locator('#generate').innerText(), { timeout: 120_000 })
      .toMatch(/evil-llama could not be loaded: tokenizer\.json \(key "pre_tokenizer\.pattern\.Regex"\): unsafe regex/);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-hostile-tokenizer-panel.png') });

    // Back in the editor: the hover over the line of a's shows the refusal at once instead of
    // freezing the host, and the next line's hover answers too.
    await page.locator('.tabs-container .tab', { hasText: 'sample.txt' }).first().click();
    const refused = page.locator('.monaco-hover', { hasText: 'could not be loaded' }).first();
    for (const text of [LINE_A, LINE_B]) {
      const line = page.locator('.monaco-editor .view-line', { hasText: text.slice(0, 12) }).first();
      await line.waitFor({ state: 'visible', timeout: 30_000 });
      const box = (await line.boundingBox())!;
      await hoverUntil(page, line, refused, { timeoutMs: 60_000, away: { x: box.x + 300, y: box.y + 200 }, offsetX: 30 });
      const shown = await refused.innerText();
      expect(shown).toMatch(/unsafe regex/);
      expect(shown).toContain('pre_tokenizer.pattern.Regex');
      if (text === LINE_A) await page.screenshot({ path: path.join(RESULTS, 'vscode-hostile-tokenizer-hover.png') });
      await page.mouse.move(box.x + 300, box.y + 300);
      await page.keyboard.press('Escape');
    }
  });

  it('a polynomial pattern that passes the shape check: the hover stops at the deadline with the error and keeps answering', async () => {
    await useModel(polyDir, 'poly-llama');
    await page.locator('.tabs-container .tab', { hasText: 'sample.txt' }).first().click();
    const stopped = page.locator('.monaco-hover', { hasText: 'took longer than' }).first();
    const tokens = page.locator('.monaco-hover', { hasText: 'Active model (poly-llama)' }).first();
    for (const [text, shown] of [
      [LINE_POLY, stopped],
      [LINE_B, tokens],
      [LINE_POLY, stopped],
      [LINE_B, tokens],
    ] as const) {
      const line = page.locator('.monaco-editor .view-line', { hasText: text.slice(0, 12) }).first();
      await line.waitFor({ state: 'visible', timeout: 30_000 });
      const box = (await line.boundingBox())!;
      await hoverUntil(page, line, shown, { timeoutMs: 60_000, away: { x: box.x + 300, y: box.y + 200 }, offsetX: 30, tryMs: 8_000 });
      const t = await shown.innerText();
      if (shown === stopped) {
        expect(t).toMatch(/tokenizing 206 characters took longer than the 1 s deadline/);
        expect(t).toContain('poly-llama/tokenizer.json');
        await page.screenshot({ path: path.join(RESULTS, 'vscode-hostile-tokenizer-deadline.png') });
      } else expect(t).toMatch(/\d+ tokens?/);
      await page.mouse.move(box.x + 300, box.y + 300);
      await page.keyboard.press('Escape');
    }
  });
});
