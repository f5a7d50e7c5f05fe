/**
 * What a new user meets in the first hour, in real VS Code (code-server, WebGPU on SwiftShader):
 * the walkthrough (opened from the Welcome page) whose steps open the Tokenizer tab on a CJK
 * line, train a BPE tokenizer on Shakespeare and open the Generate tab on the bundled model;
 * one answer to "which backend runs and why" in the status bar, the Engine tab and the
 * Generate tab (on SwiftShader, after choosing WebGPU, and with llmPlayground.backend = "cpu"),
 * with a warning before WebGPU on a software adapter; Add Model refusing README.md and an
 * empty folder with the reason. Screenshots in test-results/vscode-first-*.png.
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh` (code-server, chromium);
 * the harness is tests/vscode/workbench.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { acceptFileDialog, findWebview, hoverUntil, openWorkbench, RESULTS, runCommand, type Workbench } from './workbench';

let wb: Workbench | undefined;
let page: Page;
let doc: FrameLocator;
const paths = { ws: '', settings: '', readme: '', empty: '' };

const shot = (name: string) => page.screenshot({ path: path.join(RESULTS, `vscode-first-${name}.png`) });
const WALKTHROUGH = 'LLM Playground: first lessons';

/** The walkthrough's editor: its step list and buttons. */
const walkthrough = () => page.locator('.gettingStartedContainer').first();

/** Opens the walkthrough by name ("Welcome: Open Walkthrough..."): the Welcome editor shown again may be back on its start page. */
async function openWalkthrough(): Promise<void> {
  await runCommand(page, 'Welcome: Open Walkthrough...', { waitHidden: false });
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-box input').fill(WALKTHROUGH);
  await widget.locator('.monaco-list-row', { hasText: WALKTHROUGH }).first().click();
  await widget.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Brings the walkthrough back and runs one step's button. */
async function runStep(stepTitle: string, buttonText: string): Promise<void> {
  await openWalkthrough();
  const title = walkthrough().locator('h3.step-title', { hasText: stepTitle }).first();
  await title.waitFor({ state: 'visible', timeout: 30_000 });
  // The expanded step's header is disabled (and a completed step expands the next one): click a step only when its button stays hidden.
  const button = walkthrough().locator('.step-description-container :is(button, a, .monaco-button)', { hasText: buttonText }).first();
  const shown = () =>
    button.waitFor({ state: 'visible', timeout: 5_000 }).then(
      () => true,
      () => false,
    );
  if (!(await shown())) {
    await title.click({ timeout: 10_000 }).catch(() => {});
    await button.waitFor({ state: 'visible', timeout: 15_000 });
  }
  await button.click();
}

/** The walkthrough step's checkbox is ticked (its completion event fired). */
async function expectStepDone(stepId: string): Promise<void> {
  await openWalkthrough();
  await expect.poll(async () => walkthrough().locator(`.codicon[data-done-step-id$="#${stepId}"]`).first().getAttribute('class'), { timeout: 30_000 }).toMatch(/\bcomplete\b/);
}

/** The status bar's LLM item. */
const statusItem = (): Locator => page.locator('.part.statusbar .statusbar-item', { hasText: /LLM: / }).first();

async function showTab(id: string): Promise<void> {
  await doc.locator(`vscode-tab-header[data-tab="${id}"]`).click();
}

/** What each place says about the backend: the status bar (text and tooltip), the Engine tab, the Generate tab. */
async function backendEverywhere(): Promise<{
  bar: string;
  tooltip: string;
  engine: string;
  engineReason: string;
  generate: string;
  generateBackend: string;
  generateReason: string;
}> {
  await showTab('engine');
  const status = doc.locator('#engine-status[data-backend]');
  await status.waitFor({ state: 'visible', timeout: 120_000 });
  const engine = (await status.getAttribute('data-backend')) ?? '';
  const engineReason = (await doc.locator('#engine-reason').innerText()).trim();
  await showTab('generate');
  const line = doc.locator('#generate-model[data-ready="true"]');
  await line.waitFor({ state: 'visible', timeout: 180_000 });
  const generate = (await line.innerText()).trim();
  const generateBackend = (await line.getAttribute('data-backend')) ?? '';
  const generateReason = (await line.getAttribute('title')) ?? '';
  const bar = (await statusItem().innerText()).trim();
  const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'LLM Playground runs on' }).first();
  await hoverUntil(page, statusItem(), hover, { timeoutMs: 30_000, away: { x: 700, y: 400 } });
  const tooltip = (await hover.innerText()).replace(/\s+/g, ' ').trim();
  await page.mouse.move(700, 400);
  return { bar, tooltip, engine, engineReason, generate, generateBackend, generateReason };
}

