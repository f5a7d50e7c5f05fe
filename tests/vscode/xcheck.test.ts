/**
 * ONNX models and the Cross-check tab in real VS Code (code-server): the fixture ONNX decoder
 * (onnx/tiny-llama/model.onnx, copied with the tiny-llama config.json and a byte-level
 * tokenizer.json) is added by path, made active and generates in the Generate tab on
 * onnxruntime-web, which the status bar and the Engine tab name; the Cross-check tab says why
 * it does not compare an ONNX model; then the tiny-llama safetensors folder (the same weights)
 * is made active and cross-checked: the engine's greedy ids are those the library computes in
 * Node for the same text; ort ran its WebGPU execution provider (SwiftShader), and the shown
 * divergence, positions and differences are consistent with the ids and within SwiftShader's
 * error. Then the second pairing, a pair of models from the list: the ONNX file (default on its
 * side: the listed ONNX model of the same vocabulary) against the active tiny-llama folder; the
 * engine's ids are again the library's, the table shows the overall max |Δ| and the agreement,
 * and the choice survives hide/show. Screenshots in test-results/vscode-xcheck-*.png.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/code-server.mjs';
import { CpuBackend } from '../../engine/backend/cpu';
import { OrtBackend } from '../../engine/backend/ort';
import { exportOnnx } from '../../engine/export/onnx/export';
import { concat } from '../../engine/export/onnx/protobuf';
import { loadHfModelFromPath } from '../../engine/formats/hf-node';
import { crossCheck } from '../../engine/generate/cross-check';
import { XCHECK_ONNX_REFUSAL } from '../../engine/protocol/xcheck';
import { tokenizerFromBytes } from '../../engine/tokenizer/index';
import { findWebview, openWorkbench, RESULTS, runCommand, useModel, type Workbench } from './workbench';

const FIX = path.resolve(repoRoot, '../shared/fixtures');
const TOKENIZER = path.join(FIX, 'tokenizers/tiny-bytelevel-gpt2/tokenizer.json');
const TEXT = 'a b c d';
const STEPS = 12;

let wb: Workbench | undefined;
let page: Page;
let doc: FrameLocator;
const paths = { onnx: '', llama: '' };
/** The CPU engine's greedy ids for TEXT on tiny-llama, as the library computes them in Node. */
let libraryIds: number[] = [];

const shot = (name: string) => page.screenshot({ path: path.join(RESULTS, `vscode-xcheck-${name}.png`) });
const statusItem = (): Locator => page.locator('.part.statusbar .statusbar-item', { hasText: /LLM: / }).first();

async function addModel(p: string): Promise<void> {
  await runCommand(page, 'LLM Playground: Add Model from Path…', { waitHidden: false });
  const widget = page.locator('.quick-input-widget');
  await widget
    .locator('.quick-input-title, .quick-input-message', { hasText: /Add Model from Path|Path of a/ })
    .first()
    .waitFor({ state: 'visible', timeout: 15_000 });
  const input = widget.locator('.quick-input-box input');
  await input.fill(p);
  await page.waitForTimeout(300);
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 15_000 });
}

