/** The CLI in-process: JSON keys scripts rely on, results against the fixtures, clean errors. */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeArray, fixturePath, loadRef } from '../../tests/unit/fixtures';
import { checkForwardOutput } from './main';
import { runCli } from './run-cli.test-util';

const run = runCli;

const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface GreedyCase {
  prompt: string;
  steps: number;
  prompt_ids: number[];
  generated_ids: number[];
}
const greedy = loadRef('stories260K.greedy.shared') as { cases: GreedyCase[] };

describe('generate', () => {
  test.each(greedy.cases.map((c) => [c.prompt, c] as const))('bundled stories260K, prompt %j: ids equal llama2.c run.c', async (_p, c) => {
    // run.c's -n counts positions: it prints steps - promptLen + 1 tokens (fewer when it meets BOS).
    const r = await run('generate', '--prompt', c.prompt, '--max-tokens', String(c.steps - c.prompt_ids.length + 1), '--temperature', '0', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['prompt_ids', 'generated_ids', 'text']));
    expect(j.prompt_ids).toEqual(c.prompt_ids);
    expect(j.generated_ids).toEqual(c.generated_ids);
  });

  test('the same from the GGUF file with --ids', async () => {
    const c = greedy.cases[1];
    const r = await run('generate', '--model', fixturePath('gguf/stories260K.gguf'), '--ids', c.prompt_ids.join(','), '--max-tokens', '40', '--json', '--trace');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { generated_ids: number[]; text: string; steps: { step: number; id: number; ms: number }[] };
    expect(j.generated_ids).toEqual(c.generated_ids.slice(0, 40));
    expect(j.text).toMatch(/^, there was a little girl named Lily/);
    // --trace: one record per generated id, in order, each with its time.
    expect(j.steps.map((s) => s.id)).toEqual(j.generated_ids);
    expect(j.steps.map((s) => s.step)).toEqual(j.generated_ids.map((_, i) => i));
    expect(j.steps.every((s) => s.ms >= 0)).toBe(true);
  });

  test('--threads 2: the same ids', async () => {
    const c = greedy.cases[1];
    const r = await run('generate', '--model', fixturePath('gguf/stories260K.gguf'), '--ids', c.prompt_ids.join(','), '--max-tokens', '40', '--threads', '2', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).generated_ids).toEqual(c.generated_ids.slice(0, 40));
  });

  test('an HF checkpoint with --ids (no tokenizer needed) gives greedy_24', async () => {
    const ref = loadRef('tiny-qwen3.shared') as { cases: { input_ids: number[]; greedy_24: number[] }[] };
    const c = ref.cases[0];
    const r = await run('generate', '--model', fixturePath('models/tiny-qwen3'), '--ids', c.input_ids.join(','), '--max-tokens', '24', '--json');
    expect(r.code, r.err).toBe(0);
    // HF's greedy_24 never stops at EOS; the tiny random models' EOS may come up, so compare the common prefix.
    const got = JSON.parse(r.out).generated_ids as number[];
    expect(got).toEqual(c.greedy_24.slice(0, got.length));
  });
});

describe('generate: sampling and processors', () => {
  const gen = async (...flags: string[]) => {
    const r = await run('generate', '--prompt', 'Once upon a time', '--max-tokens', '40', '--json', ...flags);
    expect(r.code, r.err).toBe(0);
    return JSON.parse(r.out) as { generated_ids: number[]; prompt_ids: number[]; processors: string[]; sampler: string; decode_path: string };
  };

  test('--top-k 1 at temperature 1 samples, and draws exactly the greedy ids', async () => {
    const greedy = await gen();
    expect(greedy.sampler).toBe('greedy');
    expect(greedy.processors).toEqual([]);
    const k1 = await gen('--top-k', '1', '--temperature', '1', '--seed', '3');
    expect(k1.sampler).toBe('sample');
    expect(k1.processors).toEqual(['top-k 1']);
    expect(k1.decode_path).toBe('host-logits');
    expect(k1.generated_ids).toEqual(greedy.generated_ids);
  });

  test('a seed gives the same ids twice; another seed other ids', async () => {
    const flags = ['--temperature', '1.2', '--top-p', '0.95', '--min-p', '0.02'];
    const a = await gen(...flags, '--seed', '7');
    const b = await gen(...flags, '--seed', '7');
    const c = await gen(...flags, '--seed', '8');
    expect(a.processors).toEqual(['temperature 1.2', 'top-p 0.95', 'min-p 0.02']);
    expect(b.generated_ids).toEqual(a.generated_ids);
    expect(c.generated_ids).not.toEqual(a.generated_ids);
  });

  test('a sampling flag alone samples at temperature 1; penalties apply to greedy decoding too', async () => {
    const p = await gen('--top-p', '0.9');
    expect(p.processors).toEqual(['top-p 0.9']);
    expect(p.sampler).toBe('sample');
    const n = await gen('--no-repeat-ngram', '2', '--repetition-penalty', '1.3');
    expect(n.processors).toEqual(['repetition penalty 1.3', 'no-repeat-ngram 2']);
    expect(n.sampler).toBe('greedy');
    const all = [...n.prompt_ids, ...n.generated_ids];
    const bigrams = all.slice(1).map((id, i) => `${all[i]},${id}`);
    expect(new Set(bigrams).size).toBe(bigrams.length); // no bigram twice
  });
});

