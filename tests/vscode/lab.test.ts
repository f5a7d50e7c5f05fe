/**
 * The Decoding tab (the decoding lab) in real VS Code (code-server) on the bundled
 * stories260K: greedy, top-p and beam search side by side on one prompt and seed — the
 * greedy column's text equals llama2.c's greedy text, each step's debugger shows the id
 * the column took, the beam column lists its returned beams and draws its tree along the
 * best one; a branch from an alternative token replays the prefix, takes the token and
 * continues greedily from it (checked against the engine run here); a bad parameter
 * disables Run with the parameter and its range beside it; the run survives a tab switch;
 * speculative decoding (greedy, early-exit draft) gives greedy's ids with its drafted tokens
 * marked and the acceptance rate; the CSV export goes through the save dialog, which asks
 * before replacing a file; after a window reload the run comes back from the webview state.
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
import { loadLlama2cModel } from '../../engine/formats/llama2c-model';
import { memorySource } from '../../engine/formats/source';
import { CpuBackend } from '../../engine/backend/cpu';
import { generateAll } from '../../engine/generate/generate';
import { findWebview, openWorkbench, RESULTS, runCommand, type Workbench } from './workbench';

const REF = JSON.parse(fs.readFileSync(path.resolve(repoRoot, '../shared/fixtures/refs/stories260K.greedy.shared.json'), 'utf8')) as {
  cases: { prompt: string; prompt_ids: number[]; generated_ids: number[] }[];
};
const TOK = tokenizerFromBytes(new Uint8Array(fs.readFileSync(path.join(repoRoot, 'models/tok512.bin'))), 'tok512.bin');
const PROMPT = 'Once upon a time';
const N = 24;
const BOS = 1;

/** The text the engine streams for these ids after the prompt. */
function textOf(promptIds: number[], ids: number[]): string {
  const dec = TOK.createStreamDecoder({ context: promptIds });
  return ids.map((id) => dec.push(id)).join('') + dec.flush();
}

let wb: Workbench | undefined;
let page: Page;
let doc: FrameLocator;
const shot = (name: string) => page.screenshot({ path: path.join(RESULTS, `vscode-lab-${name}.png`) });

const state = (col: number) => doc.locator(`#lab-status-${col}`).getAttribute('data-state');
const tokensOf = async (col: number) => (await doc.locator(`#lab-text-${col} .lab-tok`).evaluateAll((es) => es.map((e) => Number((e as HTMLElement).dataset.token)))) as number[];

async function waitColumns(cols: number[], timeout = 180_000): Promise<void> {
  for (const c of cols) await expect.poll(() => state(c), { timeout, interval: 250 }).toBe('done');
}

