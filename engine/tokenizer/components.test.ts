import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddedTokenMatcher, type AddedTokenSpec } from './added';
import { buildDecoder } from './decoders';
import { fromTokenizerJsonValue } from './hf';
import { JsonReader } from './json';
import { buildNormalizer } from './normalizers';
import { type Piece, type SplitBehavior, initialPiece, literalMatches, splitByMatches } from './piece';
import { buildPreTokenizer } from './pre-tokenizers';
import { normalizePiece } from './unicode';

const r = new JsonReader('test.json');
/** [text, [start, end) in the original] of pieces. */
const view = (ps: Piece[]): [string, number, number][] => ps.map((p) => [p.text, p.align![0]!, p.align![p.align!.length - 1]!]);

describe('HF split behaviours ("the-final--countdown" split on "-", as in HF docs)', () => {
  const cases: [SplitBehavior, string[]][] = [
    ['Removed', ['the', 'final', 'countdown']],
    ['Isolated', ['the', '-', 'final', '-', '-', 'countdown']],
    ['MergedWithPrevious', ['the-', 'final-', '-', 'countdown']],
    ['MergedWithNext', ['the', '-final', '-', '-countdown']],
    ['Contiguous', ['the', '-', 'final', '--', 'countdown']],
  ];
  it.each(cases)('%s', (behavior, expected) => {
    const out: Piece[] = [];
    const p = initialPiece('the-final--countdown', true);
    splitByMatches(p, literalMatches('-', p.text, false), behavior, out);
    expect(out.map((x) => x.text)).toEqual(expected);
  });
});

describe('pre-tokenizers with offsets (HF test cases)', () => {
  it('Metaspace: "Hey   friend!"', () => {
    const pre = buildPreTokenizer(r, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }, 'p')!;
    expect(view(pre.run([initialPiece('Hey   friend!', true)]))).toEqual([
      ['▁Hey', 0, 3],
      ['▁', 3, 4],
      ['▁', 4, 5],
      ['▁friend!', 5, 13],
    ]);
    const words: string[] = [];
    pre.splitText('Hey   friend!', words);
    expect(words).toEqual(['▁Hey', '▁', '▁', '▁friend!']);
  });

  it('Metaspace prepend_scheme "first" only prefixes the start of the text', () => {
    const pre = buildPreTokenizer(r, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }, 'p')!;
    const p = initialPiece('ab cd', true);
    const left = { ...p, text: 'ab', align: p.align!.subarray(0, 4), base: 0 };
    const right = { ...p, text: 'cd', align: p.align!.subarray(6, 10), base: 3 };
    expect(pre.run([left, right]).map((x) => x.text)).toEqual(['▁ab', 'cd']);
  });

  it('ByteLevel: a 3-byte character keeps its one-character range', () => {
    const pre = buildPreTokenizer(r, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, 'p')!;
    // deferred byte mapping: pieces are still raw text here
    expect(view(pre.run([initialPiece('i⭢j', true)]))).toEqual([
      ['i', 0, 1],
      ['⭢', 1, 2],
      ['j', 2, 3],
    ]);
  });

  it('Digits, Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer', () => {
    const words = (type: unknown, s: string): string[] => {
      const out: string[] = [];
      buildPreTokenizer(r, type as never, 'p')!.splitText(s, out);
      return out;
    };
    expect(words({ type: 'Digits', individual_digits: true }, 'ab123c')).toEqual(['ab', '1', '2', '3', 'c']);
    expect(words({ type: 'Digits', individual_digits: false }, 'ab123c')).toEqual(['ab', '123', 'c']);
    expect(words({ type: 'Whitespace' }, "Hey man!! How's it going?")).toEqual(['Hey', 'man', '!!', 'How', "'", 's', 'it', 'going', '?']);
    expect(words({ type: 'WhitespaceSplit' }, 'a  b\tc')).toEqual(['a', 'b', 'c']);
    expect(words({ type: 'Punctuation' }, 'a,b!')).toEqual(['a', ',', 'b', '!']);
    expect(words({ type: 'BertPreTokenizer' }, 'Hey, you!')).toEqual(['Hey', ',', 'you', '!']);
    expect(words({ type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false }, 'a  b c')).toEqual(['a', 'b', 'c']);
    expect(words({ type: 'Split', pattern: { Regex: '\\w+' }, behavior: 'Removed', invert: true }, 'ab, cd')).toEqual(['ab', 'cd']);
  });
});

