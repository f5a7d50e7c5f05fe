/**
 * The decoding lab through the CLI: `process` against Hugging Face's processors, beam
 * search against beam4_12, --trace inspection, speculative decoding (greedy equals the
 * target's greedy), `compare`, and bad input named with its allowed range.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fixturePath, loadRef } from '../../tests/unit/fixtures';
import { readGguf } from '../formats/gguf';
import { fileSource } from '../formats/source-node';
import { randomLlamaGguf, type LlamaShape } from '../model/random';
import { runCli } from './run-cli.test-util';

const run = runCli;
async function json(...argv: string[]) {
  const r = await run(...argv);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out);
}

const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-lab-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const STORIES_GGUF = fixturePath('gguf/stories260K.gguf');
const STORIES_BIN = fixturePath('llama2c/stories260K.bin');
const PROMPT = [1, 403, 407, 261, 378]; // BOS "Once upon a time"

/** A random-weight Llama GGUF with the first `vocabSize` tokens of stories260K's vocabulary. */
async function randomModel(name: string, vocabSize: number, seed: number): Promise<string> {
  const src = await fileSource(STORIES_GGUF);
  const f = await readGguf(src);
  await src.close?.();
  const vocab = {
    tokens: (f.metadata.get('tokenizer.ggml.tokens') as string[]).slice(0, vocabSize),
    scores: Array.from(f.metadata.get('tokenizer.ggml.scores') as Float32Array).slice(0, vocabSize),
    types: Array.from(f.metadata.get('tokenizer.ggml.token_type') as Int32Array).slice(0, vocabSize),
  };
  const shape: LlamaShape = {
    vocabSize,
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
  const p = path.join(tmp, name);
  writeFileSync(p, randomLlamaGguf(shape, vocab, seed));
  return p;
}

interface SamplingCase {
  processor: string;
  param: number | Record<string, number>;
  input_ids: number[];
  logits: number[];
  out: (number | null)[];
}
/** The fixture's labels as processor specs (Hugging Face keys). */
const SPEC_NAME: Record<string, string> = { typical: 'typical_p', epsilon: 'epsilon_cutoff', eta: 'eta_cutoff', no_repeat_ngram_2: 'no_repeat_ngram_size' };

describe('process', () => {
  const ref = loadRef<{ cases: SamplingCase[] }>('sampling.shared');
  test.each(ref.cases.map((c, i) => [`${c.processor} #${i}`, c] as const))('refs/sampling.shared.json %s', async (_n, c) => {
    const processors =
      typeof c.param === 'number'
        ? [{ name: SPEC_NAME[c.processor] ?? c.processor, value: c.param }]
        : ['repetition_penalty', 'temperature', 'top_k', 'top_p', 'min_p']
            .filter((k) => k in (c.param as object))
            .map((k) => ({ name: k, value: (c.param as Record<string, number>)[k] }));
    const f = path.join(tmp, `case.json`);
    writeFileSync(f, JSON.stringify({ input_ids: c.input_ids, logits: c.logits, processors }));
    const j = (await json('process', '--input', f, '--json')) as { scores: (number | null)[] };
    expect(j.scores.map((x) => x === null)).toEqual(c.out.map((x) => x === null));
    c.out.forEach((w, i) => {
      if (w !== null) expect(Math.abs(j.scores[i]! - w)).toBeLessThanOrEqual(1e-6);
    });
  });

  test('an unknown processor and a bad value: clear errors', async () => {
    const f = path.join(tmp, 'bad.json');
    writeFileSync(f, JSON.stringify({ input_ids: [], logits: [0, 1], processors: [{ name: 'nucleus', value: 0.9 }] }));
    let r = await run('process', '--input', f, '--json');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown processor "nucleus"; known processors: .*top_p/);
    writeFileSync(f, JSON.stringify({ input_ids: [], logits: [0, 1], processors: [{ name: 'top_p', value: 1.5 }] }));
    r = await run('process', '--input', f, '--json');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/top_p must be a number in \(0, 1\], got 1.5/);
  });
});

