/**
 * The pipeline parts of a Hugging Face tokenizer.json: normalizers, pre-tokenizers,
 * post-processors and decoders, each built from its JSON and behaving as its counterpart
 * in HF tokenizers (Rust).
 */
import { type Json, type JsonObject, JsonReader } from './json';
import {
  type Matches,
  type Piece,
  type SplitBehavior,
  Transformer,
  charMatches,
  literalMatches,
  regexMatches,
  slicePiece,
  splitByMatches,
  unitLen,
} from './piece';
import { RegexTranslationError, compileOnigRegex, escapeRegExpLiteral } from './regex';
import {
  BYTE_TO_CHAR,
  CHAR_TO_BYTE,
  type NormalForm,
  isNumeric,
  isPunctuation,
  isWhitespace,
  normalizePiece,
  toByteLevel,
  utf8DecodeLossy,
  utf8DecodeStrict,
  utf8Encode,
} from './unicode';

// =============================================================== patterns

export type PatternSpec = { kind: 'string'; s: string } | { kind: 'regex'; re: RegExp };

function readPattern(r: JsonReader, v: Json | undefined, key: string): PatternSpec {
  if (typeof v === 'string') return { kind: 'string', s: v };
  const o = r.obj(v, key);
  if (typeof o.String === 'string') return { kind: 'string', s: o.String };
  if (typeof o.Regex === 'string') {
    try {
      return { kind: 'regex', re: compileOnigRegex(o.Regex) };
    } catch (e) {
      if (e instanceof RegexTranslationError || e instanceof SyntaxError) {
        throw r.unsupported(`regex cannot be used here: ${e.message}`, `${key}.Regex`, o.Regex);
      }
      throw e;
    }
  }
  throw r.error('wrong value', key, '{"String": …} or {"Regex": …}', v);
}

function patternMatches(p: PatternSpec, text: string, invert: boolean): Matches {
  return p.kind === 'string' ? literalMatches(p.s, text, invert) : regexMatches(p.re, text, invert);
}

// =============================================================== normalizers

export type Normalizer = (p: Piece) => Piece;

/** HF `NormalizedString::prepend`. */
export function prependPiece(p: Piece, s: string): Piece {
  if (p.text.length === 0) return p;
  const tr = new Transformer(p);
  const chars = [...s];
  const first = p.text.slice(0, unitLen(p.text, 0));
  chars.forEach((c, i) => tr.push(c, i === 0 ? 0 : 1));
  tr.push(first, 1);
  return tr.finish();
}

/** HF `NormalizedString::append`. */
function appendPiece(p: Piece, s: string): Piece {
  if (p.text.length === 0) return p;
  const t = p.text;
  let lastStart = t.length - 1;
  const c = t.charCodeAt(lastStart);
  if (c >= 0xdc00 && c <= 0xdfff && lastStart > 0) {
    const h = t.charCodeAt(lastStart - 1);
    if (h >= 0xd800 && h <= 0xdbff) lastStart--;
  }
  const tr = new Transformer(p);
  tr.copyTo(lastStart);
  tr.push(t.slice(lastStart), 0);
  for (const ch of s) tr.push(ch, 1);
  return tr.finish();
}

/** HF `NormalizedString::replace`. */
export function replacePiece(p: Piece, pat: PatternSpec, content: string): Piece {
  const matches = patternMatches(pat, p.text, false);
  if (!matches.some((m) => m[2])) return p;
  // Without alignments, a plain replace is enough.
  if (!p.align) {
    const parts: string[] = [];
    for (const [s, e, m] of matches) parts.push(m ? content : p.text.slice(s, e));
    return { text: parts.join(''), align: null, base: p.base, tokenId: p.tokenId };
  }
  const tr = new Transformer(p);
  const contentChars = [...content];
  for (const [s, e, m] of matches) {
    if (!m) continue;
    tr.copyTo(s);
    // transform_range(s..e, content chars all "inserted", initial_offset = removed chars)
    tr.skipTo(e);
    for (const c of contentChars) tr.push(c, 1);
  }
  return tr.finish();
}

