import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIXTURES, ggufMetadataFromTokenizerJson, HF_TOKENIZERS, loadHf, readGgufMetadata } from './fixtures-node';
import { tokenizerFromGgufMetadata } from './gguf-tokenizer';
import { parseLlama2cTokenizer } from './llama2c';
import type { Tokenizer } from './types';
import { toByteLevel } from './unicode';

/**
 * Arbitrary text: any code point (lone surrogates included), with ASCII letters, digits,
 * spaces, newlines, combining marks and emoji weighted up so that the pre-tokenizer rules
 * (contractions, digit groups, whitespace runs) are exercised.
 */
const codeUnit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') },
  { weight: 2, arbitrary: fc.constantFrom(...'0123456789') },
  { weight: 4, arbitrary: fc.constantFrom(' ', ' ', '  ', '\n', '\t', '\r\n', '\u00a0', '\u3000', '\u0085') },
  { weight: 3, arbitrary: fc.constantFrom(...'.,;:!?\'"()[]{}<>-_/\\|@#$%^&*+=~`', "'s", "'LL", "n't") },
  { weight: 2, arbitrary: fc.constantFrom('é', 'e\u0301', 'ü', 'ß', 'İ', 'ﬁ', '大', '語', 'ا', 'न्', '한', '😀', '👍🏽', '👨\u200d👩\u200d👧', '🇨🇳', '▁', '\u200b') },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp)) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => String.fromCharCode(u)) },
);
const text = fc.array(codeUnit, { maxLength: 60 }).map((a) => a.join(''));

const runs = { numRuns: Number(process.env.TOKENIZER_FC_RUNS ?? 150) };

function wellFormed(s: string): string {
  return (s as unknown as { toWellFormed(): string }).toWellFormed();
}

function checkOffsets(tok: Tokenizer, s: string): void {
  const e = tok.encode(s, { addSpecialTokens: false });
  const cps = [...s];
  expect(e.offsets.length).toBe(e.ids.length);
  expect(e.offsetsUtf16.length).toBe(e.ids.length);
  expect(e.tokens.length).toBe(e.ids.length);
  let prevStart = 0;
  let prevEnd = 0;
  e.offsets.forEach(([a, b], i) => {
    expect(0 <= a && a <= b && b <= cps.length, `offset ${i} [${a}, ${b}] within ${cps.length}`).toBe(true);
    expect(a >= prevStart && b >= prevEnd, `offsets monotone at ${i}`).toBe(true);
    prevStart = a;
    prevEnd = b;
    const [au, bu] = e.offsetsUtf16[i]!;
    expect(s.slice(au, bu)).toBe(cps.slice(a, b).join(''));
  });
  expect(tok.encodeIds(s, { addSpecialTokens: false })).toEqual(e.ids);
}

function streamed(tok: Tokenizer, ids: number[], skip: boolean): string {
  const sd = tok.createStreamDecoder({ skipSpecialTokens: skip });
  let out = '';
  for (const id of ids) {
    const piece = sd.push(id);
    // never half a character: no lone surrogate at either end of a piece
    expect(/^[\udc00-\udfff]|[\ud800-\udbff]$/.test(piece)).toBe(false);
    out += piece;
  }
  return out + sd.flush();
}

const byteLevel: [string, () => Tokenizer, (s: string) => string][] = [
  ['tiny-bytelevel-gpt2', () => loadHf('tiny-bytelevel-gpt2'), wellFormed],
  ['tiny-bytelevel-llama3', () => loadHf('tiny-bytelevel-llama3'), wellFormed],
  ['real-llama3', () => loadHf('real-llama3'), wellFormed],
  ['real-qwen3 (NFC normalizer)', () => loadHf('real-qwen3'), (s) => wellFormed(s).normalize('NFC')],
  ['GGUF gpt2 (llama-bpe)', () => tokenizerFromGgufMetadata(ggufMetadataFromTokenizerJson(HF_TOKENIZERS['tiny-bytelevel-llama3']!, 'llama-bpe')), wellFormed],
];

