/**
 * Rejects regular expressions whose shape can backtrack catastrophically, before they are
 * compiled. Patterns in model files (a tokenizer.json's Split and Replace patterns, a PEFT
 * adapter's rank_pattern / alpha_pattern keys) are untrusted input, and a JavaScript RegExp
 * cannot be interrupted: one like `(a+)+$` takes exponential time on a line of `a`s, which
 * would freeze the thread that encodes (the extension host's hover runs the tokenizer).
 *
 * The rule is structural, in the spirit of "star height ≤ 1": a repeated item (a quantifier
 * whose maximum is above 1: `*`, `+`, `{n,}`, `{n,m}` with m > 1) must match a fixed width,
 * so it may not contain a variable-width quantifier, and an alternation inside it must be
 * literal strings of one length that differ from each other (`(?:ab|cd)+` passes,
 * `(?:a|aa)+`, `(?:a|a)+` and `(?:[ab]|a)+` do not). Every pattern of the tokenizers this
 * engine supports passes (GPT-2, Llama 3, Qwen 2, tiktoken, DeepSeek pre-tokenizers); a
 * rejected pattern gets an UnsafePatternError with the offset and the reason. Some safe
 * patterns are rejected too (`(?:\s*x)+`); the error says how to rewrite them.
 *
 * It reads both JavaScript and Oniguruma syntax (the subset tokenizer files use): groups with
 * `?:`, `?=`, `?!`, `?<=`, `?<!`, `?>`, `?<name>`, inline flags, classes with nested classes,
 * escapes with braces (`\p{L}`, `\x{2581}`, `\u{…}`), back-references.
 */