describe('generate --num-beams', () => {
  const models = readdirSync(fixturePath('refs'))
    .map((f) => /^([\w-]+)\.shared\.json$/.exec(f)?.[1])
    .filter((m): m is string => !!m && (loadRef<{ cases: { beam4_12?: unknown }[] }>(`${m}.shared`).cases?.some((c) => c.beam4_12) ?? false));
  test.each(models)('%s: beam4_12 and its scores', async (name) => {
    for (const c of loadRef<{ cases: { input_ids: number[]; beam4_12?: number[][]; beam4_12_scores?: number[] }[] }>(`${name}.shared`).cases.filter((x) => x.beam4_12)) {
      const j = await json(
        'generate',
        '--model',
        fixturePath('models', name),
        '--ids',
        c.input_ids.join(','),
        '--max-tokens',
        '12',
        '--num-beams',
        '4',
        '--num-return-sequences',
        '4',
        '--json',
      );
      expect(j.sequences).toEqual(c.beam4_12);
      expect(j.generated_ids).toEqual(c.beam4_12![0]);
      (j.sequence_scores as number[]).forEach((s, i) => expect(Math.abs(s - c.beam4_12_scores![i])).toBeLessThanOrEqual(1e-4));
    }
  });

  test('diverse groups and the tree with --trace', async () => {
    const j = await json(
      'generate',
      '--ids',
      PROMPT.join(','),
      '--max-tokens',
      '6',
      '--num-beams',
      '4',
      '--num-beam-groups',
      '2',
      '--diversity-penalty',
      '5',
      '--num-return-sequences',
      '4',
      '--trace',
      '--json',
    );
    expect(j.sequences).toHaveLength(4);
    expect(new Set(j.sequences.map((s: number[]) => s[0])).size).toBe(2); // the penalty sends the second group elsewhere at step 0
    expect(j.beam_tree[0]).toMatchObject({ parent: -1 });
  });
});

describe('generate --trace with inspection', () => {
  test('stages, chosen rank and probability, and a named token outside the top', async () => {
    const j = await json('generate', '--ids', PROMPT.join(','), '--max-tokens', '4', '--top-k', '5', '--seed', '3', '--trace', '--trace-top', '3', '--name-token', '7', '--json');
    expect(j.steps).toHaveLength(4);
    for (const s of j.steps) {
      expect(s.inspection.stages.map((x: { name: string }) => x.name)).toEqual(['logits', 'top-k 5']);
      expect(s.inspection.stages[1].surviving).toBe(5);
      expect(s.inspection.stages[0].top).toHaveLength(3);
      expect(s.inspection.chosen.id).toBe(s.id);
      expect(s.inspection.chosen.rank).toBeLessThan(5);
      expect(s.inspection.named[0].id).toBe(7);
      expect(s.inspection.named[0].before.rank).toBeGreaterThan(5);
      expect(s.inspection.named[0].after).toBeNull();
    }
  });

  test('--samplers reorders the chain', async () => {
    const j = await json(
      'generate',
      '--ids',
      PROMPT.join(','),
      '--max-tokens',
      '2',
      '--temperature',
      '0.7',
      '--top-k',
      '5',
      '--min-p',
      '0.1',
      '--samplers',
      'min_p,top_k,temperature',
      '--json',
    );
    expect(j.processors).toEqual(['min-p 0.1', 'top-k 5', 'temperature 0.7']);
  });
});