/** HF `NormalizedString::filter`. */
function filterPiece(p: Piece, keep: (cp: number) => boolean): Piece {
  const t = p.text;
  let any = false;
  for (const ch of t) {
    if (!keep(ch.codePointAt(0)!)) {
      any = true;
      break;
    }
  }
  if (!any) return p;
  const chars = [...t];
  const kept = chars.map((c) => keep(c.codePointAt(0)!));
  let lead = 0;
  while (lead < chars.length && !kept[lead]) lead++;
  const tr = new Transformer(p, lead);
  for (let k = lead; k < chars.length; k++) {
    if (!kept[k]) continue;
    let removed = 0;
    while (k + 1 + removed < chars.length && !kept[k + 1 + removed]) removed++;
    tr.push(chars[k]!, -removed);
  }
  return tr.finish(false);
}

/** HF `NormalizedString::lrstrip`. */
function stripPiece(p: Piece, left: boolean, right: boolean): Piece {
  const chars = [...p.text];
  let lead = 0;
  if (left) while (lead < chars.length && isWhitespace(chars[lead]!.codePointAt(0)!)) lead++;
  let trail = 0;
  if (right) while (trail < chars.length - lead && isWhitespace(chars[chars.length - 1 - trail]!.codePointAt(0)!)) trail++;
  if (lead === 0 && trail === 0) return p;
  const tr = new Transformer(p, lead);
  const last = chars.length - trail - 1;
  for (let k = lead; k <= last; k++) tr.push(chars[k]!, k === last ? -trail : 0);
  return tr.finish(false);
}

function mapChars(p: Piece, f: (ch: string) => string): Piece {
  const tr = new Transformer(p);
  let changed = false;
  for (const ch of p.text) {
    const m = f(ch);
    if (m !== ch) changed = true;
    const out = [...m];
    out.forEach((c, i) => tr.push(c, i === 0 ? 0 : 1));
    if (out.length === 0) tr.push('', 0);
  }
  return changed ? tr.finish() : p;
}

function lowercasePiece(p: Piece): Piece {
  if (p.text.toLowerCase() === p.text) return p;
  return mapChars(p, (ch) => ch.toLowerCase());
}

const MARK_RE = /^\p{M}$/u;

function byteLevelNormalize(p: Piece): Piece {
  const tr = new Transformer(p);
  const bytes = [0, 0, 0, 0];
  for (const ch of p.text) {
    const enc = utf8Encode(ch);
    for (let k = 0; k < enc.length; k++) bytes[k] = enc[k]!;
    for (let k = 0; k < enc.length; k++) tr.push(String.fromCharCode(BYTE_TO_CHAR[bytes[k]!]!), k === 0 ? 0 : 1);
  }
  return tr.finish();
}

export function buildNormalizer(r: JsonReader, v: Json | undefined, key: string): Normalizer | null {
  if (v === undefined || v === null) return null;
  const o = r.obj(v, key);
  const type = r.str(o.type, `${key}.type`);
  switch (type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = type as NormalForm;
      return (p) => normalizePiece(p, form);
    }
    case 'Lowercase':
      return lowercasePiece;
    case 'Strip': {
      const left = r.bool(o.strip_left, `${key}.strip_left`, true);
      const right = r.bool(o.strip_right, `${key}.strip_right`, true);
      return (p) => stripPiece(p, left, right);
    }
    case 'StripAccents':
      // HF: `is_combining_mark` of unicode-normalization-alignments = General_Category Mark (Mn, Mc, Me)
      return (p) => filterPiece(p, (cp) => cp < 0x300 || !MARK_RE.test(String.fromCodePoint(cp)));
    case 'Prepend': {
      const s = r.str(o.prepend, `${key}.prepend`);
      return (p) => prependPiece(p, s);
    }
    case 'Append': {
      const s = r.str(o.append, `${key}.append`);
      return (p) => appendPiece(p, s);
    }
    case 'Replace': {
      const pat = readPattern(r, o.pattern, `${key}.pattern`);
      const content = r.str(o.content, `${key}.content`);
      return (p) => replacePiece(p, pat, content);
    }
    case 'ByteLevel':
      return byteLevelNormalize;
    case 'Sequence': {
      const list = r.arr(o.normalizers, `${key}.normalizers`);
      const parts = list.map((n, i) => buildNormalizer(r, n, `${key}.normalizers[${i}]`)).filter((n): n is Normalizer => n !== null);
      return (p) => {
        for (const n of parts) p = n(p);
        return p;
      };
    }
    default:
      throw r.unsupported(`normalizer type "${type}" is not supported`, `${key}.type`, type);
  }
}

