import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../errors';
import { FIXTURES } from './fixtures-node';
import { parseLlama2cTokenizer } from './llama2c';

const BIN = `${FIXTURES}/llama2c/tok512.bin`;
const bytes = new Uint8Array(readFileSync(BIN));
const ref = JSON.parse(readFileSync(`${FIXTURES}/refs/stories260K.greedy.shared.json`, 'utf8')) as {
  cases: { prompt: string; prompt_ids: number[]; generated_ids: number[]; stdout: string }[];
};

/** What run.c prints: the piece of every token after the first (BOS), then a newline. */
function runcStdout(decode: (ids: number[]) => string, ids: number[]): string {
  return `${decode(ids)}\n`;
}

describe('llama2.c tokenizer.bin (tok512)', () => {
  const tok = parseLlama2cTokenizer(bytes, BIN, { vocabSize: 512 });

  it('reads the vocabulary', () => {
    expect(tok.kind).toBe('llama2c');
    expect(tok.vocabSize).toBe(512);
    expect(tok.bosId).toBe(1);
    expect(tok.eosIds).toEqual([2]);
    expect(tok.idToToken(410)).toBe(' ');
    expect(tok.idToToken(13)).toBe('<0x0A>');
    expect(tok.tokenToId(' the')).toBe(265);
  });

  it.each(ref.cases.map((c) => [c.prompt, c] as const))('encodes %j (with BOS) to run.c prompt ids', (_p, c) => {
    expect(tok.encodeIds(c.prompt)).toEqual(c.prompt_ids);
    expect(tok.encode(c.prompt).ids).toEqual(c.prompt_ids);
    expect(tok.encodeIds(c.prompt, { addSpecialTokens: false })).toEqual(c.prompt_ids.slice(1));
  });

  it.each(ref.cases.map((c) => [c.prompt, c] as const))('decodes prompt + generation of %j to run.c stdout', (_p, c) => {
    const all = [...c.prompt_ids, ...c.generated_ids];
    expect(runcStdout((ids) => tok.decode(ids), all)).toBe(c.stdout);
    // streamed token by token, as the playground shows generation
    const sd = tok.createStreamDecoder();
    let s = '';
    for (const id of all) s += sd.push(id);
    s += sd.flush();
    expect(`${s}\n`).toBe(c.stdout);
    // streamed after the prompt, with the prompt as context
    const sd2 = tok.createStreamDecoder({ context: c.prompt_ids });
    let g = '';
    for (const id of c.generated_ids) g += sd2.push(id);
    g += sd2.flush();
    expect(tok.decode(c.prompt_ids) + g).toBe(tok.decode(all));
  });

  it('offsets point at the prompt text (dummy prefix belongs to the first character)', () => {
    const e = tok.encode('Once upon a time');
    expect(e.tokens).toEqual(['\n<s>\n', ' Once', ' upon', ' a', ' time']);
    expect(e.offsets).toEqual([
      [0, 0],
      [0, 4],
      [4, 9],
      [9, 11],
      [11, 16],
    ]);
    expect(e.offsetsUtf16).toEqual(e.offsets);
  });

  it('byte fallback: characters outside the vocabulary become <0xNN> (+3) and decode back', () => {
    const text = 'Lily saw 😀 and 大';
    const ids = tok.encodeIds(text);
    const bytesOf = [...new TextEncoder().encode('😀')].map((b) => b + 3);
    expect(ids.join(',')).toContain(bytesOf.join(','));
    expect(tok.decode(ids)).toBe(text);
    const e = tok.encode(text);
    const at = e.tokens.indexOf('<0xF0>');
    expect(e.offsets[at]).toEqual([9, 10]);
    expect(e.offsetsUtf16[at]).toEqual([9, 11]);
  });

  it('empty text is BOS only', () => {
    expect(tok.encodeIds('')).toEqual([1]);
    expect(tok.encodeIds('', { addSpecialTokens: false })).toEqual([]);
    expect(tok.decode([1])).toBe('');
  });
});

describe('llama2.c tokenizer.bin: bad input', () => {
  it('truncated at every offset: FormatError naming the file and offset (vocab size known)', () => {
    for (let cut = 0; cut < bytes.length; cut++) {
      let err: unknown = null;
      try {
        parseLlama2cTokenizer(bytes.subarray(0, cut), BIN, { vocabSize: 512 });
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(FormatError);
      const fe = err as FormatError;
      expect(fe.file).toBe(BIN);
      expect(typeof fe.offset).toBe('number');
    }
  });

  it('truncated without a known vocab size: an error inside an entry, a shorter vocabulary at an entry boundary', () => {
    for (let cut = 0; cut < bytes.length; cut += 7) {
      try {
        const t = parseLlama2cTokenizer(bytes.subarray(0, cut), BIN);
        expect(t.vocabSize).toBeGreaterThanOrEqual(3);
        expect(t.vocabSize).toBeLessThanOrEqual(512);
      } catch (e) {
        expect(e, `cut at ${cut}`).toBeInstanceOf(FormatError);
      }
    }
  });

  it('bad lengths, bad header, trailing bytes', () => {
    const bad = bytes.slice();
    new DataView(bad.buffer).setInt32(0, -5, true);
    expect(() => parseLlama2cTokenizer(bad, 'x.bin')).toThrow(FormatError);
    const bad2 = bytes.slice();
    new DataView(bad2.buffer).setInt32(8, 1 << 20, true); // first token's length
    expect(() => parseLlama2cTokenizer(bad2, 'x.bin')).toThrow(/bad length/);
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    expect(() => parseLlama2cTokenizer(longer, 'x.bin', { vocabSize: 512 })).toThrow(/trailing bytes/);
    expect(() => parseLlama2cTokenizer(bytes, 'x.bin', { vocabSize: 600 })).toThrow(/holds 512 tokens/);
  });
});
