/**
 * The Inside tab in real VS Code (code-server): on the bundled stories260K, the grid of
 * all heads, one head's heatmap with a hovered cell whose probability equals the engine's
 * (the CPU reference's attention capture, computed here), and the logit lens grid whose
 * top-1 pieces and probabilities equal lm_head(final_norm(h_l)) computed here; then
 * tiny-mixtral-moe (added by path, input as token ids) and its router view, whose experts
 * equal the transformers reference. Screenshots in test-results/.
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
import { findWebview, openWorkbench, RESULTS, runCommand, type Workbench } from './workbench';

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
    await runCommand(page, 'LLM Playground: Use This Model', { waitHidden: false });
    await widget.locator('.monaco-list-row', { hasText: 'tiny-mixtral-moe' }).first().waitFor({ state: 'visible', timeout: 15_000 });
    await input.fill('tiny-mixtral-moe');
    await page.waitForTimeout(300);
    await input.press('Enter');
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
