/**
 * Translates the Oniguruma patterns found in tokenizer.json files (and llama.cpp's
 * pre-tokenizer table) into JavaScript RegExp source for the `u` flag.
 *
 * What differs between Oniguruma (Ruby syntax, UTF-8) and JS:
 *   - `(?i:...)` / `(?i)` inline case-insensitivity: JS (before ES2025) has none. Letters in such a
 *     group become classes of their case variants (`s` -> `[sSſ]`, `k` -> `[kKK]` as Unicode
 *     simple case folding says).
 *   - `\s`, `\d`, `\w`, `\h` are Unicode-aware in Oniguruma, ASCII in JS: `\s` -> `\p{White_Space}`,
 *     `\d` -> `\p{Nd}`, `\w` -> letters, marks, decimal digits, connector punctuation.
 *   - possessive quantifiers (`x++`, `x*+`, `x?+`, `x{n,m}+`) and atomic groups `(?>...)` do not exist in JS:
 *     they are emulated exactly with a lookahead capture and a back-reference, `(?=(x+))\k<g>`.
 *   - `.` excludes only `\n` in Oniguruma (JS also excludes `\r`, U+2028, U+2029).
 *   - `^`/`$` are always line anchors in Ruby syntax.
 *   - `\p{Han}` (a script name) must be spelled `\p{Script=Han}` in JS.
 *   - `\x{2581}` -> `\u{2581}`; `\A`, `\z`, `\Z`.
 * Anything else Oniguruma-specific throws (the caller turns it into an UnsupportedError).
 */

import { checkPatternSafety } from './regex-safety';

export class RegexTranslationError extends Error {}

const WORD_CLASS_BODY = '\\p{L}\\p{M}\\p{Nd}\\p{Pc}';
const SYNTAX_CHARS = new Set('^$\\.*+?()[]{}|/'.split(''));

/** Case variants of one code point under Unicode simple case folding (what /x/iu matches). */
const caseVariantCache = new Map<string, string[]>();
function caseVariants(ch: string): string[] {
  let v = caseVariantCache.get(ch);
  if (v) return v;
  const set = new Set<string>([ch]);
  const lo = ch.toLowerCase();
  const up = ch.toUpperCase();
  if ([...lo].length === 1) set.add(lo);
  if ([...up].length === 1) set.add(up);
  // The few simple case foldings that toLowerCase/toUpperCase do not reach.
  const extra: Record<string, string[]> = {
    s: ['\u017f'],
    k: ['\u212a'],
    '\u00e5': ['\u212b'],
    '\u03c9': ['\u2126'],
  };
  for (const base of [...set]) {
    const e = extra[base.toLowerCase()];
    if (e) for (const x of e) set.add(x);
  }
  // Keep only what the JS engine itself agrees with under /iu (the reference of "simple case folding").
  const re = new RegExp(`^${escapeLiteral(ch)}$`, 'iu');
  v = [...set].filter((x) => re.test(x));
  caseVariantCache.set(ch, v);
  return v;
}

function escapeLiteral(ch: string): string {
  if (SYNTAX_CHARS.has(ch) || ch === '-') return `\\${ch}`;
  const cp = ch.codePointAt(0)!;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0xd800 && cp <= 0xdfff)) return `\\u{${cp.toString(16)}}`;
  return ch;
}

const GENERAL_CATEGORIES = new Set(
  (
    'L Lu Ll Lt Lm Lo LC M Mn Mc Me N Nd Nl No P Pc Pd Ps Pe Pi Pf Po S Sm Sc Sk So Z Zs Zl Zp C Cc Cf Cs Co Cn ' +
    'Letter Cased_Letter Uppercase_Letter Lowercase_Letter Titlecase_Letter Modifier_Letter Other_Letter Mark ' +
    'Nonspacing_Mark Spacing_Mark Enclosing_Mark Number Decimal_Number Letter_Number Other_Number Punctuation ' +
    'Connector_Punctuation Dash_Punctuation Open_Punctuation Close_Punctuation Initial_Punctuation Final_Punctuation ' +
    'Other_Punctuation Symbol Math_Symbol Currency_Symbol Modifier_Symbol Other_Symbol Separator Space_Separator ' +
    'Line_Separator Paragraph_Separator Other Control Format Surrogate Private_Use Unassigned'
  ).split(' '),
);

