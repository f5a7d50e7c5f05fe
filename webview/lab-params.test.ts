/** The decoding lab's field checks and exports (pure): messages name the parameter and its range. */
import { describe, expect, it } from 'vitest';
import { checkBadWords, checkBeamGroups, checkDiversity, checkLogitBias, checkParam, item, PRESETS, presetForm, PROCESSORS, strategyFromForm } from './lab-params';
import { CSV_HEADER, labCsv, labJson, type LabRunExport } from './lab-export';

describe('lab parameters', () => {
  it('checks a value against its range, naming the parameter and the range', () => {
    expect(checkParam('top_p', '0.9', PROCESSORS.top_p.value)).toEqual({ ok: true, value: 0.9 });
    expect(checkParam('top_p', '1', PROCESSORS.top_p.value)).toEqual({ ok: true, value: 1 });
    expect(checkParam('top_p', '0', PROCESSORS.top_p.value)).toEqual({ ok: false, message: 'top_p must be a number in (0, 1]; 0 is too small.' });
    expect(checkParam('top_p', '1.5', PROCESSORS.top_p.value)).toEqual({ ok: false, message: 'top_p must be a number in (0, 1]; 1.5 is too large.' });
    expect(checkParam('temperature', '-1', PROCESSORS.temperature.value)).toEqual({ ok: false, message: 'temperature must be a number in (0, 100]; -1 is too small.' });
    expect(checkParam('top_k', '2.5', PROCESSORS.top_k.value)).toEqual({ ok: false, message: 'top_k must be a whole number from 1 to 1,000,000, not 2.5.' });
    expect(checkParam('min_p', '', PROCESSORS.min_p.value)).toEqual({ ok: false, message: 'min_p: enter a number in [0, 1].' });
    expect(checkParam('eta_cutoff', 'abc', PROCESSORS.eta_cutoff.value)).toEqual({ ok: false, message: 'eta_cutoff must be a number in (0, 1); "abc" is not a number.' });
  });

  it('builds the strategy of every preset; the first bad field stops it', () => {
    for (const p of PRESETS) expect(strategyFromForm(presetForm(p.id)).ok, p.id).toBe(true);
    const topP = strategyFromForm(presetForm('top-p'));
    expect(topP).toEqual({ ok: true, strategy: { label: 'Top-p (p = 0.9)', processors: [{ name: 'top_p', value: 0.9 }], sampler: { kind: 'sample' } } });
    const beam = strategyFromForm(presetForm('beam'));
    expect(beam.ok && beam.strategy.sampler).toEqual({ kind: 'beam', numBeams: 4, numReturnSequences: 4, lengthPenalty: 1, earlyStopping: true });
    const f = presetForm('custom');
    f.chain = [item('temperature', 0.7), item('xtc'), { name: 'top_p', value: '2' }];
    expect(strategyFromForm(f)).toEqual({ ok: false, message: 'top_p must be a number in (0, 1]; 2 is too large.' });
    f.chain[2].value = '0.95';
    const s = strategyFromForm(f);
    expect(s.ok && s.strategy.processors).toEqual([
      { name: 'temperature', value: 0.7 },
      { name: 'xtc', value: 0.1, probability: 0.5 },
      { name: 'top_p', value: 0.95 },
    ]);
    const b = presetForm('beam');
    b.beam.numBeams = '600';
    expect(strategyFromForm(b, 512)).toEqual({ ok: false, message: 'num_beams must be a whole number from 1 to 16; 600 is too large.' });
    expect(strategyFromForm({ ...presetForm('custom'), chain: [{ name: 'nucleus', value: '1' }] })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^Unknown processor "nucleus"; known: .*top_p/),
    });
  });
});

