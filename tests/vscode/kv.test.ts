/**
 * The KV cache tab in real VS Code (code-server): the palette's Open KV Cache Profiler brings
 * it to the front; a profiled generation on the bundled
 * stories260K (CPU path) shows the cache filling token by token, with the bytes the engine
 * allocated and used (checked against the engine's own numbers for the same model and
 * context) and zero allocations per decode step; the what-if for Llama-3.1-8B at 128k shows
 * 16 GiB with GQA and 64 GiB with MHA; the int8 cache's accuracy run on the default
 * Shakespeare text shows both perplexities (within 1 %) and the saving of the engine's
 * predicted bytes. Screenshots in test-results/vscode-kv-*.png.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FrameLocator, Page } from 'playwright-core';
import path from 'node:path';
import { repoRoot } from '../../scripts/code-server.mjs';
import { openModel } from '../../engine/formats/load-node';
import { predictEngineKv } from '../../engine/model/kv/layout';
import { QuantEffectMeter } from '../../engine/model/kv/quant-effect';
import { Model } from '../../engine/model/model';
import { findWebview, openWorkbench, RESULTS, runCommand, type Workbench } from './workbench';

let wb: Workbench | undefined;
let page: Page;
let doc: FrameLocator;
/** The context the Generate tab loaded the model with. */
let contextLength = 0;

const shot = (name: string) => page.screenshot({ path: path.join(RESULTS, `vscode-kv-${name}.png`) });
type Shown = Record<string, string | undefined> & { text: string };
const status = () => doc.locator('#kv-live-status').evaluate((e: HTMLElement): Shown => ({ ...e.dataset, text: e.textContent ?? '' }));