function propertyEscape(name: string, negated: boolean): string {
  let n = name.trim();
  if (n.startsWith('^')) {
    negated = !negated;
    n = n.slice(1);
  }
  const letter = negated ? 'P' : 'p';
  const candidates: string[] = [];
  if (GENERAL_CATEGORIES.has(n)) candidates.push(n);
  else {
    const underscored = n.replace(/[\s-]+/g, '_');
    candidates.push(underscored, `Script=${underscored}`, `Script=${underscored[0]?.toUpperCase()}${underscored.slice(1).toLowerCase()}`);
  }
  for (const c of candidates) {
    try {
      new RegExp(`\\${letter}{${c}}`, 'u');
      return `\\${letter}{${c}}`;
    } catch {
      /* try the next spelling */
    }
  }
  throw new RegexTranslationError(`unknown Unicode property \\p{${name}}`);
}

interface Frame {
  ci: boolean;
}

/**
 * Returns JS RegExp source (for flags 'gu') equivalent to the Oniguruma pattern `src`.
 * Throws RegexTranslationError on constructs it cannot translate faithfully.
 */
export function translateOnigRegex(src: string): string {
  const chars = [...src];
  let i = 0;
  const out: string[] = [];
  const stack: Frame[] = [{ ci: false }];
  // Output index where the most recent complete atom starts (for possessive quantifiers).
  let lastAtomStart = -1;
  // the previous token was a greedy quantifier (so a following quantifier nests)
  let quantified = false;
  // Per open group: output index of its '(' and whether it is an atomic group.
  const groupStarts: { outIndex: number; atomic: boolean; restoreCi: boolean | null }[] = [];
  let atomicCounter = 0;
  let hasNumberedBackref = false;
  let usesEmulation = false;

  const peek = (k = 0): string | undefined => chars[i + k];
  const ci = (): boolean => stack[stack.length - 1]!.ci;

  const emitAtom = (s: string): void => {
    quantified = false;
    lastAtomStart = out.length;
    out.push(s);
  };

  const literal = (ch: string): string => {
    if (ci()) {
      const vars = caseVariants(ch);
      if (vars.length > 1) return `[${vars.map(escapeInClass).join('')}]`;
    }
    return escapeLiteral(ch);
  };

  /** Translates an escape (after the backslash) outside classes; returns the JS atom. */
  const escapeOutside = (): string => {
    const c = chars[i++];
    if (c === undefined) throw new RegexTranslationError('pattern ends with a backslash');
    switch (c) {
      case 's':
        return '\\p{White_Space}';
      case 'S':
        return '\\P{White_Space}';
      case 'd':
        return '\\p{Nd}';
      case 'D':
        return '\\P{Nd}';
      case 'w':
        return `[${WORD_CLASS_BODY}]`;
      case 'W':
        return `[^${WORD_CLASS_BODY}]`;
      case 'h':
        return '[0-9a-fA-F]';
      case 'H':
        return '[^0-9a-fA-F]';
      case 'A':
        return '^';
      case 'z':
        return '$';
      case 'Z':
        return '(?=\\n?$)';
      case 'b':
      case 'B':
        return `\\${c}`;
      case 'p':
      case 'P':
        return propertyEscape(readBraced(), c === 'P');
      case 'x':
        return literal(readHex());
      case 'u':
        return literal(readU());
      case 'n':
      case 'r':
      case 't':
      case 'f':
      case 'v':
        return `\\${c}`;
      case 'a':
        return '\\u{7}';
      case 'e':
        return '\\u{1b}';
      case 'k':
        if (peek() === '<') {
          let name = '';
          i++;
          while (peek() !== undefined && peek() !== '>') name += chars[i++];
          i++;
          if (/^\d+$/.test(name)) {
            hasNumberedBackref = true;
            return `\\${name}`;
          }
          return `\\k<${name}>`;
        }
        throw new RegexTranslationError('unsupported \\k form');
      default:
        if (/[1-9]/.test(c)) {
          hasNumberedBackref = true;
          return `\\${c}`;
        }
        if (c === '0') return '\\u{0}';
        if (/[A-Za-z]/.test(c)) throw new RegexTranslationError(`unsupported escape \\${c}`);
        return literal(c);
    }
  };

  const readBraced = (): string => {
    if (peek() !== '{') {
      // \pL single-letter form
      const c = chars[i++];
      if (c === undefined) throw new RegexTranslationError('bad \\p');
      return c;
    }
    i++;
    let name = '';
    while (peek() !== undefined && peek() !== '}') name += chars[i++];
    if (peek() !== '}') throw new RegexTranslationError('unterminated \\p{');
    i++;
    return name;
  };

  const readHex = (): string => {
    let hex = '';
    if (peek() === '{') {
      i++;
      while (peek() !== undefined && peek() !== '}') hex += chars[i++];
      i++;
    } else {
      for (let k = 0; k < 2 && peek() !== undefined && /[0-9a-fA-F]/.test(peek()!); k++) hex += chars[i++];
    }
    if (!/^[0-9a-fA-F]+$/.test(hex)) throw new RegexTranslationError('bad \\x escape');
    return String.fromCodePoint(parseInt(hex, 16));
  };

  const readU = (): string => {
    let hex = '';
    for (let k = 0; k < 4; k++) hex += chars[i++] ?? '';
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new RegexTranslationError('bad \\u escape');
    return String.fromCodePoint(parseInt(hex, 16));
  };

  /** Translates a bracket class starting after '['. */
  const readClass = (): string => {
    let body = '';
    let negate = false;
    if (peek() === '^') {
      negate = true;
      i++;
    }
    let first = true;
    const members: string[] = [];
    while (true) {
      const c = chars[i];
      if (c === undefined) throw new RegexTranslationError('unterminated character class');
      if (c === ']' && !first) {
        i++;
        break;
      }
      first = false;
      if (c === '[') {
        throw new RegexTranslationError('nested or POSIX character classes are not supported');
      }
      if (c === '&' && peek(1) === '&') throw new RegexTranslationError('class intersection is not supported');
      if (c === '\\') {
        i++;
        const e = chars[i++];
        if (e === undefined) throw new RegexTranslationError('pattern ends with a backslash');
        switch (e) {
          case 's':
            members.push('\\p{White_Space}');
            continue;
          case 'S':
            members.push('\\P{White_Space}');
            continue;
          case 'd':
            members.push('\\p{Nd}');
            continue;
          case 'D':
            members.push('\\P{Nd}');
            continue;
          case 'w':
            members.push(WORD_CLASS_BODY);
            continue;
          case 'h':
            members.push('0-9a-fA-F');
            continue;
          case 'p':
          case 'P':
            members.push(propertyEscape(readBraced(), e === 'P'));
            continue;
          case 'x':
            members.push(classChar(readHex()));
            continue;
          case 'u':
            members.push(classChar(readU()));
            continue;
          case 'n':
          case 'r':
          case 't':
          case 'f':
          case 'v':
            members.push(`\\${e}`);
            continue;
          case 'a':
            members.push('\\u{7}');
            continue;
          case 'e':
            members.push('\\u{1b}');
            continue;
          case 'b':
            members.push('\\u{8}');
            continue;
          default:
            if (/[A-Za-z0-9]/.test(e)) throw new RegexTranslationError(`unsupported escape \\${e} in a class`);
            members.push(classChar(e));
            continue;
        }
      }
      // range a-z
      if (peek(1) === '-' && peek(2) !== undefined && peek(2) !== ']') {
        const lo = c;
        let hi = chars[i + 2]!;
        let adv = 3;
        if (hi === '\\') {
          const save = i;
          i += 3;
          const e = chars[i++];
          if (e === 'x') hi = readHex();
          else if (e === 'u') hi = readU();
          else if (e !== undefined && !/[A-Za-z0-9]/.test(e)) hi = e;
          else throw new RegexTranslationError('unsupported range end');
          adv = i - save;
          i = save;
        }
        i += adv;
        members.push(`${classChar(lo)}-${classChar(hi)}`);
        if (ci()) {
          // add case variants of the range ends only when the range is a plain ASCII letter range
          const a = lo.codePointAt(0)!;
          const b = hi.codePointAt(0)!;
          if (b - a < 256) {
            for (let cp = a; cp <= b; cp++) {
              for (const v of caseVariants(String.fromCodePoint(cp))) members.push(classChar(v));
            }
          }
        }
        continue;
      }
      i++;
      if (ci()) for (const v of caseVariants(c)) members.push(classChar(v));
      else members.push(classChar(c));
    }
    body = members.join('');
    return `[${negate ? '^' : ''}${body}]`;
  };

  while (i < chars.length) {
    const c = chars[i]!;
    if (c === '\\') {
      i++;
      const atom = escapeOutside();
      if (atom === '^' || atom === '$' || atom.startsWith('(?=') || atom === '\\b' || atom === '\\B') {
        out.push(atom);
        lastAtomStart = -1;
      } else emitAtom(atom);
      continue;
    }
    if (c === '[') {
      i++;
      emitAtom(readClass());
      continue;
    }
    if (c === '(') {
      i++;
      if (peek() === '?') {
        const n1 = peek(1);
        if (n1 === ':' || n1 === '=' || n1 === '!') {
          i += 2;
          groupStarts.push({ outIndex: out.length, atomic: false, restoreCi: null });
          out.push(`(?${n1}`);
          stack.push({ ci: ci() });
          continue;
        }
        if (n1 === '<' && (peek(2) === '=' || peek(2) === '!')) {
          i += 3;
          groupStarts.push({ outIndex: out.length, atomic: false, restoreCi: null });
          out.push(`(?<${chars[i - 1]}`);
          stack.push({ ci: ci() });
          continue;
        }
        if (n1 === '<' || n1 === 'P' || n1 === "'") {
          // named group (?<name>...) / (?P<name>...) / (?'name'...)
          i += n1 === 'P' ? 3 : 2;
          const close = n1 === "'" ? "'" : '>';
          let name = '';
          while (peek() !== undefined && peek() !== close) name += chars[i++];
          i++;
          groupStarts.push({ outIndex: out.length, atomic: false, restoreCi: null });
          out.push(`(?<${name}>`);
          stack.push({ ci: ci() });
          continue;
        }
        if (n1 === '>') {
          i += 2;
          usesEmulation = true;
          groupStarts.push({ outIndex: out.length, atomic: true, restoreCi: null });
          out.push('(?:');
          stack.push({ ci: ci() });
          continue;
        }
        if (n1 === '#') {
          // comment
          while (peek() !== undefined && peek() !== ')') i++;
          i++;
          continue;
        }
        // inline options (?i) (?-i) (?i:...) (?i-m:...)
        let j = i + 1;
        let on = true;
        let newCi = ci();
        let opts = '';
        while (chars[j] !== undefined && /[imsx-]/.test(chars[j]!)) {
          const o = chars[j]!;
          opts += o;
          if (o === '-') on = false;
          else if (o === 'i') newCi = on;
          else if (o === 'm' || o === 's' || o === 'x') {
            throw new RegexTranslationError(`inline option (?${o}) is not supported`);
          }
          j++;
        }
        if (opts.length > 0 && chars[j] === ':') {
          i = j + 1;
          groupStarts.push({ outIndex: out.length, atomic: false, restoreCi: null });
          out.push('(?:');
          stack.push({ ci: newCi });
          continue;
        }
        if (opts.length > 0 && chars[j] === ')') {
          // applies to the rest of the enclosing group
          i = j + 1;
          stack[stack.length - 1]!.ci = newCi;
          continue;
        }
        throw new RegexTranslationError(`unsupported group syntax (?${n1 ?? ''}`);
      }
      groupStarts.push({ outIndex: out.length, atomic: false, restoreCi: null });
      out.push('(');
      stack.push({ ci: ci() });
      continue;
    }
    if (c === ')') {
      i++;
      const g = groupStarts.pop();
      if (!g) throw new RegexTranslationError('unbalanced )');
      stack.pop();
      out.push(')');
      if (g.atomic) {
        // (?:X) atomic -> (?=(?<aN>X))\k<aN>
        const inner = out.splice(g.outIndex).join('');
        const name = `__atomic${atomicCounter++}`;
        out.push(`(?:(?=(?<${name}>${inner}))\\k<${name}>)`);
      }
      lastAtomStart = g.outIndex;
      quantified = false;
      continue;
    }
    if (c === '*' || c === '+' || c === '?' || c === '{') {
      let q = c;
      i++;
      if (c === '{') {
        let body = '';
        while (peek() !== undefined && peek() !== '}') body += chars[i++];
        if (peek() !== '}' || !/^\d*(,\d*)?$/.test(body) || body === '' || body === ',') {
          // Oniguruma treats an invalid interval as literal text
          i -= body.length;
          emitAtom('\\{');
          continue;
        }
        i++;
        if (body.startsWith(',')) body = `0${body}`;
        q = `{${body}}`;
      }
      if (lastAtomStart < 0) throw new RegexTranslationError(`quantifier ${q} without an atom`);
      if (quantified) {
        // Ruby syntax: a quantifier on a quantified atom repeats it, `x{1,3}+` == `(?:x{1,3})+`
        const inner = out.splice(lastAtomStart).join('');
        out.push(`(?:${inner})`);
        quantified = false;
      }
      if (peek() === '?') {
        i++;
        out.push(`${q}?`);
        lastAtomStart = -1;
        continue;
      }
      if (peek() === '+' && c !== '{') {
        // possessive: X*+ == (?>X*)
        i++;
        usesEmulation = true;
        const atom = out.splice(lastAtomStart).join('');
        const name = `__atomic${atomicCounter++}`;
        out.push(`(?:(?=(?<${name}>${atom}${q}))\\k<${name}>)`);
        lastAtomStart = -1;
        continue;
      }
      out.push(q);
      quantified = true; // lastAtomStart still points at the quantified atom
      continue;
    }
    quantified = false;
    if (c === '.') {
      i++;
      emitAtom('[^\\n]');
      continue;
    }
    if (c === '^') {
      i++;
      out.push('(?<![^\\n])');
      lastAtomStart = -1;
      continue;
    }
    if (c === '$') {
      i++;
      out.push('(?![^\\n])');
      lastAtomStart = -1;
      continue;
    }
    if (c === '|') {
      i++;
      out.push('|');
      lastAtomStart = -1;
      continue;
    }
    i++;
    emitAtom(literal(c));
  }
  if (groupStarts.length > 0) throw new RegexTranslationError('unbalanced (');
  if (usesEmulation && hasNumberedBackref) {
    throw new RegexTranslationError('possessive/atomic constructs together with numbered back-references');
  }
  return out.join('');
}

function escapeInClass(ch: string): string {
  return classChar(ch);
}

function classChar(ch: string): string {
  if (ch === '\\' || ch === ']' || ch === '[' || ch === '-' || ch === '^') return `\\${ch}`;
  const cp = ch.codePointAt(0)!;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0xd800 && cp <= 0xdfff)) return `\\u{${cp.toString(16)}}`;
  return ch;
}

/**
 * Compiles an Oniguruma pattern into a global, Unicode JS RegExp. Patterns whose shape can
 * backtrack catastrophically are refused first (UnsafePatternError, regex-safety.ts).
 */
export function compileOnigRegex(src: string): RegExp {
  checkPatternSafety(src);
  return new RegExp(translateOnigRegex(src), 'gu');
}

/** Escapes a literal string for use in a JS RegExp with the `u` flag. */
export function escapeRegExpLiteral(s: string): string {
  return [...s].map(escapeLiteral).join('');
}
