/** CLI: tokenize with the built-in vocabularies; train-bpe writes a tokenizer.json that loads back. */
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { encode as gptO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { fromTokenizerJson } from '../tokenizer/hf';
import { shakespeare } from '../tokenizer/test-corpus-node';
import { runCli } from './run-cli.test-util';

const run = runCli;

const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-bpe-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('tokenize --tokenizer <builtin>', () => {
  test.each(['o200k_base', 'cl100k_base', 'llama2', 'llama3', 'qwen3'])('%s', async (name) => {
    const r = await run('tokenize', '--tokenizer', name, '--text', 'Hello 世界 🎉', '--no-special', '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { ids: number[] };
    expect(j.ids.length).toBeGreaterThan(2);
    if (name === 'o200k_base') expect(j.ids).toEqual(gptO200k('Hello 世界 🎉'));
  });
});

describe('train-bpe', () => {
  test('a file: writes tokenizer.json that loads back', async () => {
    const input = path.join(tmp, 'in.txt');
    writeFileSync(input, shakespeare().slice(0, 200_000));
    const out = path.join(tmp, 'tokenizer.json');
    const r = await run('train-bpe', '--input', input, '--vocab-size', '400', '--out', out, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ merges: 143, vocab_size: 400, files: 1 });
    const t = fromTokenizerJson(readFileSync(out, 'utf8'), out);
    expect(t.vocabSize).toBe(400);
    expect(t.decode(t.encodeIds('To be, or not to be'))).toBe('To be, or not to be');
  });

  test('a folder: binary files are skipped', async () => {
    const dir = path.join(tmp, 'folder');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'a.txt'), 'hello hello hello world world');
    writeFileSync(path.join(dir, 'b.bin'), Buffer.from([0, 1, 2, 3, 0, 255]));
    const r = await run('train-bpe', '--input', dir, '--vocab-size', '300', '--out', path.join(tmp, 't2.json'), '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ files: 1, skipped: 1 });
  });

  test('a dangling symlink in the folder is skipped, not fatal; an empty corpus is an error', async () => {
    const dir = path.join(tmp, 'dangling');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'a.txt'), 'hello hello hello world world');
    symlinkSync(path.join(tmp, 'gone.txt'), path.join(dir, 'b.txt'));
    const r = await run('train-bpe', '--input', dir, '--vocab-size', '300', '--out', path.join(tmp, 't3.json'), '--json');
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toMatchObject({ files: 1, skipped: 1 });
    const empty = path.join(tmp, 'empty.txt');
    writeFileSync(empty, '');
    const e = await run('train-bpe', '--input', empty, '--vocab-size', '300', '--out', path.join(tmp, 't4.json'));
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/the text is empty/);
    expect(existsSync(path.join(tmp, 't4.json'))).toBe(false);
  });

  test('bad input: clear messages', async () => {
    expect((await run('train-bpe', '--out', 'x.json')).err).toMatch(/needs --input/);
    expect((await run('train-bpe', '--input', path.join(tmp, 'nope'), '--out', 'x.json')).err).toMatch(/no such file/);
    const r = await run('train-bpe', '--input', tmp, '--vocab-size', '10', '--out', 'x.json');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/vocabulary size must be an integer/);
  });
});
