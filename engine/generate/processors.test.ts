/**
 * Logits processors against Hugging Face (refs/sampling.shared.json, transformers on CPU
 * f32), their tie rules, parameter checks and invariants (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { loadRef } from '../../tests/unit/fixtures';
import { isSampling, processorsFromOptions } from './options';
import { applyProcessors, NoRepeatNgramProcessor, ParameterRangeError, RepetitionPenaltyProcessor, TemperatureProcessor, type LogitsProcessor } from './processors';
import { softmax } from './samplers';
import { EpsilonProcessor, EtaProcessor, MinPProcessor, orderedHead, TopKProcessor, TopPProcessor, TypicalProcessor } from './truncation';

interface SamplingCase {
  processor: string;
  param: number | Record<string, number>;
  input_ids: number[];
  logits: number[];
  out: (number | null)[];
}
const ref = loadRef<{ cases: SamplingCase[] }>('sampling.shared');

function fromCase(c: SamplingCase): LogitsProcessor[] {
  const v = c.param as number;
  switch (c.processor) {
    case 'temperature':
      return [new TemperatureProcessor(v)];
    case 'top_k':
      return [new TopKProcessor(v)];
    case 'top_p':
      return [new TopPProcessor(v)];
    case 'min_p':
      return [new MinPProcessor(v)];
    case 'typical':
      return [new TypicalProcessor(v)];
    case 'epsilon':
      return [new EpsilonProcessor(v)];
    case 'eta':
      return [new EtaProcessor(v)];
    case 'repetition_penalty':
      return [new RepetitionPenaltyProcessor(v)];
    case 'no_repeat_ngram_2':
      return [new NoRepeatNgramProcessor(v)];
    case 'chain': {
      const p = c.param as Record<string, number>;
      return processorsFromOptions({ repetitionPenalty: p.repetition_penalty, temperature: p.temperature, topK: p.top_k, topP: p.top_p, minP: p.min_p });
    }
  }
  throw new Error(`unknown processor ${c.processor}`);
}

/** How many f32 ulps (of HF's value) ours may be off: processors that only mask must be exact. */
const ULPS: Record<string, number> = { temperature: 1, repetition_penalty: 1, chain: 2 };
/** The spacing of f32 values at |x|. */
const ulp = (x: number) => (x === 0 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 23));

describe('Hugging Face reference (refs/sampling.shared.json)', () => {
  test.each(ref.cases.map((c, i) => [`${c.processor} ${JSON.stringify(c.param)} #${Math.floor(i / 10)}`, c] as const))('%s', (_name, c) => {
    const scores = Float32Array.from(c.logits);
    applyProcessors(fromCase(c), c.input_ids, scores);
    const masked = [...scores].map((x) => x === -Infinity);
    expect(masked).toEqual(c.out.map((x) => x === null)); // the masked set exactly
    // Scaled values differ by f32 rounding only: HF scales in f32, we scale the f32 value in
    // f64 and round once, so each scaling step may land one ulp away.
    let ulps = 0;
    c.out.forEach((w, i) => {
      if (w !== null) ulps = Math.max(ulps, Math.abs(scores[i] - w) / ulp(w));
    });
    expect(ulps).toBeLessThanOrEqual(ULPS[c.processor] ?? 0);
  });

  test('the chain comes out of processorsFromOptions in Hugging Face order', () => {
    const names = processorsFromOptions({ repetitionPenalty: 1.2, temperature: 0.8, topK: 20, topP: 0.8, minP: 0.05 }).map((p) => p.name);
    expect(names).toEqual(['repetition penalty 1.2', 'temperature 0.8', 'top-k 20', 'top-p 0.8', 'min-p 0.05']);
  });
});

