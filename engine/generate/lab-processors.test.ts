/**
 * The lab's processors (penalties.ts, llamacpp.ts), the chain from specs (chain.ts) and
 * the step debugger's records (inspect.ts), on small hand-checked rows.
 */
import { describe, expect, test } from 'vitest';
import { hfOrder, PROCESSOR_NAMES, processorsFromSpecs, UnknownProcessorError, type ProcessorSpec } from './chain';
import { inspectStep } from './inspect';
import { DryProcessor, MirostatV2Processor, TopNSigmaProcessor, XtcProcessor } from './llamacpp';
import { BadWordsProcessor, FrequencyPresencePenaltyProcessor, LogitBiasProcessor, MinNewTokensProcessor } from './penalties';
import { ParameterRangeError } from './processors';
import { softmax } from './samplers';

const run = (p: { process(ids: readonly number[], s: Float32Array): void }, row: number[], ids: number[] = []) => {
  const s = Float32Array.from(row);
  p.process(ids, s);
  return [...s];
};
const ctx = { vocabSize: 5, eosIds: [4], promptLength: 2 };

describe('penalties', () => {
  test('frequency / presence (OpenAI): count and presence of generated ids only', () => {
    // prompt [0, 0], generated [1, 1, 2]
    expect(run(new FrequencyPresencePenaltyProcessor(0.5, 0, 2), [1, 1, 1, 1], [0, 0, 1, 1, 2])).toEqual([1, 0, 0.5, 1]);
    expect(run(new FrequencyPresencePenaltyProcessor(0, 0.25, 2), [1, 1, 1, 1], [0, 0, 1, 1, 2])).toEqual([1, 0.75, 0.75, 1]);
    expect(run(new FrequencyPresencePenaltyProcessor(-1, 0, 0), [0, 0], [1])).toEqual([0, 1]);
  });

  test('logit bias: single ids always, sequences when the ids end with their prefix', () => {
    const p = new LogitBiasProcessor(
      [
        { ids: [1], bias: 2 },
        { ids: [3, 0], bias: -Infinity },
      ],
      4,
    );
    expect(run(p, [0, 0, 0, 0], [2])).toEqual([0, 2, 0, 0]);
    expect(run(p, [0, 0, 0, 0], [2, 3])).toEqual([-Infinity, 2, 0, 0]);
  });

  test('bad words and min_new_tokens (Hugging Face)', () => {
    const bw = new BadWordsProcessor([[2], [0, 1]], 4);
    expect(run(bw, [0, 0, 0, 0], [3])).toEqual([0, 0, -Infinity, 0]);
    expect(run(bw, [0, 0, 0, 0], [3, 0])).toEqual([0, -Infinity, -Infinity, 0]);
    const mn = new MinNewTokensProcessor(2, [3], 1);
    expect(run(mn, [0, 0, 0, 0], [5, 1])).toEqual([0, 0, 0, -Infinity]); // 1 new id < 2
    expect(run(mn, [0, 0, 0, 0], [5, 1, 1])).toEqual([0, 0, 0, 0]);
  });
});

describe("llama.cpp's samplers", () => {
  test('top-n-sigma keeps scores ≥ max − n·σ', () => {
    // mean 1, σ = √2 (population): cut 3 − 1·1.414 = 1.586
    expect(run(new TopNSigmaProcessor(1), [-1, 0, 1, 2, 3])).toEqual([-Infinity, -Infinity, -Infinity, 2, 3]);
    expect(run(new TopNSigmaProcessor(1), [-Infinity, 0, 1, 2, 3]).slice(0, 2)).toEqual([-Infinity, -Infinity]); // masked ids left out of σ
  });

  test('XTC removes every token above the threshold but the least probable one (probability 1)', () => {
    const row = [Math.log(0.4), Math.log(0.3), Math.log(0.2), Math.log(0.1)];
    expect(run(new XtcProcessor(0.15, 1), row).map((x) => x === -Infinity)).toEqual([true, true, false, false]);
    expect(run(new XtcProcessor(0.5, 1), row).some((x) => x === -Infinity)).toBe(false); // only one token ≥ 0.5: nothing
    expect(run(new XtcProcessor(0.15, 0), row).some((x) => x === -Infinity)).toBe(false); // never triggers
  });

  test('DRY penalises the id that would extend a repeat, by multiplier · base^(n − allowed)', () => {
    // ids 0 1 2 3 0 1 2: a repeat of "0 1 2" (n = 3) is extended by 3.
    const s = run(new DryProcessor(1, 2, 2), [0, 0, 0, 0, 0], [0, 1, 2, 3, 0, 1, 2]);
    expect(s[3]).toBeCloseTo(-(2 ** (3 - 2)), 6);
    expect(s.filter((_, i) => i !== 3)).toEqual([0, 0, 0, 0]);
    // A sequence breaker (2) ends the match: nothing is long enough.
    expect(run(new DryProcessor(1, 2, 2, 0, [2]), [0, 0, 0, 0, 0], [0, 1, 2, 3, 0, 1, 2])).toEqual([0, 0, 0, 0, 0]);
  });

  test('Mirostat v2 masks surprise > mu, moves mu after each pick, and starts over on a new sequence', () => {
    const row = [Math.log(0.5), Math.log(0.25), Math.log(0.125), Math.log(0.125)]; // surprises 1, 2, 3, 3 bits
    const m = new MirostatV2Processor(1.05, 0.5); // mu = 2.1
    expect(run(m, row, [9]).map((x) => x === -Infinity)).toEqual([false, false, true, true]);
    // Picked id 1: renormalised p = 1/3, surprise log2 3 ≈ 1.585 → mu = 2.1 − 0.5·(1.585 − 1.05)
    run(m, row, [9, 1]);
    expect(m.targetSurprise).toBeCloseTo(2.1 - 0.5 * (Math.log2(3) - 1.05), 6);
    run(m, row, [7]); // not the previous ids + 1: a new generation
    expect(m.targetSurprise).toBe(2.1);
  });
});

