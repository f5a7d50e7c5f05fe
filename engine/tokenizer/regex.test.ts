import { describe, expect, it } from 'vitest';
import { RegexTranslationError, compileOnigRegex, translateOnigRegex } from './regex';

const all = (pattern: string, s: string): string[] => [...s.matchAll(compileOnigRegex(pattern))].map((m) => m[0]);
const full = (pattern: string, s: string): boolean => new RegExp(`^(?:${translateOnigRegex(pattern)})$`, 'u').test(s);

describe('Oniguruma -> JS regex translation', () => {
  it('(?i:...) becomes case classes (with simple case folding)', () => {
    expect(full("(?i:'s|'ll)", "'S")).toBe(true);
    expect(full("(?i:'s|'ll)", "'lL")).toBe(true);
    expect(full("(?i:'s|'ll)", "'\u017f")).toBe(true); // ſ folds to s
    expect(full("(?i:'s)x", "'sX")).toBe(false); // the flag ends with the group
    expect(full('a(?i)b', 'aB')).toBe(true);
    expect(full('(?i:[a-c])', 'B')).toBe(true);
  });

  it('\\s, \\d, \\w, . and anchors mean what they mean in Oniguruma', () => {
    expect(full('\\s', '\u0085')).toBe(true); // NEL is White_Space
    expect(full('\\s', '\ufeff')).toBe(false); // BOM is not (JS \\s says it is)
    expect(full('\\s', '\u3000')).toBe(true);
    expect(full('[^\\s\\p{L}]', '\u00a0')).toBe(false);
    expect(full('\\d', '٣')).toBe(true);
    expect(full('\\w', 'é')).toBe(true);
    expect(full('.', '\r')).toBe(true);
    expect(full('.', '\n')).toBe(false);
    expect(all('^b', 'a\nb')).toEqual(['b']);
    expect(all('a$', 'a\nb')).toEqual(['a']);
  });

  it('possessive quantifiers and atomic groups are emulated exactly', () => {
    expect(full('a++a', 'aaa')).toBe(false);
    expect(full('a+a', 'aaa')).toBe(true);
    expect(full('(?>a+)a', 'aaa')).toBe(false);
    expect(full('a*+b', 'aaab')).toBe(true);
    expect(full('[^\\s]?+\\p{L}+', 'xabc')).toBe(true);
    // Ruby syntax: `{n,m}+` is not possessive but a repeated interval
    expect(all('\\p{N}{1,3}+', '12345')).toEqual(['12345']);
    expect(all('\\p{N}{1,3}', '12345')).toEqual(['123', '45']);
  });

  it('scripts, hex escapes, escaped punctuation', () => {
    expect(full('\\p{Han}+', '大语言')).toBe(true);
    expect(full('\\p{Hiragana}', 'の')).toBe(true);
    expect(full('\\x{2581}', '▁')).toBe(true);
    expect(full("\\'", "'")).toBe(true);
    expect(full('[\\-a]', '-')).toBe(true);
    expect(full('a{2,}', 'aaa')).toBe(true);
    expect(full('a{,2}', 'aa')).toBe(true);
  });

  it('GPT-2 and Llama-3 patterns split as the tokenizers expect', () => {
    const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    expect(all(gpt2, "I'm fine  here 123!")).toEqual(['I', "'m", ' fine', ' ', ' here', ' 123', '!']);
    const llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    expect(all(llama3, "WE'LL pay 12345\n\n x")).toEqual(['WE', "'LL", ' pay', ' ', '123', '45', '\n\n', ' x']);
  });

  it('rejects what it cannot translate faithfully', () => {
    for (const p of ['\\X', '[[:alpha:]]', '(?m:a.b)', '[a&&b]', '(a', 'a)', '\\p{NoSuchProperty}', '*a']) {
      expect(() => translateOnigRegex(p), p).toThrow(RegexTranslationError);
    }
  });
});
