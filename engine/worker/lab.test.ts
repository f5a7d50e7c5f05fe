/**
 * The decoding lab's worker handler on the bundled stories260K (CPU backend): a greedy
 * column reproduces llama2.c run.c's greedy ids; every step's inspection chose the id the
 * column generated; a branch replays the parent's ids, takes the alternative and goes on
 * from it (its continuation equals greedy from that prefix); beam search answers with its
 * sequences and a tree whose best path spells the best sequence; bad input is a clear error.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CpuBackend } from '../backend/cpu';
import { loadLlama2cModel } from '../formats/llama2c-model';
import { memorySource } from '../formats/source';
import { generateAll } from '../generate/generate';
import type { LabColumn, LabWorkerMessage, LabWorkerRequest } from '../protocol/lab';
import { tokenizerFromBytes } from '../tokenizer/index';
import { LabRunner, namedToken, withTokenTexts, type LabModel } from './lab';
import { parseWorkerMessage } from '../protocol/index';

const FIX = '../shared/fixtures';
const REFS = JSON.parse(readFileSync(`${FIX}/refs/stories260K.greedy.shared.json`, 'utf8')) as {
  cases: { prompt: string; steps: number; prompt_ids: number[]; generated_ids: number[] }[];
};
const BOS = 1;

async function labModel(): Promise<LabModel> {
  const loaded = await loadLlama2cModel(memorySource(new Uint8Array(readFileSync(`${FIX}/llama2c/stories260K.bin`)), 'stories260K.bin'));
  const tokenizer = tokenizerFromBytes(new Uint8Array(readFileSync('models/tok512.bin')), 'tok512.bin');
  return { backend: new CpuBackend(loaded), tokenizer, stopIds: loaded.config.stopTokenIds ?? loaded.config.eosTokenIds, loaded };
}

/** Runs one lab request to its end; every message goes through the protocol's validator, as the webview does. */
async function runLab(m: LabModel, req: Omit<Extract<LabWorkerRequest, { type: 'labRun' }>, 'type' | 'id'>): Promise<LabWorkerMessage[]> {
  const out: LabWorkerMessage[] = [];
  const lab = new LabRunner(
    (msg) => out.push(parseWorkerMessage(JSON.parse(JSON.stringify(msg))) as LabWorkerMessage),
    () => m,
  );
  await lab.run({ type: 'labRun', id: 7, ...req });
  return out;
}

const steps = (out: LabWorkerMessage[], column: number) => out.filter((x): x is Extract<LabWorkerMessage, { type: 'labStep' }> => x.type === 'labStep' && x.column === column);
const greedy: LabColumn = { strategy: { label: 'greedy', processors: [], sampler: { kind: 'greedy' } } };
const topP: LabColumn = {
  strategy: {
    label: 'top-p',
    processors: [
      { name: 'temperature', value: 0.8 },
      { name: 'top_p', value: 0.9 },
    ],
    sampler: { kind: 'sample' },
  },
};
const beam: LabColumn = { strategy: { label: 'beam', processors: [], sampler: { kind: 'beam', numBeams: 4, numReturnSequences: 4, earlyStopping: true } } };

