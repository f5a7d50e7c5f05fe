import { describe, expect, it } from 'vitest';
import { HF_TOKENIZERS, loadHf, loadRef } from './fixtures-node';

// Acceptance: every text of every reference file, encoded and decoded exactly as HF tokenizers 0.23.2.
describe.each(Object.keys(HF_TOKENIZERS))('tokenizer.json %s equals HF tokenizers', (name) => {
  const cases = loadRef(name);

  it(`has ${cases.length} reference texts`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(28);
  });

  it('ids, tokens, offsets (without special tokens)', () => {
    const tok = loadHf(name);
    for (const c of cases) {
      const e = tok.encode(c.text, { addSpecialTokens: false });
      expect({ text: c.text, ids: e.ids }).toEqual({ text: c.text, ids: c.ids });
      expect({ text: c.text, tokens: e.tokens }).toEqual({ text: c.text, tokens: c.tokens });
      expect({ text: c.text, offsets: e.offsets }).toEqual({ text: c.text, offsets: c.offsets });
    }
  });

  it('ids_with_special (encode and encodeIds)', () => {
    const tok = loadHf(name);
    for (const c of cases) {
      expect({ text: c.text, ids: tok.encode(c.text).ids }).toEqual({ text: c.text, ids: c.ids_with_special });
      expect({ text: c.text, ids: tok.encodeIds(c.text, { addSpecialTokens: true }) }).toEqual({ text: c.text, ids: c.ids_with_special });
      expect(tok.encodeIds(c.text, { addSpecialTokens: false })).toEqual(c.ids);
    }
  });

  it('decoded (special tokens kept, as the reference decodes)', () => {
    const tok = loadHf(name);
    for (const c of cases) {
      expect({ text: c.text, decoded: tok.decode(c.ids, { skipSpecialTokens: false }) }).toEqual({ text: c.text, decoded: c.decoded });
    }
  });

  it('offsetsUtf16 cover the same characters as offsets', () => {
    const tok = loadHf(name);
    for (const c of cases) {
      const e = tok.encode(c.text);
      const cps = [...c.text];
      expect(e.offsetsUtf16.length).toBe(e.ids.length);
      e.offsets.forEach(([s, t], i) => {
        const [su, tu] = e.offsetsUtf16[i]!;
        expect(c.text.slice(su, tu)).toBe(cps.slice(s, t).join(''));
      });
    }
  });

  it('streaming decode equals full decode', () => {
    const tok = loadHf(name);
    for (const c of cases) {
      for (const skip of [true, false]) {
        const sd = tok.createStreamDecoder({ skipSpecialTokens: skip });
        let s = '';
        for (const id of c.ids_with_special) s += sd.push(id);
        s += sd.flush();
        expect(s).toBe(tok.decode(c.ids_with_special, { skipSpecialTokens: skip }));
      }
    }
  });
});

describe('tokenizer metadata', () => {
  it('bos/eos/special ids and vocab size', () => {
    const l3 = loadHf('real-llama3');
    expect(l3.kind).toBe('hf-bpe');
    expect(l3.vocabSize).toBe(128256);
    expect(l3.bosId).toBe(128000);
    expect(l3.eosIds).toContain(128001);
    expect(l3.eosIds).toContain(128009);
    expect(l3.specialIds.has(128000)).toBe(true);
    expect(l3.idToToken(128000)).toBe('<|begin_of_text|>');
    expect(l3.tokenToId('<|begin_of_text|>')).toBe(128000);
    expect(l3.tokenToId('Hello')).toBe(9906);
    expect(l3.idToToken(9906)).toBe('Hello');

    const q = loadHf('real-qwen3');
    expect(q.bosId).toBeNull();
    expect(q.eosIds).toEqual([151643, 151645]);

    const l2 = loadHf('real-llama2');
    expect(l2.bosId).toBe(1);
    expect(l2.eosIds).toEqual([2]);
    expect(l2.vocabSize).toBe(32000);
  });

  it('skipSpecialTokens drops special tokens only', () => {
    const l3 = loadHf('real-llama3');
    const ids = l3.encodeIds('Hi<|eot_id|>there');
    expect(ids).toContain(128009);
    expect(l3.decode(ids)).toBe('Hithere');
    // this tokenizer.json has no BOS template (ids_with_special == ids in the reference)
    expect(l3.decode(ids, { skipSpecialTokens: false })).toBe('Hi<|eot_id|>there');
  });

  it('added special tokens are split out before normalization (SentencePiece style)', () => {
    const l2 = loadHf('real-llama2');
    const e = l2.encode('a</s>b', { addSpecialTokens: false });
    // HF: the piece after a special token gets its own "▁" from the Prepend normalizer
    expect(e.tokens).toEqual(['▁a', '</s>', '▁b']);
    expect(e.offsets).toEqual([
      [0, 1],
      [1, 5],
      [5, 6],
    ]);
  });
});