describe('ONNX model and the Cross-check tab (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({
      name: 'xcheck',
      prepare: (tmpRoot) => {
        const onnx = path.join(tmpRoot, 'models', 'tiny-llama-onnx');
        const llama = path.join(tmpRoot, 'models', 'tiny-llama-st');
        fs.mkdirSync(onnx, { recursive: true });
        fs.mkdirSync(llama, { recursive: true });
        fs.copyFileSync(path.join(FIX, 'onnx/tiny-llama/model.onnx'), path.join(onnx, 'model.onnx'));
        for (const d of [onnx, llama]) {
          fs.copyFileSync(path.join(FIX, 'models/tiny-llama/config.json'), path.join(d, 'config.json'));
          fs.copyFileSync(TOKENIZER, path.join(d, 'tokenizer.json'));
        }
        fs.copyFileSync(path.join(FIX, 'models/tiny-llama/model.safetensors'), path.join(llama, 'model.safetensors'));
        paths.onnx = path.join(onnx, 'model.onnx');
        paths.llama = llama;
      },
    });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('the ONNX fixture, made active, generates on onnxruntime-web; the status bar and the Engine tab name it', async () => {
    await addModel(paths.onnx);
    await useModel(page, 'model.onnx');
    await runCommand(page, 'LLM Playground: Open Playground');
    doc = await findWebview(page, '#generate', { minWidth: 600 });
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 180_000 });
    expect(await doc.locator('#generate-model').innerText()).toMatch(/onnxruntime-web \(wasm EP\), context \d+/);
    await doc.locator('#gen-prompt').fill('a b c');
    await doc.locator('#gen-max').fill('8');
    await doc.locator('#gen-prompt').press('Control+Enter');
    await expect.poll(async () => doc.locator('#gen-stats').innerText(), { timeout: 120_000 }).toMatch(/8 tokens · [\d.]+ tokens\/s · max tokens reached/);
    await expect.poll(async () => statusItem().innerText(), { timeout: 30_000 }).toMatch(/LLM: onnxruntime-web \(wasm EP\)/);
    await shot('onnx-generate');
    await doc.locator('vscode-tab-header[data-tab="engine"]').click();
    await expect.poll(async () => doc.locator('#engine-status').getAttribute('data-ort'), { timeout: 30_000 }).toBe('wasm');
    expect(await doc.locator('#engine-status').innerText()).toContain('onnxruntime-web (wasm EP)');
    // the Cross-check tab says why an ONNX model is not compared, beside the disabled button
    await runCommand(page, 'LLM Playground: Open Cross-check (Engine vs onnxruntime-web)');
    const tabs = await doc.locator('vscode-tab-header').evaluateAll((hs) => hs.map((h) => h.getAttribute('data-tab')));
    await expect.poll(async () => doc.locator('#tabs').getAttribute('selected-index'), { timeout: 30_000 }).toBe(String(tabs.indexOf('xcheck')));
    expect(await doc.locator('#xcheck-why').innerText()).toBe(XCHECK_ONNX_REFUSAL);
    expect(await doc.locator('#xcheck-run').getAttribute('disabled')).not.toBeNull();
    await shot('onnx-refused');
  }, 600_000);

  it('the tiny-llama folder cross-checked: the engine ids are the library’s, the differences and divergence consistent', async () => {
    await addModel(paths.llama);
    await useModel(page, 'tiny-llama-st');
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await expect.poll(async () => doc.locator('#generate-model').innerText(), { timeout: 180_000 }).toMatch(/^tiny-llama-st — CPU, context \d+/);
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 180_000 });
    await expect.poll(async () => statusItem().innerText(), { timeout: 30_000 }).toMatch(/LLM: CPU/);
    await doc.locator('vscode-tab-header[data-tab="xcheck"]').click();
    await doc.locator('#xcheck-text').fill(TEXT);
    await doc.locator('#xcheck-steps').fill(String(STEPS));
    await expect.poll(async () => doc.locator('#xcheck-run').getAttribute('disabled'), { timeout: 30_000 }).toBeNull();
    expect(await doc.locator('#xcheck-cancel').getAttribute('disabled')).not.toBeNull();
    await doc.locator('#xcheck-run').click();
    await doc.locator('#xcheck-status').waitFor({ state: 'visible', timeout: 240_000 });
    const s = await doc
      .locator('#xcheck-status')
      .evaluate((e: HTMLElement): Record<string, string | undefined> & { text: string } => ({ ...e.dataset, text: e.textContent ?? '' }));

    // the library in Node on the same weights and text
    const tok = tokenizerFromBytes(new Uint8Array(fs.readFileSync(TOKENIZER)), 'tokenizer.json');
    const ids = tok.encodeIds(TEXT);
    if (tok.bosId !== null && ids[0] !== tok.bosId) ids.unshift(tok.bosId);
    const cpu = new CpuBackend(await loadHfModelFromPath(paths.llama), { contextLength: 64 });
    const loaded = await loadHfModelFromPath(paths.llama);
    const ort = await OrtBackend.create({ config: loaded.config, onnx: { file: 'export.onnx', bytes: concat(exportOnnx(loaded)), parameters: 0 } }, { contextLength: 64 });
    const want = await crossCheck(cpu, ort, ids, { steps: STEPS });
    libraryIds = want.a.ids;
    cpu.dispose();
    ort.dispose();
    console.log(`cross-check in code-server: provider ${s.provider}, max |Δ| ${s.maxAbs} (Node, CPU vs ort wasm: ${want.maxAbs}), first divergence ${s.firstDivergence}`);
    // the webview has WebGPU (SwiftShader), so ort runs its WebGPU execution provider; the engine runs on the CPU (software adapter)
    expect(s.provider).toBe('webgpu');
    expect(Number(s.promptTokens)).toBe(ids.length);
    // the engine's side is the CPU engine's, id for id
    expect(s.engineIds).toBe(want.a.ids.join(','));
    const engineIds = s.engineIds!.split(',').map(Number);
    const ortIds = s.ortIds!.split(',').map(Number);
    expect(ortIds).toHaveLength(STEPS);
    const div = Number(s.firstDivergence);
    expect(div).toBe(engineIds.findIndex((t, i) => t !== ortIds[i]));
    // positions compared: the prompt's, then each step while the paths agree
    expect(Number(s.positions)).toBe(ids.length + (div < 0 ? STEPS - 1 : div));
    // ort's WGSL kernels on SwiftShader are not f32 op for op (README: 3.6e-3 from HF there)
    expect(Number(s.maxAbs)).toBeLessThan(2e-2);
    if (div < 0) {
      expect(s.ortIds).toBe(want.b.ids.join(','));
      expect(s.text).toContain(`the greedy paths agree on all ${STEPS} steps`);
    } else expect(s.text).toContain(`the greedy paths first differ at step ${div + 1}`);
    const table = await doc.locator('#xcheck-table').innerText();
    expect(table).toMatch(/Time per token, CPU[^\n]*\n?[^\n]*[\d.]+ ms/);
    expect(table).toContain('Time per token, onnxruntime-web (WebGPU EP)');
    expect(await doc.locator('#xcheck-paths tr').count()).toBe(STEPS + 1);
    // the chart moves with the keyboard; its readout names the position and value
    await doc.locator('#xcheck-chart').focus();
    await page.keyboard.press('End');
    await expect
      .poll(async () => doc.locator('#xcheck-readout').innerText())
      .toMatch(new RegExp(`^(greedy step \\d+ \\(position ${Number(s.positions) - 1}\\)|prompt token ${Number(s.positions) - 1}): max \\|Δ logit\\| `));
    await doc.locator('#xcheck-chart').scrollIntoViewIfNeeded();
    await shot('result');
    // hidden and shown again: the result is still there
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await doc.locator('vscode-tab-header[data-tab="xcheck"]').click();
    expect(await doc.locator('#xcheck-status').getAttribute('data-ort-ids')).toBe(s.ortIds);
  }, 600_000);

  it('a pair from the list: the ONNX file against the tiny-llama folder, chosen by default; the table shows max |Δ| and the agreement', async () => {
    // the export's result is still shown; pairing (b) is picked with the keyboard (arrow keys move between the radios)
    await doc.locator('#xcheck-pairing-export').focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(async () => doc.locator('#xcheck-pairing-pair').isChecked(), { timeout: 10_000 }).toBe(true);
    await doc.locator('#xcheck-pickers').waitFor({ state: 'visible', timeout: 10_000 });
    // defaults: the active model on the engine side; the ONNX model of the same vocabulary on the other
    const picked = async (sel: string) => doc.locator(sel).evaluate((e: HTMLSelectElement) => e.selectedOptions[0]?.text ?? '');
    const engineName = await picked('#xcheck-engine');
    const onnxName = await picked('#xcheck-onnx');
    expect(engineName).toMatch(/^tiny-llama-st \(safetensors, vocab 512\) — active$/);
    expect(onnxName).toMatch(/\(onnx, vocab 512\)$/);
    // the shown result is the export's: it says it is not of this pair
    await doc.locator('#xcheck-stale').waitFor({ state: 'visible', timeout: 10_000 });
    await expect.poll(async () => doc.locator('#xcheck-run').getAttribute('disabled'), { timeout: 30_000 }).toBeNull();
    expect(await doc.locator('#xcheck-why').innerText()).toBe('');
    await shot('pair-picked');
    await doc.locator('#xcheck-run').click();
    await doc.locator('#xcheck-status[data-source="pair"]').waitFor({ state: 'visible', timeout: 240_000 });
    const s = await doc
      .locator('#xcheck-status')
      .evaluate((e: HTMLElement): Record<string, string | undefined> & { text: string } => ({ ...e.dataset, text: e.textContent ?? '' }));
    console.log(`pair cross-check in code-server: provider ${s.provider}, max |Δ| ${s.maxAbs}, first divergence ${s.firstDivergence}: ${s.text}`);
    expect(await doc.locator('#xcheck-stale').count()).toBe(0);
    // the engine side is the loaded tiny-llama folder on the CPU engine: the library's ids
    expect(s.engineIds).toBe(libraryIds.join(','));
    const div = Number(s.firstDivergence);
    const engineIds = s.engineIds!.split(',').map(Number);
    const ortIds = s.ortIds!.split(',').map(Number);
    expect(div).toBe(engineIds.findIndex((t, i) => t !== ortIds[i]));
    // ort's WebGPU EP on SwiftShader is not f32 op for op (README: 3.6e-3 from HF there); its wasm EP is within 1e-4
    expect(Number(s.maxAbs)).toBeLessThan(s.provider === 'wasm' ? 1e-4 : 2e-2);
    const table = await doc.locator('#xcheck-table').innerText();
    expect(table).toContain(`Overall max |Δ logit|`);
    expect(table).toContain(Number(s.maxAbs).toExponential(2));
    expect(table).toMatch(/Engine model\s+tiny-llama-st on CPU/);
    expect(table).toMatch(/ONNX model\s+\S+ on onnxruntime-web \((WebGPU|wasm) EP\)/);
    if (div < 0) {
      expect(table).toContain(`agree on all ${STEPS} steps`);
      expect(s.text).toContain(`the greedy paths agree on all ${STEPS} steps`);
    } else expect(table).toContain(`first divergence at step ${div + 1}`);
    expect(s.text).toContain('tiny-llama-st on CPU');
    expect(await doc.locator('#xcheck-paths tr').count()).toBe(STEPS + 1);
    await doc.locator('#xcheck-table').scrollIntoViewIfNeeded();
    await shot('pair-result');
    // hidden and shown again: the pairing, the picks and the result are still there
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await doc.locator('vscode-tab-header[data-tab="xcheck"]').click();
    expect(await doc.locator('#xcheck-pairing-pair').isChecked()).toBe(true);
    expect(await picked('#xcheck-onnx')).toBe(onnxName);
    expect(await doc.locator('#xcheck-status').getAttribute('data-source')).toBe('pair');
    expect(await doc.locator('#xcheck-status').getAttribute('data-ort-ids')).toBe(s.ortIds);
  }, 600_000);
});