describe('decoding lab worker handler (stories260K)', () => {
  const c = REFS.cases.find((x) => x.prompt === 'Once upon a time')!;
  const n = 40;

  test('greedy column = llama2.c greedy; each inspection chose the generated id', async () => {
    const m = await labModel();
    const out = await runLab(m, { prompt: c.prompt, seed: 1, maxTokens: n, columns: [greedy, topP], top: 5, named: ' girl' });
    const start = out[0];
    expect(start.type).toBe('labStart');
    if (start.type !== 'labStart') return;
    expect(start.promptIds).toEqual(c.prompt_ids);
    // " girl" is no piece of this 512-token vocabulary: the pinned token is its first piece, " g" (not a bare space)
    expect(m.tokenizer.idToToken(start.named!.id)).toBe(' g');
    expect(namedToken(m.tokenizer, 'ir')).toBe(m.tokenizer.tokenToId('ir'));
    expect(namedToken(m.tokenizer, ' the')).toBe(m.tokenizer.tokenToId(' the') ?? m.tokenizer.tokenToId('▁the'));
    // The panel's token texts become ids: a vocabulary piece alone, else the text's encoding (a sequence).
    const ir = m.tokenizer.tokenToId('ir')!;
    const girl = m.tokenizer.encodeIds(' girl', { addSpecialTokens: false });
    expect(withTokenTexts([{ name: 'logit_bias', bias: { '5': 1 }, texts: [{ text: 'ir', bias: null }] }], m.tokenizer)).toEqual([
      { name: 'logit_bias', bias: { '5': 1, [ir]: null } },
    ]);
    expect(withTokenTexts([{ name: 'bad_words_ids', ids: [[3]], words: [' girl'] }], m.tokenizer)).toEqual([{ name: 'bad_words_ids', ids: [[3], girl] }]);
    const g = steps(out, 0);
    expect(g.map((s) => s.token)).toEqual(c.generated_ids.slice(0, n).filter((id) => id !== BOS));
    expect(g.map((s) => s.step)).toEqual(g.map((_, i) => i));
    for (const col of [0, 1]) {
      for (const s of steps(out, col)) {
        const ins = s.inspection!;
        expect(ins.chosen.id).toBe(s.token);
        expect(ins.stages[0].name).toBe('logits');
        expect(ins.stages.length).toBe(col === 0 ? 1 : 3);
        expect(ins.named).toHaveLength(1);
        expect(s.pieces[s.token]).toBeDefined();
      }
    }
    // greedy: the chosen id is the top candidate of the raw distribution
    for (const s of g) expect(s.inspection!.chosen.rank).toBe(0);
    // the streamed text is the ids' text
    expect(g.map((s) => s.text).join('')).toBe(m.tokenizer.decode(g.map((s) => s.token)).replace(/^ /, ' '));
    const done = out.filter((x) => x.type === 'labColumnDone');
    expect(done.map((d) => d.type === 'labColumnDone' && [d.column, d.error])).toEqual([
      [0, undefined],
      [1, undefined],
    ]);
    expect(out.at(-1)?.type).toBe('labDone');
  });

  test('the same seed gives the same sampled column', async () => {
    const m = await labModel();
    const a = steps(await runLab(m, { prompt: c.prompt, seed: 9, maxTokens: 20, columns: [topP], top: 3 }), 0).map((s) => s.token);
    const b = steps(await runLab(m, { prompt: c.prompt, seed: 9, maxTokens: 20, columns: [topP], top: 3 }), 0).map((s) => s.token);
    expect(a).toEqual(b);
  });

  test('a branch replays the prefix, takes the alternative and continues from it', async () => {
    const m = await labModel();
    const parent = steps(await runLab(m, { prompt: c.prompt, seed: 1, maxTokens: 20, columns: [greedy], top: 5 }), 0);
    const S = 5;
    const alt = parent[S].inspection!.stages[0].top[2].id; // the third most likely id at step S
    expect(alt).not.toBe(parent[S].token);
    const forced = [...parent.slice(0, S).map((s) => s.token), alt];
    const out = await runLab(m, { prompt: c.prompt, seed: 1, maxTokens: 20, columns: [greedy, { ...greedy, forced }], top: 5, only: [1] });
    expect(steps(out, 0)).toHaveLength(0); // only the branch ran
    const b = steps(out, 1);
    expect(b.slice(0, S + 1).map((s) => s.token)).toEqual(forced);
    expect(b.slice(0, S + 1).every((s) => s.forced)).toBe(true);
    // the replayed steps show the parent's distributions, with the forced id as the chosen one
    expect(b[S].inspection!.chosen).toMatchObject({ id: alt, rank: 2 });
    expect(b[S].inspection!.stages[0].top.map((x) => x.id)).toEqual(parent[S].inspection!.stages[0].top.map((x) => x.id));
    expect(b[S - 1].inspection!.stages[0].top[0].prob).toBeCloseTo(parent[S - 1].inspection!.stages[0].top[0].prob, 6);
    // then greedy from the prompt + forced ids
    const cont = await generateAll(m.backend, { promptIds: [...c.prompt_ids, ...forced], maxNewTokens: 20 - forced.length, eosIds: m.stopIds });
    expect(b.slice(S + 1).map((s) => s.token)).toEqual(cont.ids);
    expect(b.map((s) => s.step)).toEqual(b.map((_, i) => i));
  });

  test('beam search: sequences, scores and a tree whose best path spells the best sequence', async () => {
    const m = await labModel();
    const out = await runLab(m, { prompt: c.prompt, seed: 1, maxTokens: 8, columns: [beam], top: 4 });
    const r = out.find((x) => x.type === 'labBeam');
    expect(r?.type).toBe('labBeam');
    if (r?.type !== 'labBeam') return;
    expect(r.sequences).toHaveLength(4);
    expect(r.scores).toHaveLength(4);
    for (let i = 1; i < r.scores.length; i++) expect(r.scores[i]).toBeLessThanOrEqual(r.scores[i - 1]);
    expect(r.texts[0]).toBe(m.tokenizer.decode(r.sequences[0]));
    // walk the tree from the root along the best sequence
    expect(r.tree[0]).toMatchObject({ parent: -1, token: -1 }); // the prompt
    let parent = 0;
    for (const id of r.sequences[0]) {
      const node = r.tree.find((t) => t.parent === parent && t.token === id);
      expect(node, `node for ${id} under ${parent}`).toBeDefined();
      parent = node!.index;
    }
    for (const t of r.tree) if (t.parent >= 0) expect(r.pieces[t.token]).toBeDefined();
    // the best sequence's steps follow, each inspected with its id as the chosen one
    const s = steps(out, 0);
    expect(s.map((x) => x.token)).toEqual(r.sequences[0].filter((id) => !m.stopIds.includes(id)));
    for (const x of s) expect(x.inspection!.chosen.id).toBe(x.token);
  });

  test('speculative decoding (early-exit draft): greedy equals the target greedy; drafted, accepted and rejected per pass', async () => {
    const m = await labModel();
    const spec = (sample: boolean): LabColumn => ({ strategy: { label: 'spec', processors: [], sampler: { kind: 'speculative', draftLayers: 3, draftTokens: 4, sample } } });
    const out = await runLab(m, { prompt: c.prompt, seed: 1, maxTokens: n, columns: [spec(false)], top: 3 });
    const s = steps(out, 0);
    // streamed records, then the same steps again with their inspection
    const streamed = s.filter((x) => !x.inspection);
    const inspected = s.filter((x) => x.inspection);
    const want = c.generated_ids.slice(0, n).filter((id) => id !== BOS);
    expect(streamed.map((x) => x.token)).toEqual(want);
    expect(inspected.map((x) => x.token)).toEqual(want);
    for (const x of inspected) expect(x.inspection!.chosen.id).toBe(x.token);
    expect(inspected.map((x) => x.text).join('')).toBe(streamed.map((x) => x.text).join(''));
    const passes = streamed.filter((x) => x.drafted);
    expect(passes.length).toBeGreaterThan(1);
    expect(passes.length).toBeLessThan(want.length); // some drafts were accepted
    let k = 0;
    for (const p of passes) {
      expect(p.step).toBe(k);
      expect(p.drafted!.accepted).toBeLessThanOrEqual(p.drafted!.tokens.length);
      // the accepted drafted ids are the ids taken
      expect(want.slice(k, k + p.drafted!.accepted)).toEqual(p.drafted!.tokens.slice(0, p.drafted!.accepted));
      k += p.drafted!.accepted + 1;
    }
    expect(inspected.filter((x) => x.drafted).map((x) => x.drafted)).toEqual(passes.map((x) => x.drafted));
    // sampled: runs, same seed same ids
    const a = steps(await runLab(m, { prompt: c.prompt, seed: 5, maxTokens: 16, columns: [spec(true)], top: 3 }), 0).filter((x) => !x.inspection);
    const b = steps(await runLab(m, { prompt: c.prompt, seed: 5, maxTokens: 16, columns: [spec(true)], top: 3 }), 0).filter((x) => !x.inspection);
    expect(a.map((x) => x.token)).toEqual(b.map((x) => x.token));
    // a draft as deep as the model is refused, naming the parameter and the range
    const bad = await runLab(m, {
      prompt: c.prompt,
      seed: 1,
      maxTokens: 4,
      columns: [{ strategy: { ...spec(false).strategy, sampler: { kind: 'speculative', draftLayers: 5, draftTokens: 4, sample: false } } }],
      top: 3,
    });
    expect(bad.find((x) => x.type === 'labColumnDone')).toMatchObject({ error: 'draft_layers must be a whole number from 1 to 4 (the model has 5 layers), got 5' });
  });

  test('speculative decoding with a second model as the draft: greedy equals the target greedy; another vocabulary is refused', async () => {
    const m = await labModel();
    const n = 24;
    // The "other model": the same weights with their last layers dropped, read through the loader as a registered model would be.
    const asked: string[] = [];
    const other = async (vocabSize: number) => {
      const d = await labModel();
      return { ...d.loaded!, config: { ...d.loaded!.config, numLayers: 4, vocabSize } };
    };
    const draftSpec = { modelId: 'other', name: 'other.bin', format: 'llama2c' as const, files: [{ name: 'other.bin', size: 1, role: 'weights' as const }], weights: 'other.bin' };
    const run = async (vocabSize: number) => {
      const out: LabWorkerMessage[] = [];
      const lab = new LabRunner(
        (msg) => out.push(parseWorkerMessage(JSON.parse(JSON.stringify(msg))) as LabWorkerMessage),
        () => m,
        undefined,
        async (spec) => (asked.push(spec.modelId), other(vocabSize)),
      );
      const col: LabColumn = {
        strategy: { label: 'spec', processors: [], sampler: { kind: 'speculative', draftLayers: 3, draftTokens: 4, sample: false, draftModel: draftSpec } },
      };
      await lab.run({ type: 'labRun', id: 7, prompt: c.prompt, seed: 1, maxTokens: n, columns: [col], top: 3 });
      return out;
    };
    const out = await run(512);
    expect(asked).toEqual(['other']);
    const want = c.generated_ids.slice(0, n).filter((id) => id !== BOS);
    expect(
      steps(out, 0)
        .filter((x) => !x.inspection)
        .map((x) => x.token),
    ).toEqual(want);
    expect(steps(out, 0).some((x) => x.drafted && x.drafted.accepted > 0)).toBe(true);
    const bad = await run(600);
    expect(bad.find((x) => x.type === 'labColumnDone')).toMatchObject({
      error: 'The draft model other.bin has a vocabulary of 600 tokens and the loaded model has 512: speculative decoding needs the same vocabulary.',
    });
  });

  test('bad input: a clear error naming the parameter and its range', async () => {
    const m = await labModel();
    const bad = async (col: LabColumn) => {
      const out = await runLab(m, { prompt: 'Hi', seed: 1, maxTokens: 4, columns: [col], top: 3 });
      const d = out.find((x) => x.type === 'labColumnDone');
      return d?.type === 'labColumnDone' ? (d.error ?? '') : '';
    };
    expect(await bad({ strategy: { label: 'x', processors: [{ name: 'top_p', value: 1.5 }], sampler: { kind: 'sample' } } })).toMatch(/top_p.*\(0, 1\]|top_p/);
    expect(await bad({ strategy: { label: 'x', processors: [{ name: 'temperature', value: -1 }], sampler: { kind: 'sample' } } })).toMatch(/temperature/);
    expect(await bad({ strategy: { label: 'x', processors: [{ name: 'nucleus', value: 1 }], sampler: { kind: 'sample' } } })).toMatch(/unknown processor "nucleus".*top_p/);
    expect(await bad({ strategy: { label: 'x', processors: [], sampler: { kind: 'beam', numBeams: 100_000 } } })).toMatch(/num_beams/);
    const out = await runLab(m, { prompt: 'Hi', seed: 1, maxTokens: 10_000, columns: [greedy], top: 3 });
    expect(out).toEqual([{ type: 'labError', id: 7, message: expect.stringMatching(/maxTokens must be a whole number from 1 to 512/) }]);
    const none = new LabRunner(
      (x) => expect(x).toEqual({ type: 'labError', id: 1, message: 'No model is loaded yet.' }),
      () => 'No model is loaded yet.',
    );
    await none.run({ type: 'labRun', id: 1, prompt: 'x', seed: 1, maxTokens: 1, columns: [greedy], top: 1 });
  });

  test('labStop ends the run: the column says cancelled', async () => {
    const m = await labModel();
    const out: LabWorkerMessage[] = [];
    let lab: LabRunner;
    lab = new LabRunner(
      (msg) => {
        out.push(msg);
        if (msg.type === 'labStep' && msg.step === 2) lab.handle({ type: 'labStop', id: 3 });
      },
      () => m,
    );
    await lab.run({ type: 'labRun', id: 3, prompt: c.prompt, seed: 1, maxTokens: 50, columns: [greedy, greedy], top: 2 });
    const done = out.filter((x) => x.type === 'labColumnDone');
    expect(done.map((d) => d.type === 'labColumnDone' && d.stopReason)).toEqual(['cancelled', 'cancelled']);
    expect(steps(out, 0).length).toBeLessThanOrEqual(4);
    expect(steps(out, 1)).toHaveLength(0);
  });
});
