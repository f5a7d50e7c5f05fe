/** The pre-tokenizers of a Hugging Face tokenizer.json, each built from its JSON and behaving as in HF tokenizers (Rust). */
import { type Json, type JsonObject, JsonReader } from './json';
import { prependPiece, replacePiece } from './normalizers';
import { type PatternSpec, patternMatches, readPattern } from './patterns';
import { type Piece, type SplitBehavior, charMatches, literalMatches, regexMatches, slicePiece, splitByMatches } from './piece';
import { compileOnigRegex } from './regex';
import { isNumeric, isPunctuation, isWhitespace, toByteLevel } from './unicode';

/** One step over the pieces of a text; pieces that are already tokens pass through untouched. */
export interface PreTokenizerStep {
  run(pieces: Piece[]): Piece[];
  /** Same split for a plain text (no alignments, no token pieces): the `encodeIds` fast path. */
  splitText(text: string, out: string[]): void;
  /** True if this step's output still needs GPT-2's byte-to-char mapping (deferred to the model). */
  readonly byteLevelLast: boolean;
  /** Needs real alignments even when offsets are not requested (Metaspace "first"). */
  readonly needsAlign: boolean;
}

/** Text-only fallback through the Piece path. */
function splitTextViaPieces(step: PreTokenizerStep, text: string, out: string[]): void {
  for (const p of step.run([{ text, align: null, base: 0 }])) if (p.text.length > 0) out.push(p.text);
}

/**
 * Isolated split of `text` by a regex (HF Split with behavior Isolated), text only. Uses a
 * sticky twin of the regex so that the common case (a match at the current position)
 * allocates no match object. Returns false (nothing pushed) when an empty match shows up;
 * the caller then takes the general path.
 */
function isolatedSplitText(re: RegExp, sticky: RegExp, text: string, out: string[]): boolean {
  const n = text.length;
  const start = out.length;
  let p = 0;
  while (p < n) {
    sticky.lastIndex = p;
    if (sticky.test(text)) {
      const e = sticky.lastIndex;
      if (e > p) {
        out.push(text.slice(p, e));
        p = e;
        continue;
      }
      out.length = start;
      return false;
    }
    re.lastIndex = p;
    const m = re.exec(text);
    if (!m) {
      out.push(text.slice(p));
      return true;
    }
    if (m[0].length === 0) {
      out.length = start;
      return false;
    }
    out.push(text.slice(p, m.index), m[0]);
    p = m.index + m[0].length;
  }
  return true;
}

/** `isolatedSplitText` for pieces with alignments. */
function isolatedSplitPiece(re: RegExp, sticky: RegExp, p: Piece, out: Piece[]): boolean {
  const text = p.text;
  const n = text.length;
  const start = out.length;
  let q = 0;
  while (q < n) {
    sticky.lastIndex = q;
    if (sticky.test(text)) {
      const e = sticky.lastIndex;
      if (e > q) {
        out.push(slicePiece(p, q, e));
        q = e;
        continue;
      }
      out.length = start;
      return false;
    }
    re.lastIndex = q;
    const m = re.exec(text);
    if (!m) {
      out.push(slicePiece(p, q, n));
      return true;
    }
    if (m[0].length === 0) {
      out.length = start;
      return false;
    }
    if (m.index > q) out.push(slicePiece(p, q, m.index));
    out.push(slicePiece(p, m.index, m.index + m[0].length));
    q = m.index + m[0].length;
  }
  return true;
}

const stickyCache = new WeakMap<RegExp, RegExp>();
function stickyOf(re: RegExp): RegExp {
  let s = stickyCache.get(re);
  if (!s) {
    s = new RegExp(re.source, re.flags.replace('g', '') + 'y');
    stickyCache.set(re, s);
  }
  return s;
}

function eachPiece(pieces: Piece[], f: (p: Piece, out: Piece[]) => void): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    if (p.tokenId !== undefined) out.push(p);
    else f(p, out);
  }
  return out;
}

const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
let gpt2Re: RegExp | null = null;
export function gpt2Regex(): RegExp {
  gpt2Re ??= compileOnigRegex(GPT2_PATTERN);
  return gpt2Re;
}

/** Eager byte-level mapping of a piece (used when ByteLevel is not the last pre-tokenizer). */
function byteLevelPiece(p: Piece): Piece {
  if (!p.align) return { text: toByteLevel(p.text), align: null, base: p.base };
  const unitOfByte: number[] = [];
  const text = toByteLevel(p.text, unitOfByte);
  const align = new Int32Array(2 * text.length);
  for (let k = 0; k < unitOfByte.length; k++) {
    align[2 * k] = p.align[2 * unitOfByte[k]!]!;
    align[2 * k + 1] = p.align[2 * unitOfByte[k]! + 1]!;
  }
  return { text, align, base: p.base };
}

