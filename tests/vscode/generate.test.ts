/**
 * The Generate tab in real VS Code (code-server), through the engine's one decode loop:
 * on the bundled stories260K, greedy output equals llama2.c's (the shared reference) on
 * the CPU path and on the WebGPU path (SwiftShader; the pipelined greedy decode), with
 * tokens/s and the stop reason shown; Stop and Escape end a long run within one read-back
 * block, and the next run is unaffected.
 *
 * Needs `node scripts/build.mjs` and `bash scripts/setup.sh` (code-server, chromium);
 * the harness is tests/vscode/workbench.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FrameLocator, Page } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/code-server.mjs';
import { tokenizerFromBytes } from '../../engine/tokenizer/index';
import { findWebview, openWorkbench, RESULTS, runCommand, type Workbench } from './workbench';

interface RefCase {
  prompt: string;
  /** llama2.c's -n: positions, the prompt's included. */
  steps: number;
  prompt_ids: number[];
  generated_ids: number[];
  stdout: string;
}

const REF = JSON.parse(fs.readFileSync(path.resolve(repoRoot, '../shared/fixtures/refs/stories260K.greedy.shared.json'), 'utf8')) as { cases: RefCase[] };
const TOK = tokenizerFromBytes(new Uint8Array(fs.readFileSync(path.join(repoRoot, 'models/tok512.bin'))), 'tok512.bin');
const BOS = 1;
/** The most ids the pipelined greedy decode reads back at once. */
const READ_BLOCK = 16;

interface Expected {
  prompt: string;
  maxTokens: number;
  text: string;
  tokens: number;
  reason: 'length' | 'stop';
  stdout: string;
}

/**
 * What the tab must show for a reference case: llama2.c generates while pos < steps, so
 * `steps − (prompt ids − 1)` new ids unless BOS ends the text first; the text is the
 * reference's ids through the model's tokenizer (streamed after the prompt, as the engine does).
 */
function expected(prompt: string): Expected {
  const c = REF.cases.find((x) => x.prompt === prompt);
  if (!c) throw new Error(`no reference case for ${JSON.stringify(prompt)}`);
  expect(TOK.encodeIds(prompt)).toEqual(c.prompt_ids);
  const maxTokens = c.steps - (c.prompt_ids.length - 1);
  const ids = c.generated_ids.slice();
  if (ids.at(-1) === BOS) ids.pop();
  const dec = TOK.createStreamDecoder({ context: c.prompt_ids });
  let text = '';
  for (const id of ids) text += dec.push(id);
  text += dec.flush();
  // llama2.c's stdout: the prompt, the continuation, and a newline at the end.
  expect(`${prompt}${text}\n`).toBe(c.stdout);
  return { prompt, maxTokens, text, tokens: ids.length, reason: ids.length === maxTokens ? 'length' : 'stop', stdout: c.stdout };
}

const PROMPTS = ['Once upon a time', 'Tom and Lily went to the park'];

interface Shown {
  /** #gen-stats' text. */
  stats: string;
  run?: string;
  state?: string;
  tokens?: string;
  tokensPerSec?: string;
  stopReason?: string;
}

let wb: Workbench | undefined;
let page: Page;
let doc: FrameLocator;

const shot = (name: string) => page.screenshot({ path: path.join(RESULTS, `vscode-gen-${name}.png`) });

async function shown(): Promise<Shown> {
  return doc.locator('#gen-stats').evaluate((e: HTMLElement) => ({ stats: e.textContent ?? '', ...e.dataset }));
}

/** Fills the form and presses Generate; resolves once the tab shows the new run as running or done. */
async function startRun(prompt: string, maxTokens: number): Promise<void> {
  await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 180_000 });
  const before = (await shown()).run;
  await doc.locator('#gen-prompt').fill(prompt);
  await doc.locator('#gen-max').fill(String(maxTokens));
  await expect.poll(async () => doc.locator('#gen-run').getAttribute('disabled'), { timeout: 30_000 }).toBeNull();
  await doc.locator('#gen-run').click();
  await expect.poll(async () => (await shown()).run, { timeout: 10_000 }).not.toBe(before);
}

async function waitDone(timeout: number): Promise<Shown> {
  await expect.poll(async () => (await shown()).state, { timeout, interval: 200 }).not.toBe('running');
  const s = await shown();
  const err = await doc.locator('#gen-error').textContent();
  expect(s.state, `run ended with an error: ${err}`).toBe('done');
  return s;
}

/** The tokens/s the tab shows, read from its text (checked against its data attribute). */
function tokensPerSec(s: Shown): number {
  const m = /· ([\d.]+) tokens\/s/.exec(s.stats);
  expect(m, `no tokens/s in "${s.stats}"`).not.toBeNull();
  expect(m![1]).toBe(s.tokensPerSec);
  return Number(m![1]);
}

/** Runs a reference prompt and checks every value the tab shows against llama2.c's. */
async function expectReference(prompt: string, timeout: number, label: string): Promise<number> {
  const want = expected(prompt);
  const t0 = Date.now();
  await startRun(prompt, want.maxTokens);
  const s = await waitDone(timeout);
  const secs = (Date.now() - t0) / 1000;
  const text = (await doc.locator('#gen-text').textContent()) ?? '';
  expect(await doc.locator('#gen-output .gen-prompt-echo').textContent()).toBe(prompt);
  expect(text).toBe(want.text);
  expect(`${prompt}${text}\n`).toBe(want.stdout);
  expect(s.tokens).toBe(String(want.tokens));
  expect(s.stats).toMatch(new RegExp(`^${want.tokens} tokens · `));
  const tps = tokensPerSec(s);
  expect(tps).toBeGreaterThan(0);
  expect(s.stopReason).toBe(want.reason);
  expect(s.stats).toMatch(want.reason === 'length' ? /· max tokens reached$/ : /· the model ended the text$/);
  console.log(`${label} "${prompt}": ${s.stats} (${secs.toFixed(1)} s in all)`);
  return tps;
}

