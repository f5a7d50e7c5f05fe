import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { FIXTURES, HF_TOKENIZERS } from './fixtures-node';
import { fromTokenizerJson, fromTokenizerJsonValue } from './hf';
import { tokenizerFromBytes } from './index';
import { loadTokenizerFromPath } from './load-node';

const tinyJson = readFileSync(HF_TOKENIZERS['tiny-bytelevel-gpt2']!, 'utf8');
const tiny = (): Record<string, unknown> => JSON.parse(tinyJson) as Record<string, unknown>;

function errorOf(f: () => unknown): FormatError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as FormatError;
  }
  throw new Error('expected a FormatError');
}

describe('tokenizer.json: bad input gives typed errors', () => {
  it('malformed JSON: FormatError with the file and the parse position', () => {
    const e = errorOf(() => fromTokenizerJson(tinyJson.slice(0, 5000), 'cut.json'));
    expect(e.file).toBe('cut.json');
    expect(e.message).toMatch(/not valid JSON/);
    const e2 = errorOf(() => fromTokenizerJson('{"model": {"type": "BPE",, }', 'bad.json'));
    expect(e2.offset).toBeTypeOf('number');
    errorOf(() => fromTokenizerJson('', 'empty.json'));
    errorOf(() => fromTokenizerJson('[1, 2]', 'array.json'));
    errorOf(() => fromTokenizerJson('null', 'null.json'));
  });

  it('missing model', () => {
    const j = tiny();
    delete j.model;
    const e = errorOf(() => fromTokenizerJsonValue(j, 't.json'));
    expect(e.key).toBe('model');
  });

  it.each(['WordPiece', 'Unigram', 'WordLevel'])('model type %s: UnsupportedError naming it', (type) => {
    const j = tiny();
    (j.model as Record<string, unknown>).type = type;
    const e = errorOf(() => fromTokenizerJsonValue(j, 't.json'));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.message).toContain(type);
    expect(e.key).toBe('model.type');
  });

  it('untyped Unigram model (vocab as a list) is recognised and refused by name', () => {
    const e = errorOf(() => fromTokenizerJsonValue({ model: { vocab: [['a', -1]], unk_id: 0 } }, 'u.json'));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.message).toContain('Unigram');
  });

  it('merges referencing unknown tokens: FormatError naming the merge and the token', () => {
    const j = tiny();
    const merges = (j.model as { merges: unknown[] }).merges;
    merges[5] = ['Ġ', 'no-such-token'];
    const e = errorOf(() => fromTokenizerJsonValue(j, 't.json'));
    expect(e.key).toBe('model.merges[5]');
    expect(e.found).toContain('no-such-token');
    merges[5] = 'just-one-token';
    expect(errorOf(() => fromTokenizerJsonValue(j, 't.json')).key).toBe('model.merges[5]');
    merges[5] = 42;
    expect(errorOf(() => fromTokenizerJsonValue(j, 't.json')).key).toBe('model.merges[5]');
  });

  it('a vocabulary id far above the number of entries: FormatError naming the token (no allocation for it)', () => {
    const j = tiny();
    const vocab = (j.model as { vocab: Record<string, number> }).vocab;
    const n = Object.keys(vocab).length;
    vocab.Ġ = 2 ** 32 - 1;
    const e = errorOf(() => fromTokenizerJsonValue(j, 't.json'));
    expect(e.key).toBe('model.vocab.Ġ');
    expect(e.expected).toContain(`an id below ${n + 65_536}`);
    vocab.Ġ = n + 100; // a gap that added tokens may fill is fine
    expect(() => fromTokenizerJsonValue(j, 't.json')).not.toThrow();
  });

  it.each([2 ** 31, 1e9])('added_tokens and the template with id %d: FormatError naming the file and key', async (huge) => {
    const dir = mkdtempSync(join(tmpdir(), 'tok-huge-'));
    const j = JSON.parse(readFileSync(HF_TOKENIZERS['tiny-bytelevel-llama3']!, 'utf8')) as {
      model: { vocab: object };
      added_tokens: { id: number }[];
      post_processor: { special_tokens: Record<string, { ids: number[] }> };
    };
    const n = Object.keys(j.model.vocab).length;
    const file = join(dir, 'tokenizer.json');
    const added = structuredClone(j);
    added.added_tokens.push({ id: huge, content: '<huge>', special: true } as never);
    writeFileSync(file, JSON.stringify(added));
    const e = (await loadTokenizerFromPath(file).catch((x: unknown) => x)) as FormatError;
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(`${file} (key "added_tokens[${added.added_tokens.length - 1}].id"): token id is far above the size of the vocabulary`);
    expect(e.expected).toBe(`an id below ${n + added.added_tokens.length + 65_536} (the number of entries of model.vocab and added_tokens + 65536)`);
    const post = structuredClone(j);
    post.post_processor.special_tokens['<|begin_of_text|>'].ids = [huge];
    writeFileSync(file, JSON.stringify(post));
    const p = (await loadTokenizerFromPath(file).catch((x: unknown) => x)) as FormatError;
    expect(p).toBeInstanceOf(FormatError);
    expect(p.key).toBe('post_processor.special_tokens.<|begin_of_text|>.ids[0]');
  });

  it('100,000 added tokens load in linear time', () => {
    const j = tiny() as { added_tokens: unknown[] };
    for (let i = 0; i < 100_000; i++) j.added_tokens.push({ id: 1000 + i, content: `<t${i}>`, special: true });
    const tok = fromTokenizerJsonValue(j, 't.json');
    expect(tok.encode('a<t99999>', { addSpecialTokens: false }).tokens).toContain('<t99999>');
  });

  it('an unknown token missing from the vocabulary fails (as in HF) when a character needs it', () => {
    const j = JSON.parse(readFileSync(HF_TOKENIZERS['tiny-sentencepiece-llama2']!, 'utf8')) as { model: Record<string, unknown> };
    j.model.unk_token = '<nope>';
    j.model.byte_fallback = false;
    const tok = fromTokenizerJsonValue(j, 'sp.json');
    expect(tok.encodeIds('abc', { addSpecialTokens: false }).length).toBe(4);
    const e = errorOf(() => tok.encodeIds('a\u{10ffff}'));
    expect(e.key).toBe('model.unk_token');
    expect(e.file).toBe('sp.json');
  });

  it('a merge whose result is not in the vocabulary', () => {
    const j = tiny();
    const m = j.model as { merges: unknown[]; vocab: Record<string, number> };
    const [a, b] = m.merges[7] as [string, string];
    delete m.vocab[a + b];
    const e = errorOf(() => fromTokenizerJsonValue(j, 't.json'));
    expect(e.key).toBe('model.merges[7]');
  });

  it('wrong types in vocab, added tokens and pipeline parts', () => {
    const mutate: [string, (j: Record<string, unknown>) => void, string][] = [
      ['vocab not an object', (j) => ((j.model as Record<string, unknown>).vocab = [1, 2]), 'model.vocab'],
      ['vocab id not an integer', (j) => ((j.model as { vocab: Record<string, unknown> }).vocab.a = 'x'), 'model.vocab.a'],
      ['merges not an array', (j) => ((j.model as Record<string, unknown>).merges = 'a b'), 'model.merges'],
      ['added token without content', (j) => ((j.added_tokens as Record<string, unknown>[])[0]!.content = 3), 'added_tokens[0].content'],
      ['added_tokens not an array', (j) => (j.added_tokens = {}), 'added_tokens'],
      ['pre_tokenizer without type', (j) => (j.pre_tokenizer = { add_prefix_space: true }), 'pre_tokenizer.type'],
      ['bad Split behavior', (j) => (j.pre_tokenizer = { type: 'Split', pattern: { String: ' ' }, behavior: 'Sideways', invert: false }), 'pre_tokenizer.behavior'],
      ['Strip decoder content not a char', (j) => (j.decoder = { type: 'Strip', content: 'ab', start: 1, stop: 0 }), 'decoder.content'],
      [
        'template token not defined',
        (j) => (j.post_processor = { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<x>', type_id: 0 } }], special_tokens: {} }),
        'post_processor.special_tokens',
      ],
    ];
    for (const [what, f, key] of mutate) {
      const j = tiny();
      f(j);
      const e = errorOf(() => fromTokenizerJsonValue(j, 't.json'));
      expect(e.key, what).toBe(key);
      expect(e.file).toBe('t.json');
    }
  });

  it('unsupported pipeline parts are UnsupportedErrors naming them', () => {
    const parts: [string, unknown, string][] = [
      ['normalizer', { type: 'Precompiled', precompiled_charsmap: '' }, 'Precompiled'],
      ['normalizer', { type: 'BertNormalizer' }, 'BertNormalizer'],
      ['pre_tokenizer', { type: 'UnicodeScripts' }, 'UnicodeScripts'],
      ['decoder', { type: 'CTC' }, 'CTC'],
      ['post_processor', { type: 'Mystery' }, 'Mystery'],
      ['pre_tokenizer', { type: 'Split', pattern: { Regex: '\\X+' }, behavior: 'Isolated', invert: false }, 'regex'],
      ['pre_tokenizer', { type: 'Split', pattern: { Regex: '[[:alpha:]]' }, behavior: 'Isolated', invert: false }, 'regex'],
    ];
    for (const [field, value, name] of parts) {
      const j = tiny();
      j[field] = value;
      const e = errorOf(() => fromTokenizerJsonValue(j, 't.json'));
      expect(e, `${field} ${name}`).toBeInstanceOf(UnsupportedError);
      expect(e.message).toContain(name);
    }
  });
});