export class ByteLevelPre implements PreTokenizerStep {
  byteLevelLast = true;
  readonly needsAlign = false;
  constructor(
    readonly addPrefixSpace: boolean,
    readonly useRegex: boolean,
  ) {}
  run(pieces: Piece[]): Piece[] {
    const re = this.useRegex ? gpt2Regex() : null;
    const res = eachPiece(pieces, (p, out) => {
      if (this.addPrefixSpace && !p.text.startsWith(' ')) p = prependPiece(p, ' ');
      if (re) {
        if (!isolatedSplitPiece(re, stickyOf(re), p, out)) splitByMatches(p, regexMatches(re, p.text, false), 'Isolated', out);
      } else if (p.text.length > 0) out.push(p);
    });
    if (!this.byteLevelLast) return res.map((p) => (p.tokenId !== undefined ? p : byteLevelPiece(p)));
    return res;
  }
  splitText(text: string, out: string[]): void {
    if (this.addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    const start = out.length;
    if (this.useRegex) {
      const re = gpt2Regex();
      if (!isolatedSplitText(re, stickyOf(re), text, out)) {
        splitTextViaPieces(new ByteLevelPre(false, true), text, out);
      }
    } else if (text.length > 0) out.push(text);
    if (!this.byteLevelLast) for (let k = start; k < out.length; k++) out[k] = toByteLevel(out[k]!);
  }
}

export class SplitPre implements PreTokenizerStep {
  readonly byteLevelLast = false;
  readonly needsAlign = false;
  constructor(
    readonly pattern: PatternSpec,
    readonly behavior: SplitBehavior,
    readonly invert: boolean,
  ) {}
  run(pieces: Piece[]): Piece[] {
    const pat = this.pattern;
    const fast = pat.kind === 'regex' && this.behavior === 'Isolated' && !this.invert;
    return eachPiece(pieces, (p, out) => {
      if (fast && isolatedSplitPiece(pat.re, stickyOf(pat.re), p, out)) return;
      splitByMatches(p, patternMatches(this.pattern, p.text, this.invert), this.behavior, out);
    });
  }
  splitText(text: string, out: string[]): void {
    const pat = this.pattern;
    if (pat.kind === 'regex' && this.behavior === 'Isolated' && !this.invert) {
      if (isolatedSplitText(pat.re, stickyOf(pat.re), text, out)) return;
    }
    splitTextViaPieces(this, text, out);
  }
}

class FnPre implements PreTokenizerStep {
  readonly byteLevelLast = false;
  constructor(
    readonly f: (p: Piece, out: Piece[]) => void,
    readonly needsAlign = false,
  ) {}
  run(pieces: Piece[]): Piece[] {
    return eachPiece(pieces, this.f);
  }
  splitText(text: string, out: string[]): void {
    splitTextViaPieces(this, text, out);
  }
}

export class SequencePre implements PreTokenizerStep {
  readonly byteLevelLast: boolean;
  readonly needsAlign: boolean;
  constructor(readonly steps: PreTokenizerStep[]) {
    // Only the last step may defer its byte-level mapping.
    steps.forEach((s, i) => {
      if (s instanceof ByteLevelPre && i < steps.length - 1) s.byteLevelLast = false;
    });
    const last = steps[steps.length - 1];
    this.byteLevelLast = last !== undefined && last.byteLevelLast;
    this.needsAlign = steps.some((s) => s.needsAlign);
  }
  run(pieces: Piece[]): Piece[] {
    for (const s of this.steps) pieces = s.run(pieces);
    return pieces;
  }
  /** Steps that change a plain text (a deferred ByteLevel without regex or prefix does not). */
  private textSteps: PreTokenizerStep[] | null = null;
  splitText(text: string, out: string[]): void {
    const steps = (this.textSteps ??= this.steps.filter((s) => !(s instanceof ByteLevelPre && s.byteLevelLast && !s.useRegex && !s.addPrefixSpace)));
    if (steps.length === 0) {
      if (text.length > 0) out.push(text);
      return;
    }
    if (steps.length === 1) {
      steps[0]!.splitText(text, out);
      return;
    }
    let words = [text];
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      const next: string[] = i === steps.length - 1 ? out : [];
      for (const w of words) step.splitText(w, next);
      words = next;
    }
  }
}

