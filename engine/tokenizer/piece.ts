/**
 * A piece of text on its way through a tokenizer pipeline, with the alignment of every
 * UTF-16 unit to the original input (the engine's version of HF's `NormalizedString`).
 *
 * HF keeps, for every byte of the normalized string, the [start, end) byte range of the
 * original character it comes from. Every transformation copies those ranges (a replaced
 * character takes the range of the one it replaces, an inserted one the range of the
 * character before it), so they are always whole original characters. Here the same rule
 * is applied per UTF-16 unit, with ranges in original code points: the results are the
 * same ranges HF reports, already converted to characters.
 *
 * `align` is null when offsets are not wanted (`encodeIds`): every operation then only
 * builds text.
 */

export interface Piece {
  text: string;
  /** [start, end) in original code points for every UTF-16 unit of `text`, interleaved; or null. */
  align: Int32Array | null;
  /** HF `original_shift`: where this slice starts in the original (code points); meaningful when align is set. */
  base: number;
  /** Set when this piece is already a token (an added token found in the text). */
  tokenId?: number;
}

/** The whole input as one piece, aligned to itself. */
export function initialPiece(text: string, withAlign: boolean): Piece {
  if (!withAlign) return { text, align: null, base: 0 };
  const n = text.length;
  const align = new Int32Array(2 * n);
  let cp = 0;
  for (let u = 0; u < n; u++) {
    const c = text.charCodeAt(u);
    align[2 * u] = cp;
    align[2 * u + 1] = cp + 1;
    if (c >= 0xd800 && c <= 0xdbff && u + 1 < n) {
      const d = text.charCodeAt(u + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        u++;
        align[2 * u] = cp;
        align[2 * u + 1] = cp + 1;
      }
    }
    cp++;
  }
  return { text, align, base: 0 };
}

/** HF `NormalizedString::slice` over normalized UTF-16 units [s, e). */
export function slicePiece(p: Piece, s: number, e: number): Piece {
  if (s === 0 && e === p.text.length) return { text: p.text, align: p.align, base: p.base };
  const text = p.text.slice(s, e);
  if (!p.align) return { text, align: null, base: s === 0 ? p.base : -1 };
  const align = p.align.subarray(2 * s, 2 * e);
  return { text, align, base: e > s ? align[0]! : p.base };
}