describe('chain from specs', () => {
  test('every name builds; the default order is Hugging Face’s', () => {
    const specs: ProcessorSpec[] = [
      { name: 'top_p', value: 0.9 },
      { name: 'temperature', value: 0.7 },
      { name: 'repetition_penalty', value: 1.1 },
      { name: 'top_k', value: 3 },
    ];
    expect(hfOrder(specs).map((s) => s.name)).toEqual(['repetition_penalty', 'temperature', 'top_k', 'top_p']);
    const all: ProcessorSpec[] = Object.keys(PROCESSOR_NAMES).map((name) =>
      name === 'logit_bias'
        ? { name, bias: { '1': 1 } }
        : name === 'bad_words_ids'
          ? { name, ids: [[2]] }
          : { name, value: name === 'top_k' || name.includes('size') || name === 'min_new_tokens' ? 2 : 0.5 },
    );
    const ps = processorsFromSpecs(all, ctx);
    expect(ps).toHaveLength(all.length);
    const s = Float32Array.from([1, 2, 3, 0, -1]);
    for (const p of ps) p.process([0, 1, 2], s);
    expect([...s].some((x) => x !== -Infinity)).toBe(true);
  });

  test('the listed order is the applied order', () => {
    const a = processorsFromSpecs(
      [
        { name: 'top_k', value: 1 },
        { name: 'logit_bias', bias: { '0': 10 } },
      ],
      ctx,
    );
    const b = processorsFromSpecs(
      [
        { name: 'logit_bias', bias: { '0': 10 } },
        { name: 'top_k', value: 1 },
      ],
      ctx,
    );
    expect(run({ process: (i, s) => a.forEach((p) => p.process(i, s)) }, [0, 5, 0, 0, 0]).map((x) => x === -Infinity)).toEqual([true, false, true, true, true]); // top-k first: the bias lands on a masked id
    expect(run({ process: (i, s) => b.forEach((p) => p.process(i, s)) }, [0, 5, 0, 0, 0]).map((x) => x !== -Infinity)).toEqual([true, false, false, false, false]);
  });

  test('errors name the parameter (the spec key) and its range', () => {
    const bad = (spec: ProcessorSpec) => () => processorsFromSpecs([spec], ctx);
    expect(bad({ name: 'top_p', value: 0 })).toThrow(/top_p must be a number in \(0, 1\], got 0/);
    expect(bad({ name: 'top_p', value: 1.5 })).toThrow(/top_p must be a number in \(0, 1\]/);
    expect(bad({ name: 'temperature', value: -1 })).toThrow(/temperature must be a number > 0/);
    expect(bad({ name: 'frequency_penalty', value: 3 })).toThrow(/frequency_penalty must be a number in \[-2, 2\]/);
    expect(bad({ name: 'xtc', value: 0.1, probability: 2 })).toThrow(/xtc.probability must be a number in \[0, 1\]/);
    expect(bad({ name: 'mirostat_v2', value: 0 })).toThrow(/mirostat_v2.tau must be a number > 0/);
    expect(bad({ name: 'logit_bias', bias: { '9': 1 } })).toThrow(/logit_bias must be token ids in \[0, 5\)/);
    expect(bad({ name: 'top_k' })).toThrow(ParameterRangeError);
    expect(bad({ name: 'nucleus', value: 0.9 })).toThrow(UnknownProcessorError);
    expect(bad({ name: 'nucleus', value: 0.9 })).toThrow(/unknown processor "nucleus"; known processors: logit_bias, .*top_p/);
  });
});

describe('inspectStep', () => {
  test('stages, survivors, entropy, the chosen id and named ids before and after', () => {
    const logits = Float32Array.from([2, 1, 0, -1, -2]);
    const ps = processorsFromSpecs(
      [
        { name: 'temperature', value: 0.5 },
        { name: 'top_k', value: 2 },
      ],
      ctx,
    );
    const r = inspectStep([0], logits, ps, 1, { top: 3, named: [4, 0] });
    expect(r.stages.map((s) => s.name)).toEqual(['logits', 'temperature 0.5', 'top-k 2']);
    expect(r.stages.map((s) => s.surviving)).toEqual([5, 5, 2]);
    const p0 = softmax(logits);
    expect(r.stages[0].top.map((c) => c.id)).toEqual([0, 1, 2]);
    expect(r.stages[0].top[0].prob).toBeCloseTo(p0[0], 12);
    expect(r.stages[0].entropy).toBeCloseTo(-[...p0].reduce((a, p) => a + p * Math.log(p), 0), 12);
    const pAfter = 1 / (1 + Math.exp(2)); // softmax([4, 2])[1]
    expect(r.chosen.rank).toBe(1);
    expect(r.chosen.prob).toBeCloseTo(pAfter, 12);
    expect(r.named[0].before.rank).toBe(4);
    expect(r.named[0].before.prob).toBeCloseTo(p0[4], 12);
    expect(r.named[0].after).toBeNull();
    expect(r.named[1].after!.rank).toBe(0);
    expect(logits[0]).toBe(2); // the raw row is not changed
    expect(() => inspectStep([0], logits, ps, 9)).toThrow(/outside the vocabulary/);
  });
});