describe('loading from bytes and paths', () => {
  it('tokenizerFromBytes tells JSON from tokenizer.bin', () => {
    const bin = new Uint8Array(readFileSync(`${FIXTURES}/llama2c/tok512.bin`));
    expect(tokenizerFromBytes(bin, 'tok512.bin').kind).toBe('llama2c');
    expect(tokenizerFromBytes(bin, 'no-extension').kind).toBe('llama2c');
    const json = new TextEncoder().encode(tinyJson);
    expect(tokenizerFromBytes(json, 'tokenizer.json').kind).toBe('hf-bpe');
    expect(tokenizerFromBytes(json, 'something').kind).toBe('hf-bpe');
    expect(() => tokenizerFromBytes(Uint8Array.of(0xff, 0xfe, 0x7b), 'x.json')).toThrow(FormatError);
    expect(() => tokenizerFromBytes(Uint8Array.of(1, 2), 'x.bin')).toThrow(FormatError);
  });

  it('loadTokenizerFromPath: tokenizer.json, tokenizer.bin, a folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tok-'));
    const folder = join(dir, 'model');
    mkdirSync(folder);
    copyFileSync(HF_TOKENIZERS['tiny-bytelevel-llama3']!, join(folder, 'tokenizer.json'));
    const viaFolder = await loadTokenizerFromPath(folder);
    expect(viaFolder.kind).toBe('hf-bpe');
    expect(viaFolder.encodeIds('Hello', { addSpecialTokens: false }).length).toBeGreaterThan(0);
    expect((await loadTokenizerFromPath(join(folder, 'tokenizer.json'))).bosId).toBe(0);
    const bin = await loadTokenizerFromPath(`${FIXTURES}/llama2c/tok512.bin`);
    expect(bin.kind).toBe('llama2c');
    expect(bin.encodeIds('Once upon a time')).toEqual([1, 403, 407, 261, 378]);

    await expect(loadTokenizerFromPath(join(dir, 'nope'))).rejects.toBeInstanceOf(FormatError);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await expect(loadTokenizerFromPath(empty)).rejects.toThrow(/no tokenizer/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"model": ');
    await expect(loadTokenizerFromPath(broken)).rejects.toBeInstanceOf(FormatError);
  });
});
