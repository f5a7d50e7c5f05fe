import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { readGguf } from '../formats/gguf';
import { memorySource } from '../formats/source';
import { FIXTURES, HF_TOKENIZERS, ggufMetadataFromTokenizerJson, loadHf, loadRef, readGgufMetadata } from './fixtures-node';
import { type GgufValue, tokenizerFromGgufMetadata } from './gguf-tokenizer';
import { parseLlama2cTokenizer } from './llama2c';

const GGUF = `${FIXTURES}/gguf/stories260K.gguf`;
const ref = JSON.parse(readFileSync(`${FIXTURES}/refs/stories260K.greedy.shared.json`, 'utf8')) as {
  cases: { prompt: string; prompt_ids: number[]; generated_ids: number[]; stdout: string }[];
};

describe('GGUF tokenizer.ggml.model = llama (stories260K.gguf)', () => {
  const md = readGgufMetadata(new Uint8Array(readFileSync(GGUF)));
  const tok = tokenizerFromGgufMetadata(md, { fileName: GGUF });
  const bin = parseLlama2cTokenizer(new Uint8Array(readFileSync(`${FIXTURES}/llama2c/tok512.bin`)), 'tok512.bin', { vocabSize: 512 });

  it('is the llama (SPM) kind with the GGUF special ids', () => {
    expect(tok.kind).toBe('gguf-llama');
    expect(tok.vocabSize).toBe(512);
    expect(tok.bosId).toBe(1);
    expect(tok.eosIds).toEqual([2]);
    expect(tok.specialIds.has(1)).toBe(true);
    expect(tok.idToToken(259)).toBe('▁t');
  });

  it.each(ref.cases.map((c) => [c.prompt, c] as const))('gives the same ids as tok512.bin for %j', (_p, c) => {
    expect(tok.encodeIds(c.prompt)).toEqual(c.prompt_ids);
    expect(tok.encodeIds(c.prompt)).toEqual(bin.encodeIds(c.prompt));
    const all = [...c.prompt_ids, ...c.generated_ids];
    expect(`${tok.decode(all)}\n`).toBe(c.stdout);
  });

  it('matches tok512.bin on the generated stories and on other text', () => {
    const texts = [...ref.cases.map((c) => c.stdout), 'Hello, world! 123 — ünïcödé 😀 大语言模型\n\ttabs  and   spaces ', '  leading', 'x'];
    for (const t of texts) {
      expect(tok.encodeIds(t)).toEqual(bin.encodeIds(t));
      expect(tok.encode(t).offsets).toEqual(bin.encode(t).offsets);
      expect(tok.decode(tok.encodeIds(t))).toBe(bin.decode(bin.encodeIds(t)));
    }
  });

  it('takes the metadata map of the engine GGUF reader (engine/formats/gguf.ts) as is', async () => {
    const file = await readGguf(memorySource(new Uint8Array(readFileSync(GGUF)), GGUF));
    const t = tokenizerFromGgufMetadata(file.metadata, { fileName: GGUF });
    for (const c of ref.cases) expect(t.encodeIds(c.prompt)).toEqual(c.prompt_ids);
  });

  it('splits control-token text out of the input', () => {
    expect(tok.encodeIds('Hi</s>', { addSpecialTokens: false })).toContain(2);
  });
});