export class UnsafePatternError extends Error {
  constructor(
    /** Code-point offset in the pattern where the repeated item starts. */
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${reason} (at offset ${offset}); such a pattern can take exponential time on some inputs`);
    this.name = 'UnsafePatternError';
  }
}

/** What an item (atom, group or sequence) can match. */
interface Shape {
  min: number;
  max: number;
  /** The literal string it matches, when it is one (for alternation checks). */
  literal?: string;
  /** Contains an alternation (at any depth). */
  alternation: boolean;
  /** Literal alternatives when the item is exactly an alternation of literal strings. */
  branches?: string[];
}

const FIXED = (n: number, literal?: string): Shape => ({ min: n, max: n, literal, alternation: false });

/** Throws UnsafePatternError when `src` has a repeated item that can backtrack catastrophically. */
export function checkPatternSafety(src: string): void {
  const cs = [...src];
  let i = 0;

  const seq = (): Shape => {
    let min = 0;
    let max = 0;
    let literal: string | undefined = '';
    let alternation = false;
    let branches: string[] | undefined;
    let items = 0;
    while (i < cs.length && cs[i] !== '|' && cs[i] !== ')') {
      const start = i;
      let s = atom();
      if (s === null) continue; // inline flags, nothing to match
      s = quantified(s, start);
      min += s.min;
      max += s.max;
      literal = literal !== undefined && s.literal !== undefined ? literal + s.literal : undefined;
      alternation ||= s.alternation;
      branches = s.branches;
      items++;
    }
    return { min, max, literal, alternation, branches: items === 1 ? branches : undefined };
  };

  const alternatives = (): Shape => {
    const parts: Shape[] = [seq()];
    while (cs[i] === '|') {
      i++;
      parts.push(seq());
    }
    if (parts.length === 1) return parts[0];
    const lits = parts.map((p) => p.literal);
    const allLiteral = lits.every((l): l is string => l !== undefined);
    return {
      min: Math.min(...parts.map((p) => p.min)),
      max: Math.max(...parts.map((p) => p.max)),
      alternation: true,
      branches: allLiteral ? lits : undefined,
    };
  };

  /** One atom; null for an inline flag group like `(?i)`. */
  const atom = (): Shape | null => {
    const c = cs[i++];
    if (c === '(') return group();
    if (c === '[') {
      klass();
      return FIXED(1);
    }
    if (c === '\\') return escape();
    if (c === '^' || c === '$') return FIXED(0);
    if (c === '.') return FIXED(1);
    return FIXED(1, c.toLowerCase());
  };

  const group = (): Shape | null => {
    let lookaround = false;
    if (cs[i] === '?') {
      const a = cs[i + 1];
      const b = cs[i + 2];
      if (a === ':' || a === '>') i += 2;
      else if (a === '=' || a === '!') {
        i += 2;
        lookaround = true;
      } else if (a === '<' && (b === '=' || b === '!')) {
        i += 3;
        lookaround = true;
      } else if (a === '<' || a === 'P' || a === "'") {
        while (i < cs.length && cs[i] !== '>' && cs[i] !== "'") i++; // a named group
        i++;
      } else {
        // inline flags: (?i) (?-i) (?i:…) (?im-x:…)
        i++;
        while (i < cs.length && /[a-zA-Z-]/.test(cs[i])) i++;
        if (cs[i] === ')') {
          i++;
          return null;
        }
        i++; // ':'
      }
    }
    const inner = alternatives();
    if (cs[i] === ')') i++;
    return lookaround ? { min: 0, max: 0, alternation: inner.alternation } : inner;
  };

  const klass = (): void => {
    let depth = 1;
    if (cs[i] === '^') i++;
    if (cs[i] === ']') i++; // a leading ']' is literal
    while (i < cs.length && depth > 0) {
      const c = cs[i++];
      if (c === '\\') {
        skipEscapeBody();
      } else if (c === '[') {
        depth++;
      } else if (c === ']') depth--;
    }
  };

  /** After a backslash: skips the escape's body (with braces where it has them). */
  const skipEscapeBody = (): string | undefined => {
    const c = cs[i++];
    if ((c === 'p' || c === 'P' || c === 'x' || c === 'u' || c === 'k' || c === 'g') && (cs[i] === '{' || cs[i] === '<')) {
      const close = cs[i] === '{' ? '}' : '>';
      while (i < cs.length && cs[i] !== close) i++;
      i++;
    } else if (c === 'x') i += 2;
    else if (c === 'u') i += 4;
    return c;
  };

  const escape = (): Shape => {
    const c = skipEscapeBody();
    if (c === undefined) return FIXED(0);
    if ('bBAzZG'.includes(c)) return FIXED(0);
    if (c === 'k' || c === 'g' || /[1-9]/.test(c)) return { min: 0, max: Infinity, alternation: false }; // a back-reference
    if ('dDwWsShHpPxuRX'.includes(c) || 'nrtfv0e'.includes(c)) return FIXED(1);
    return FIXED(1, c.toLowerCase()); // an escaped literal
  };

  /** Applies a quantifier after an atom, if there is one, checking the repeated item. */
  const quantified = (s: Shape, start: number): Shape => {
    let lo: number;
    let hi: number;
    const c = cs[i];
    if (c === '*') [lo, hi] = [0, Infinity];
    else if (c === '+') [lo, hi] = [1, Infinity];
    else if (c === '?') [lo, hi] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(cs.slice(i, i + 24).join(''));
      if (!m || (m[1] === '' && m[3] === '')) return s; // a literal brace
      lo = m[1] === '' ? 0 : Number(m[1]);
      hi = m[2] === '' ? lo : m[3] === '' ? Infinity : Number(m[3]);
      i += m[0].length - 1;
    } else return s;
    i++;
    if (cs[i] === '?' || cs[i] === '+') i++; // lazy or possessive
    if (hi > 1) {
      if (s.min !== s.max) {
        throw new UnsafePatternError(
          start,
          `a repeated item matches text of varying length (a quantifier inside a quantifier, like (a+)+); make the inner part fixed-width or drop the outer quantifier`,
        );
      }
      if (s.alternation) {
        const b = s.branches;
        if (!b || new Set(b).size !== b.length) {
          throw new UnsafePatternError(
            start,
            `a repeated alternation whose branches can match the same text (like (a|a)+); make the branches distinct literal strings of one length`,
          );
        }
      }
    }
    const max = hi === Infinity ? (s.max === 0 ? 0 : Infinity) : s.max * hi;
    return { min: s.min * lo, max, alternation: s.alternation, literal: lo === hi && s.literal !== undefined ? s.literal.repeat(lo) : undefined };
  };

  while (i < cs.length) {
    alternatives();
    if (cs[i] === ')') i++; // an unbalanced ')' (the compiler reports it)
  }
}
