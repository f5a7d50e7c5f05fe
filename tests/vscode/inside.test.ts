/**
 * The Inside tab in real VS Code (code-server): on the bundled stories260K, the grid of
 * all heads, one head's heatmap with a hovered cell whose probability equals the engine's
 * (the CPU reference's attention capture, computed here), and the logit lens grid whose
 * top-1 pieces and probabilities equal lm_head(final_norm(h_l)) computed here; then
 * tiny-mixtral-moe (added by path, input as token ids) and its router view, whose experts
 * equal the transformers reference. Also on stories260K: the attention rollout's hovered
 * value, the flash view's row (online softmax = naive = the capture) with its measured
 * memory, and the heatmap's CSV / PNG export through the host's save dialog (the saved
 * values equal the engine's). Screenshots in test-results/.
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh` (code-server, chromium).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FrameLocator, Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/code-server.mjs';
import { openModel } from '../../engine/formats/load-node';
import { CpuBackend } from '../../engine/backend/cpu';
import { lensWeights, logitLens } from '../../engine/model/logit-lens';
import { attentionRollout } from '../../engine/model/attention-rollout';
import type { AttentionInputs } from '../../engine/model/attention-rows';
import { acceptFileDialog, findWebview, openWorkbench, RESULTS, runCommand, useModel, type Workbench } from './workbench';

const FIX = path.resolve(repoRoot, '../shared/fixtures');
const TEXT = 'Once upon a time, there was a little girl named Lily.';

let wb: Workbench | undefined;
let page: Page;
let doc: FrameLocator;
let moePath = '';

const shot = (name: string) => page.screenshot({ path: path.join(RESULTS, `vscode-inside-${name}.png`) });

describe('Inside tab (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({
      name: 'inside',
      requires: ['models/stories260K.bin', 'models/tok512.bin'],
      prepare: (tmpRoot) => {
        moePath = path.join(tmpRoot, 'models', 'tiny-mixtral-moe');
        fs.mkdirSync(moePath, { recursive: true });
        for (const f of fs.readdirSync(path.join(FIX, 'models/tiny-mixtral-moe'))) fs.copyFileSync(path.join(FIX, 'models/tiny-mixtral-moe', f), path.join(moePath, f));
      },
    });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('stories260K: head grid, a hovered heatmap cell and the logit lens equal the engine', async () => {
    // the engine's own values for the same input, computed here on the CPU reference
    const m = await openModel(path.join(repoRoot, 'models/stories260K.bin'));
    const ids = m.tokenizer!.encodeIds(TEXT);
    const T = ids.length;
    const backend = new CpuBackend(m.loaded, { contextLength: 64, kernel: 'js' });
    const r = await backend.forward(ids, undefined, { capture: { attentions: true, residuals: true } });
    const c = m.loaded.config;
    const lens = logitLens(c, lensWeights(c, m.loaded.weights), r.residuals!); // [L, T, V]

    await runCommand(page, 'LLM Playground: Open the Inside Tab');
    doc = await findWebview(page, '#inside', { minWidth: 600 });
    await doc.locator('vscode-tab-header[data-tab="inside"]').click();
    await doc.locator('#inside-text').fill(TEXT);
    await expect.poll(async () => doc.locator('#inside-run').getAttribute('disabled'), { timeout: 180_000 }).toBeNull();
    await doc.locator('#inside-run').click();
    await expect.poll(async () => doc.locator('#inside-status').getAttribute('data-tokens'), { timeout: 60_000 }).toBe(String(T));
    expect(await doc.locator('#inside-status').innerText()).toMatch(new RegExp(`^${T} tokens · 5 layers × 8 heads \\(4 KV heads`));
    expect(await doc.locator('#inside-gqa').innerText()).toMatch(/8 query heads read 4 KV heads, 2 each/);
    await doc.locator('#inside-grid').scrollIntoViewIfNeeded();
    await shot('grid');

    // layer 2, head 3 from the grid's select; then hover cell (row 9, column 4)
    await doc.locator('#inside-layer').selectOption('2');
    await doc.locator('#inside-head').selectOption('3');
    const heat = doc.locator('#inside-heat');
    await heat.scrollIntoViewIfNeeded();
    await expect.poll(async () => heat.getAttribute('data-paint-ms'), { timeout: 30_000 }).not.toBeNull();
    const box = (await heat.boundingBox())!;
    const [row, col] = [9, 4];
    await page.mouse.move(box.x + ((col + 0.5) * box.width) / T, box.y + ((row + 0.5) * box.height) / T);
    const readout = doc.locator('#inside-readout');
    await expect.poll(async () => readout.getAttribute('data-row'), { timeout: 10_000 }).toBe(String(row));
    expect(await readout.getAttribute('data-col')).toBe(String(col));
    expect(await readout.getAttribute('data-exact')).toBe('true');
    const want = r.attentions![2][(3 * T + row) * T + col];
    const shown = Number(await readout.getAttribute('data-value'));
    expect(Math.abs(shown - want)).toBeLessThan(1e-6);
    expect(await readout.innerText()).toContain(want.toFixed(4));
    await shot('heatmap-hover');

    // the logit lens grid: the last layer's top-1 at position 0..T−1 and its probability
    const V = c.vocabSize;
    const lensTable = doc.locator('#inside-lens');
    await lensTable.scrollIntoViewIfNeeded();
    await expect.poll(async () => lensTable.locator('td').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    for (const l of [0, c.numLayers - 1])
      for (const p of [0, 5, Math.min(T, 24) - 1]) {
        const rowv = lens.subarray((l * T + p) * V, (l * T + p + 1) * V);
        let best = 0;
        for (let i = 1; i < V; i++) if (rowv[i] > rowv[best]) best = i;
        const sum = rowv.reduce((s, v) => s + Math.exp(v - rowv[best]), 0);
        const cell = lensTable.locator(`td[data-layer="${l}"][data-pos="${p}"]`);
        expect(Number(await cell.getAttribute('data-id'))).toBe(best);
        expect(Math.abs(Number(await cell.getAttribute('data-prob')) - 1 / sum)).toBeLessThan(1e-5);
      }
    await shot('lens');

    // RoPE: the default wavelengths 2π·theta^(2i/d) of the model's pairs, beside the other scalings
    const rope = doc.locator('#inside-rope');
    await rope.scrollIntoViewIfNeeded();
    const theta = c.rope!.theta;
    for (let i = 0; i < c.headDim / 2; i++) {
      const w = Number(await rope.locator(`td[data-variant="1"][data-pair="${i}"]`).getAttribute('data-wavelength'));
      expect(w / (2 * Math.PI * Math.pow(theta, (2 * i) / c.headDim))).toBeCloseTo(1, 5);
    }
    expect(await rope.locator('tr').count()).toBe(6);
    await shot('rope');
  }, 600_000);

  it('stories260K: the rollout, the flash view and the export through the save dialog equal the engine', async () => {
    const m = await openModel(path.join(repoRoot, 'models/stories260K.bin'));
    const ids = m.tokenizer!.encodeIds(TEXT);
    const T = ids.length;
    const c = m.loaded.config;
    const backend = new CpuBackend(m.loaded, { contextLength: 64, kernel: 'js' });
    const r = await backend.forward(ids, undefined, { capture: { attentions: true, qk: true } });
    const layers: AttentionInputs[] = r.qk!.map(({ q, k }) => ({ q, k, T, nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, scale: 1 / Math.sqrt(c.headDim) }));
    const rollout = attentionRollout(layers, 2); // [T, T]

    // the rollout through layer 2, hovered at (row 9, column 4)
    await doc.locator('#inside-layer').selectOption('2');
    await doc.locator('#inside-head').selectOption('-3');
    const heat = doc.locator('#inside-heat');
    await heat.scrollIntoViewIfNeeded();
    await expect.poll(async () => doc.locator('#inside-head-line').innerText(), { timeout: 10_000 }).toMatch(/^Attention rollout through layers 0–2/);
    const readout = doc.locator('#inside-readout');
    const box = (await heat.boundingBox())!;
    const [row, col] = [9, 4];
    const want = rollout[row * T + col];
    await expect
      .poll(
        async () => {
          await page.mouse.move(box.x + 3, box.y + 3);
          await page.mouse.move(box.x + ((col + 0.5) * box.width) / T, box.y + ((row + 0.5) * box.height) / T);
          return (await readout.innerText()).includes('rollout share') && Math.abs(Number(await readout.getAttribute('data-value')) - want) < 1e-6;
        },
        { timeout: 30_000 },
      )
      .toBe(true);
    expect(await readout.getAttribute('data-exact')).toBe('true');
    expect([await readout.getAttribute('data-row'), await readout.getAttribute('data-col')]).toEqual([String(row), String(col)]);
    expect(Math.abs(Number(await readout.getAttribute('data-value')) - rollout[row * T + col])).toBeLessThan(1e-6);
    expect(await readout.innerText()).toContain('rollout share');
    await shot('rollout');

    // export the rollout's values as CSV through the save dialog: the file holds the engine's values
    const widget = page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    const note = doc.locator('#inside-export-note');
    await doc.locator('#inside-export-csv').click();
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await expect.poll(async () => input.inputValue(), { timeout: 15_000 }).toMatch(/attention-L2-rollout\.csv$/);
    await input.press('Enter');
    await expect.poll(async () => note.textContent(), { timeout: 15_000 }).toMatch(/^Saved .*attention-L2-rollout\.csv$/);
    const csvPath = ((await note.textContent()) ?? '').replace(/^Saved /, '');
    const lines = fs.readFileSync(csvPath, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBe(T + 1);
    let d = 0;
    lines.slice(1).forEach((l, i) =>
      l
        .slice(l.lastIndexOf('"') + 2)
        .split(',')
        .forEach((v, j) => (d = Math.max(d, Math.abs(Number(v) - rollout[i * T + j])))),
    );
    expect(d).toBeLessThan(1e-6);

    // one head's heatmap as PNG: a PNG file; again: the dialog asks before replacing it
    await doc.locator('#inside-head').selectOption('3');
    await expect.poll(async () => heat.getAttribute('data-paint-ms'), { timeout: 30_000 }).not.toBeNull();
    await page.waitForTimeout(500);
    await doc.locator('#inside-export-png').click();
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await expect.poll(async () => input.inputValue(), { timeout: 15_000 }).toMatch(/attention-L2-H3\.png$/);
    await input.press('Enter');
    await expect.poll(async () => note.textContent(), { timeout: 15_000 }).toMatch(/^Saved .*attention-L2-H3\.png$/);
    const pngPath = ((await note.textContent()) ?? '').replace(/^Saved /, '');
    const png = fs.readFileSync(pngPath);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.readUInt32BE(16)).toBe(480); // IHDR width: the heatmap canvas
    fs.writeFileSync(pngPath, 'keep me\n');
    await doc.locator('#inside-export-png').click();
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    // Enter before the dialog has filled in the name would only open the folder.
    await expect.poll(async () => input.inputValue(), { timeout: 15_000 }).toMatch(/attention-L2-H3\.png$/);
    await acceptFileDialog(page, input, /attention-L2-H3\.png$/, async () => widget.innerText(), /attention-L2-H3\.png already exists\. Are you sure you want to overwrite it\?/);
    await shot('export-replace');
    await widget.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    await page.waitForTimeout(500);
    for (let i = 0; i < 3 && (await input.isVisible()); i++) {
      await input.press('Escape');
      await page.waitForTimeout(300);
    }
    await expect.poll(async () => note.textContent(), { timeout: 15_000 }).toBe('Export cancelled.');
    expect(fs.readFileSync(pngPath, 'utf8')).toBe('keep me\n');

    // the flash view of row T−1, layer 2, head 3: the online row equals the naive row and the capture
    const flashRow = doc.locator('#inside-flash-row');
    await flashRow.scrollIntoViewIfNeeded();
    await flashRow.fill(String(T - 1));
    await doc.locator('#inside-flash-go').click();
    const rows = doc.locator('#inside-flash-rows');
    await expect.poll(async () => rows.getAttribute('data-max-diff'), { timeout: 30_000 }).not.toBeNull();
    expect(Number(await rows.getAttribute('data-max-diff'))).toBeLessThan(1e-6);
    for (const j of [0, Math.floor(T / 2), T - 1]) {
      const want = r.attentions![2][(3 * T + T - 1) * T + j];
      expect(Math.abs(Number(await rows.locator(`tr`).nth(1).locator(`td[data-key="${j}"]`).getAttribute('data-p')) - want)).toBeLessThan(1e-6);
      expect(Math.abs(Number(await rows.locator(`tr`).nth(2).locator(`td[data-key="${j}"]`).getAttribute('data-p')) - want)).toBeLessThan(1e-6);
    }
    const tiles = doc.locator('#inside-flash-tiles tr[data-tile]');
    expect(await tiles.count()).toBeGreaterThan(0);
    expect(await tiles.first().getAttribute('data-k0')).toBe('0');
    const measured = doc.locator('#inside-flash-measured');
    expect(Number(await measured.getAttribute('data-naive-bytes'))).toBe(T * T * 4);
    expect(await measured.innerText()).toMatch(/naive, \d+ × \d+ scores held = .* ms; tiled, one \d+ × \d+ tile/);
    await doc.locator('#inside-flash-box').scrollIntoViewIfNeeded();
    await shot('flash');
  }, 600_000);

  it('tiny-mixtral-moe: the router view shows the reference experts', async () => {
    const ref = JSON.parse(fs.readFileSync(path.join(FIX, 'refs/tiny-mixtral-moe.internals.shared.json'), 'utf8')) as {
      cases: { input_ids: number[]; router_topk_experts: number[][][] }[];
    };
    const ids = ref.cases[0].input_ids;
    await runCommand(page, 'LLM Playground: Add Model from Path…', { waitHidden: false });
    const widget = page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await input.fill(moePath);
    await page.waitForTimeout(300);
    await input.press('Enter');
    await widget.waitFor({ state: 'hidden', timeout: 15_000 });
    await useModel(page, 'tiny-mixtral-moe');
    doc = await findWebview(page, '#inside', { minWidth: 600 });
    await doc.locator('vscode-tab-header[data-tab="inside"]').click();
    await doc.locator('#inside-text').fill(ids.join(', '));
    await expect.poll(async () => doc.locator('#inside-run').getAttribute('disabled'), { timeout: 180_000 }).toBeNull();
    await doc.locator('#inside-run').click();
    await expect.poll(async () => doc.locator('#inside-status').getAttribute('data-tokens'), { timeout: 60_000 }).toBe(String(ids.length));
    const table = doc.locator('#inside-router');
    await expect.poll(async () => table.locator('td[data-experts]').count(), { timeout: 30_000 }).toBe(2 * ids.length);
    for (let t = 0; t < ids.length; t++)
      for (let l = 0; l < 2; l++) {
        const cell = table
          .locator('tr')
          .nth(t + 1)
          .locator(`td[data-layer="${l}"]`);
        expect(await cell.getAttribute('data-experts')).toBe(ref.cases[0].router_topk_experts[l][t].join(','));
      }
    expect(await doc.locator('#inside-router-load p').first().innerText()).toMatch(/^Layer 0 load: e0 \d+% · e1/);
    await table.scrollIntoViewIfNeeded();
    await shot('router');
  }, 600_000);
});