describe('GGUF tokenizer.ggml.model = gpt2 (metadata made from the reference tokenizer.json files)', () => {
  it('llama-bpe pre-tokenizer equals HF on real-llama3', () => {
    const md = ggufMetadataFromTokenizerJson(HF_TOKENIZERS['real-llama3']!, 'llama-bpe', [
      ['tokenizer.ggml.bos_token_id', 128000],
      ['tokenizer.ggml.eos_token_id', 128001],
      ['tokenizer.ggml.eot_token_id', 128009],
      ['tokenizer.ggml.add_bos_token', true],
    ]);
    const tok = tokenizerFromGgufMetadata(md, { fileName: 'llama3.gguf' });
    expect(tok.kind).toBe('gguf-gpt2');
    expect(tok.bosId).toBe(128000);
    expect(tok.eosIds).toEqual([128001, 128009]);
    for (const c of loadRef('real-llama3')) {
      const e = tok.encode(c.text, { addSpecialTokens: false });
      expect(e.ids).toEqual(c.ids);
      expect(e.offsets).toEqual(c.offsets);
      expect(tok.encodeIds(c.text)).toEqual([128000, ...c.ids]);
      expect(tok.decode(c.ids, { skipSpecialTokens: false })).toBe(c.decoded);
    }
  });

  it('qwen2 pre-tokenizer equals HF on real-qwen3 (texts already in NFC)', () => {
    const md = ggufMetadataFromTokenizerJson(HF_TOKENIZERS['real-qwen3']!, 'qwen2', [['tokenizer.ggml.eos_token_id', 151645]]);
    const tok = tokenizerFromGgufMetadata(md);
    expect(tok.bosId).toBeNull();
    let n = 0;
    for (const c of loadRef('real-qwen3')) {
      if (c.text.normalize('NFC') !== c.text) continue; // GGUF has no normalizer; llama.cpp does not NFC
      expect(tok.encodeIds(c.text)).toEqual(c.ids);
      n++;
    }
    expect(n).toBeGreaterThanOrEqual(27);
  });

  it('gpt-2 pre-tokenizer equals HF on tiny-bytelevel-gpt2', () => {
    const md = ggufMetadataFromTokenizerJson(HF_TOKENIZERS['tiny-bytelevel-gpt2']!, 'gpt-2');
    const tok = tokenizerFromGgufMetadata(md);
    const hf = loadHf('tiny-bytelevel-gpt2');
    for (const c of loadRef('tiny-bytelevel-gpt2')) {
      expect(tok.encodeIds(c.text)).toEqual(c.ids);
      expect(tok.decode(c.ids, { skipSpecialTokens: false })).toBe(hf.decode(c.ids, { skipSpecialTokens: false }));
    }
  });
});

describe('GGUF tokenizer metadata: bad input', () => {
  const base = (): Map<string, GgufValue> => readGgufMetadata(new Uint8Array(readFileSync(GGUF)));

  it('unsupported models and pre-tokenizers are UnsupportedErrors naming them', () => {
    const md = base();
    md.set('tokenizer.ggml.model', 'bert');
    expect(() => tokenizerFromGgufMetadata(md)).toThrow(UnsupportedError);
    expect(() => tokenizerFromGgufMetadata(md)).toThrow(/"bert"/);
    const g = ggufMetadataFromTokenizerJson(HF_TOKENIZERS['tiny-bytelevel-gpt2']!, 'no-such-pre');
    expect(() => tokenizerFromGgufMetadata(g)).toThrow(/"no-such-pre"/);
  });

  it('missing or mistyped keys are FormatErrors naming the key', () => {
    const cases: [string, GgufValue | undefined][] = [
      ['tokenizer.ggml.model', undefined],
      ['tokenizer.ggml.tokens', undefined],
      ['tokenizer.ggml.tokens', 5],
      ['tokenizer.ggml.tokens', ['a', 5]],
      ['tokenizer.ggml.scores', [1, 2, 3]],
      ['tokenizer.ggml.token_type', 'x'],
      ['tokenizer.ggml.bos_token_id', 100000],
      ['tokenizer.ggml.add_bos_token', 3],
    ];
    for (const [key, value] of cases) {
      const md = base();
      if (value === undefined) md.delete(key);
      else md.set(key, value);
      let err: unknown = null;
      try {
        tokenizerFromGgufMetadata(md, { fileName: 'f.gguf' });
      } catch (e) {
        err = e;
      }
      expect(err, key).toBeInstanceOf(FormatError);
      expect((err as FormatError).key).toContain(key);
      expect((err as FormatError).file).toBe('f.gguf');
    }
  });

  it('merges that reference unknown tokens', () => {
    const md = ggufMetadataFromTokenizerJson(HF_TOKENIZERS['tiny-bytelevel-gpt2']!, 'gpt-2');
    const merges = [...(md.get('tokenizer.ggml.merges') as string[])];
    merges[3] = 'zzz_unknown Ġ';
    md.set('tokenizer.ggml.merges', merges);
    expect(() => tokenizerFromGgufMetadata(md)).toThrow(/tokenizer\.ggml\.merges\[3\]/);
    merges[3] = 'nospace';
    expect(() => tokenizerFromGgufMetadata(md)).toThrow(FormatError);
  });

  it('u32 ids may arrive as bigint; 0xFFFFFFFF means none', () => {
    const md = base();
    md.set('tokenizer.ggml.bos_token_id', 1n);
    md.set('tokenizer.ggml.eos_token_id', 0xffffffff);
    const t = tokenizerFromGgufMetadata(md);
    expect(t.bosId).toBe(1);
  });
});
