/**
 * The built extension inside real VS Code (code-server 4.139.1 = VS Code 1.139),
 * driven like a person would: Playwright + Debian chromium, headless, WebGPU on
 * SwiftShader (the shared harness: tests/vscode/workbench.ts).
 *
 * Needs: `node scripts/build.mjs` (dist/) and `bash scripts/setup.sh` (code-server,
 * chromium); `npm test` does both first.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FrameLocator, Page } from 'playwright-core';
import path from 'node:path';
import { CODE_SERVER_VERSION } from '../../scripts/code-server.mjs';
import { findWebview, openWorkbench, RESULTS, runCommand, type Workbench } from './workbench';

let wb: Workbench | undefined;
let page: Page;

/** Shows the Engine tab when the UI has tabs (the status lives there). */
async function showEngine(doc: FrameLocator): Promise<void> {
  const tab = doc.locator('#tab-engine, vscode-tab-header:has-text("Engine")').first();
  if (
    (await tab.count()) > 0 &&
    !(await doc
      .locator('#engine-status')
      .first()
      .isVisible()
      .catch(() => false))
  ) {
    await tab.click();
  }
}

async function expectWebGpu(doc: FrameLocator): Promise<string> {
  const status = doc.locator('#engine-status[data-backend]');
  await status.waitFor({ state: 'attached', timeout: 120_000 });
  await showEngine(doc);
  await status.waitFor({ state: 'visible', timeout: 10_000 });
  // The adapter found (data-adapter); which backend runs and why is #engine-status / #engine-reason (on SwiftShader: the CPU).
  const adapter = await status.getAttribute('data-adapter');
  const text = (await status.innerText()).trim();
  const err = await doc.locator('#engine-reason, #engine-error').allInnerTexts();
  expect(adapter, `engine status: "${text}" ${err.join(' ')}`).toBe('webgpu');
  expect(text).toMatch(/Runs on: \S/);
  const heading = (await doc.locator('#engine-adapter').innerText()).trim();
  expect(heading).toMatch(/^WebGPU adapter: \S/);
  expect(heading).not.toMatch(/unnamed adapter/);
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
    wb = await openWorkbench({ name: 'playground' });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('runs "LLM Playground: Open Playground" from the command palette and finds a WebGPU adapter', async () => {
    expect(wb?.cs.readLog()).toContain(`code-server ${CODE_SERVER_VERSION}`);
    await runCommand(page, 'LLM Playground: Open Playground');
    // The editor tab titled "LLM Playground".
    await page.locator('.tabs-container .tab', { hasText: 'LLM Playground' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    const doc = await findWebview(page, '#app');
    await expectRendered(doc);
    const text = await expectWebGpu(doc);
    console.log(`playground panel: ${text}`);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-playground.png') });
  });

  it('shows the playground in the LLM Playground activity-bar container', async () => {
    const before = await page.locator('iframe.webview.ready').count();
    const icon = page.locator('.activitybar .action-item a[aria-label^="LLM Playground"], .activitybar .action-item[aria-label^="LLM Playground"] a').first();
    await icon.waitFor({ state: 'visible', timeout: 30_000 });
    await icon.click();
    // The side bar's title names the container (its one view's own header is hidden).
    await page
      .locator('.part.sidebar .composite.title', { hasText: /LLM Playground/i })
      .first()
      .waitFor({ state: 'visible', timeout: 30_000 });
    // The side view's webview is a new one, after the editor panel's.
    const doc = await findWebview(page, '#app', { skip: before });
    await expectRendered(doc);
    const text = await expectWebGpu(doc);
    console.log(`playground side view: ${text}`);
    await page.screenshot({ path: path.join(RESULTS, 'vscode-sideview.png') });
  });

  it('has the "LLM Playground" output channel with the activation log', async () => {
    await runCommand(page, 'LLM Playground: Show Log');
    const panel = page.locator('.part.panel');
    await panel.waitFor({ state: 'visible', timeout: 30_000 });
    // The channel picker in the Output view's title names the channel shown.
    const picker = panel.locator('select.monaco-select-box, .monaco-select-box').first();
    await picker.waitFor({ state: 'visible', timeout: 30_000 });
    await expect.poll(async () => (await picker.getAttribute('title')) ?? (await picker.inputValue().catch(() => '')), { timeout: 30_000 }).toMatch(/LLM Playground/);
    // The Output view follows the end of the log and draws only the lines in view: go to its top first.
    const lines = panel.locator('.view-lines').first();
    await lines.click();
    await page.keyboard.press('Control+Home');
    await expect.poll(async () => (await lines.innerText()).replace(/\s+/g, ' '), { timeout: 30_000 }).toMatch(/LLM Playground \S+ activating/);
  });
  it('follows the light and high-contrast themes (theme variables only)', async () => {
    const doc = await findWebview(page, '#app', { minWidth: 600 });
    const colours = async () =>
      doc.locator('body').evaluate((b) => {
        const cs = getComputedStyle(b);
        return { fg: cs.color, bg: cs.backgroundColor, classes: b.className };
      });
    const dark = await colours();
    for (const [name, want] of [
      ['Light Modern', /vscode-light/],
      ['Dark High Contrast', /vscode-high-contrast/],
    ] as const) {
      // The theme picker: its palette row is not the first match, so click it by its exact label.
      const widget = page.locator('.quick-input-widget');
      await page.keyboard.press('F1');
      await widget.locator('.quick-input-box input').fill('>Preferences: Color Theme');
      await widget
        .locator('.monaco-list-row .label-name', { hasText: /^Preferences: Color Theme$/ })
        .first()
        .click();
      await widget.locator('.quick-input-box input').waitFor({ state: 'visible', timeout: 15_000 });
      await widget.locator('.quick-input-box input').fill(name);
      await widget.locator('.monaco-list-row', { hasText: name }).first().waitFor({ state: 'visible', timeout: 15_000 });
      await widget.locator('.quick-input-box input').press('Enter');
      await expect.poll(async () => (await colours()).classes, { timeout: 30_000 }).toMatch(want);
      const now = await colours();
      expect(now.bg).not.toBe(dark.bg);
      await page.screenshot({ path: path.join(RESULTS, `vscode-playground-${name.toLowerCase().replace(/\s+/g, '-')}.png`) });
    }
  });
});