describe('The first hour: walkthrough, which backend runs, Add Model refusals (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({
      name: 'first-hour',
      prepare: (tmpRoot) => {
        paths.ws = path.join(tmpRoot, 'ws');
        fs.mkdirSync(path.join(paths.ws, '.vscode'), { recursive: true });
        paths.settings = path.join(paths.ws, '.vscode', 'settings.json');
        fs.writeFileSync(paths.settings, '{}\n');
        paths.readme = path.join(paths.ws, 'README.md');
        fs.writeFileSync(paths.readme, '# Not a model\n');
        paths.empty = path.join(paths.ws, 'empty-folder');
        fs.mkdirSync(paths.empty);
        return { folder: paths.ws };
      },
    });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('opens the walkthrough from the Welcome page; its steps open the Tokenizer tab (CJK), train BPE on Shakespeare and open Generate on the bundled model', async () => {
    await runCommand(page, 'Help: Welcome');
    const entry = page.locator('.gettingStartedContainer :is(button, a, li, div).getting-started-category, .gettingStartedContainer button', { hasText: WALKTHROUGH }).first();
    const onWelcome = await entry.waitFor({ state: 'visible', timeout: 20_000 }).then(
      () => true,
      () => false,
    );
    if (onWelcome) {
      await shot('welcome');
      await entry.click();
    } else {
      // The Welcome page lists a few walkthroughs; the rest are behind "More…": open it by name.
      console.log('walkthrough not on the Welcome page\'s first list: opening it with "Welcome: Open Walkthrough..."');
      await openWalkthrough();
    }
    await walkthrough().locator('h3.step-title', { hasText: 'Text becomes tokens' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await shot('walkthrough');

    // Step 1: the Tokenizer tab on the CJK example line.
    await runStep('Text becomes tokens', 'Open the Tokenizer tab');
    doc = await findWebview(page, '#tok-input', { minWidth: 600 });
    await expect.poll(async () => doc.locator('#tok-input').inputValue(), { timeout: 30_000 }).toContain('语言模型');
    await expect.poll(async () => doc.locator('#tabs').getAttribute('selected-index'), { timeout: 10_000 }).toBe('2');
    // The token detail shows the decoded text beside the vocabulary's piece (语言 is "è¯Ńè¨Ģ" in byte-level BPE).
    const chip = doc.locator('.tok-id[aria-label*="语"]').first();
    await chip.waitFor({ state: 'attached', timeout: 60_000 });
    await chip.hover();
    await expect.poll(async () => doc.locator('#tok-detail').innerText(), { timeout: 10_000 }).toMatch(/piece ".+" · text (part of )?"语/);
    // The comparison names the tokenizer compared against, never "the other tokenizer".
    await doc.locator('#tok-select-1').selectOption('llama3');
    await doc.locator('#tok-select-2').selectOption('cl100k_base');
    await expect.poll(async () => doc.locator('.tok-diffs').count(), { timeout: 60_000 }).toBe(3);
    const diffs = await doc.locator('.tok-diffs').allInnerTexts();
    console.log(`compare lines: ${JSON.stringify(diffs)}`);
    for (const d of diffs) {
      expect(d).not.toMatch(/the other tokenizer/);
      expect(d).toMatch(/^(Same boundaries as \S|\d+ tokens \(dashed outline\) start or end where \S.* does not\.)/);
    }
    await shot('tokenizer-cjk');
    await expectStepDone('tokens');

    // Step 2: train BPE on Shakespeare; the merge list says what it shows; the size field agrees.
    await runStep('Train a BPE tokenizer on Shakespeare', 'Train on Shakespeare');
    await expect.poll(async () => doc.locator('#bpe-merges-note').innerText(), { timeout: 300_000 }).toMatch(/^Showing the first 250 and the last 250 of [\d,]+ merges\.$/);
    await expect.poll(async () => doc.locator('#bpe-export').isDisabled(), { timeout: 300_000 }).toBe(false);
    expect(await doc.locator('#bpe-merges li').first().innerText()).toMatch(/\+ .* → .* id 2\d\d/);
    expect(await doc.locator('#bpe-merges-gap').innerText()).toMatch(/… merges 251–[\d,]+ are not shown …/);
    expect(await doc.locator('#bpe-size').inputValue()).toBe('1000');
    // The progress bar is drawn in theme colours (its track is the input background), not the browser's white bar.
    const bar = await doc.locator('#bpe-progress').evaluate((p) => ({ appearance: getComputedStyle(p).appearance, track: getComputedStyle(p).backgroundColor }));
    expect(bar.appearance).toBe('none');
    expect(bar.track).toBe(await doc.locator('#bpe-size').evaluate((e) => getComputedStyle(e).backgroundColor));
    await doc.locator('#bpe').scrollIntoViewIfNeeded();
    await shot('bpe');
    await expectStepDone('trainBpe');

    // Step 3: the Generate tab on the bundled model.
    await runStep('Generate text with the bundled model', 'Open the Generate tab');
    await expect.poll(async () => doc.locator('#tabs').getAttribute('selected-index'), { timeout: 30_000 }).toBe('0');
    await expect.poll(async () => doc.locator('#generate-model').innerText(), { timeout: 180_000 }).toMatch(/^stories260K \(bundled\) — CPU, context \d+, llama2c tokenizer$/);
    await shot('generate');
    await expectStepDone('generate');
    await shot('walkthrough-done');
  }, 900_000);

  it('on SwiftShader, the status bar, the Engine tab and the Generate tab name the same backend and reason; WebGPU is chosen only after a warning', async () => {
    await runCommand(page, 'LLM Playground: Open Playground');
    doc = await findWebview(page, '#app', { minWidth: 600 });
    // The walkthrough's last step made the bundled model active; without it, the Generate tab offers it.
    await showTab('generate');
    const useBundled = doc.locator('#generate-empty vscode-button', { hasText: 'Use the bundled stories260K' });
    if (await useBundled.isVisible().catch(() => false)) await useBundled.click();
    let b = await backendEverywhere();
    console.log(`SwiftShader, default: ${JSON.stringify(b)}`);
    expect(b.engine).toBe('cpu');
    expect(b.generateBackend).toBe('cpu');
    expect(b.bar).toMatch(/LLM: CPU/);
    expect(b.generate).toMatch(/— CPU, context/);
    expect(b.engineReason).toMatch(/software one \(~150× slower than the CPU path\)/);
    expect(b.generateReason).toBe(b.engineReason);
    expect(b.tooltip).toContain(b.engineReason);
    expect(await doc.locator('#engine-status').getAttribute('data-adapter')).toBe('webgpu');
    await shot('backend-swiftshader');
    await showTab('engine');
    await shot('engine-swiftshader');

    // The Model tab warns before WebGPU is chosen on the software adapter.
    await showTab('model');
    const warning = doc.locator('#model-device-warning');
    await warning.waitFor({ state: 'visible', timeout: 30_000 });
    expect(await warning.innerText()).toMatch(/software WebGPU adapter: the model runs ~150× slower on it than on the CPU path/);
    expect(await doc.locator('#model-device option[value="gpu"]').textContent()).toMatch(/software adapter, ~150× slower/);
    await doc.locator('#model-device').scrollIntoViewIfNeeded();
    await shot('run-on-warning');
    await doc.locator('#model-device').selectOption('gpu');
    await expect.poll(async () => doc.locator('#model-device-warning').getAttribute('role'), { timeout: 10_000 }).toBe('alert');
    await doc.locator('vscode-button', { hasText: 'Reload with these settings' }).click();
    await expect.poll(async () => doc.locator('#generate-model').innerText(), { timeout: 180_000 }).toMatch(/— WebGPU \([^)]+\), context/);
    b = await backendEverywhere();
    console.log(`SwiftShader, WebGPU chosen: ${JSON.stringify(b)}`);
    expect(b.engine).toBe('webgpu');
    expect(b.generateBackend).toBe('webgpu');
    expect(b.bar).toMatch(/LLM: WebGPU/);
    expect(b.engineReason).toMatch(/WebGPU was chosen in the Model tab's "Run on"\..*software WebGPU adapter/);
    expect(b.generateReason).toBe(b.engineReason);
    expect(b.tooltip).toContain(b.engineReason);
    await shot('backend-webgpu-chosen');

    // Back to the CPU for the rest.
    await showTab('model');
    await doc.locator('#model-device').selectOption('cpu');
    await doc.locator('vscode-button', { hasText: 'Reload with these settings' }).click();
    await expect.poll(async () => doc.locator('#generate-model').innerText(), { timeout: 180_000 }).toMatch(/— CPU, context/);
  }, 600_000);

  it('with llmPlayground.backend = "cpu", all three say CPU and name the setting', async () => {
    fs.writeFileSync(paths.settings, JSON.stringify({ 'llmPlayground.backend': 'cpu' }, null, 2));
    await expect
      .poll(
        async () =>
          doc
            .locator('#engine-status')
            .getAttribute('data-adapter')
            .catch(() => null),
        { timeout: 120_000 },
      )
      .toBe('cpu');
    const b = await backendEverywhere();
    console.log(`llmPlayground.backend = cpu: ${JSON.stringify(b)}`);
    expect(b.engine).toBe('cpu');
    expect(b.generateBackend).toBe('cpu');
    expect(b.bar).toMatch(/LLM: CPU/);
    expect(b.engineReason).toContain('llmPlayground.backend');
    expect(b.generateReason).toBe(b.engineReason);
    expect(b.tooltip).toContain(b.engineReason);
    await showTab('engine');
    await shot('backend-cpu-setting');
    fs.writeFileSync(paths.settings, '{}\n');
  }, 600_000);

  it('Add Model refuses README.md and an empty folder, with the reason', async () => {
    const widget = page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    const message = widget.locator('.quick-input-message');
    for (const [p, want, name] of [
      [paths.readme, /README\.md is not a model file: it is none of a \.gguf, a llama2\.c \.bin, a \.onnx, or a folder with config\.json and \*\.safetensors\./, 'readme'],
      [paths.empty, /empty-folder is not a model folder: it has no config\.json \(the folder is empty\)\. Add a \.gguf/, 'empty-folder'],
    ] as const) {
      await runCommand(page, 'LLM Playground: Add Model from Path…', { waitHidden: false });
      await input.waitFor({ state: 'visible', timeout: 15_000 });
      await input.fill(p);
      await expect.poll(async () => message.innerText(), { timeout: 15_000 }).toMatch(want);
      await shot(`refused-${name}`);
      await input.press('Enter');
      // The input box stays open with its message: nothing is added.
      await page.waitForTimeout(500);
      expect(await input.isVisible()).toBe(true);
      await input.press('Escape');
      await widget.waitFor({ state: 'hidden', timeout: 10_000 });
    }
    // "Add Model…" (the file dialog) refuses README.md the same way, in a notification.
    // The palette's box is the dialog's box too: wait for the dialog's own title before typing,
    // and for the box to hold the path (the dialog fills in its starting folder as it opens).
    await runCommand(page, 'LLM Playground: Add Model…', { waitHidden: false });
    await widget
      .locator('.quick-input-title', { hasText: /Add a model/ })
      .first()
      .waitFor({ state: 'visible', timeout: 15_000 });
    await expect
      .poll(
        async () => {
          if ((await input.inputValue()) !== paths.readme) await input.fill(paths.readme);
          await page.waitForTimeout(300);
          return input.inputValue();
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(paths.readme);
    // The dialog lists the typed path's folder before Enter can take the file in it.
    await widget.locator('.monaco-list-row', { hasText: 'README.md' }).first().waitFor({ state: 'visible', timeout: 15_000 });
    await page.waitForTimeout(500);
    const toasts = page.locator('.notifications-toasts');
    await acceptFileDialog(page, input, /README\.md$/, async () => toasts.innerText().catch(() => ''), /README\.md is not a model file/);
    await shot('refused-add-model-dialog');
    // The Model tab's list has neither.
    await showTab('model');
    const names = await doc.locator('#model-list li').allInnerTexts();
    expect(names.join('\n')).not.toMatch(/README\.md|empty-folder/);
  }, 300_000);
});