describe('ties and edges', () => {
  const kept = (s: Float32Array) => [...s].flatMap((x, i) => (x === -Infinity ? [] : [i]));
  const run = (p: LogitsProcessor, row: number[], ids: number[] = []) => {
    const s = Float32Array.from(row);
    p.process(ids, s);
    return kept(s);
  };

  test('top-k keeps every token tied with the k-th best (a value comparison, as HF)', () => {
    expect(run(new TopKProcessor(2), [1, 3, 3, 2])).toEqual([1, 2]);
    expect(run(new TopKProcessor(1), [3, 1, 3, 3])).toEqual([0, 2, 3]);
    expect(run(new TopKProcessor(3), [1, 3, 3, 2])).toEqual([1, 2, 3]);
    expect(run(new TopKProcessor(10), [1, 3])).toEqual([0, 1]); // k past V keeps everything
    expect(run(new TopKProcessor(1, 3), [4, 1, 2, 3])).toEqual([0, 2, 3]); // minTokensToKeep raises k
  });

  test('top-p: among equal scores the lower id counts as more probable', () => {
    expect(run(new TopPProcessor(0.3), [0, 0, 0, 0])).toEqual([0, 1]); // 0.25 < 0.3 → a second token
    expect(run(new TopPProcessor(0.25), [0, 0, 0, 0])).toEqual([0]);
    expect(run(new TopPProcessor(0), [1, 5, 5])).toEqual([1]); // minTokensToKeep = 1: the argmax (first on ties)
    expect(run(new TopPProcessor(0, 2), [1, 5, 5, 0])).toEqual([1, 2]);
    expect(run(new TopPProcessor(1), [1, 2, -30])).toEqual([0, 1, 2]);
  });

  test('min-p, epsilon and eta keep the best token even when it fails the cut', () => {
    expect(run(new MinPProcessor(1), [1, 2, 2])).toEqual([1, 2]); // p ≥ 1 × max: the tied maxima
    expect(run(new MinPProcessor(1, 2), [3, 1, 2])).toEqual([0, 2]);
    expect(run(new EpsilonProcessor(0.9), [0, 0, 0])).toEqual([0, 1, 2]); // all tied with the best
    expect(run(new EpsilonProcessor(0.9), [0, 1, 0.5])).toEqual([1]);
    expect(run(new EtaProcessor(0.9, 2), [0, 1, 0.5])).toEqual([1, 2]);
  });

  test('typical keeps the first minTokensToKeep by distance to the entropy', () => {
    expect(run(new TypicalProcessor(0.01), [0, 0, 0, 0])).toEqual([0, 1, 2, 3]); // all at the same distance: all tied
    const s = [5, 1, 0, -1, -2, -3];
    expect(run(new TypicalProcessor(0.01, 3), s).length).toBeGreaterThanOrEqual(3);
  });

  test('repetition penalty: once per id, by sign; no-repeat n-gram bans completions', () => {
    const s = Float32Array.from([2, -2, 0, 1]);
    new RepetitionPenaltyProcessor(2).process([0, 1, 1, 2, 0], s);
    expect([...s]).toEqual([1, -4, 0, 1]);
    expect(run(new NoRepeatNgramProcessor(2), [0, 0, 0, 0, 0], [1, 2, 3, 1])).toEqual([0, 1, 3, 4]); // 1 → 2 seen
    expect(run(new NoRepeatNgramProcessor(3), [0, 0, 0, 0, 0], [1, 2, 4, 1, 2])).toEqual([0, 1, 2, 3]); // (1,2) → 4 seen
    expect(run(new NoRepeatNgramProcessor(1), [0, 0, 0, 0], [2, 0])).toEqual([1, 3]);
    expect(run(new NoRepeatNgramProcessor(3), [0, 0, 0], [1, 2])).toEqual([0, 1, 2]); // shorter than n
  });

  test('a fully masked row stays masked and nothing throws', () => {
    for (const p of allKinds()) {
      const s = new Float32Array(5).fill(-Infinity);
      p.process([1, 2, 1], s);
      expect(
        [...s].every((x) => x === -Infinity),
        p.name,
      ).toBe(true);
    }
  });
});

describe('parameters', () => {
  test.each([
    [() => new TemperatureProcessor(0), /^temperature must be a number > 0, got 0$/],
    [() => new TemperatureProcessor(NaN), /temperature must be/],
    [() => new TopKProcessor(0), /^topK must be an integer ≥ 1, got 0$/],
    [() => new TopKProcessor(2.5), /topK must be an integer/],
    [() => new TopPProcessor(1.5), /^topP must be a number in \[0, 1\], got 1.5$/],
    [() => new TopPProcessor(-0.1), /topP must be a number in \[0, 1\]/],
    [() => new MinPProcessor(2), /^minP must be a number in \[0, 1\], got 2$/],
    [() => new TypicalProcessor(1), /^typicalP must be a number in \(0, 1\), got 1$/],
    [() => new EpsilonProcessor(0), /^epsilon must be a number in \(0, 1\), got 0$/],
    [() => new EtaProcessor(1), /^eta must be a number in \(0, 1\), got 1$/],
    [() => new RepetitionPenaltyProcessor(0), /^repetitionPenalty must be a number > 0, got 0$/],
    [() => new NoRepeatNgramProcessor(0), /^noRepeatNgramSize must be an integer ≥ 1, got 0$/],
    [() => new TopPProcessor(0.9, 0), /^minTokensToKeep must be an integer ≥ 1, got 0$/],
    [() => processorsFromOptions({ temperature: -1 }), /^temperature must be a number ≥ 0, got -1$/],
    [() => processorsFromOptions({ topP: 2 }), /topP must be/],
    [() => processorsFromOptions({ minTokensToKeep: 0 }), /minTokensToKeep must be/],
  ])('%s', (make, why) => {
    let err: unknown;
    try {
      make();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParameterRangeError);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(why);
  });

  test('processorsFromOptions: Hugging Face order, neutral values add nothing, greedy drops the warpers', () => {
    const all = { repetitionPenalty: 1.1, noRepeatNgramSize: 3, temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, typicalP: 0.95, epsilon: 3e-4, eta: 2e-3 };
    expect(processorsFromOptions(all).map((p) => p.name)).toEqual([
      'repetition penalty 1.1',
      'no-repeat-ngram 3',
      'temperature 0.7',
      'top-k 40',
      'top-p 0.9',
      'min-p 0.05',
      'typical-p 0.95',
      'epsilon 0.0003',
      'eta 0.002',
    ]);
    expect(processorsFromOptions({ ...all, temperature: 0 }).map((p) => p.name)).toEqual(['repetition penalty 1.1', 'no-repeat-ngram 3']);
    expect(processorsFromOptions({ temperature: 1, topK: 0, topP: 1, typicalP: 1, epsilon: 0, eta: 0, repetitionPenalty: 1, noRepeatNgramSize: 0 })).toEqual([]);
    expect(processorsFromOptions({ topK: 5, minTokensToKeep: 2 }).map((p) => p.name)).toEqual(['top-k 5 (keep ≥ 2)']);
    expect(isSampling({})).toBe(true);
    expect(isSampling({ temperature: 0, topK: 3 })).toBe(false);
  });
});

