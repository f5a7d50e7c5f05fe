/** The normalizers of a Hugging Face tokenizer.json, each built from its JSON and behaving as in HF tokenizers (Rust). */
import { type Json, JsonReader } from './json';
import { type Piece, Transformer, unitLen } from './piece';
import { type PatternSpec, patternMatches, readPattern } from './patterns';
import { BYTE_TO_CHAR, type NormalForm, isWhitespace, normalizePiece, utf8Encode } from './unicode';

export type Normalizer = (p: Piece) => Piece;

/** HF `NormalizedString::prepend`. */
export function prependPiece(p: Piece, s: string): Piece {
  if (p.text.length === 0) return p;
  if (!p.align) return { text: s + p.text, align: null, base: p.base, tokenId: p.tokenId };
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
  // Without alignments, a literal pattern is a plain replace (non-overlapping, left to right, as HF).
  if (!p.align && pat.kind === 'string' && pat.s.length > 0) {
    if (!p.text.includes(pat.s)) return p;
    // replaceAll reads `$` in its replacement string as a pattern: split and join then
    const text = content.includes('$') ? p.text.split(pat.s).join(content) : p.text.replaceAll(pat.s, content);
    return { text, align: null, base: p.base, tokenId: p.tokenId };
  }
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