const BEHAVIORS = new Set(['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']);
function readBehavior(r: JsonReader, v: Json | undefined, key: string, dflt?: SplitBehavior): SplitBehavior {
  if ((v === undefined || v === null) && dflt) return dflt;
  const s = r.str(v, key);
  if (!BEHAVIORS.has(s)) throw r.error('wrong value', key, [...BEHAVIORS].join(', '), s);
  return s as SplitBehavior;
}

const WORD_RE = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;

function metaspacePre(replacement: string, scheme: 'always' | 'first' | 'never', split: boolean): PreTokenizerStep {
  return new FnPre((p, out) => {
    p = replacePiece(p, { kind: 'string', s: ' ' }, replacement);
    if (scheme === 'always' || (scheme === 'first' && p.base === 0)) {
      if (!p.text.startsWith(replacement)) p = prependPiece(p, replacement);
    }
    if (split) splitByMatches(p, literalMatches(replacement, p.text, false), 'MergedWithNext', out);
    else if (p.text.length > 0) out.push(p);
  }, scheme === 'first');
}

export function readPrependScheme(r: JsonReader, o: JsonObject, key: string): 'always' | 'first' | 'never' {
  if (o.prepend_scheme !== undefined && o.prepend_scheme !== null) {
    const s = r.str(o.prepend_scheme, `${key}.prepend_scheme`);
    if (s !== 'always' && s !== 'first' && s !== 'never') throw r.error('wrong value', `${key}.prepend_scheme`, 'always, first or never', s);
    return s;
  }
  return r.bool(o.add_prefix_space, `${key}.add_prefix_space`, true) ? 'always' : 'never';
}

export function buildPreTokenizer(r: JsonReader, v: Json | undefined, key: string): PreTokenizerStep | null {
  if (v === undefined || v === null) return null;
  const o = r.obj(v, key);
  const type = r.str(o.type, `${key}.type`);
  switch (type) {
    case 'ByteLevel':
      return new ByteLevelPre(r.bool(o.add_prefix_space, `${key}.add_prefix_space`, true), r.bool(o.use_regex, `${key}.use_regex`, true));
    case 'Split':
      return new SplitPre(readPattern(r, o.pattern, `${key}.pattern`), readBehavior(r, o.behavior, `${key}.behavior`), r.bool(o.invert, `${key}.invert`, false));
    case 'Metaspace': {
      const rep = r.char(o.replacement, `${key}.replacement`);
      return metaspacePre(rep, readPrependScheme(r, o, key), r.bool(o.split, `${key}.split`, true));
    }
    case 'Digits': {
      const individual = r.bool(o.individual_digits, `${key}.individual_digits`, false);
      return new FnPre((p, out) => splitByMatches(p, charMatches(isNumeric, p.text, false), individual ? 'Isolated' : 'Contiguous', out));
    }
    case 'Whitespace':
      return new FnPre((p, out) => splitByMatches(p, regexMatches(WORD_RE, p.text, true), 'Removed', out));
    case 'WhitespaceSplit':
      return new FnPre((p, out) => splitByMatches(p, charMatches(isWhitespace, p.text, false), 'Removed', out));
    case 'Punctuation': {
      const behavior = readBehavior(r, o.behavior, `${key}.behavior`, 'Isolated');
      return new FnPre((p, out) => splitByMatches(p, charMatches(isPunctuation, p.text, false), behavior, out));
    }
    case 'CharDelimiterSplit': {
      const d = r.char(o.delimiter, `${key}.delimiter`).codePointAt(0)!;
      return new FnPre((p, out) =>
        splitByMatches(
          p,
          charMatches((c) => c === d, p.text, false),
          'Removed',
          out,
        ),
      );
    }
    case 'BertPreTokenizer':
      return new FnPre((p, out) => {
        const tmp: Piece[] = [];
        splitByMatches(p, charMatches(isWhitespace, p.text, false), 'Removed', tmp);
        for (const q of tmp) splitByMatches(q, charMatches(isPunctuation, q.text, false), 'Isolated', out);
      });
    case 'Sequence': {
      const list = r.arr(o.pretokenizers, `${key}.pretokenizers`);
      const steps = list.map((s, i) => buildPreTokenizer(r, s, `${key}.pretokenizers[${i}]`)).filter((s): s is PreTokenizerStep => s !== null);
      return new SequencePre(steps);
    }
    default:
      throw r.unsupported(`pre-tokenizer type "${type}" is not supported`, `${key}.type`, type);
  }
}