// ---- properties ----

/** Every processor kind with a few parameters. */
function allKinds(): LogitsProcessor[] {
  return [
    new TemperatureProcessor(0.7),
    new TopKProcessor(3),
    new TopKProcessor(1, 2),
    new TopPProcessor(0.9),
    new TopPProcessor(0.5, 3),
    new MinPProcessor(0.1),
    new TypicalProcessor(0.9),
    new EpsilonProcessor(0.05),
    new EtaProcessor(0.05),
    new RepetitionPenaltyProcessor(1.3),
    new RepetitionPenaltyProcessor(0.7),
    new NoRepeatNgramProcessor(2),
  ];
}

/** Rows of 1–64 scores: random reals, or small integers (many ties), some masked. */
const rowArb = fc
  .tuple(
    fc.oneof(fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 64 }), fc.array(fc.integer({ min: -4, max: 4 }), { minLength: 1, maxLength: 64 })),
    fc.array(fc.boolean(), { maxLength: 64 }),
  )
  .map(([xs, mask]) => Float32Array.from(xs, (x, i) => (mask[i] && i % 3 === 0 ? -Infinity : x)));
const idsArb = (v: number) => fc.array(fc.nat(v - 1), { maxLength: 12 });

/** Ids in the order "score descending, then id ascending". */
function sortedIds(s: Float32Array): number[] {
  return [...s.keys()].sort((a, b) => (s[a] > s[b] ? -1 : s[a] < s[b] ? 1 : a - b));
}
const finite = (s: Float32Array) => [...s].filter((x) => x !== -Infinity).length;
const masks = (s: Float32Array) => [...s].map((x) => x === -Infinity);
function applied(ps: LogitsProcessor[], s: Float32Array, ids: number[] = []): Float32Array {
  const out = s.slice();
  applyProcessors(ps, ids, out);
  return out;
}

