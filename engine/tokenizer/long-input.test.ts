/**
 * Long inputs are merged a word at a time where the vocabulary allows it (SpmTokenizer's
 * splitsAtSpace, BpeModel's wordStart): the ids must equal merging the whole input at once.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fixturePath } from '../../tests/unit/fixtures';
import { loadBuiltinTokenizer } from './builtin-node';
import type { BpeModel } from './bpe';
import { parseLlama2cTokenizer } from './llama2c';
import { HF_TOKENIZERS } from './fixtures-node';
import { loadTokenizerFromPath } from './load-node';
import { wellFormed } from './unicode';

const alphabet = fc.constantFrom(...'aeiou tnrsl  \n.,Lily was  é漢🦙'.split(''), 'the ', ' once', '  ', 'upon');
// with, now and then, a run with no word start inside longer than LONG_WORD (256 units): it is merged whole
const longRun = fc.constantFrom('漢'.repeat(150), 'x'.repeat(300), '🦙'.repeat(140), ' '.repeat(300));
const text = fc.array(fc.oneof({ arbitrary: alphabet, weight: 30 }, { arbitrary: longRun, weight: 1 }), { minLength: 0, maxLength: 600 }).map((a) => a.join(''));

describe('long inputs merged a word at a time equal merging them whole', () => {
  test('llama2.c tokenizer (tok512)', () => {
    const t = parseLlama2cTokenizer(new Uint8Array(readFileSync(fixturePath('llama2c/tok512.bin'))), 'tok512.bin');
    const whole = parseLlama2cTokenizer(new Uint8Array(readFileSync(fixturePath('llama2c/tok512.bin'))), 'tok512.bin');
    expect((t as unknown as { splitsAtSpace: boolean }).splitsAtSpace).toBe(true);
    (whole as unknown as { splitsAtSpace: boolean }).splitsAtSpace = false;
    fc.assert(
      fc.property(text, (s) => {
        const e = t.encode(s);
        expect(e).toEqual(whole.encode(s));
        expect(t.encode(s)).toEqual(e); // again, its words now from the cache
      }),
      { numRuns: 200 },
    );
  });

  test('Llama 2 tokenizer.json (BPE with ▁)', async () => {
    const t = await loadBuiltinTokenizer('llama2');
    const model = (t as unknown as { model: BpeModel }).model;
    expect((model as unknown as { wordStart?: string }).wordStart).toBe('\u2581');
    fc.assert(
      fc.property(text, (raw) => {
        const s = wellFormed(raw); // what encodeIds tokenizes (lone surrogates become U+FFFD)
        const w = '\u2581' + s.replaceAll(' ', '\u2581');
        const whole = Array.from(model.mergeWordWith(w, 'heap'));
        expect(Array.from(model.tokenize(w))).toEqual(whole);
        const ids: number[] = [];
        model.tokenizeIds(w, ids);
        expect(ids).toEqual(whole.filter((_, k) => k % 3 === 0));
        // (the Prepend normalizer adds no "▁" to empty text)
        if (s.length > 0) expect(t.encodeIds(s, { addSpecialTokens: false })).toEqual(ids);
      }),
      { numRuns: 200 },
    );
  });
});

describe('long inputs pre-tokenized in batches of words equal pre-tokenizing them whole (HF tokenizer.json)', () => {
  const corpus = readFileSync(fixturePath('corpus/tinyshakespeare.txt'), 'utf8');
  const text = `${corpus.slice(0, 120_000)}  naïve café 漢字 🦙🦙 e\u0301\n\n  tabs\tand   spaces  ${corpus.slice(120_000, 200_000)}`;
  test.each([
    ['tiny-bytelevel-llama3', true],
    ['tiny-bytelevel-gpt2', true],
    ['tiny-sentencepiece-llama2', false],
    ['llama3', true],
    ['qwen3', true],
    ['llama2', false],
  ] as const)('%s', async (name, batched) => {
    const t = name === 'llama3' || name === 'qwen3' || name === 'llama2' ? await loadBuiltinTokenizer(name) : await loadTokenizerFromPath(HF_TOKENIZERS[name]!);
    const inner = t as unknown as { piecesInBatches: (...a: unknown[]) => boolean };
    const orig = inner.piecesInBatches;
    let took = false;
    try {
      inner.piecesInBatches = (...a) => (took = orig.apply(t, a));
      const batchedEnc = t.encode(text);
      inner.piecesInBatches = () => false;
      expect(batchedEnc).toEqual(t.encode(text));
    } finally {
      inner.piecesInBatches = orig;
    }
    expect(took).toBe(batched);
  });
});