// =============================================================== pre-tokenizers

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
    const steps = (this.textSteps ??= this.steps.filter(
      (s) => !(s instanceof ByteLevelPre && s.byteLevelLast && !s.useRegex && !s.addPrefixSpace),
    ));
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

function readPrependScheme(r: JsonReader, o: JsonObject, key: string): 'always' | 'first' | 'never' {
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
      return new SplitPre(
        readPattern(r, o.pattern, `${key}.pattern`),
        readBehavior(r, o.behavior, `${key}.behavior`),
        r.bool(o.invert, `${key}.invert`, false),
      );
    case 'Metaspace': {
      const rep = r.char(o.replacement, `${key}.replacement`);
      return metaspacePre(rep, readPrependScheme(r, o, key), r.bool(o.split, `${key}.split`, true));
    }
    case 'Digits': {
      const individual = r.bool(o.individual_digits, `${key}.individual_digits`, false);
      return new FnPre((p, out) =>
        splitByMatches(p, charMatches(isNumeric, p.text, false), individual ? 'Isolated' : 'Contiguous', out),
      );
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
      return new FnPre((p, out) => splitByMatches(p, charMatches((c) => c === d, p.text, false), 'Removed', out));
    }
    case 'BertPreTokenizer':
      return new FnPre((p, out) => {
        const tmp: Piece[] = [];
        splitByMatches(p, charMatches(isWhitespace, p.text, false), 'Removed', tmp);
        for (const q of tmp) splitByMatches(q, charMatches(isPunctuation, q.text, false), 'Isolated', out);
      });
    case 'Sequence': {
      const list = r.arr(o.pretokenizers, `${key}.pretokenizers`);
      const steps = list
        .map((s, i) => buildPreTokenizer(r, s, `${key}.pretokenizers[${i}]`))
        .filter((s): s is PreTokenizerStep => s !== null);
      return new SequencePre(steps);
    }
    default:
      throw r.unsupported(`pre-tokenizer type "${type}" is not supported`, `${key}.type`, type);
  }
}

// =============================================================== post-processors

/** A single-sequence encoding inside the pipeline; offsets are code points, flat [s0, e0, s1, e1, …]. */
export interface WorkEncoding {
  ids: number[];
  tokens: string[];
  offsets: number[];
}

export interface PostProcessor {
  process(enc: WorkEncoding, addSpecialTokens: boolean): WorkEncoding;
  /** Ids only (offset trimming does not change ids). */
  processIds(ids: number[], addSpecialTokens: boolean): number[];
  /** Ids this processor puts before the sequence when adding special tokens (for bosId). */
  readonly prefixIds: number[];
  readonly suffixIds: number[];
}

const BL_SPACE = String.fromCharCode(BYTE_TO_CHAR[0x20]!);

/** HF `process_offsets` (ByteLevel / Roberta trim_offsets). */
function trimOffsets(enc: WorkEncoding, addPrefixSpace: boolean): void {
  for (let i = 0; i < enc.tokens.length; i++) {
    const chars = [...enc.tokens[i]!];
    const isSp = (c: string): boolean => c === BL_SPACE || isWhitespace(c.codePointAt(0)!);
    let lead = 0;
    while (lead < chars.length && isSp(chars[lead]!)) lead++;
    let trail = 0;
    for (let k = chars.length - 1; k >= 0 && isSp(chars[k]!); k--) trail++;
    if (lead === 0 && trail === 0) continue;
    let s = enc.offsets[2 * i]!;
    let e = enc.offsets[2 * i + 1]!;
    if (lead > 0) {
      const isFirst = i === 0 || s === 0;
      if (isFirst && addPrefixSpace && lead === 1) lead = 0;
      s = Math.min(s + lead, e);
    }
    if (trail > 0 && e >= trail) e = Math.max(e - trail, s);
    enc.offsets[2 * i] = s;
    enc.offsets[2 * i + 1] = e;
  }
}

