/**
 * `tokenize --json` on long inputs: the output, written in blocks from flat arrays, equals the
 * tokenizer's Encoding; a 10 MB single line (llama2.c and tokenizer.json BPE) runs in a child
 * process with a 512 MiB JavaScript heap and stays under 1 GB resident.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { fixturePath } from '../../tests/unit/fixtures';
import { removeCliBundle, runCliChild } from './child-cli.test-util';
import { runCli } from './run-cli.test-util';
import { tokenizerFor } from './tokenize';

const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-tokenize-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  removeCliBundle();
});

const corpus = readFileSync(fixturePath('corpus/tinyshakespeare.txt'), 'utf8');

describe('tokenize --json from flat arrays, in blocks', () => {
  const text = `${corpus.slice(0, 150_000)} naïve café 漢字 🦙🦙 e\u0301 <s> end`;
  const file = path.join(tmp, 'mixed.txt');
  writeFileSync(file, text);
  test.each([
    fixturePath('llama2c/tok512.bin'),
    fixturePath('gguf/stories260K.gguf'),
    fixturePath('tokenizers/tiny-bytelevel-llama3/tokenizer.json'),
    fixturePath('tokenizers/tiny-sentencepiece-llama2/tokenizer.json'),
    'cl100k_base',
  ])('%s: --file --json equals the Encoding', async (tok) => {
    const r = await runCli('tokenize', '--tokenizer', tok, '--file', file, '--json');
    expect(r.code, r.err).toBe(0);
    const got = JSON.parse(r.out);
    const { tokenizer } = await tokenizerFor(tok);
    const want = tokenizer.encode(text);
    expect(got.ids.length).toBeGreaterThan(16_384); // more than one block
    expect(got).toEqual({ ids: want.ids, tokens: want.tokens, offsets: want.offsets, offsets_utf16: want.offsetsUtf16 });
  });

  test('--text and --file together, or a FIFO as --file: clear errors', async () => {
    expect((await runCli('tokenize', '--tokenizer', 'cl100k_base', '--text', 'a', '--file', file)).err).toMatch(/give --text or --file, not both/);
    const r = await runCli('tokenize', '--tokenizer', 'cl100k_base', '--file', tmp);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not a regular file/);
  });
});

describe('tokenize memory', () => {
  test.each([fixturePath('llama2c/tok512.bin'), fixturePath('tokenizers/tiny-bytelevel-llama3/tokenizer.json')])(
    'a 10 MB single line, %s: a 512 MiB heap is enough, under 1 GB resident',
    async (tok) => {
      const file = path.join(tmp, 'ten.txt');
      let s = corpus.replaceAll('\n', ' ');
      while (s.length < 10_000_000) s += s;
      writeFileSync(file, s.slice(0, 10_000_000));
      const r = await runCliChild(['tokenize', '--tokenizer', tok, '--file', file, '--json'], {
        timeoutMs: 120_000,
        env: { NODE_OPTIONS: '--max-old-space-size=512' },
      });
      expect(r.code, r.err.slice(0, 2000)).toBe(0);
      const n = (JSON.parse(r.out) as { ids: number[] }).ids.length;
      expect(n).toBeGreaterThan(4_000_000);
      expect(r.peakRss).toBeLessThan(2 ** 30);
    },
  );
});