describe('normalizers keep HF alignments', () => {
  const run = (n: unknown, s: string): [string, [number, number][]] => {
    const p = buildNormalizer(r, n as never, 'n')!(initialPiece(s, true));
    const al: [number, number][] = [];
    for (let u = 0; u < p.text.length; u++) al.push([p.align![2 * u]!, p.align![2 * u + 1]!]);
    return [p.text, al];
  };

  it('Prepend + Replace (Llama-2): "▁" takes the first character\'s range, "▁" for a space takes the space\'s', () => {
    expect(
      run(
        {
          type: 'Sequence',
          normalizers: [
            { type: 'Prepend', prepend: '▁' },
            { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
          ],
        },
        'a b',
      ),
    ).toEqual([
      '▁a▁b',
      [
        [0, 1],
        [0, 1],
        [1, 2],
        [2, 3],
      ],
    ]);
  });

  it('NFC composes onto the first character, NFKC expands onto the source character', () => {
    expect(run({ type: 'NFC' }, 'e\u0301x')).toEqual([
      'éx',
      [
        [0, 1],
        [2, 3],
      ],
    ]);
    expect(run({ type: 'NFKC' }, 'ﬁ!')).toEqual([
      'fi!',
      [
        [0, 1],
        [0, 1],
        [1, 2],
      ],
    ]);
    expect(normalizePiece(initialPiece('ｶﾞ', true), 'NFKC').text).toBe('ガ');
  });

  it('Lowercase, Strip, StripAccents, Append', () => {
    expect(run({ type: 'Lowercase' }, 'AİΣ')[0]).toBe('ai̇σ');
    expect(run({ type: 'Strip', strip_left: true, strip_right: true }, '  ab ')).toEqual([
      'ab',
      [
        [2, 3],
        [3, 4],
      ],
    ]);
    expect(run({ type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }] }, 'é')[0]).toBe('e');
    expect(run({ type: 'Append', append: '!' }, 'ab')).toEqual([
      'ab!',
      [
        [0, 1],
        [1, 2],
        [1, 2],
      ],
    ]);
  });
});