function wrapIds(ids: number[], before: [number, string][], after: [number, string][], add: boolean): number[] {
  if (!add || (before.length === 0 && after.length === 0)) return ids;
  const out: number[] = before.map((x) => x[0]);
  for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  for (const x of after) out.push(x[0]);
  return out;
}

function wrap(enc: WorkEncoding, before: [number, string][], after: [number, string][]): WorkEncoding {
  const ids: number[] = [];
  const tokens: string[] = [];
  const offsets: number[] = [];
  for (const [id, t] of before) {
    ids.push(id);
    tokens.push(t);
    offsets.push(0, 0);
  }
  for (let i = 0; i < enc.ids.length; i++) {
    ids.push(enc.ids[i]!);
    tokens.push(enc.tokens[i]!);
    offsets.push(enc.offsets[2 * i]!, enc.offsets[2 * i + 1]!);
  }
  for (const [id, t] of after) {
    ids.push(id);
    tokens.push(t);
    offsets.push(0, 0);
  }
  return { ids, tokens, offsets };
}

/** A post-processor that adds fixed tokens around the sequence (TemplateProcessing for one sequence). */
export function fixedPostProcessor(before: [number, string][], after: [number, string][]): PostProcessor {
  return {
    prefixIds: before.map((x) => x[0]),
    suffixIds: after.map((x) => x[0]),
    process(enc, add) {
      return add ? wrap(enc, before, after) : enc;
    },
    processIds: (ids, add) => wrapIds(ids, before, after, add),
  };
}

function readTokIdPair(r: JsonReader, v: Json | undefined, key: string): [number, string] {
  const a = r.arr(v, key);
  return [r.int(a[1], `${key}[1]`), r.str(a[0], `${key}[0]`)];
}

