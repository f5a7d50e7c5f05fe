import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../errors';
import { fixturePath } from '../../tests/unit/fixtures';
import { fromTokenizerJsonValue } from './hf';
import { checkPatternSafety, UnsafePatternError } from './regex-safety';
import { TIKTOKEN_ENCODINGS } from './tiktoken';

/** Every {"Regex": …} in a parsed tokenizer.json. */
function regexesIn(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) regexesIn(x, out);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      if (k === 'Regex' && typeof x === 'string') out.push(x);
      else regexesIn(x, out);
    }
  return out;
}

function tokenizerJsons(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) tokenizerJsons(p, out);
    else if (f === 'tokenizer.json') out.push(p);
  }
  return out;
}

describe('regex safety', () => {
  it('passes every pattern the supported tokenizers use', () => {
    const patterns = [
      ...Object.values(TIKTOKEN_ENCODINGS).map((e) => e.pattern),
      // GPT-2, Llama 3, Qwen 2 (llama.cpp's table, as gguf-tokenizer.ts has them), DeepSeek's pre-tokenizer splits
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      '[\\r\\n]',
      '\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕ]+',
      '\\s?[!-/:-~！-／：-～‘-‟　-。]+',
      '\\s+$',
      '[一-龥ࠀ-一가-퟿]+',
      '\\p{N}+',
      ' ?\\p{L}++|\\x{2581}|(?>\\s+)', // possessive and atomic forms, braces
      '(?:ab|cd)+',
      '(?:[ab]{2}){3}',
      '[[a-z]&&[^aeiou]]+',
    ];
    const files = tokenizerJsons(fixturePath('.'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) patterns.push(...regexesIn(JSON.parse(readFileSync(f, 'utf8'))));
    for (const p of patterns) expect(() => checkPatternSafety(p), p).not.toThrow();
  });

  it.each([
    ['(a+)+$', 0],
    ['x(a*)*', 1],
    ['(a|aa)+', 0],
    ['(a|a)*$', 0],
    ['([ab]|a)+$', 0],
    ['^(\\w+\\s?)+$', 1],
    ['(x+x+)+y', 0],
    ['(.*a){12}', 0],
    ['((ab)*)+', 0],
    ['(a?){25}a{25}', 0],
    ['(?:(?i:a|A))+', 0],
    ['(\\1a|b)+', 0],
  ])('refuses %s, naming the offset', (p, offset) => {
    const e = (() => {
      try {
        checkPatternSafety(p);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(UnsafePatternError);
    expect((e as UnsafePatternError).offset).toBe(offset);
  });

  it('a tokenizer.json with a catastrophic Split pattern is refused at load, naming the file and key', () => {
    const json = {
      model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] },
      pre_tokenizer: { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false },
    };
    let err: unknown;
    try {
      fromTokenizerJsonValue(json, 'evil/tokenizer.json').encodeIds('a'.repeat(40) + 'b');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect(String((err as Error).message)).toMatch(/evil\/tokenizer\.json/);
    expect(String((err as Error).message)).toMatch(/pre_tokenizer\.pattern\.Regex/);
  });
});