describe('KV cache tab (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({ name: 'kv', requires: ['models/stories260K.bin', 'models/tok512.bin'] });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('the palette command opens the playground on the KV tab', async () => {
    await runCommand(page, 'LLM Playground: Open KV Cache Profiler');
    doc = await findWebview(page, '#kv', { minWidth: 600 });
    const tabs = await doc.locator('vscode-tab-header').evaluateAll((hs) => hs.map((h) => h.getAttribute('data-tab')));
    // no click: the command alone brings the tab to the front
    await expect.poll(async () => doc.locator('#tabs').getAttribute('selected-index'), { timeout: 30_000 }).toBe(String(tabs.indexOf('kv')));
    await doc.locator('#kv-run').waitFor({ state: 'visible', timeout: 30_000 });
    await shot('command');
  }, 300_000);

  it('shows the cache filling during a generation, with the engine’s bytes and zero allocations per step', async () => {
    await runCommand(page, 'LLM Playground: Open Playground');
    doc = await findWebview(page, '#generate', { minWidth: 600 });
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 180_000 });
    contextLength = Number(/context (\d+)/.exec(await doc.locator('#generate-model').innerText())![1]);
    const config = (await openModel(path.join(repoRoot, 'models/stories260K.bin'))).loaded.config;
    const engine = predictEngineKv(config, contextLength);
    await doc.locator('vscode-tab-header[data-tab="kv"]').click();
    await doc.locator('#kv-prompt').fill('Once upon a time');
    await doc.locator('#kv-max').fill('200');
    await expect.poll(async () => doc.locator('#kv-run').getAttribute('disabled'), { timeout: 30_000 }).toBeNull();
    await doc.locator('#kv-run').click();
    // during the generation: whatever the tab shows is the engine's bytes for the tokens it shows
    for (let i = 0; i < 200; i++) {
      const s = await status().catch(() => undefined);
      if (s) {
        const tokens = Number(s.tokens);
        expect(Number(s.allocated)).toBe(engine.total);
        expect(Number(s.used)).toBe(tokens * engine.bytesPerToken);
        if (!s.text.startsWith('Generating')) break;
      }
      if (i === 3) await shot('live');
      await page.waitForTimeout(50);
    }
    await doc.locator('#kv-live-text').waitFor({ state: 'visible', timeout: 120_000 });
    const s = await status();
    expect(Number(s.allocated)).toBe(engine.total);
    expect(Number(s.used)).toBe(Number(s.tokens) * engine.bytesPerToken);
    expect(s.allocations).toBe('0');
    expect(Number(s.tokens)).toBeGreaterThan(5);
    expect(await doc.locator('#kv-live-table').innerText()).toContain(engine.bytesPerToken.toLocaleString('en'));
    await doc.locator('#kv-time-chart').waitFor({ state: 'visible' });
    await shot('profile');
    // hidden and shown again (another tab and back): the profile is still there
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await doc.locator('vscode-tab-header[data-tab="kv"]').click();
    expect((await status()).tokens).toBe(s.tokens);
  }, 600_000);

  it('with and without the cache: one row per context up to the loaded one, the same logits both ways', async () => {
    await expect.poll(async () => doc.locator('#kv-compare').getAttribute('disabled'), { timeout: 30_000 }).toBeNull();
    await doc.locator('#kv-compare').click();
    await doc.locator('#kv-compare-table').waitFor({ state: 'visible', timeout: 240_000 });
    const rows = await doc.locator('#kv-compare-table vscode-table-row').allInnerTexts();
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expect(rows[0]).toMatch(/^context 16/);
    for (const r of rows) expect(Number(/max \|Δ logits\| ([\d.e+-]+)/.exec(r)?.[1])).toBeLessThan(1e-4);
    await doc.locator('#kv-compare-chart').scrollIntoViewIfNeeded();
    await shot('compare');
  }, 300_000);

  it('int8 cache: the default Shakespeare text runs both ways; the perplexities and the engine’s predicted saving are shown', async () => {
    const config = (await openModel(path.join(repoRoot, 'models/stories260K.bin'))).loaded.config;
    const f32 = predictEngineKv(config, contextLength).total;
    const int8 = predictEngineKv(config, contextLength, 'cpu', 'int8').total;
    expect((await doc.locator('#kv-quant-text').inputValue()).startsWith('First Citizen:')).toBe(true);
    await expect.poll(async () => doc.locator('#kv-quant-run').getAttribute('disabled'), { timeout: 30_000 }).toBeNull();
    await doc.locator('#kv-quant-run').click();
    await doc.locator('#kv-quant-status').waitFor({ state: 'visible', timeout: 240_000 });
    const s = await doc.locator('#kv-quant-status').evaluate((e: HTMLElement): Shown => ({ ...e.dataset, text: e.textContent ?? '' }));
    expect(Number(s.bytesF32)).toBe(f32);
    expect(Number(s.bytesInt8)).toBe(int8);
    expect(Number(s.saving)).toBeCloseTo(1 - int8 / f32, 12);
    expect(s.text).toContain(`saves ${((1 - int8 / f32) * 100).toFixed(2)} %`);
    const a = Number(s.pplF32);
    const b = Number(s.pplInt8);
    expect(a).toBeGreaterThan(1);
    // the same text through the library in Node (two CPU models, one forward): the tab shows the engine's numbers
    const m = await openModel(path.join(repoRoot, 'models/stories260K.bin'));
    const ids = [m.tokenizer!.bosId!, ...m.tokenizer!.encodeIds(await doc.locator('#kv-quant-text').inputValue())].slice(0, contextLength);
    expect(Number(s.tokens)).toBe(ids.length);
    const meter = new QuantEffectMeter(config.vocabSize);
    const run = (kvQuant?: 'int8') => new Model(m.loaded, { contextLength, kvQuant }).forward(ids).logits;
    meter.add(run(), run('int8'), [...ids.slice(1), -1]);
    const want = meter.result();
    expect(a).toBeCloseTo(want.perplexityF32, 3);
    expect(b).toBeCloseTo(want.perplexityQuant, 3);
    console.log(
      `int8 KV on the default text: ${ids.length} tokens, perplexity f32 ${a.toFixed(3)}, int8 ${b.toFixed(3)} (${(((b - a) / a) * 100).toFixed(2)} %), max KL ${want.maxKl.toExponential(2)}`,
    );
    const table = await doc.locator('#kv-quant-table').innerText();
    expect(table).toContain(`f32 ${a.toFixed(3)} vs int8 ${b.toFixed(3)}`);
    expect(table).toContain(`${f32.toLocaleString('en')} B`);
    expect(table).toContain(`${int8.toLocaleString('en')} B`);
    // the KL chart moves with the keyboard
    await doc.locator('#kv-quant-chart').focus();
    await page.keyboard.press('End');
    await expect.poll(async () => doc.locator('#kv-quant-readout').innerText()).toMatch(new RegExp(`^Position ${Number(s.tokens) - 1}: KL`));
    await doc.locator('#kv-quant-chart').scrollIntoViewIfNeeded();
    await shot('int8');
    // hidden and shown again: the result is still there
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await doc.locator('vscode-tab-header[data-tab="kv"]').click();
    expect(await doc.locator('#kv-quant-status').getAttribute('data-ppl-int8')).toBe(s.pplInt8);
  }, 300_000);

  it('what-if: Llama-3.1-8B at 128k is 16 GiB with GQA, 64 GiB with MHA', async () => {
    await doc.locator('#kv-source').selectOption('Llama-3.1-8B');
    await doc.locator('#kv-context').fill('131072');
    await doc.locator('#kv-batch').fill('1');
    await doc.locator('#kv-dtype').selectOption('f16');
    await doc.locator('#kv-window').fill('');
    await doc.locator('#kv-block').fill('0');
    await doc.locator('#kv-attention').selectOption('gqa');
    const shown = () => doc.locator('#kv-whatif-result').evaluate((e: HTMLElement): Shown => ({ ...e.dataset, text: e.textContent ?? '' }));
    await expect.poll(async () => (await shown()).cacheBytes).toBe(String(16 * 2 ** 30));
    expect((await shown()).text).toBe('KV cache: 16.000 GiB');
    expect((await shown()).perToken).toBe('131072');
    await doc.locator('#kv-whatif-result').scrollIntoViewIfNeeded();
    await shot('whatif-gqa');
    await doc.locator('#kv-attention').selectOption('mha');
    await expect.poll(async () => (await shown()).cacheBytes).toBe(String(64 * 2 ** 30));
    expect((await shown()).text).toBe('KV cache: 64.000 GiB');
    await shot('whatif-mha');
    // a pasted config missing a field names it
    await doc.locator('#kv-source').selectOption('pasted');
    await doc.locator('#kv-pasted').fill('{"hidden_size": 4096, "num_attention_heads": 32}');
    await expect.poll(async () => doc.locator('#kv-whatif-error').innerText()).toMatch(/num_hidden_layers/);
  }, 300_000);
});
