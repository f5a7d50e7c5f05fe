/** Unicode helpers shared by the tokenizers: UTF-8, GPT-2's byte-to-char table, normalization with alignments. */
import { type Piece, Transformer } from './piece';

// ---------------------------------------------------------------- GPT-2 byte <-> char

/** GPT-2's `bytes_to_unicode`: byte -> code point of the printable char standing for it. */
export const BYTE_TO_CHAR: Uint16Array = (() => {
  const t = new Uint16Array(256);
  const direct = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (direct(b)) t[b] = b;
    else t[b] = 256 + n++;
  }
  return t;
})();

/** Inverse of BYTE_TO_CHAR: char code (< 0x144) -> byte, or -1. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const t = new Int16Array(0x144).fill(-1);
  for (let b = 0; b < 256; b++) t[BYTE_TO_CHAR[b]!] = b;
  return t;
})();

/** The byte-level string of each byte (avoids String.fromCharCode in hot loops). */
export const BYTE_STR: string[] = Array.from(BYTE_TO_CHAR, (c) => String.fromCharCode(c));

// ---------------------------------------------------------------- UTF-8

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

/** UTF-8 -> string; invalid sequences become U+FFFD per maximal subpart (as Rust's from_utf8_lossy). */
export function utf8DecodeLossy(b: Uint8Array): string {
  return decoder.decode(b);
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** UTF-8 -> string, or null when the bytes are not valid UTF-8. */
export function utf8DecodeStrict(b: Uint8Array): string | null {
  try {
    return strictDecoder.decode(b);
  } catch {
    return null;
  }
}

/** Number of UTF-8 bytes of a code point. */
export function utf8Len(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Writes the UTF-8 bytes of `cp` into `out` at `k`; returns the new position. */
export function utf8Put(cp: number, out: number[] | Uint8Array, k: number): number {
  if (cp < 0x80) out[k++] = cp;
  else if (cp < 0x800) {
    out[k++] = 0xc0 | (cp >> 6);
    out[k++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[k++] = 0xe0 | (cp >> 12);
    out[k++] = 0x80 | ((cp >> 6) & 0x3f);
    out[k++] = 0x80 | (cp & 0x3f);
  } else {
    out[k++] = 0xf0 | (cp >> 18);
    out[k++] = 0x80 | ((cp >> 12) & 0x3f);
    out[k++] = 0x80 | ((cp >> 6) & 0x3f);
    out[k++] = 0x80 | (cp & 0x3f);
  }
  return k;
}

/** Replaces lone surrogates by U+FFFD (same length), as TextEncoder would. */
export function wellFormed(s: string): string {
  const f = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  if (f) {
    if (f.call(s)) return s;
    return (s as unknown as { toWellFormed: () => string }).toWellFormed();
  }
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/**
 * Byte-level string of a text (each UTF-8 byte as GPT-2's char). Also returns, when asked,
 * for each byte the UTF-16 unit index in `text` of the character it belongs to.
 */
export function toByteLevel(text: string, unitOfByte?: number[]): string {
  let ascii = true;
  for (let u = 0; u < text.length; u++) {
    if (text.charCodeAt(u) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    let s = '';
    for (let u = 0; u < text.length; u++) s += BYTE_STR[text.charCodeAt(u)]!;
    if (unitOfByte) for (let u = 0; u < text.length; u++) unitOfByte.push(u);
    return s;
  }
  const parts: string[] = [];
  const tmp = [0, 0, 0, 0];
  for (let u = 0; u < text.length;) {
    const cp = text.codePointAt(u)!;
    const w = cp > 0xffff ? 2 : 1;
    const n = utf8Put(cp, tmp, 0);
    for (let k = 0; k < n; k++) {
      parts.push(BYTE_STR[tmp[k]!]!);
      if (unitOfByte) unitOfByte.push(u);
    }
    u += w;
  }
  return parts.join('');
}

/**
 * For the byte-level form of `text`: the UTF-16 unit (in `text`) of the character each byte
 * comes from; null when `text` is ASCII (byte k is unit k).
 */
export function byteUnits(text: string): Int32Array | null {
  let nBytes = 0;
  let ascii = true;
  for (let u = 0; u < text.length; u++) {
    const c = text.charCodeAt(u);
    if (c < 0x80) nBytes++;
    else {
      ascii = false;
      if (c < 0x800) nBytes += 2;
      else if (c >= 0xd800 && c <= 0xdbff && u + 1 < text.length && (text.charCodeAt(u + 1) & 0xfc00) === 0xdc00) {
        nBytes += 4;
        u++;
      } else nBytes += 3;
    }
  }
  if (ascii) return null;
  const map = new Int32Array(nBytes);
  let k = 0;
  for (let u = 0; u < text.length;) {
    const cp = text.codePointAt(u)!;
    const n = utf8Len(cp);
    for (let j = 0; j < n; j++) map[k++] = u;
    u += cp > 0xffff ? 2 : 1;
  }
  return map;
}

// ---------------------------------------------------------------- character classes

const WS_RE = /^\p{White_Space}$/u;
/** Rust `char::is_whitespace` (Unicode White_Space). */
export function isWhitespace(cp: number): boolean {
  if (cp < 0x80) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d);
  return WS_RE.test(String.fromCodePoint(cp));
}

const NUMERIC_RE = /^\p{N}$/u;
/** Rust `char::is_numeric` (Nd, Nl, No). */
export function isNumeric(cp: number): boolean {
  if (cp < 0x80) return cp >= 0x30 && cp <= 0x39;
  return NUMERIC_RE.test(String.fromCodePoint(cp));
}

const PUNCT_RE = /^\p{P}$/u;
/** HF `is_punctuation`: ASCII punctuation or Unicode P*. */
export function isPunctuation(cp: number): boolean {
  if (cp < 0x80) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  }
  return PUNCT_RE.test(String.fromCodePoint(cp));
}

// ---------------------------------------------------------------- normalization with alignments

export type NormalForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/**
 * Characters that can interact with the one before them under normalization: combining marks,
 * Hangul medial vowels and final consonants (they compose with the syllable before), and the
 * half-width voicing marks (NFKC turns them into combining marks).
 */
const ATTACHES_RE = /[\p{M}\u1160-\u11ff\uff9e\uff9f]/u;

function clusterBoundaries(text: string): number[] {
  // starts (unit indices) of clusters: a cluster is a char plus the chars that attach to it
  const starts: number[] = [];
  for (let u = 0; u < text.length;) {
    const cp = text.codePointAt(u)!;
    const w = cp > 0xffff ? 2 : 1;
    if (u === 0 || cp < 0x300 || !ATTACHES_RE.test(String.fromCodePoint(cp))) starts.push(u);
    u += w;
  }
  return starts;
}

/**
 * HF `NormalizedString::nfc()` etc. The normalized text is exactly `String.prototype.normalize`.
 * Alignments (HF takes them from unicode-normalization-alignments): the text is cut into
 * clusters (a character and the marks that attach to it), each normalized on its own. Inside
 * a cluster every decomposed character is traced to the input character it comes from; a
 * composed output character takes the range of its starter (é from e + U+0301 keeps e's
 * range), marks that stay separate keep their own, and decompositions (ﬁ -> f i, 한 -> jamo)
 * repeat the range of their source character.
 */
export function normalizePiece(p: Piece, form: NormalForm): Piece {
  const t = p.text;
  // below these code points every character is its own normal form
  const limit = form === 'NFC' ? 0x300 : form === 'NFD' ? 0xc0 : 0xa0;
  let simple = true;
  for (let u = 0; u < t.length; u++) {
    if (t.charCodeAt(u) >= limit) {
      simple = false;
      break;
    }
  }
  if (simple) return p;
  const full = t.normalize(form);
  if (full === t) return p;
  if (!p.align) return { text: full, align: null, base: p.base, tokenId: p.tokenId };

  let starts = clusterBoundaries(t);
  let outs = starts.map((s, k) => t.slice(s, starts[k + 1] ?? t.length).normalize(form));
  if (outs.join('') !== full) {
    // Some composition crosses our cluster boundaries: grow clusters until pieces agree.
    const merged: number[] = [];
    let acc = '';
    let accStart = 0;
    let consumed = 0;
    for (let k = 0; k < starts.length; k++) {
      const s = starts[k]!;
      const e = starts[k + 1] ?? t.length;
      if (acc === '') accStart = s;
      acc += t.slice(s, e);
      const accOut = acc.normalize(form);
      const nextStart = starts[k + 1];
      const next = nextStart !== undefined ? t.slice(nextStart, starts[k + 2] ?? t.length) : '';
      if (full.startsWith(accOut, consumed) && (next === '' || accOut + next.normalize(form) === (acc + next).normalize(form))) {
        merged.push(accStart);
        consumed += accOut.length;
        acc = '';
      }
    }
    if (acc !== '') merged.push(accStart);
    starts = merged;
    outs = starts.map((s, k) => t.slice(s, starts[k + 1] ?? t.length).normalize(form));
    if (outs.join('') !== full) {
      starts = [0];
      outs = [full];
    }
  }
  // HF replays (char, change) pairs through NormalizedString::transform (see Transformer):
  // decomposition gives each input char (first, 0) + (rest, +1); canonical reordering moves
  // the pairs; a composition replaces its starter and absorbs each composed mark with one
  // removal (change - 1).
  const tr = new Transformer(p);
  const decompForm = form === 'NFC' || form === 'NFD' ? 'NFD' : 'NFKD';
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k]!;
    const e = starts[k + 1] ?? t.length;
    const src = t.slice(s, e);
    const dst = outs[k]!;
    tr.copyTo(s);
    if (src === dst) {
      tr.copyTo(e);
      continue;
    }
    // (char, change) of each input char's own decomposition, in input order
    const tagged: { ch: string; change: number; used: boolean }[] = [];
    for (const ch of src) {
      const d = [...ch.normalize(decompForm)];
      d.forEach((c, j) => tagged.push({ ch: c, change: j === 0 ? 0 : 1, used: false }));
    }
    // canonical reordering is a stable sort of those pairs: the changes travel with their chars
    const dec = [...src.normalize(decompForm)];
    const changes: number[] = dec.map((c) => {
      const x = tagged.find((y) => !y.used && y.ch === c);
      if (!x) return NaN;
      x.used = true;
      return x.change;
    });
    if (dec.length !== tagged.length || changes.some((c) => Number.isNaN(c))) {
      // should not happen (reordering is a permutation); fall back to positional pairs
      const out = [...dst];
      out.forEach((c, j) => tr.push(c, j < [...src].length ? (j === out.length - 1 ? -Math.max(0, [...src].length - out.length) : 0) : 1));
      tr.skipTo(e);
      continue;
    }
    if (decompForm === form) {
      dec.forEach((c, j) => tr.push(c, changes[j]!));
      tr.skipTo(e);
      continue;
    }
    const used = new Uint8Array(dec.length);
    const emitted: { pos: number; ch: string; change: number }[] = [];
    let ok = true;
    for (const o of dst) {
      const parts = [...o.normalize('NFD')];
      let pos = -1;
      let change = 0;
      for (let j = 0; j < parts.length; j++) {
        let found = -1;
        for (let q = j === 0 ? 0 : pos + 1; q < dec.length; q++) {
          if (!used[q] && dec[q] === parts[j]) {
            found = q;
            break;
          }
        }
        if (found < 0) {
          ok = false;
          break;
        }
        used[found] = 1;
        if (j === 0) {
          pos = found;
          change = changes[found]!;
        } else change += changes[found]! - 1;
      }
      if (!ok) break;
      emitted.push({ pos, ch: o, change });
    }
    if (!ok || used.some((u) => u === 0)) {
      const out = [...dst];
      const n = [...src].length;
      out.forEach((c, j) => tr.push(c, j < n ? (j === out.length - 1 ? -Math.max(0, n - out.length) : 0) : 1));
    } else {
      for (const x of emitted) tr.push(x.ch, x.change);
    }
    tr.skipTo(e);
  }
  return tr.finish();
}