describe('Decoding tab (code-server)', () => {
  beforeAll(async () => {
    wb = await openWorkbench({ name: 'lab', requires: ['models/stories260K.bin', 'models/tok512.bin'] });
    page = wb.page;
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') wb?.markFailed();
  });

  afterAll(() => wb?.close());

  it('greedy, top-p and beam side by side; greedy equals llama2.c; the beam tree', async () => {
    await runCommand(page, 'LLM Playground: Open Decoding Lab');
    doc = await findWebview(page, '#lab', { minWidth: 600 });
    // the command brings the Decoding tab to the front (clicking it too, in case the webview said `ready` late)
    await doc.locator('vscode-tab-header[data-tab="lab"]').click();
    await expect.poll(async () => doc.locator('#tabs').getAttribute('selected-index'), { timeout: 30_000 }).toBe('4');
    // the default columns: greedy, top-p, beam search
    expect(await doc.locator('#lab-label-0').textContent()).toBe('1. Greedy');
    expect(await doc.locator('#lab-label-1').textContent()).toBe('2. Top-p (p = 0.9)');
    expect(await doc.locator('#lab-label-2').textContent()).toBe('3. Beam search (4 beams)');
    expect(await doc.locator('#lab-explain-1').textContent()).toMatch(/smallest set of tokens whose probabilities add up to p/);
    await doc.locator('#lab-prompt').fill(PROMPT);
    await doc.locator('#lab-max').fill(String(N));
    await doc.locator('#lab-seed').fill('42');
    await doc.locator('#lab-named').fill(' girl');
    // once the bundled model is loaded, Run is enabled
    await expect.poll(async () => doc.locator('#lab-run').getAttribute('disabled'), { timeout: 180_000 }).toBeNull();
    // a bad parameter: Run is disabled with the parameter and its range beside it
    await doc.locator('#lab-p-1-0').fill('1.5');
    expect(await doc.locator('#lab-p-1-0-error').textContent()).toBe('top_p must be a number in (0, 1]; 1.5 is too large.');
    expect(await doc.locator('#lab-run').getAttribute('disabled')).not.toBeNull();
    expect(await doc.locator('#lab-why').textContent()).toBe('Column 2: top_p must be a number in (0, 1]; 1.5 is too large.');
    await shot('invalid');
    await doc.locator('#lab-p-1-0').fill('0.9');
    await expect.poll(async () => doc.locator('#lab-run').getAttribute('disabled')).toBeNull();
    await doc.locator('#lab-run').click();
    await waitColumns([0, 1, 2]);

    const ref = REF.cases.find((c) => c.prompt === PROMPT)!;
    const want = ref.generated_ids.slice(0, N).filter((id) => id !== BOS);
    expect(await tokensOf(0)).toEqual(want);
    expect(await doc.locator('#lab-text-0').textContent()).toBe(textOf(ref.prompt_ids, want));
    expect(await doc.locator('#lab-status-0').getAttribute('data-tokens')).toBe(String(want.length));
    const sampled = await tokensOf(1);
    expect(sampled.length).toBeGreaterThan(0);
    expect(await doc.locator('#lab-entropy-0 .lab-ent').count()).toBe(want.length);

    // the step debugger at step 6: the chosen id is the one the column took; top-p's chain has two stages
    await doc.locator('#lab-scrub').focus();
    await doc.locator('#lab-scrub').fill('5');
    await expect.poll(async () => doc.locator('#lab-inspect-0').getAttribute('data-step')).toBe('5');
    expect(await doc.locator('#lab-inspect-0 .lab-chosen').getAttribute('data-id')).toBe(String(want[5]));
    expect(await doc.locator('#lab-inspect-0 .lab-chosen').getAttribute('data-rank')).toBe('0');
    expect(await doc.locator('#lab-inspect-1 .lab-chosen').getAttribute('data-id')).toBe(String(sampled[5]));
    expect(await doc.locator('#lab-inspect-1 .lab-stage').count()).toBe(2);
    expect(await doc.locator('#lab-inspect-0 .lab-stage').first().getAttribute('data-stage')).toBe('logits');
    expect(await doc.locator('#lab-inspect-0 .lab-stage').first().locator('.lab-bar').count()).toBe(8);
    // the pinned token " girl"
    const girl = TOK.tokenToId(' g') ?? TOK.tokenToId('▁g'); // " girl" is no piece of the 512-token vocabulary: its first piece
    expect(girl).toBeDefined();
    expect(await doc.locator('#lab-inspect-0 .lab-named').getAttribute('data-id')).toBe(String(girl));
    // the keyboard moves the scrubber
    await doc.locator('#lab-scrub').press('ArrowRight');
    await expect.poll(async () => doc.locator('#lab-inspect-0').getAttribute('data-step')).toBe('6');
    await shot('columns');
    // the Tour's picture: the step row at the top, the three columns' texts and debuggers below
    await doc.locator('#lab-scrub').evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await shot('tour');

    // beam search: four returned beams, best first, and the tree along the best one
    const scores = await doc.locator('#lab-seqs-2 li').evaluateAll((es) => es.map((e) => Number((e as HTMLElement).dataset.score)));
    expect(scores).toHaveLength(4);
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeLessThanOrEqual(scores[i - 1]);
    const beamTokens = await tokensOf(2);
    expect(beamTokens.length).toBeGreaterThan(0);
    const bestPath = await doc
      .locator('#lab-tree-2 g.node.best')
      .evaluateAll((es) => es.map((e) => ({ step: Number(e.getAttribute('data-step')), token: Number(e.getAttribute('data-token')) })).sort((a, b) => a.step - b.step));
    expect(bestPath[0].token).toBe(-1); // the prompt
    expect(bestPath.slice(1).map((n) => n.token)).toEqual(beamTokens);
    expect(await doc.locator('#lab-tree-2 g.node').count()).toBeGreaterThan(beamTokens.length * 2);
    await doc.locator('#lab-tree-2').scrollIntoViewIfNeeded();
    await shot('beam-tree');
  }, 600_000);

  it('a branch from an alternative token replays the prefix and continues from it', async () => {
    await doc.locator('#lab-scrub').fill('5');
    await expect.poll(async () => doc.locator('#lab-inspect-0').getAttribute('data-step')).toBe('5');
    const greedyIds = await tokensOf(0);
    const alt = doc.locator('#lab-inspect-0 .lab-stage').first().locator('.lab-bar').nth(1); // the second most likely
    const altId = Number(await alt.getAttribute('data-id'));
    expect(altId).not.toBe(greedyIds[5]);
    await alt.focus();
    await alt.press('Enter');
    await expect.poll(async () => doc.locator('#lab-col-3').count(), { timeout: 10_000 }).toBe(1);
    expect(await doc.locator('#lab-label-3').textContent()).toMatch(/^4\. Greedy ↳ step 6 "/);
    await waitColumns([3]);
    const branch = await tokensOf(3);
    expect(branch.slice(0, 6)).toEqual([...greedyIds.slice(0, 5), altId]);
    expect(await doc.locator('#lab-text-3 .lab-tok.forced').count()).toBe(6);
    // what follows is greedy from the prompt and the forced ids (the engine, run here on the CPU)
    const ref = REF.cases.find((c) => c.prompt === PROMPT)!;
    const loaded = await loadLlama2cModel(memorySource(new Uint8Array(fs.readFileSync(path.join(repoRoot, 'models/stories260K.bin'))), 'stories260K.bin'));
    const forced = branch.slice(0, 6);
    const cont = await generateAll(new CpuBackend(loaded), { promptIds: [...ref.prompt_ids, ...forced], maxNewTokens: N - forced.length });
    expect(branch.slice(6)).toEqual(cont.ids);
    expect(await doc.locator('#lab-text-3').textContent()).toBe(textOf(ref.prompt_ids, branch));
    // the other columns kept their results
    expect(await tokensOf(0)).toEqual(greedyIds);
    // step 6 of the branch: the alternative is the chosen one, at the rank it had
    expect(await doc.locator('#lab-inspect-3 .lab-chosen').getAttribute('data-id')).toBe(String(altId));
    expect(await doc.locator('#lab-inspect-3 .lab-chosen').getAttribute('data-rank')).toBe('1');
    // four columns: Add column is disabled and says why
    expect(await doc.locator('#lab-add').getAttribute('disabled')).not.toBeNull();
    expect(await doc.locator('#lab-add-why').textContent()).toBe('At most 4 columns: remove one (its ✕) to add or branch.');
    await shot('branch');
    // the run survives switching tabs
    await doc.locator('vscode-tab-header[data-tab="generate"]').click();
    await doc.locator('vscode-tab-header[data-tab="lab"]').click();
    expect(await tokensOf(3)).toEqual(branch);
    expect(await tokensOf(0)).toEqual(greedyIds);
  }, 600_000);

  it('speculative decoding: drafted tokens marked accepted or rejected, the acceptance rate, the greedy text', async () => {
    await doc.locator('#lab-col-3 button[aria-label="Remove column 4"]').click();
    await expect.poll(async () => doc.locator('#lab-col-3').count()).toBe(0);
    await doc.locator('#lab-preset-2').selectOption('speculative');
    expect(await doc.locator('#lab-explain-2').textContent()).toMatch(/first layers drafts 4 tokens/);
    // the draft list starts on the early-exit draft
    expect(await doc.locator('#lab-dm-2').inputValue()).toBe('');
    expect(await doc.locator('#lab-dm-2 option').first().textContent()).toMatch(/^early exit/);
    // a list field: logit_bias pairs checked as typed, the message naming the parameter
    await doc.locator('#lab-addp-2').selectOption('logit_bias');
    await doc.locator('#lab-p-2-0').fill('the -5');
    expect(await doc.locator('#lab-p-2-0-error').textContent()).toMatch(/^logit_bias: "the -5" has no ": bias"/);
    await doc.locator('#lab-p-2-0').fill('the: -5');
    expect(await doc.locator('#lab-p-2-0-error').textContent()).toBe('');
    await doc.locator('#lab-col-2 button[aria-label="Remove logit_bias"]').click();
    await doc.locator('#lab-dl-2').fill('9');
    expect(await doc.locator('#lab-dl-2-error').textContent()).toBe('');
    await doc.locator('#lab-dt-2').fill('0');
    expect(await doc.locator('#lab-dt-2-error').textContent()).toBe('draft_tokens must be a whole number from 1 to 16; 0 is too small.');
    expect(await doc.locator('#lab-why').textContent()).toBe('Column 3: draft_tokens must be a whole number from 1 to 16; 0 is too small.');
    await doc.locator('#lab-dt-2').fill('4');
    // a draft as deep as the model: the worker's message names the parameter and the range
    await doc.locator('#lab-run').click();
    await waitColumns([0, 1]);
    await expect.poll(() => state(2), { timeout: 60_000 }).toBe('error');
    expect(await doc.locator('#lab-col-error-2').textContent()).toBe('draft_layers must be a whole number from 1 to 4 (the model has 5 layers), got 9');
    await doc.locator('#lab-dl-2').fill('3');
    await doc.locator('#lab-run').click();
    await waitColumns([0, 1, 2]);
    const ref = REF.cases.find((c) => c.prompt === PROMPT)!;
    const want = ref.generated_ids.slice(0, N).filter((id) => id !== BOS);
    // greedy speculative decoding gives the target's greedy text
    expect(await tokensOf(2)).toEqual(want);
    const status = doc.locator('#lab-status-2');
    const [passes, drafted, accepted] = await Promise.all(['data-passes', 'data-drafted', 'data-accepted'].map(async (a) => Number(await status.getAttribute(a))));
    expect(passes).toBeGreaterThan(1);
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(drafted);
    expect(await status.textContent()).toContain(
      `drafted ${drafted}, accepted ${accepted}, rejected ${drafted - accepted} (acceptance ${((100 * accepted) / drafted).toFixed(0)}%)`,
    );
    expect(await doc.locator('#lab-text-2 .lab-tok.accepted').count()).toBe(accepted);
    expect(await doc.locator('#lab-text-2 .lab-tok.target').count()).toBe(passes);
    if (accepted < drafted) expect(await doc.locator('#lab-text-2 .lab-rej').count()).toBeGreaterThan(0);
    await doc.locator('#lab-text-2').scrollIntoViewIfNeeded();
    await shot('speculative');
  }, 600_000);

  it('exports the run as CSV through the save dialog, and asks before replacing the file', async () => {
    const widget = page.locator('.quick-input-widget');
    const input = widget.locator('.quick-input-box input');
    await doc.locator('#lab-export-csv').click();
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await expect.poll(async () => input.inputValue(), { timeout: 15_000 }).toMatch(/decoding-lab\.csv$/);
    await input.press('Enter');
    await expect.poll(async () => doc.locator('#lab-note').textContent(), { timeout: 15_000 }).toMatch(/^Saved .*decoding-lab\.csv$/);
    const saved = ((await doc.locator('#lab-note').textContent()) ?? '').replace(/^Saved /, '');
    const lines = fs.readFileSync(saved, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(
      'column,strategy,step,token_id,token,forced,chosen_rank,chosen_prob,entropy_logits,entropy_final,named_id,named_rank_before,named_prob_before,named_rank_after,named_prob_after',
    );
    const ref = REF.cases.find((c) => c.prompt === PROMPT)!;
    const want = ref.generated_ids.slice(0, N).filter((id) => id !== BOS);
    const greedyRows = lines.slice(1).filter((l) => l.startsWith('1,Greedy,'));
    expect(greedyRows.map((l) => Number(l.split(',')[3]))).toEqual(want);
    // again: the dialog asks before it replaces the file
    fs.writeFileSync(saved, 'keep me\n');
    await doc.locator('#lab-export-csv').click();
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await input.press('Enter');
    // code-server's file dialog asks in its own title, with OK and Cancel
    await expect.poll(async () => widget.innerText(), { timeout: 15_000 }).toMatch(/decoding-lab\.csv already exists\. Are you sure you want to overwrite it\?/);
    await shot('export-replace');
    await widget.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    await page.waitForTimeout(500);
    for (let i = 0; i < 3 && (await input.isVisible()); i++) {
      await input.press('Escape');
      await page.waitForTimeout(300);
    }
    await expect.poll(async () => doc.locator('#lab-note').textContent(), { timeout: 15_000 }).toBe('Export cancelled.');
    expect(fs.readFileSync(saved, 'utf8')).toBe('keep me\n');
  }, 300_000);

  it('after a window reload the tab shows the kept run: the columns, the step and its debugger view', async () => {
    const before = await Promise.all([0, 1, 2].map((c) => tokensOf(c)));
    const step = await doc.locator('#lab-scrub').inputValue();
    const chosen = await doc.locator('#lab-inspect-1 .lab-chosen').textContent();
    await runCommand(page, 'Developer: Reload Window', { waitHidden: false });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 120_000 });
    await page.locator('.tabs-container .tab', { hasText: 'LLM Playground' }).first().click({ timeout: 60_000 });
    await page.mouse.move(700, 880);
    doc = await findWebview(page, '#lab', { minWidth: 600 });
    await expect.poll(async () => doc.locator('#tabs').getAttribute('selected-index'), { timeout: 30_000 }).toBe('4');
    await expect.poll(async () => Promise.all([0, 1, 2].map((c) => tokensOf(c))), { timeout: 60_000 }).toEqual(before);
    expect(await doc.locator('#lab-scrub').inputValue()).toBe(step);
    expect(await doc.locator('#lab-inspect-1 .lab-chosen').textContent()).toBe(chosen);
    expect(await doc.locator('#lab-label-2').textContent()).toBe('3. Speculative (early-exit draft)');
    expect(await doc.locator('#lab-prompt').inputValue()).toBe(PROMPT);
    await shot('after-reload');
  }, 300_000);
});