describe('forward', () => {
  test('logits and attentions in the fixtures format, equal to HF', async () => {
    const ref = loadRef('tiny-llama.shared') as { cases: { input_ids: number[]; logits: never; attentions: never }[] };
    const c = ref.cases[0];
    const r = await run('forward', '--model', fixturePath('models/tiny-llama'), '--ids', c.input_ids.join(','), '--attentions', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    const want = decodeArray(c.logits);
    const got = decodeArray(j.logits);
    expect(got.shape).toEqual(want.shape);
    let d = 0;
    for (let i = 0; i < want.data.length; i++) d = Math.max(d, Math.abs(want.data[i] - got.data[i]));
    expect(d).toBeLessThan(1e-4);
    const wa = decodeArray(c.attentions);
    const ga = decodeArray(j.attentions);
    expect(ga.shape).toEqual(wa.shape);
    let da = 0;
    for (let i = 0; i < wa.data.length; i++) da = Math.max(da, Math.abs(wa.data[i] - ga.data[i]));
    expect(da).toBeLessThan(1e-5);
  });

  test('--lora applies the PEFT adapter (logits equal the LoRA reference)', async () => {
    const ref = loadRef('tiny-llama.lora.shared') as { cases: { input_ids: number[]; logits: never }[] };
    const c = ref.cases[0];
    const r = await run('forward', '--model', fixturePath('models/tiny-llama'), '--lora', fixturePath('models/tiny-llama/lora'), '--ids', c.input_ids.join(','), '--json');
    expect(r.code, r.err).toBe(0);
    const want = decodeArray(c.logits);
    const got = decodeArray(JSON.parse(r.out).logits);
    let d = 0;
    for (let i = 0; i < want.data.length; i++) d = Math.max(d, Math.abs(want.data[i] - got.data[i]));
    expect(d).toBeLessThan(1e-4);
  });
});

describe('tokenize and inspect', () => {
  test('tokenize --json gives ids, tokens, offsets equal to HF tokenizers', async () => {
    const ref = loadRef('tokenizer.tiny-bytelevel-llama3.shared') as { cases: { text: string; ids_with_special: number[]; ids: number[] }[] };
    const c = ref.cases[0];
    const r = await run('tokenize', '--tokenizer', fixturePath('tokenizers/tiny-bytelevel-llama3/tokenizer.json'), '--text', c.text, '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['ids', 'tokens', 'offsets']));
    expect(j.ids).toEqual(c.ids_with_special);
    expect(j.tokens.length).toBe(j.ids.length);
    expect(j.offsets.every((o: unknown) => Array.isArray(o) && o.length === 2)).toBe(true);
  });

  test('tokenize takes a model: the GGUF embedded vocabulary equals tok512.bin', async () => {
    const a = JSON.parse((await run('tokenize', '--tokenizer', fixturePath('gguf/stories260K.gguf'), '--text', 'Once upon a time', '--json')).out);
    const b = JSON.parse((await run('tokenize', '--tokenizer', fixturePath('llama2c/tok512.bin'), '--text', 'Once upon a time', '--json')).out);
    expect(a.ids).toEqual([1, 403, 407, 261, 378]);
    expect(b.ids).toEqual(a.ids);
  });

  test('inspect --json describes each format', async () => {
    for (const p of [fixturePath('gguf/stories260K.gguf'), fixturePath('llama2c/stories260K.bin'), fixturePath('models/tiny-gpt2')]) {
      const r = await run('inspect', p, '--json');
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out);
      expect(j.parameters).toBeGreaterThan(100_000);
      expect(j.kvBytesPerToken).toBe(2 * j.config.numLayers * j.config.numKvHeads * j.config.headDim * 4);
    }
  });
});

describe('bad input: clear messages and exit codes, never a stack trace', () => {
  test('missing file', async () => {
    const r = await run('inspect', path.join(tmp, 'nope.gguf'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.gguf.*no such file/);
  });
  test('truncated GGUF names the file and the offset', async () => {
    const bytes = readFileSync(fixturePath('gguf/stories260K.gguf'));
    const p = path.join(tmp, 'trunc.gguf');
    writeFileSync(p, bytes.subarray(0, 5000));
    const r = await run('generate', '--model', p, '--ids', '1', '--json');
    expect(r.code).toBe(1);
    expect(r.err).toContain('trunc.gguf');
    expect(r.err).toMatch(/offset \d+/);
  });
  test('llama2.c checkpoint without a tokenizer asks for one', async () => {
    const p = path.join(tmp, 'lonely', 'model.bin');
    rmSync(path.dirname(p), { recursive: true, force: true });
    mkdirSync(path.dirname(p));
    copyFileSync(fixturePath('llama2c/stories260K.bin'), p);
    const r = await run('generate', '--model', p, '--prompt', 'hi');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no tokenizer.*--tokenizer/);
  });
  test.each([
    [['generate', '--ids', '1,x'], /"x" is not a token id/],
    [['generate', '--ids', '1,99999'], /99999 is outside the vocabulary/],
    [['generate', '--ids', '1,,2'], /an empty entry in "1,,2"/],
    [['generate', '--ids', '1', '--max-tokens', '1e9', '--context', '1e9'], /--context 1000000000 is beyond the model's 512 positions/],
    [['forward', '--model', fixturePath('llama2c/stories260K.bin'), '--ids', Array(513).fill(1).join(',')], /513 ids are more than the model's 512 positions/],
    [['generate', '--prompt', 'a', '--ids', '1'], /not both/],
    [['generate', '--prompt', 'a', '--max-tokens=-3'], /--max-tokens must be an integer/],
    [['forward', '--ids', '1'], /needs --model/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['generate', '--bogus'], /Unknown option '--bogus'/],
    [['generate', '--ids', '1', '--top-p', '1.5'], /--top-p must be a number in \(0, 1\], got 1\.5/],
    [['generate', '--ids', '1', '--top-k', '2.5'], /--top-k must be an integer ≥ 1, got 2\.5/],
    [['generate', '--ids', '1', '--top-k', 'many'], /--top-k must be a number, got "many"/],
    [['generate', '--ids', '1', '--min-p=-0.1'], /--min-p must be a number in \[0, 1\]/],
    [['generate', '--ids', '1', '--typical-p', '0'], /--typical-p must be a number in \(0, 1\)/],
    [['generate', '--ids', '1', '--eta', '1'], /--eta must be a number in \(0, 1\)/],
    [['generate', '--ids', '1', '--repetition-penalty', '0'], /--repetition-penalty must be a number > 0/],
    [['generate', '--ids', '1', '--no-repeat-ngram=-1'], /--no-repeat-ngram must be an integer ≥ 1/],
    [['generate', '--ids', '1', '--temperature', '0', '--top-k', '5'], /--top-k samples, but --temperature 0 decodes greedily/],
    [['generate', '--ids', '1', '--temperature=-1'], /--temperature must be a number ≥ 0/],
    [['generate', '--ids', '1', '--threads', '0'], /--threads must be an integer ≥ 1, got "0"/],
    [['generate', '--ids', '1', '--threads', '100000'], /--threads 100000 is more than this machine's \d+ hardware threads/],
    [['forward', '--model', fixturePath('llama2c/stories260K.bin'), '--ids', '1', '--threads', '2', '--backend', 'webgpu'], /--threads is for --backend cpu/],
  ])('%j', async (argv, why) => {
    const r = await run(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(why);
  });
});

describe('forward refuses an output too big for one JSON string, before running', () => {
  test('a Llama-3.2-1B shape with --attentions on 3,000 ids: the sizes and the limit', () => {
    const c = { vocabSize: 128256, numLayers: 16, numHeads: 32 } as Parameters<typeof checkForwardOutput>[0];
    expect(() => checkForwardOutput(c, 3000, { attentions: true, residuals: false })).toThrow(
      /the output would hold 19046 MiB of float32 \(logits 3000×128256, attentions 16×32×3000×3000\); the limit is 256 MiB/,
    );
    expect(() => checkForwardOutput(c, 100, { attentions: true, residuals: false })).not.toThrow();
  });
});
