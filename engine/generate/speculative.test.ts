/**
 * Speculative decoding: greedy output equals the target's greedy output, and with
 * sampling the next-token distribution is the target's (a chi-square goodness-of-fit test
 * over many seeds; the same test rejects the draft's own distribution, so it has power).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { fixturePath } from '../../tests/unit/fixtures';
import type { Backend, ForwardOptions } from '../backend/contract';
import { CpuBackend } from '../backend/cpu';
import { readGguf } from '../formats/gguf';
import { loadGgufModel } from '../formats/gguf-model';
import { loadLlama2cModel } from '../formats/llama2c-model';
import { memorySource } from '../formats/source';
import { randomLlamaGguf } from '../model/random';
import { processorsFromSpecs } from './chain';
import { greedy } from './generate';
import { Rng } from './rng';
import { MultinomialSampler, softmax } from './samplers';
import { speculative, type SpeculativeStep } from './speculative';
import { scriptedBackend } from './scripted-backend.test-util';

const PROMPT = [1, 403, 407, 261, 378];
const bytes = (p: string) => new Uint8Array(readFileSync(p));

async function stories() {
  return loadLlama2cModel(memorySource(bytes(fixturePath('llama2c/stories260K.bin')), 'stories260K.bin'));
}
/** A random-weight Llama with stories260K's vocabulary (a poor draft: many rejections). */
async function randomDraft(seed: number) {
  const g = bytes(fixturePath('gguf/stories260K.gguf'));
  const f = await readGguf(memorySource(g, 'stories260K.gguf'));
  const vocab = {
    tokens: f.metadata.get('tokenizer.ggml.tokens') as string[],
    scores: Array.from(f.metadata.get('tokenizer.ggml.scores') as Float32Array),
    types: Array.from(f.metadata.get('tokenizer.ggml.token_type') as Int32Array),
  };
  const shape = {
    vocabSize: 512,
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    maxPositions: 256,
    ropeTheta: 10000,
    rmsEps: 1e-5,
    tieEmbeddings: true,
  };
  return loadGgufModel(memorySource(randomLlamaGguf(shape, vocab, seed), 'random.gguf'));
}

async function drain(it: AsyncGenerator<SpeculativeStep, unknown>): Promise<SpeculativeStep[]> {
  const steps: SpeculativeStep[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return steps;
    steps.push(r.value);
  }
}