export function buildPostProcessor(r: JsonReader, v: Json | undefined, key: string): PostProcessor | null {
  if (v === undefined || v === null) return null;
  const o = r.obj(v, key);
  const type = r.str(o.type, `${key}.type`);
  switch (type) {
    case 'ByteLevel': {
      const trim = r.bool(o.trim_offsets, `${key}.trim_offsets`, true);
      const aps = r.bool(o.add_prefix_space, `${key}.add_prefix_space`, true);
      return {
        prefixIds: [],
        suffixIds: [],
        process(enc) {
          if (trim) trimOffsets(enc, aps);
          return enc;
        },
        processIds: (ids) => ids,
      };
    }
    case 'TemplateProcessing': {
      const single = r.arr(o.single, `${key}.single`);
      const specials = r.obj(o.special_tokens ?? {}, `${key}.special_tokens`);
      type Item = { kind: 'seq' } | { kind: 'special'; ids: number[]; tokens: string[] };
      const items: Item[] = single.map((it, i) => {
        const k = `${key}.single[${i}]`;
        const io = r.obj(it, k);
        if (io.Sequence !== undefined) {
          const sid = r.str(r.obj(io.Sequence, `${k}.Sequence`).id, `${k}.Sequence.id`);
          if (sid !== 'A') throw r.unsupported('only sequence A can appear in a single template', `${k}.Sequence.id`, sid);
          return { kind: 'seq' };
        }
        if (io.SpecialToken !== undefined) {
          const name = r.str(r.obj(io.SpecialToken, `${k}.SpecialToken`).id, `${k}.SpecialToken.id`);
          const spec = specials[name];
          if (spec === undefined) throw r.error('special token used by the template is not defined', `${key}.special_tokens`, `an entry "${name}"`);
          const so = r.obj(spec, `${key}.special_tokens.${name}`);
          const ids = r.arr(so.ids, `${key}.special_tokens.${name}.ids`).map((x, j) => r.int(x, `${key}.special_tokens.${name}.ids[${j}]`));
          const toks = r.arr(so.tokens, `${key}.special_tokens.${name}.tokens`).map((x, j) => r.str(x, `${key}.special_tokens.${name}.tokens[${j}]`));
          if (ids.length !== toks.length) throw r.error('ids and tokens differ in length', `${key}.special_tokens.${name}`);
          return { kind: 'special', ids, tokens: toks };
        }
        throw r.error('wrong value', k, '{"Sequence": …} or {"SpecialToken": …}', it);
      });
      const seqAt = items.findIndex((x) => x.kind === 'seq');
      const collect = (list: Item[]): [number, string][] =>
        list.flatMap((x) => (x.kind === 'special' ? x.ids.map((id, j): [number, string] => [id, x.tokens[j]!]) : []));
      const before = collect(seqAt < 0 ? items : items.slice(0, seqAt));
      const after = collect(seqAt < 0 ? [] : items.slice(seqAt + 1));
      return {
        prefixIds: before.map((x) => x[0]),
        suffixIds: after.map((x) => x[0]),
        process(enc, add) {
          if (!add) return enc;
          return wrap(enc, before, after);
        },
        processIds: (ids, add) => wrapIds(ids, before, after, add),
      };
    }
    case 'RobertaProcessing': {
      const sep = readTokIdPair(r, o.sep, `${key}.sep`);
      const cls = readTokIdPair(r, o.cls, `${key}.cls`);
      const trim = r.bool(o.trim_offsets, `${key}.trim_offsets`, true);
      const aps = r.bool(o.add_prefix_space, `${key}.add_prefix_space`, true);
      return {
        prefixIds: [cls[0]],
        suffixIds: [sep[0]],
        process(enc, add) {
          if (trim) trimOffsets(enc, aps);
          return add ? wrap(enc, [cls], [sep]) : enc;
        },
        processIds: (ids, add) => wrapIds(ids, [cls], [sep], add),
      };
    }
    case 'BertProcessing': {
      const sep = readTokIdPair(r, o.sep, `${key}.sep`);
      const cls = readTokIdPair(r, o.cls, `${key}.cls`);
      return {
        prefixIds: [cls[0]],
        suffixIds: [sep[0]],
        process(enc, add) {
          return add ? wrap(enc, [cls], [sep]) : enc;
        },
        processIds: (ids, add) => wrapIds(ids, [cls], [sep], add),
      };
    }
    case 'Sequence': {
      const list = r.arr(o.processors, `${key}.processors`);
      const procs = list.map((p, i) => buildPostProcessor(r, p, `${key}.processors[${i}]`)).filter((p): p is PostProcessor => p !== null);
      return {
        prefixIds: procs.flatMap((p) => p.prefixIds),
        suffixIds: procs.flatMap((p) => p.suffixIds),
        process(enc, add) {
          for (const p of procs) enc = p.process(enc, add);
          return enc;
        },
        processIds(ids, add) {
          for (const p of procs) ids = p.processIds(ids, add);
          return ids;
        },
      };
    }
    default:
      throw r.unsupported(`post-processor type "${type}" is not supported`, `${key}.type`, type);
  }
}

// =============================================================== decoders

export type Decoder = (tokens: string[]) => string[];

/** HF ByteLevel decoder: tokens -> bytes (raw UTF-8 for tokens outside the byte alphabet) -> lossy UTF-8. */
export function byteLevelDecode(tokens: string[]): string[] {
  const bytes: number[] = [];
  for (const t of tokens) {
    let ok = true;
    for (let k = 0; k < t.length; k++) {
      const c = t.charCodeAt(k);
      if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c]! < 0) {
        ok = false;
        break;
      }
    }
    if (ok) for (let k = 0; k < t.length; k++) bytes.push(CHAR_TO_BYTE[t.charCodeAt(k)]!);
    else for (const b of utf8Encode(t)) bytes.push(b);
  }
  return [utf8DecodeLossy(Uint8Array.from(bytes))];
}

/** HF ByteFallback decoder. */
export function byteFallbackDecode(tokens: string[]): string[] {
  const out: string[] = [];
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const s = utf8DecodeStrict(Uint8Array.from(pending));
    if (s !== null) out.push(s);
    else for (let k = 0; k < pending.length; k++) out.push('\ufffd');
    pending = [];
  };
  for (const t of tokens) {
    const b = byteTokenValue(t);
    if (b >= 0) pending.push(b);
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
}