/**
 * Starts a long run, waits until `minTokens` are shown, then stops it with `press` and
 * checks that it ends promptly: at most one read-back block past the count shown when
 * Stop was pressed (captured in the page as the key or click lands), reason "stopped".
 */
async function expectStops(label: string, how: 'click' | 'escape', press: () => Promise<void>): Promise<void> {
  const maxTokens = 400;
  await startRun('Once upon a time', maxTokens);
  const minTokens = 20;
  await expect.poll(async () => Number((await shown()).tokens ?? 0), { timeout: 180_000, interval: 100 }).toBeGreaterThanOrEqual(minTokens);
  expect((await shown()).state).toBe('running');
  await shot(`${label}-running`);
  // The count shown at the moment the click or the key lands, recorded by the page itself.
  await doc.locator('#gen-stats').evaluate((stats: HTMLElement, on: 'click' | 'escape') => {
    delete stats.dataset.tokensAtStop;
    const record = () => (stats.dataset.tokensAtStop = stats.dataset.tokens);
    if (on === 'click') document.querySelector('#gen-stop-button')!.addEventListener('click', record, { once: true, capture: true });
    else document.addEventListener('keydown', (ev) => ev.key === 'Escape' && record(), { capture: true });
  }, how);
  const t0 = Date.now();
  await press();
  const s = await waitDone(60_000);
  const ms = Date.now() - t0;
  const atPress = Number(await doc.locator('#gen-stats').getAttribute('data-tokens-at-stop'));
  const final = Number(s.tokens);
  console.log(`${label}: ${atPress} tokens shown when pressed, ${final} at the end, ended ${ms} ms later: ${s.stats}`);
  expect(atPress).toBeGreaterThanOrEqual(minTokens);
  expect(final).toBeGreaterThanOrEqual(atPress);
  expect(final).toBeLessThanOrEqual(atPress + READ_BLOCK);
  expect(final).toBeLessThan(maxTokens);
  expect(s.stopReason).toBe('cancelled');
  expect(s.stats).toMatch(new RegExp(`^${final} tokens · .*· stopped$`));
  expect(tokensPerSec(s)).toBeGreaterThan(0);
  // The text shown is the reference's beginning (a stop does not change what came before it).
  const text = (await doc.locator('#gen-text').textContent()) ?? '';
  expect(text.length).toBeGreaterThan(0);
  expect(expected('Once upon a time').text.startsWith(text)).toBe(true);
  expect(await doc.locator('#gen-stop-button').getAttribute('disabled')).not.toBeNull();
  await shot(`${label}-stopped`);
}

describe('Generate tab through the decode loop (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({ name: 'generate', requires: ['models/stories260K.bin', 'models/tok512.bin'] });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('matches llama2.c greedy on the CPU path, with tokens/s and the stop reason', async () => {
    await runCommand(page, 'LLM Playground: Open Playground');
    doc = await findWebview(page, '#generate', { minWidth: 600 });
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    // A fresh profile has the bundled model active: Generate works at once.
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 180_000 });
    // SwiftShader is a software (fallback) adapter, so the CPU path is the default here.
    expect(await doc.locator('#generate-model').innerText()).toMatch(/^stories260K \(bundled\) — CPU, context \d+, llama2c tokenizer$/);
    for (const p of PROMPTS) await expectReference(p, 120_000, 'CPU');
    await shot('cpu');
  }, 600_000);

  it('matches llama2.c greedy on the WebGPU (f32) path', async () => {
    await doc.locator('vscode-tab-header[data-tab="model"]').click();
    await doc.locator('#model-device').selectOption('gpu');
    expect(await doc.locator('#model-device option:checked').textContent()).toMatch(/^WebGPU \(f32\)( — software adapter, ~150× slower)?$/);
    await doc.locator('vscode-button', { hasText: 'Reload with these settings' }).click();
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await expect
      .poll(async () => doc.locator('#generate-model').innerText(), { timeout: 180_000 })
      .toMatch(/^stories260K \(bundled\) — WebGPU \([^)]+\), context \d+, llama2c tokenizer$/);
    await doc.locator('#generate-model[data-ready="true"]').waitFor({ state: 'visible', timeout: 180_000 });
    for (const p of PROMPTS) await expectReference(p, 300_000, 'WebGPU');
    await shot('webgpu');
  }, 900_000);

  it('Stop and Escape end a long WebGPU run within one read-back block; the next run is unaffected', async () => {
    await expectStops('stop-button', 'click', () => doc.locator('#gen-stop-button').click());
    await expectReference('Once upon a time', 300_000, 'WebGPU after Stop');
    await expectStops('escape', 'escape', () => doc.locator('#gen-prompt').press('Escape'));
    await expectReference('Once upon a time', 300_000, 'WebGPU after Escape');
    await shot('after-stop');
  }, 900_000);
});