/** P(χ²_df ≥ x): the regularised upper incomplete gamma Q(df/2, x/2) (series below a + 1, continued fraction above). */
export function chiSquarePValue(x: number, df: number): number {
  const a = df / 2;
  const z = x / 2;
  if (z <= 0) return 1;
  const lnGamma = (v: number): number => {
    const c = [76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5];
    let y = v;
    const t = v + 5.5 - (v + 0.5) * Math.log(v + 5.5);
    let s = 1.000000000190015;
    for (const ci of c) s += ci / ++y;
    return -t + Math.log((2.5066282746310005 * s) / v);
  };
  const front = Math.exp(-z + a * Math.log(z) - lnGamma(a));
  if (z < a + 1) {
    let sum = 1 / a;
    let del = sum;
    for (let n = 1; n < 500; n++) {
      del *= z / (a + n);
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * front;
  }
  let b = z + 1 - a;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    d = Math.abs(d) < 1e-300 ? 1e-300 : 1 / d;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return front * h;
}

/** Pearson's χ² of observed counts against probabilities (bins with expectation < 5 pooled), and its p-value. */
function chiSquare(counts: Map<number, number>, p: Float64Array, n: number): { stat: number; df: number; p: number } {
  let stat = 0;
  let bins = 0;
  let restE = 0;
  let restO = 0;
  for (let i = 0; i < p.length; i++) {
    const e = p[i] * n;
    const o = counts.get(i) ?? 0;
    if (e >= 5) {
      stat += (o - e) ** 2 / e;
      bins++;
    } else {
      restE += e;
      restO += o;
    }
  }
  if (restE > 0) {
    stat += (restO - restE) ** 2 / restE;
    bins++;
  }
  return { stat, df: bins - 1, p: chiSquarePValue(stat, bins - 1) };
}

/** The same model with its logits distorted (scaled and offset per id): a draft that is often, not always, right. */
function distorted(b: Backend, seed: number): Backend {
  const offset = new Rng(seed).floats(b.config.vocabSize, -1.5, 1.5);
  return Object.assign(Object.create(b) as Backend, {
    async forward(tokens: number[], positions?: number[], opts?: ForwardOptions) {
      const r = await b.forward(tokens, positions, opts);
      const logits = r.logits.map((x, i) => 0.6 * x + offset[i % b.config.vocabSize]);
      return { ...r, logits };
    },
  });
}

describe('greedy', () => {
  test('equals the target’s greedy ids with a random-weight draft (stories260K)', async () => {
    const target = new CpuBackend(await stories(), { contextLength: 128 });
    const draft = new CpuBackend(await randomDraft(3), { contextLength: 128 });
    const want = await greedy(target, PROMPT, 60);
    for (const k of [1, 2, 5]) {
      const steps = await drain(speculative(target, draft, { promptIds: PROMPT, maxNewTokens: 60, eosIds: [], draftTokens: k }));
      expect(steps.flatMap((s) => s.ids)).toEqual(want);
      for (const s of steps) expect(s.accepted + s.rejected).toBe(s.drafted.length);
    }
  });

  test('a draft that is always right: every id accepted, draftTokens + 1 ids per target pass', async () => {
    const next = (ids: readonly number[]) => [0, 1, 2, 3].map((v) => (v === (ids[ids.length - 1] + 1) % 4 ? 1 : 0));
    const target = scriptedBackend(4, next);
    const draft = scriptedBackend(4, next);
    const steps = await drain(speculative(target, draft, { promptIds: [0], maxNewTokens: 9, eosIds: [], draftTokens: 2 }));
    expect(steps.flatMap((s) => s.ids)).toEqual([1, 2, 3, 0, 1, 2, 3, 0, 1]);
    expect(steps.map((s) => s.ids.length)).toEqual([3, 3, 3]);
    expect(steps.every((s) => s.rejected === 0)).toBe(true);
  });

  test('another vocabulary is refused, naming the draft model and the size', async () => {
    const it = speculative(
      scriptedBackend(4, () => [0, 0, 0, 0]),
      scriptedBackend(5, () => [0, 0, 0, 0, 0]),
      { promptIds: [0], maxNewTokens: 2, draftTokens: 1 },
    );
    await expect(it.next()).rejects.toThrow(/draft model must be a model with the target's vocabulary \(4 ids\)/);
  });
});

describe('sampled: the target’s next-token distribution is unchanged', () => {
  test('χ² goodness of fit over 4000 seeds (stories260K target, a distorted stories260K draft, temperature 2, top-k 8)', async () => {
    const target = new CpuBackend(await stories(), { contextLength: 32 });
    const draft = distorted(new CpuBackend(await stories(), { contextLength: 32 }), 11);
    const specs = [
      { name: 'temperature', value: 2 },
      { name: 'top_k', value: 8 },
    ];
    const chain = () => processorsFromSpecs(specs, { vocabSize: 512, eosIds: [], promptLength: PROMPT.length });
    // The target's distribution of the id after the prompt.
    target.reset();
    const row = (await target.forward(PROMPT, undefined, { lastOnly: true })).logits.slice();
    for (const p of chain()) p.process(PROMPT, row);
    const p = softmax(row);
    const N = 4000;
    const counts = new Map<number, number>();
    let rejected = 0;
    for (let seed = 1; seed <= N; seed++) {
      const steps = await drain(
        speculative(target, draft, { promptIds: PROMPT, maxNewTokens: 3, eosIds: [], processors: chain(), sampler: new MultinomialSampler(), draftTokens: 2, rng: new Rng(seed) }),
      );
      const first = steps[0].ids[0];
      counts.set(first, (counts.get(first) ?? 0) + 1);
      if (steps[0].accepted === 0) rejected++;
    }
    const fit = chiSquare(counts, p, N);
    console.log(`speculative χ²: ${fit.stat.toFixed(2)} on ${fit.df} df, p = ${fit.p.toFixed(3)}; first draft rejected in ${rejected} of ${N}`);
    expect(rejected).toBeGreaterThan(N / 10); // both paths are exercised
    expect(rejected).toBeLessThan(N * 0.9);
    expect(fit.p).toBeGreaterThan(0.01);
    // Power: the draft's own distribution, drawn as often, is rejected by the same test.
    draft.reset();
    const qRow = (await draft.forward(PROMPT, undefined, { lastOnly: true })).logits.slice();
    for (const pr of chain()) pr.process(PROMPT, qRow);
    const q = softmax(qRow);
    const rng = new Rng(7);
    const qCounts = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      const id = new MultinomialSampler(rng).sample(Float32Array.from(q, (x) => Math.log(x)));
      qCounts.set(id, (qCounts.get(id) ?? 0) + 1);
    }
    expect(chiSquare(qCounts, p, N).p).toBeLessThan(1e-6);
  }, 120_000);

  test('the χ² p-value function', () => {
    expect(chiSquarePValue(3.841, 1)).toBeCloseTo(0.05, 3);
    expect(chiSquarePValue(18.307, 10)).toBeCloseTo(0.05, 3);
    expect(chiSquarePValue(2.558, 10)).toBeCloseTo(0.99, 3);
  });
});