/** Length in UTF-16 units of the code point starting at unit `u`. */
export function unitLen(text: string, u: number): number {
  const c = text.charCodeAt(u);
  if (c >= 0xd800 && c <= 0xdbff && u + 1 < text.length) {
    const d = text.charCodeAt(u + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/**
 * Incremental builder for HF `transform_range` over a whole piece: push new characters with
 * their HF `change` (0 = replaces the next old character, 1 = inserted, -n = replaces the next
 * old character and removes n more).
 */
export class Transformer {
  private readonly old: Piece;
  private pos = 0; // unit index in old.text
  private readonly parts: string[] = [];
  private align: Int32Array | null;
  private len = 0;

  constructor(old: Piece, initialRemovedChars = 0) {
    this.old = old;
    this.align = old.align ? new Int32Array(Math.max(8, old.align.length + 8)) : null;
    for (let k = 0; k < initialRemovedChars; k++) this.skipOld();
  }

  private skipOld(): void {
    if (this.pos < this.old.text.length) this.pos += unitLen(this.old.text, this.pos);
  }

  /** Copies old characters verbatim up to old unit index `u` (exclusive). */
  copyTo(u: number): void {
    if (u <= this.pos) return;
    const s = this.old.text.slice(this.pos, u);
    this.parts.push(s);
    if (this.align) {
      this.ensure(s.length);
      this.align.set(this.old.align!.subarray(2 * this.pos, 2 * u), 2 * this.len);
    }
    this.len += s.length;
    this.pos = u;
  }

  /** Skips (removes) old units up to `u` (exclusive), no output. */
  skipTo(u: number): void {
    if (u > this.pos) this.pos = u;
  }

  get oldPos(): number {
    return this.pos;
  }

  push(ch: string, change: number): void {
    let a0 = 0;
    let a1 = 0;
    const oa = this.old.align;
    if (change > 0) {
      if (oa) {
        if (this.pos >= 1) {
          a0 = oa[2 * (this.pos - 1)]!;
          a1 = oa[2 * (this.pos - 1) + 1]!;
        } else {
          // HF: an insertion before everything gets (0, 0) relative to the slice.
          a0 = this.old.base;
          a1 = this.old.base;
        }
      }
    } else {
      if (oa) {
        if (this.pos < this.old.text.length) {
          a0 = oa[2 * this.pos]!;
          a1 = oa[2 * this.pos + 1]!;
        } else if (this.pos >= 1) {
          a0 = oa[2 * (this.pos - 1)]!;
          a1 = oa[2 * (this.pos - 1) + 1]!;
        }
      }
      this.skipOld();
      for (let k = 0; k < -change; k++) this.skipOld();
    }
    this.parts.push(ch);
    if (this.align) {
      this.ensure(ch.length);
      for (let k = 0; k < ch.length; k++) {
        this.align[2 * (this.len + k)] = a0;
        this.align[2 * (this.len + k) + 1] = a1;
      }
    }
    this.len += ch.length;
  }

  private ensure(extra: number): void {
    const need = 2 * (this.len + extra);
    if (this.align && need > this.align.length) {
      const n = new Int32Array(Math.max(need, this.align.length * 2));
      n.set(this.align.subarray(0, 2 * this.len));
      this.align = n;
    }
  }

  /** Finishes: the old text after the current position is dropped unless `keepRest`. */
  finish(keepRest = true): Piece {
    if (keepRest) this.copyTo(this.old.text.length);
    const text = this.parts.join('');
    const align = this.align ? this.align.slice(0, 2 * this.len) : null;
    return { text, align, base: this.old.base, tokenId: this.old.tokenId };
  }
}

export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/** Match list as HF `Pattern::find_matches`: contiguous [start, end, isMatch] covering the text. */
export type Matches = [number, number, boolean][];

/** HF `NormalizedString::split`: applies a split behaviour to a match list; drops empty slices. */
export function splitByMatches(p: Piece, matches: Matches, behavior: SplitBehavior, out: Piece[]): void {
  let splits: [number, number, boolean][]; // [start, end, remove]
  switch (behavior) {
    case 'Isolated':
      splits = matches.map(([s, e]) => [s, e, false]);
      break;
    case 'Removed':
      splits = matches;
      break;
    case 'Contiguous': {
      splits = [];
      let prev = false;
      for (const [s, e, m] of matches) {
        const last = splits[splits.length - 1];
        if (m === prev && last) last[1] = e;
        else splits.push([s, e, false]);
        prev = m;
      }
      break;
    }
    case 'MergedWithPrevious': {
      splits = [];
      let prev = false;
      for (const [s, e, m] of matches) {
        const last = splits[splits.length - 1];
        if (m && !prev && last) last[1] = e;
        else splits.push([s, e, false]);
        prev = m;
      }
      break;
    }
    case 'MergedWithNext': {
      const rev: [number, number, boolean][] = [];
      let prev = false;
      for (let k = matches.length - 1; k >= 0; k--) {
        const [s, e, m] = matches[k]!;
        const last = rev[rev.length - 1];
        if (m && !prev && last) last[0] = s;
        else rev.push([s, e, false]);
        prev = m;
      }
      splits = rev.reverse();
      break;
    }
  }
  for (const [s, e, remove] of splits) {
    if (remove || e <= s) continue;
    out.push(slicePiece(p, s, e));
  }
}

/** Matches of a global JS RegExp over `text`, as HF builds them (gaps are non-matches). */
export function regexMatches(re: RegExp, text: string, invert: boolean): Matches {
  if (text.length === 0) return [[0, 0, invert]];
  const res: Matches = [];
  let prev = 0;
  re.lastIndex = 0;
  for (;;) {
    const m = re.exec(text);
    if (!m) break;
    const s = m.index;
    const e = s + m[0].length;
    if (e === s) {
      // empty match: advance one code point (Oniguruma find_iter does the same)
      re.lastIndex = s + unitLen(text, s);
      if (s >= text.length) break;
      if (prev !== s) res.push([prev, s, invert]);
      res.push([s, s, !invert]);
      prev = s;
      continue;
    }
    if (prev !== s) res.push([prev, s, invert]);
    res.push([s, e, !invert]);
    prev = e;
  }
  if (prev !== text.length) res.push([prev, text.length, invert]);
  return res;
}

/** Matches of a literal string (non-overlapping, left to right), as HF does for `String` patterns. */
export function literalMatches(needle: string, text: string, invert: boolean): Matches {
  if (needle.length === 0) return [[0, text.length, invert]];
  if (text.length === 0) return [[0, 0, invert]];
  const res: Matches = [];
  let prev = 0;
  let k = text.indexOf(needle);
  while (k >= 0) {
    if (prev !== k) res.push([prev, k, invert]);
    res.push([k, k + needle.length, !invert]);
    prev = k + needle.length;
    k = text.indexOf(needle, prev);
  }
  if (prev !== text.length) res.push([prev, text.length, invert]);
  return res;
}

/** Matches of a per-character predicate (each matching code point is its own match). */
export function charMatches(pred: (cp: number) => boolean, text: string, invert: boolean): Matches {
  if (text.length === 0) return [[0, 0, invert]];
  const res: Matches = [];
  let last = 0;
  for (let u = 0; u < text.length;) {
    const cp = text.codePointAt(u)!;
    const w = cp > 0xffff ? 2 : 1;
    if (pred(cp)) {
      if (last < u) res.push([last, u, invert]);
      res.push([u, u + w, !invert]);
      last = u + w;
    }
    u += w;
  }
  if (last < text.length) res.push([last, text.length, invert]);
  return res;
}