/** `<0xNN>` -> NN, else -1 (HF: length 6, starts with "<0x", ends with ">", two hex digits). */
export function byteTokenValue(t: string): number {
  if (t.length !== 6 || !t.startsWith('<0x') || t[5] !== '>') return -1;
  const h = t.slice(3, 5);
  if (!/^[0-9a-fA-F]{2}$/.test(h)) return -1;
  return parseInt(h, 16);
}

function replaceAll(p: PatternSpec, s: string, content: string): string {
  if (p.kind === 'string') return p.s.length === 0 ? s : s.split(p.s).join(content);
  p.re.lastIndex = 0;
  return s.replace(p.re, () => content);
}

export function buildDecoder(r: JsonReader, v: Json | undefined, key: string): Decoder | null {
  if (v === undefined || v === null) return null;
  const o = r.obj(v, key);
  const type = r.str(o.type, `${key}.type`);
  switch (type) {
    case 'ByteLevel':
      return byteLevelDecode;
    case 'ByteFallback':
      return byteFallbackDecode;
    case 'Fuse':
      return (tokens) => [tokens.join('')];
    case 'Strip': {
      const content = r.char(o.content, `${key}.content`);
      const start = r.int(o.start, `${key}.start`, 0);
      const stop = r.int(o.stop, `${key}.stop`, 0);
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t];
          let startCut = 0;
          for (let i = 0; i < Math.min(start, chars.length); i++) {
            if (chars[i] === content) startCut = i + 1;
            else break;
          }
          let stopCut = chars.length;
          for (let i = 0; i < Math.min(stop, chars.length - startCut); i++) {
            const idx = chars.length - i - 1;
            if (chars[idx] === content) stopCut = idx;
            else break;
          }
          return chars.slice(startCut, stopCut).join('');
        });
    }
    case 'Replace': {
      const pat = readPattern(r, o.pattern, `${key}.pattern`);
      const content = r.str(o.content, `${key}.content`);
      return (tokens) => tokens.map((t) => replaceAll(pat, t, content));
    }
    case 'Metaspace': {
      const rep = r.char(o.replacement, `${key}.replacement`);
      const scheme = readPrependScheme(r, o, key);
      return (tokens) =>
        tokens.map((t, i) => {
          let s = '';
          for (const c of t) {
            if (c === rep) {
              if (!(i === 0 && scheme !== 'never')) s += ' ';
            } else s += c;
          }
          return s;
        });
    }
    case 'BPEDecoder': {
      const suffix = r.str(o.suffix ?? '</w>', `${key}.suffix`);
      return (tokens) => tokens.map((t, i) => (suffix ? t.split(suffix).join(i === tokens.length - 1 ? '' : ' ') : t));
    }
    case 'WordPiece': {
      const prefix = r.str(o.prefix ?? '##', `${key}.prefix`);
      const cleanup = r.bool(o.cleanup, `${key}.cleanup`, true);
      return (tokens) =>
        tokens.map((t, i) => {
          let s = t;
          if (i !== 0) s = s.startsWith(prefix) ? s.slice(prefix.length) : ` ${s}`;
          if (cleanup) {
            s = s
              .split(' .').join('.')
              .split(' ?').join('?')
              .split(' !').join('!')
              .split(' ,').join(',')
              .split(" ' ").join("'")
              .split(" n't").join("n't")
              .split(" 'm").join("'m")
              .split(' do not').join(" don't")
              .split(" 's").join("'s")
              .split(" 've").join("'ve")
              .split(" 're").join("'re");
          }
          return s;
        });
    }
    case 'Sequence': {
      const list = r.arr(o.decoders, `${key}.decoders`);
      const decs = list.map((d, i) => buildDecoder(r, d, `${key}.decoders[${i}]`)).filter((d): d is Decoder => d !== null);
      return (tokens) => {
        for (const d of decs) tokens = d(tokens);
        return tokens;
      };
    }
    default:
      throw r.unsupported(`decoder type "${type}" is not supported`, `${key}.type`, type);
  }
}

export { escapeRegExpLiteral };