describe('lab list fields and diverse beam search', () => {
  it('logit_bias: "token or id: bias" pairs, ids against the vocabulary, the bias range named', () => {
    expect(checkLogitBias('the: -5, 42: 2, 7 8: -inf, " a,b": 1', 100)).toEqual({
      ok: true,
      bias: { '42': 2, '7,8': null },
      texts: [
        { text: 'the', bias: -5 },
        { text: ' a,b', bias: 1 },
      ],
    });
    expect(checkLogitBias('')).toMatchObject({ ok: false, message: expect.stringMatching(/^logit_bias: enter "token or id: bias" pairs/) });
    expect(checkLogitBias('the -5')).toMatchObject({ ok: false, message: expect.stringMatching(/^logit_bias: "the -5" has no ": bias"/) });
    expect(checkLogitBias('42: 500')).toEqual({ ok: false, message: 'logit_bias bias of "42" must be a number in [-100, 100]; 500 is too large (or -inf to ban).' });
    expect(checkLogitBias('42: x')).toEqual({ ok: false, message: 'logit_bias bias of "42" must be a number in [-100, 100]; "x" is not a number (or -inf to ban).' });
    expect(checkLogitBias('512: 1', 512)).toEqual({ ok: false, message: 'logit_bias: id 512 is outside the vocabulary [0, 512).' });
  });

  it('bad_words_ids: words or id sequences', () => {
    expect(checkBadWords('hello, 13, 7 8')).toEqual({ ok: true, ids: [[13], [7, 8]], words: ['hello'] });
    expect(checkBadWords(' ')).toMatchObject({ ok: false, message: expect.stringMatching(/^bad_words_ids: enter words or id sequences/) });
    expect(checkBadWords('""')).toMatchObject({ ok: false, message: expect.stringMatching(/^bad_words_ids: "\\"\\"" is neither ids nor a token/) });
  });

  it('num_beam_groups divides num_beams; diversity_penalty needs groups', () => {
    expect(checkBeamGroups('2', 4)).toEqual({ ok: true, value: 2 });
    expect(checkBeamGroups('3', 4)).toEqual({ ok: false, message: 'num_beam_groups must divide num_beams (4); 3 does not.' });
    expect(checkBeamGroups('8', 4)).toEqual({ ok: false, message: 'num_beam_groups must be a whole number from 1 to 4; 8 is too large.' });
    expect(checkDiversity('0.5', 2)).toEqual({ ok: true, value: 0.5 });
    expect(checkDiversity('-1', 2)).toEqual({ ok: false, message: 'diversity_penalty must be a number in [0, 100]; -1 is too small.' });
    expect(checkDiversity('0.5', 1)).toEqual({ ok: false, message: 'diversity_penalty must be 0 unless num_beam_groups > 1 (it is 1).' });
  });

  it('strategies carry the lists (texts for the worker) and the beam groups', () => {
    const f = presetForm('beam');
    f.chain = [
      { name: 'logit_bias', value: 'the: -5, 42: 2' },
      { name: 'bad_words_ids', value: '13, dog' },
    ];
    f.beam = { ...f.beam, numBeamGroups: '2', diversityPenalty: '0.5' };
    const s = strategyFromForm(f);
    expect(s.ok && s.strategy.processors).toEqual([
      { name: 'logit_bias', bias: { '42': 2 }, texts: [{ text: 'the', bias: -5 }] },
      { name: 'bad_words_ids', ids: [[13]], words: ['dog'] },
    ]);
    expect(s.ok && s.strategy.sampler).toEqual({
      kind: 'beam',
      numBeams: 4,
      numReturnSequences: 4,
      lengthPenalty: 1,
      earlyStopping: true,
      numBeamGroups: 2,
      diversityPenalty: 0.5,
    });
    f.beam.diversityPenalty = '1';
    f.beam.numBeamGroups = '1';
    expect(strategyFromForm(f)).toEqual({ ok: false, message: 'diversity_penalty must be 0 unless num_beam_groups > 1 (it is 1).' });
    expect(item('logit_bias')).toEqual({ name: 'logit_bias', value: '' });
  });

  it('speculative: a draft model the user has, or an error naming the field', () => {
    const f = presetForm('speculative');
    const load = { modelId: 'm2', name: 'm2.gguf', format: 'gguf' as const, files: [], weights: 'm2.gguf' };
    f.speculative.draftModel = 'm2';
    const s = strategyFromForm(f, undefined, (id) => (id === 'm2' ? load : undefined));
    expect(s.ok && s.strategy.sampler).toEqual({ kind: 'speculative', draftLayers: 3, draftTokens: 4, sample: false, draftModel: load });
    expect(strategyFromForm(f)).toMatchObject({ ok: false, message: expect.stringMatching(/^draft model: "m2" is not a model that can be loaded now/) });
    f.speculative.draftModel = undefined;
    expect(strategyFromForm(f)).toMatchObject({ ok: true, strategy: { sampler: { kind: 'speculative', draftLayers: 3 } } });
  });
});

describe('lab export', () => {
  const run: LabRunExport = {
    prompt: 'Hi',
    promptIds: [1, 5],
    seed: 3,
    maxTokens: 2,
    named: { text: ' a', id: 9 },
    pieces: { '7': ' a,"b"', '8': 'c', '9': ' a' },
    columns: [
      {
        strategy: { label: 'greedy', processors: [], sampler: { kind: 'greedy' } },
        steps: [
          {
            step: 0,
            token: 7,
            text: ' a,"b"',
            inspection: {
              stages: [{ name: 'logits', top: [{ id: 7, prob: 0.75, score: 2 }], surviving: 10, entropy: 0.5 }],
              chosen: { id: 7, rank: 0, prob: 0.75 },
              named: [{ id: 9, before: { rank: 3, prob: 0.01 }, after: null }],
            },
          },
          { step: 1, token: 8, text: 'c', forced: true },
        ],
      },
    ],
  };

  it('CSV: one row per step, quoted where needed, masked named token left empty', () => {
    const lines = labCsv(run).trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER.join(','));
    expect(lines[1]).toBe('1,greedy,0,7," a,""b""",0,0,0.75,0.5,0.5,9,3,0.01,,');
    expect(lines[2]).toBe('1,greedy,1,8,c,1,,,,,,,,,');
    expect(lines).toHaveLength(3);
  });

  it('JSON: the whole run, -Infinity as null', () => {
    const j = JSON.parse(labJson({ ...run, columns: [{ ...run.columns[0], beam: { sequences: [[7]], scores: [-Infinity], texts: ['a'], tree: [] } }] }));
    expect(j.format).toBe('llm-playground decoding lab');
    expect(j.columns[0].steps[0].inspection.chosen).toEqual({ id: 7, rank: 0, prob: 0.75 });
    expect(j.columns[0].beam.scores).toEqual([null]);
  });
});
