/**
 * The host's tokenizer worker under a deadline (tokenizer-jobs.ts): a tokenizer.json whose
 * Split pattern passes the shape check but backtracks for a polynomial time (`a*a*a*a*a*a*b`,
 * seconds on a line of 60 a's) is stopped at the deadline with a typed error naming the file,
 * the worker is started again for the next job, and jobs on other text still answer.
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPatternSafety } from '../engine/tokenizer/regex-safety';
import { fixturePath } from '../tests/unit/fixtures';
import { JobCancelledError, TokenizerDeadlineError, TokenizerJobs, type TokenizerSpec } from './tokenizer-jobs';

const POLY = 'a*a*a*a*a*a*b';
let dir = '';
let jobs: TokenizerJobs;
let spec: TokenizerSpec;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-jobs-'));
  await build({
    entryPoints: [path.resolve(__dirname, 'tokenizer-worker.ts')],
    outfile: path.join(dir, 'tokenizer-worker.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  const tok = JSON.parse(fs.readFileSync(fixturePath('tokenizers', 'tiny-bytelevel-llama3', 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  tok.pre_tokenizer = { type: 'Split', pattern: { Regex: POLY }, behavior: 'Isolated', invert: false };
  fs.mkdirSync(path.join(dir, 'model'));
  fs.writeFileSync(path.join(dir, 'model', 'tokenizer.json'), JSON.stringify(tok));
  spec = {
    key: 'poly',
    file: path.join(dir, 'model', 'tokenizer.json'),
    source: { kind: 'model', format: 'safetensors', root: path.join(dir, 'model'), main: undefined, source: 'tokenizer.json' },
  };
  jobs = new TokenizerJobs(path.join(dir, 'tokenizer-worker.js'), () => 500);
}, 60_000);

afterAll(() => {
  jobs?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('TokenizerJobs', () => {
  it('the pattern passes the shape check (the deadline is what stops it)', () => {
    expect(() => checkPatternSafety(POLY)).not.toThrow();
  });

  it('answers jobs on text the pattern handles quickly', async () => {
    const h = await jobs.run(spec, { op: 'hover', text: 'Once upon a time', label: 'poly', opts: { maxChars: 2000, maxTokens: 300 } });
    expect(h.tokens).toBeGreaterThan(0);
    const c = await jobs.run(spec, { op: 'count', text: 'Once upon a time' });
    expect(c).toEqual({ tokens: h.tokens, exact: true });
    expect(jobs.started).toBe(1);
  }, 30_000);

  it('stops a backtracking job at the deadline with a typed error naming the file, then starts again', async () => {
    const t0 = performance.now();
    const err = await jobs.run(spec, { op: 'hover', text: 'a'.repeat(60), label: 'poly', opts: {} }).catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(TokenizerDeadlineError);
    expect((err as TokenizerDeadlineError).file).toBe(spec.file);
    expect((err as Error).message).toContain('tokenizer.json');
    expect((err as Error).message).toMatch(/tokenizing 60 characters took longer than the 0\.5 s deadline/);
    expect(ms).toBeLessThan(5_000); // the pattern alone takes over 10 s on 60 a's
    // The next job gets a new worker (the tokenizer loaded again) and answers.
    const c = await jobs.run(spec, { op: 'countLines', lines: ['Once upon\n', 'a time'] });
    expect(c.tokens).toBeGreaterThan(0);
    expect(jobs.started).toBe(2);
  }, 30_000);

  it('a job queued behind a stuck one runs after the deadline; a cancelled one is dropped', async () => {
    const stuck = jobs.run(spec, { op: 'count', text: 'a'.repeat(60) }).catch((e: unknown) => e);
    const dropped = jobs.run(spec, { op: 'count', text: 'x' }, { isCancellationRequested: true }).catch((e: unknown) => e);
    const next = jobs.run(spec, { op: 'inspect', texts: ['Once', 'upon'] });
    expect(await stuck).toBeInstanceOf(TokenizerDeadlineError);
    expect(await dropped).toBeInstanceOf(JobCancelledError);
    expect((await next).map((v) => v.length)).toEqual([expect.any(Number), expect.any(Number)]);
  }, 30_000);

  it("a tokenizer that cannot be loaded fails with the loader's error", async () => {
    const bad: TokenizerSpec = { ...spec, key: 'missing', source: { ...spec.source, source: 'nope.json' } as TokenizerSpec['source'] };
    await expect(jobs.run(bad, { op: 'count', text: 'x' })).rejects.toThrow(/nope\.json: file is missing/);
  }, 30_000);
});