describe('generate --draft-model', () => {
  let draft: string;
  beforeAll(async () => {
    draft = await randomModel('draft-512.gguf', 512, 5);
  });

  test.each([
    ['stories260K .bin, random-weight draft', STORIES_BIN, () => draft],
    ['stories260K .bin, its GGUF as draft', STORIES_BIN, () => STORIES_GGUF],
    ['tiny-llama, tiny-qwen2 as draft', fixturePath('models/tiny-llama'), () => fixturePath('models/tiny-qwen2')],
  ])('greedy: %s gives the target’s greedy ids', async (_n, target, d) => {
    const ids = target === STORIES_BIN ? PROMPT : [1, 17, 254, 33];
    const plain = await json('generate', '--model', target, '--ids', ids.join(','), '--max-tokens', '40', '--ignore-eos', '--json');
    const spec = await json('generate', '--model', target, '--ids', ids.join(','), '--max-tokens', '40', '--ignore-eos', '--draft-model', d(), '--draft-tokens', '3', '--json');
    expect(spec.generated_ids).toEqual(plain.generated_ids);
    const sp = spec.speculative;
    expect(sp.accepted + sp.rejected).toBe(sp.drafted);
    expect(sp.steps.reduce((a: number, s: { ids: number[] }) => a + s.ids.length, 0)).toBe(40);
    if (d() === STORIES_GGUF) expect(sp.rejected).toBe(0); // the same weights accept everything
  });

  test('a draft with the same size but other tokens: a clear error', async () => {
    const src = await fileSource(STORIES_GGUF);
    const f = await readGguf(src);
    await src.close?.();
    const tokens = (f.metadata.get('tokenizer.ggml.tokens') as string[]).slice();
    [tokens[300], tokens[301]] = [tokens[301], tokens[300]];
    const vocab = {
      tokens,
      scores: Array.from(f.metadata.get('tokenizer.ggml.scores') as Float32Array),
      types: Array.from(f.metadata.get('tokenizer.ggml.token_type') as Int32Array),
    };
    const shape: LlamaShape = {
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
    const p = path.join(tmp, 'swapped.gguf');
    writeFileSync(p, randomLlamaGguf(shape, vocab, 8));
    const r = await run('generate', '--ids', PROMPT.join(','), '--max-tokens', '4', '--draft-model', p);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--draft-model must have the target's vocabulary; id 300 is .* for the target and .* in /);
  });

  test('a draft with another vocabulary: a clear error', async () => {
    const small = await randomModel('draft-256.gguf', 256, 6);
    const r = await run('generate', '--ids', PROMPT.join(','), '--max-tokens', '4', '--draft-model', small);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--draft-model must have the target's vocabulary \(512 ids\); .* has 256/);
  });
});

describe('compare', () => {
  test('greedy, top-p and beam on one prompt: one JSON result', async () => {
    const f = path.join(tmp, 'compare.json');
    writeFileSync(
      f,
      JSON.stringify({
        prompt: 'Once upon a time',
        max_tokens: 8,
        seed: 2,
        strategies: [
          { name: 'greedy' },
          {
            name: 'top-p 0.9',
            processors: [
              { name: 'temperature', value: 0.8 },
              { name: 'top_p', value: 0.9 },
            ],
          },
          { name: 'beam 3', num_beams: 3 },
        ],
      }),
    );
    const r = await run('compare', '--config', f);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.results.map((x: { name: string }) => x.name)).toEqual(['greedy', 'top-p 0.9', 'beam 3']);
    expect(j.results[0].text).toMatch(/^, there was/);
    expect(j.results[1].sampler).toBe('sample');
    expect(j.results[2].sequences).toHaveLength(1);
  });
});

describe('bad input names the parameter and the allowed range', () => {
  test.each([
    [['--top-p', '0'], /--top-p must be a number in \(0, 1\], got 0/],
    [['--top-p', '1.5'], /--top-p must be a number in \(0, 1\], got 1.5/],
    [['--temperature=-1'], /--temperature must be a number ≥ 0, got "-1"/],
    [['--num-beams', '600'], /--num-beams must be an integer in \[1, 512\], got 600/],
    [['--num-beams', '4', '--num-return-sequences', '5'], /--num-return-sequences must be an integer in \[1, 4\], got 5/],
    [['--samplers', 'nucleus'], /--samplers: unknown processor "nucleus"; known processors: .*top_p/],
    [['--frequency-penalty', '3'], /--frequency-penalty must be a number in \[-2, 2\], got 3/],
    [['--mirostat-tau', '5', '--mirostat-eta', '0'], /--mirostat-eta must be a number in \(0, 1\], got 0/],
    [['--trace-top', '3'], /--trace-top and --name-token add to --trace/],
  ])('%j', async (args, msg) => {
    const r = await run('generate', '--ids', PROMPT.join(','), '--max-tokens', '4', ...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg as RegExp);
  });
});