describe('normalizers without alignments (encodeIds) give the text of the aligned path', () => {
  const specs: unknown[] = [
    { type: 'Prepend', prepend: '▁' },
    { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    { type: 'Replace', pattern: { String: 'ab' }, content: '$&$1$$' },
    { type: 'Replace', pattern: { String: 'aa' }, content: 'a' },
    { type: 'Replace', pattern: { String: ' ' }, content: '' },
    {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
  ];
  it.each(specs.map((n) => [JSON.stringify(n), n]))('%s', (_name, n) => {
    const norm = buildNormalizer(r, n as never, 'n')!;
    const alphabet = fc.constantFrom(...'ab a$ 漢🦙'.split(''), 'aaa', '  ', 'ab');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), (a) => {
        const s = a.join('');
        expect(norm(initialPiece(s, false)).text).toBe(norm(initialPiece(s, true)).text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('decoders (HF test cases)', () => {
  const dec = (d: unknown, tokens: string[]): string[] => buildDecoder(r, d as never, 'd')!(tokens);
  it('Strip, ByteFallback, Fuse, Replace, Metaspace, BPEDecoder', () => {
    expect(dec({ type: 'Strip', content: 'H', start: 1, stop: 0 }, ['Hey', ' friend!', 'HHH'])).toEqual(['ey', ' friend!', 'HH']);
    expect(dec({ type: 'Strip', content: 'y', start: 0, stop: 1 }, ['Hey', ' friend!'])).toEqual(['He', ' friend!']);
    expect(dec({ type: 'ByteFallback' }, ['<0xE5>', '<0x8f>', '<0xab>', 'a'])).toEqual(['叫', 'a']);
    expect(dec({ type: 'ByteFallback' }, ['<0xE5>', '<0x8f>', 'a'])).toEqual(['�', '�', 'a']);
    expect(dec({ type: 'Fuse' }, ['a', 'b'])).toEqual(['ab']);
    expect(dec({ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, ['▁a▁b'])).toEqual([' a b']);
    expect(dec({ type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }, ['▁Hey', '▁friend!'])).toEqual(['Hey', ' friend!']);
    expect(dec({ type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true }, ['▁Hey'])).toEqual([' Hey']);
    expect(dec({ type: 'BPEDecoder', suffix: '</w>' }, ['he</w>', 'llo</w>'])).toEqual(['he ', 'llo']);
    expect(dec({ type: 'ByteLevel' }, ['Ġhello', 'ĠðŁĺ', 'Ģ'])).toEqual([' hello 😀']);
  });
});

describe('a small pipeline end to end', () => {
  // Metaspace + BPE with byte fallback, unk fusion, a TemplateProcessing post-processor, and a lstrip/rstrip added token.
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2, '<0x41>': 3, '▁': 4, h: 5, i: 6, '▁h': 7, '▁hi': 8, '<mask>': 9 };
  const json = {
    model: { type: 'BPE', vocab, merges: ['▁ h', '▁h i'], unk_token: '<unk>', fuse_unk: true, byte_fallback: true },
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    added_tokens: [
      { id: 0, content: '<unk>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: 1, content: '<s>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: 2, content: '</s>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: 9, content: '<mask>', special: true, normalized: false, lstrip: true, rstrip: true, single_word: false },
    ],
  };
  const tok = fromTokenizerJsonValue(json, 'small.json');

  it('encodes with merges, unknown fusion, lstrip/rstrip added token and template', () => {
    const e = tok.encode('HI zz <mask> hi');
    expect(e.tokens).toEqual(['<s>', '▁hi', '▁', '<unk>', ' <mask> ', '▁hi', '</s>']);
    expect(e.ids).toEqual([1, 8, 4, 0, 9, 8, 2]);
    expect(e.offsets).toEqual([
      [0, 0],
      [0, 2],
      [2, 3],
      [3, 5],
      [5, 13],
      [13, 15],
      [0, 0],
    ]);
    expect(tok.encodeIds('HI zz <mask> hi')).toEqual(e.ids);
    // <unk> is an added special token here, so it is skipped too
    expect(tok.decode(e.ids)).toBe('hi  hi');
    // decode uses the token's content ("<mask>"), not the stripped spaces it matched
    expect(tok.decode(e.ids, { skipSpecialTokens: false })).toBe('<s> hi <unk><mask> hi</s>');
    expect(tok.bosId).toBe(1);
  });
});

describe('added tokens sharing one first character (found by indexOf) match as the general scan does', () => {
  const spec = (id: number, content: string, strip = false): { pattern: string; spec: AddedTokenSpec } => ({
    pattern: content,
    spec: { id, content, singleWord: false, lstrip: strip, rstrip: strip, normalized: false, special: true },
  });
  const shared = [spec(0, '<unk>'), spec(1, '<s>'), spec(2, '</s>'), spec(3, '<s><s>'), spec(4, '<m>', true)];
  // one more token whose first character never occurs in the text turns the shortcut off
  const general = [...shared, spec(5, '\u0001never')];
  it('on random text', () => {
    const a = new AddedTokenMatcher(shared);
    const b = new AddedTokenMatcher(general);
    const alphabet = fc.constantFrom('<', '>', '/', 's', 'unk', '<s>', '</s>', '<unk>', '<m>', ' ', 'x', '漢');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), (parts) => {
        const s = parts.join('');
        expect(a.findMatches(s)).toEqual(b.findMatches(s));
      }),
      { numRuns: 500 },
    );
  });
});