describe.each(byteLevel)('byte-level %s', (_name, make, expected) => {
  const tok = make();

  it('decode(encode(s)) == s (lone surrogates come back as U+FFFD)', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(tok.decode(tok.encodeIds(s, { addSpecialTokens: false }), { skipSpecialTokens: false })).toBe(expected(s));
      }),
      runs,
    );
  });

  it('offsets monotone, within the text, UTF-16 offsets consistent, encodeIds == encode', () => {
    fc.assert(
      fc.property(text, (s) => checkOffsets(tok, s)),
      runs,
    );
  });

  it('streaming decode == full decode (encoded text and arbitrary ids)', () => {
    fc.assert(
      fc.property(text, (s) => {
        const ids = tok.encodeIds(s);
        expect(streamed(tok, ids, true)).toBe(tok.decode(ids));
        expect(streamed(tok, ids, false)).toBe(tok.decode(ids, { skipSpecialTokens: false }));
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 40 }), (ids) => {
        expect(streamed(tok, ids, false)).toBe(tok.decode(ids, { skipSpecialTokens: false }));
      }),
      runs,
    );
  });

  it('streaming after a prompt (context ids) continues the prompt text exactly', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const ctx = tok.encodeIds(a);
        const gen = tok.encodeIds(b, { addSpecialTokens: false });
        const sd = tok.createStreamDecoder({ context: ctx });
        let out = '';
        for (const id of gen) out += sd.push(id);
        out += sd.flush();
        expect(tok.decode(ctx) + out).toBe(tok.decode([...ctx, ...gen]));
      }),
      runs,
    );
  });
});

describe('SentencePiece-style tokenizers', () => {
  const bin = parseLlama2cTokenizer(new Uint8Array(readFileSync(`${FIXTURES}/llama2c/tok512.bin`)), 'tok512.bin', { vocabSize: 512 });
  const gguf = tokenizerFromGgufMetadata(readGgufMetadata(new Uint8Array(readFileSync(`${FIXTURES}/gguf/stories260K.gguf`))));
  const spm: [string, Tokenizer][] = [
    ['real-llama2', loadHf('real-llama2')],
    ['tiny-sentencepiece-llama2', loadHf('tiny-sentencepiece-llama2')],
    ['llama2c tok512.bin', bin],
    ['GGUF llama', gguf],
  ];

  it.each(spm)('%s: offsets, encodeIds == encode, streaming == full decode', (_n, tok) => {
    fc.assert(
      fc.property(text, (s) => {
        checkOffsets(tok, s);
        const ids = tok.encodeIds(s);
        expect(streamed(tok, ids, true)).toBe(tok.decode(ids));
      }),
      runs,
    );
  });

  it.each(spm)('%s: streaming after a prompt (context ids) continues the prompt text exactly', (_n, tok) => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const ctx = tok.encodeIds(a);
        const gen = tok.encodeIds(b, { addSpecialTokens: false });
        const sd = tok.createStreamDecoder({ context: ctx });
        let out = '';
        for (const id of gen) out += sd.push(id);
        out += sd.flush();
        expect(tok.decode(ctx) + out).toBe(tok.decode([...ctx, ...gen]));
      }),
      runs,
    );
  });

  it('real-llama2: decode(encode(s)) == s for text without "▁" and special-token text', () => {
    const tok = loadHf('real-llama2');
    fc.assert(
      fc.property(text, (s) => {
        fc.pre(!s.includes('▁') && !/<\/?s>|<unk>/.test(s));
        expect(tok.decode(tok.encodeIds(s))).toBe(wellFormed(s));
      }),
      runs,
    );
  });

  it('llama2c and GGUF llama agree on arbitrary text; decode(encode(s)) == s (control characters excepted: run.c drops them)', () => {
    fc.assert(
      fc.property(text, (s) => {
        // a literal "▁" is a space to the GGUF vocabulary (SentencePiece's escape) and plain text to tokenizer.bin
        if (!s.includes('▁')) expect(gguf.encodeIds(s)).toEqual(bin.encodeIds(s));
        if (!s.includes('▁') && !/<\/?s>|<unk>/.test(s)) {
          expect(gguf.decode(gguf.encodeIds(s))).toBe(wellFormed(s));
          if (!/[\u0000-\u0008\u000e-\u001f\u007f]/.test(s)) expect(bin.decode(bin.encodeIds(s))).toBe(wellFormed(s));
        }
      }),
      runs,
    );
  });
});

describe('BPE merge loop', () => {
  it('direct scan and heap give the same merges (byte-level and SentencePiece vocabularies)', () => {
    const models = [loadHf('real-llama3').model, loadHf('real-qwen3').model, loadHf('real-llama2').model, loadHf('tiny-sentencepiece-llama2').model];
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: models.length - 1 }), (s, k) => {
        const m = models[k]!;
        const w = k < 2 ? toByteLevel(wellFormed(s)) : wellFormed(s).replace(/ /g, '▁');
        expect(Array.from(m.mergeWordWith(w, 'heap'))).toEqual(Array.from(m.mergeWordWith(w, 'scan')));
      }),
      { numRuns: 300 },
    );
  });
});
