/**
 * OpenAI tiktoken vocabularies (`*.tiktoken`: one "base64(token bytes) rank" per line), encoded
 * as tiktoken does: special tokens split out, the encoding's regex splits the rest, and each
 * piece's UTF-8 bytes are merged pairwise, always the adjacent pair whose concatenation has the
 * lowest rank (leftmost on ties), until no concatenation is a token.
 *
 * Regexes and special tokens of `cl100k_base` (GPT-4, GPT-3.5) and `o200k_base` (GPT-4o, o1…)
 * are built in; they are the JavaScript forms `gpt-tokenizer` and `js-tiktoken` use, so the
 * three agree on every string (tests/unit/tiktoken-corpus.test.ts).
 *
 * Tokens are shown in GPT-2's byte-level alphabet (`Ġ` = space, `Ċ` = newline), as Hugging Face
 * shows the same vocabularies.
 */
import { FormatError } from '../errors';
import { WindowStreamDecoder } from './stream';
import type { DecodeOptions, EncodeOptions, Encoding, StreamDecoder, StreamDecoderOptions, Tokenizer } from './types';
import { BYTE_STR, utf8DecodeLossy, wellFormed } from './unicode';

const CONTRACTION = String.raw`'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])`;

export interface TiktokenEncodingSpec {
  name: string;
  pattern: string;
  specialTokens: Record<string, number>;
}

/** The built-in tiktoken encodings (regex and special tokens; ranks come from the file). */
export const TIKTOKEN_ENCODINGS: Record<'cl100k_base' | 'o200k_base', TiktokenEncodingSpec> = {
  cl100k_base: {
    name: 'cl100k_base',
    pattern: String.raw`${CONTRACTION}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    specialTokens: { '<|endoftext|>': 100257, '<|fim_prefix|>': 100258, '<|fim_middle|>': 100259, '<|fim_suffix|>': 100260, '<|endofprompt|>': 100276 },
  },
  o200k_base: {
    name: 'o200k_base',
    pattern: [
      String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:${CONTRACTION})?`,
      String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:${CONTRACTION})?`,
      String.raw`\p{N}{1,3}`,
      String.raw` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
      String.raw`\s*[\r\n]+`,
      String.raw`\s+(?!\S)`,
      String.raw`\s+`,
    ].join('|'),
    specialTokens: { '<|endoftext|>': 199999, '<|endofprompt|>': 200018 },
  },
};

const B64 = (() => {
  const t = new Int16Array(128).fill(-1);
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) t[a.charCodeAt(i)] = i;
  return t;
})();

/** base64 -> "binary string" (one char per byte); null when not base64. */
function b64ToBinary(s: string, from: number, to: number): string | null {
  let out = '';
  let acc = 0;
  let bits = 0;
  let end = to;
  while (end > from && s.charCodeAt(end - 1) === 0x3d) end--; // '='
  for (let i = from; i < end; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64[c]! : -1;
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((acc >> bits) & 0xff);
    }
  }
  return out;
}

function binaryToByteLevel(b: string): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += BYTE_STR[b.charCodeAt(i)]!;
  return s;
}

