/** Patterns of a Hugging Face tokenizer.json (`{"String": …}` or `{"Regex": …}`), shared by normalizers, pre-tokenizers and decoders. */
import { type Json, JsonReader } from './json';
import { type Matches, literalMatches, regexMatches } from './piece';
import { RegexTranslationError, compileOnigRegex } from './regex';
import { UnsafePatternError } from './regex-safety';

export type PatternSpec = { kind: 'string'; s: string } | { kind: 'regex'; re: RegExp };

export function readPattern(r: JsonReader, v: Json | undefined, key: string): PatternSpec {
  if (typeof v === 'string') return { kind: 'string', s: v };
  const o = r.obj(v, key);
  if (typeof o.String === 'string') return { kind: 'string', s: o.String };
  if (typeof o.Regex === 'string') {
    try {
      return { kind: 'regex', re: compileOnigRegex(o.Regex) };
    } catch (e) {
      if (e instanceof UnsafePatternError) throw r.error(`unsafe regex: ${e.message}`, `${key}.Regex`, 'a pattern without nested or overlapping repetition', o.Regex);
      if (e instanceof RegexTranslationError || e instanceof SyntaxError) {
        throw r.unsupported(`regex cannot be used here: ${e.message}`, `${key}.Regex`, o.Regex);
      }
      throw e;
    }
  }
  throw r.error('wrong value', key, '{"String": …} or {"Regex": …}', v);
}

export function patternMatches(p: PatternSpec, text: string, invert: boolean): Matches {
  return p.kind === 'string' ? literalMatches(p.s, text, invert) : regexMatches(p.re, text, invert);
}