describe('invariants (fast-check)', () => {
  test('no processor unmasks a token; truncation keeps ≥ 1 and leaves kept values as they were', () => {
    fc.assert(
      fc.property(
        rowArb.chain((s) => fc.tuple(fc.constant(s), idsArb(s.length))),
        fc.nat(11),
        ([s, ids], k) => {
          const p = allKinds()[k];
          const out = applied([p], s, ids);
          s.forEach((x, i) => x === -Infinity && expect(out[i]).toBe(-Infinity));
          const truncation = !(p instanceof TemperatureProcessor || p instanceof RepetitionPenaltyProcessor || p instanceof NoRepeatNgramProcessor);
          if (truncation) {
            if (finite(s) > 0) expect(finite(out)).toBeGreaterThanOrEqual(1);
            out.forEach((x, i) => x !== -Infinity && expect(x).toBe(s[i]));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  test('top-k keeps ≥ min(k, finite) tokens: exactly those scoring ≥ the k-th best', () => {
    fc.assert(
      fc.property(rowArb, fc.integer({ min: 1, max: 70 }), (s, k) => {
        const out = applied([new TopKProcessor(k)], s);
        const order = sortedIds(s);
        const kth = s[order[Math.min(k, s.length) - 1]];
        expect(finite(out)).toBeGreaterThanOrEqual(Math.min(k, finite(s)));
        expect(masks(out)).toEqual([...s].map((x) => x === -Infinity || x < kth));
      }),
      { numRuns: 300 },
    );
  });

  test('top-p keeps the smallest most-probable prefix with mass ≥ p', () => {
    fc.assert(
      fc.property(rowArb, fc.double({ min: 0, max: 1, noNaN: true }), (s, p) => {
        const out = applied([new TopPProcessor(p)], s);
        const probs = softmax(s);
        const order = sortedIds(s);
        const n = finite(out);
        // A prefix of the order (ties broken by id)…
        expect(order.slice(0, n).every((i) => out[i] !== -Infinity)).toBe(true);
        if (finite(s) === 0) return;
        const mass = order.slice(0, n).reduce((a, i) => a + probs[i], 0);
        const without = mass - probs[order[n - 1]];
        // …whose mass reaches p (unless it is every token), and without its last token does not.
        if (n < finite(s)) expect(mass).toBeGreaterThanOrEqual(p - 1e-12);
        if (n > 1) expect(without).toBeLessThan(p + 1e-12);
      }),
      { numRuns: 300 },
    );
  });

  test('min-p keeps exactly the tokens with p ≥ minP · p_max', () => {
    fc.assert(
      fc.property(rowArb, fc.double({ min: 0, max: 1, noNaN: true }), (s, m) => {
        const out = applied([new MinPProcessor(m)], s);
        const probs = softmax(s);
        const top = Math.max(...probs);
        probs.forEach((q, i) => {
          if (s[i] === -Infinity || Math.abs(q - m * top) < 1e-12 * top) return; // on the boundary either way is right
          expect(out[i] !== -Infinity, `id ${i}`).toBe(q >= m * top || s[i] === Math.max(...s));
        });
      }),
      { numRuns: 300 },
    );
  });

  test('order independence where the math says so', () => {
    // Temperatures that are powers of two scale exactly, so ties and order survive in f32 ...
    const temp = fc.constantFrom(0.25, 0.5, 2, 4);
    fc.assert(
      fc.property(rowArb, temp, fc.integer({ min: 1, max: 10 }), fc.double({ min: 0, max: 1, noNaN: true }), (s, t, k, m) => {
        // ... except near f32's smallest values, where a power of two rounds (2^-149 / 2 is 0): keep rows clear of them.
        fc.pre(s.every((v) => v === 0 || !Number.isFinite(v) || Math.abs(v) >= 2 ** -120));
        const T = new TemperatureProcessor(t);
        const K = new TopKProcessor(k);
        const M = new MinPProcessor(m);
        // Temperature keeps the order, so it commutes with top-k.
        expect(applied([T, K], s)).toEqual(applied([K, T], s));
        // Top-k and min-p both keep a most-probable prefix, and min-p's ratio to the top token ignores the rest.
        expect(applied([K, M], s)).toEqual(applied([M, K], s));
        // Top-k is idempotent and composes to the smaller k.
        expect(applied([K, K], s)).toEqual(applied([K], s));
        expect(applied([K, new TopKProcessor(k + 3)], s)).toEqual(applied([K], s));
        // Min-p is idempotent.
        expect(applied([M, M], s)).toEqual(applied([M], s));
      }),
      { numRuns: 300 },
    );
  });

  test('repetition penalty commutes with temperature (up to f32 rounding); masking by history with both', () => {
    fc.assert(
      fc.property(
        rowArb.chain((s) => fc.tuple(fc.constant(s), idsArb(s.length))),
        fc.double({ min: 0.1, max: 4, noNaN: true }),
        fc.double({ min: 0.1, max: 4, noNaN: true }),
        ([s, ids], t, pen) => {
          const T = new TemperatureProcessor(t);
          const R = new RepetitionPenaltyProcessor(pen);
          const N = new NoRepeatNgramProcessor(2);
          const a = applied([R, T], s, ids);
          const b = applied([T, R], s, ids);
          expect(masks(a)).toEqual(masks(b));
          a.forEach((x, i) => x !== -Infinity && expect(Math.abs(x - b[i])).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(x))));
          expect(applied([N, T], s, ids)).toEqual(applied([T, N], s, ids));
          expect(applied([N, R], s, ids)).toEqual(applied([R, N], s, ids));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('orderedHead is a prefix of the full order, whatever the spread of keys', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ min: 0, max: 200, noNaN: true }), fc.integer({ min: 0, max: 3 }), fc.constant(Infinity)), { minLength: 1, maxLength: 300 }),
        fc.nat(300),
        (xs, minCount) => {
          const key = Float64Array.from(xs);
          const head = [...orderedHead(key, null, minCount, 0)];
          const full = [...key.keys()].sort((a, b) => (key[a] < key[b] ? -1 : key[a] > key[b] ? 1 : a - b));
          expect(head.length).toBeGreaterThanOrEqual(Math.min(minCount, xs.length));
          expect(head).toEqual(full.slice(0, head.length));
        },
      ),
      { numRuns: 300 },
    );
  });
});