/** UTF-8 bytes of a well-formed string as a binary string (ASCII strings come back as they are). */
function toBinary(text: string): string {
  let ascii = true;
  for (let u = 0; u < text.length; u++) {
    if (text.charCodeAt(u) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return text;
  let out = '';
  for (let u = 0; u < text.length; u++) {
    let c = text.charCodeAt(u);
    if (c < 0x80) out += text[u];
    else if (c < 0x800) out += String.fromCharCode(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c >= 0xd800 && c <= 0xdbff && u + 1 < text.length) {
      c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++u) - 0xdc00);
      out += String.fromCharCode(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    } else out += String.fromCharCode(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

const CACHE_MAX = 100_000;
const CACHE_MAX_PIECE = 256;
const SCAN_LIMIT = 64;

export class TiktokenTokenizer implements Tokenizer {
  readonly kind = 'tiktoken' as const;
  readonly vocabSize: number;
  readonly bosId = null;
  readonly eosIds: readonly number[];
  readonly specialIds: ReadonlySet<number>;
  /** Byte-level alphabet for display (tokens are bytes). */
  readonly byteLevel = true;
  readonly name: string;

  private readonly ranks: Map<string, number>;
  private readonly bytesOf: string[]; // id -> binary string
  private readonly specialByContent: Map<string, number>;
  private readonly specialById = new Map<number, string>();
  private readonly specialRe: RegExp | null;
  private readonly re: RegExp;
  private cache = new Map<string, number[]>();

  constructor(ranks: Map<string, number>, spec: TiktokenEncodingSpec) {
    this.name = spec.name;
    this.ranks = ranks;
    this.bytesOf = [];
    let max = -1;
    for (const [b, r] of ranks) {
      this.bytesOf[r] = b;
      if (r > max) max = r;
    }
    this.specialByContent = new Map(Object.entries(spec.specialTokens));
    for (const [c, id] of this.specialByContent) {
      this.specialById.set(id, c);
      if (id > max) max = id;
    }
    this.vocabSize = max + 1;
    this.specialIds = new Set(this.specialByContent.values());
    const eot = this.specialByContent.get('<|endoftext|>');
    this.eosIds = eot === undefined ? [] : [eot];
    const esc = [...this.specialByContent.keys()].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.specialRe = esc.length ? new RegExp(esc.join('|'), 'g') : null;
    this.re = new RegExp(spec.pattern, 'gu');
  }

  idToToken(id: number): string | undefined {
    const s = this.specialById.get(id);
    if (s !== undefined) return s;
    const b = this.bytesOf[id];
    return b === undefined ? undefined : binaryToByteLevel(b);
  }

  tokenToId(token: string): number | undefined {
    const s = this.specialByContent.get(token);
    if (s !== undefined) return s;
    // byte-level alphabet -> bytes
    let b = '';
    for (const ch of token) {
      const i = BYTE_STR.indexOf(ch);
      if (i < 0) return undefined;
      b += String.fromCharCode(i);
    }
    return this.ranks.get(b);
  }

  /** The raw bytes of a token (special tokens: their UTF-8 text). */
  tokenBytes(id: number): Uint8Array | undefined {
    const s = this.specialById.get(id);
    if (s !== undefined) return new TextEncoder().encode(s);
    const b = this.bytesOf[id];
    if (b === undefined) return undefined;
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out;
  }

  encodeIds(text: string, _opts?: EncodeOptions): number[] {
    const ids: number[] = [];
    this.run(wellFormed(text), ids, null);
    return ids;
  }

  /** Only the number of tokens (no array kept). */
  count(text: string): number {
    return this.encodeIds(text).length;
  }

  encode(text: string, _opts?: EncodeOptions): Encoding {
    const src = wellFormed(text);
    const ids: number[] = [];
    const spans: number[] = []; // [startUnit, endUnit) per token
    this.run(src, ids, spans);
    const n = ids.length;
    const tokens: string[] = new Array(n);
    const offsetsUtf16: [number, number][] = new Array(n);
    const offsets: [number, number][] = new Array(n);
    // UTF-16 -> code point index (only when the text has astral characters)
    let cpOf: Int32Array | null = null;
    for (let u = 0; u < src.length; u++) {
      const c = src.charCodeAt(u);
      if (c >= 0xd800 && c <= 0xdbff) {
        cpOf = new Int32Array(src.length + 1);
        let cp = 0;
        for (let v = 0; v < src.length; v++) {
          cpOf[v] = cp;
          const d = src.charCodeAt(v);
          if (!(d >= 0xdc00 && d <= 0xdfff && v > 0 && src.charCodeAt(v - 1) >= 0xd800 && src.charCodeAt(v - 1) <= 0xdbff)) cp++;
          else cpOf[v] = cp - 1;
        }
        cpOf[src.length] = cp;
        break;
      }
    }
    for (let i = 0; i < n; i++) {
      tokens[i] = this.idToToken(ids[i]!) ?? '';
      const s = spans[2 * i]!;
      const e = spans[2 * i + 1]!;
      offsetsUtf16[i] = [s, e];
      offsets[i] = cpOf ? [cpOf[s]!, cpOf[e]!] : [s, e];
    }
    return { ids, tokens, offsets, offsetsUtf16 };
  }

  private run(text: string, ids: number[], spans: number[] | null): void {
    if (text.length === 0) return;
    if (!this.specialRe) {
      this.ordinary(text, 0, ids, spans);
      return;
    }
    this.specialRe.lastIndex = 0;
    let pos = 0;
    for (let m = this.specialRe.exec(text); m; m = this.specialRe.exec(text)) {
      if (m.index > pos) this.ordinary(text.slice(pos, m.index), pos, ids, spans);
      ids.push(this.specialByContent.get(m[0])!);
      if (spans) spans.push(m.index, m.index + m[0].length);
      pos = m.index + m[0].length;
    }
    if (pos < text.length) this.ordinary(pos === 0 ? text : text.slice(pos), pos, ids, spans);
  }

  private ordinary(text: string, base: number, ids: number[], spans: number[] | null): void {
    const re = this.re;
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const piece = m[0];
      const res = this.pieceTokens(piece);
      if (!spans) {
        for (let k = 0; k < res.length; k += 3) ids.push(res[k]!);
        continue;
      }
      // res: [id, startByte, endByte]; map bytes to UTF-16 units of the piece's characters
      const start = base + m.index;
      const unitOfByte = pieceByteUnits(piece);
      for (let k = 0; k < res.length; k += 3) {
        ids.push(res[k]!);
        if (unitOfByte) {
          const su = unitOfByte[res[k + 1]!]!;
          const lastU = unitOfByte[res[k + 2]! - 1]!;
          const lastW = isHighSurrogateAt(piece, lastU) ? 2 : 1;
          spans.push(start + su, start + lastU + lastW);
        } else spans.push(start + res[k + 1]!, start + res[k + 2]!);
      }
    }
  }

  /** Tokens of one pre-token: triples [id, startByte, endByte]. Cached. */
  private pieceTokens(piece: string): number[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    const b = toBinary(piece);
    const whole = this.ranks.get(b);
    const res = whole !== undefined ? [whole, 0, b.length] : this.merge(b);
    if (piece.length < CACHE_MAX_PIECE) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(piece, res);
    }
    return res;
  }

  /** tiktoken's byte_pair_merge; a heap over a linked list for long pieces (same merges). */
  private merge(b: string): number[] {
    const n = b.length;
    const ranks = this.ranks;
    const out: number[] = [];
    if (n <= SCAN_LIMIT) {
      // parts[i] = start of part i; rk[i] = rank of parts i and i+1 joined
      const parts: number[] = [];
      for (let i = 0; i <= n; i++) parts.push(i);
      const rk: number[] = [];
      for (let i = 0; i + 2 <= n; i++) rk.push(ranks.get(b.slice(i, i + 2)) ?? Infinity);
      rk.push(Infinity);
      const rankAt = (i: number): number => (i + 2 < parts.length ? (ranks.get(b.slice(parts[i]!, parts[i + 2]!)) ?? Infinity) : Infinity);
      for (;;) {
        let min = Infinity;
        let at = -1;
        for (let i = 0; i < rk.length - 1; i++) {
          if (rk[i]! < min) {
            min = rk[i]!;
            at = i;
          }
        }
        if (at < 0) break;
        parts.splice(at + 1, 1);
        rk.splice(at + 1, 1);
        rk[at] = rankAt(at);
        if (at > 0) rk[at - 1] = rankAt(at - 1);
      }
      for (let i = 0; i + 1 < parts.length; i++) out.push(this.rankOf(b, parts[i]!, parts[i + 1]!), parts[i]!, parts[i + 1]!);
      return out;
    }
    // Heap of (rank, start) over a linked list of parts; stale entries skipped.
    const next = new Int32Array(n + 1);
    const prev = new Int32Array(n + 1);
    const alive = new Uint8Array(n + 1).fill(1);
    for (let i = 0; i <= n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    const heap = new MinHeap();
    const pairRank = (s: number): number => {
      const m = next[s]!;
      if (m >= n) return Infinity;
      const e = next[m]!;
      return ranks.get(b.slice(s, e)) ?? Infinity;
    };
    for (let s = 0; s + 1 < n; s++) {
      const r = ranks.get(b.slice(s, s + 2));
      if (r !== undefined) heap.push(r, s);
    }
    while (heap.size > 0) {
      const [r, s] = heap.pop();
      if (!alive[s]) continue;
      if (pairRank(s) !== r) continue; // stale
      const m = next[s]!;
      alive[m] = 0;
      next[s] = next[m]!;
      if (next[s]! <= n) prev[next[s]!] = s;
      const r1 = pairRank(s);
      if (r1 !== Infinity) heap.push(r1, s);
      if (s > 0) {
        const p = prev[s]!;
        const r0 = pairRank(p);
        if (r0 !== Infinity) heap.push(r0, p);
      }
    }
    for (let s = 0; s < n; s = next[s]!) out.push(this.rankOf(b, s, next[s]!), s, next[s]!);
    return out;
  }

  private rankOf(b: string, s: number, e: number): number {
    const r = this.ranks.get(b.slice(s, e));
    if (r === undefined) {
      // single bytes are always tokens in a complete tiktoken vocabulary
      throw new FormatError(`the vocabulary has no token for the bytes ${JSON.stringify(b.slice(s, e))}`, { file: this.name, expected: 'all 256 single bytes as tokens' });
    }
    return r;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    const parts: number[] = [];
    for (const id of ids) {
      const sp = this.specialById.get(id);
      if (sp !== undefined) {
        if (!skip) for (const x of new TextEncoder().encode(sp)) parts.push(x);
        continue;
      }
      const b = this.bytesOf[id];
      if (b === undefined) continue;
      for (let i = 0; i < b.length; i++) parts.push(b.charCodeAt(i));
    }
    return utf8DecodeLossy(Uint8Array.from(parts));
  }

  createStreamDecoder(opts?: StreamDecoderOptions): StreamDecoder {
    return new WindowStreamDecoder((ids, o) => this.decode(ids, o), opts);
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

function isHighSurrogateAt(s: string, u: number): boolean {
  const c = s.charCodeAt(u);
  return c >= 0xd800 && c <= 0xdbff && u + 1 < s.length;
}

/** byte index -> UTF-16 unit of its character, or null for ASCII. */
function pieceByteUnits(piece: string): Int32Array | null {
  if (isAscii(piece)) return null;
  const map: number[] = [];
  for (let u = 0; u < piece.length;) {
    const cp = piece.codePointAt(u)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let j = 0; j < n; j++) map.push(u);
    u += cp > 0xffff ? 2 : 1;
  }
  return Int32Array.from(map);
}

class MinHeap {
  private r: number[] = [];
  private s: number[] = [];
  get size(): number {
    return this.r.length;
  }
  private less(i: number, j: number): boolean {
    return this.r[i]! < this.r[j]! || (this.r[i] === this.r[j] && this.s[i]! < this.s[j]!);
  }
  private swap(i: number, j: number): void {
    const a = this.r[i]!;
    this.r[i] = this.r[j]!;
    this.r[j] = a;
    const b = this.s[i]!;
    this.s[i] = this.s[j]!;
    this.s[j] = b;
  }
  push(rank: number, start: number): void {
    this.r.push(rank);
    this.s.push(start);
    let i = this.r.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.r[0]!, this.s[0]!];
    const lr = this.r.pop()!;
    const ls = this.s.pop()!;
    if (this.r.length > 0) {
      this.r[0] = lr;
      this.s[0] = ls;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const rr = l + 1;
        let m = i;
        if (l < this.r.length && this.less(l, m)) m = l;
        if (rr < this.r.length && this.less(rr, m)) m = rr;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/**
 * Parses a `.tiktoken` file: lines "base64 rank". Throws FormatError with the line number on a
 * malformed line, a duplicate, or a file without all 256 single bytes.
 */
export function parseTiktoken(text: string, fileName: string, spec: TiktokenEncodingSpec): TiktokenTokenizer {
  const ranks = new Map<string, number>();
  let line = 0;
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    line++;
    let e = end;
    if (e > pos && text.charCodeAt(e - 1) === 13) e--;
    if (e > pos) {
      const sp = text.indexOf(' ', pos);
      if (sp < 0 || sp >= e)
        throw new FormatError(`line ${line} is not "base64 rank"`, {
          file: fileName,
          expected: 'a base64 token, a space and a rank',
          found: JSON.stringify(text.slice(pos, Math.min(e, pos + 40))),
        });
      const bytes = b64ToBinary(text, pos, sp);
      const rank = Number(text.slice(sp + 1, e));
      if (bytes === null || bytes.length === 0)
        throw new FormatError(`line ${line}: the token is not base64`, { file: fileName, found: JSON.stringify(text.slice(pos, Math.min(sp, pos + 40))) });
      if (!Number.isSafeInteger(rank) || rank < 0)
        throw new FormatError(`line ${line}: the rank is not a non-negative integer`, { file: fileName, found: JSON.stringify(text.slice(sp + 1, Math.min(e, sp + 20))) });
      if (ranks.has(bytes)) throw new FormatError(`line ${line}: the token appears twice`, { file: fileName });
      ranks.set(bytes, rank);
    }
    pos = end + 1;
  }
  for (let b = 0; b < 256; b++) {
    if (!ranks.has(String.fromCharCode(b)))
      throw new FormatError(`the single byte 0x${b.toString(16).padStart(2, '0')} is not a token (truncated or not a tiktoken file?)`, {
        file: fileName,
        expected: 'all 256 single bytes as tokens',
      });
  }
  return new TiktokenTokenizer(ranks, spec);
}
