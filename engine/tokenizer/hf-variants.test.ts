import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './fixtures-node';
import { fromTokenizerJsonValue } from './hf';

/**
 * Pipeline parts the six reference tokenizers do not use (trimmed offsets, Roberta/Bert
 * processors, NFKC/NFD/NFKD alignments, Split behaviours and inversion, added-token flags,
 * Metaspace schemes, unknown-token fusion…), on variants of the tiny fixture tokenizers.
 * Expected values were produced by HF tokenizers 0.23.2 (testdata/make-hf-variants.mjs).
 */
interface Variant {
  base: string;
  set?: Record<string, unknown>;
  model?: Record<string, unknown>;
  added?: unknown[];
}
interface Case {
  text: string;
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  ids_with_special: number[];
  offsets_with_special: [number, number][];
  decoded: string;
  decoded_skip: string;
}
const data = JSON.parse(readFileSync('engine/tokenizer/testdata/hf-variants.json', 'utf8')) as {
  variants: Record<string, Variant>;
  expected: Record<string, Case[]>;
};

function build(v: Variant): unknown {
  const j = JSON.parse(readFileSync(`${FIXTURES}/tokenizers/${v.base}/tokenizer.json`, 'utf8')) as Record<string, unknown> & {
    model: Record<string, unknown>;
    added_tokens: unknown[];
  };
  Object.assign(j, v.set ?? {});
  Object.assign(j.model, v.model ?? {});
  j.added_tokens.push(...(v.added ?? []));
  return j;
}

describe.each(Object.keys(data.variants))('HF variant %s', (name) => {
  const tok = fromTokenizerJsonValue(build(data.variants[name]!), `${name}.json`);
  const cases = data.expected[name]!;
  it(`matches HF on ${cases.length} texts`, () => {
    for (const c of cases) {
      const e = tok.encode(c.text, { addSpecialTokens: false });
      expect({ text: c.text, ids: e.ids, tokens: e.tokens, offsets: e.offsets }).toEqual({
        text: c.text,
        ids: c.ids,
        tokens: c.tokens,
        offsets: c.offsets,
      });
      const s = tok.encode(c.text);
      expect({ text: c.text, ids: s.ids, offsets: s.offsets }).toEqual({ text: c.text, ids: c.ids_with_special, offsets: c.offsets_with_special });
      expect(tok.encodeIds(c.text)).toEqual(c.ids_with_special);
      expect(tok.decode(c.ids_with_special, { skipSpecialTokens: false })).toBe(c.decoded);
      expect(tok.decode(c.ids_with_special, { skipSpecialTokens: true })).toBe(c.decoded_skip);
    }
  });
});
