/**
 * SentencePiece-style BPE driven by piece scores, as llama2.c's run.c and llama.cpp's SPM
 * tokenizer do it: the text (with a dummy-prefix space) is split into UTF-8 characters,
 * then the adjacent pair whose concatenation is the highest-scoring piece is merged
 * (leftmost on ties) until no pair is a piece; characters that are no piece become
 * `<0xNN>` byte tokens.
 *
 * run.c merges with an O(n²) scan per step; here a heap gives the same merges in O(n log n):
 * the best pair among the current neighbours is always the heap's first live entry. Where the
 * vocabulary lets the text be merged a word at a time (splitsAtSpace), each word's merge is
 * cached, so repeated words cost a lookup.
 *
 * Works on "byte strings" (one char per byte, code 0–255) so that pieces that are not valid
 * UTF-8 on their own (possible in tokenizer.bin) are handled exactly like run.c's C strings.
 */
import { AddedTokenMatcher } from './added';
import { type Piece, initialPiece } from './piece';
import { type FlatEncoding, Int32Builder, pairs } from './flat';
import { WindowStreamDecoder } from './stream';
import type { DecodeOptions, EncodeOptions, Encoding, StreamDecoder, StreamDecoderOptions, Tokenizer, TokenizerKind } from './types';
import { utf8DecodeLossy, utf8Encode, utf8Put, wellFormed } from './unicode';

export interface SpmConfig {
  kind: Extract<TokenizerKind, 'llama2c' | 'gguf-llama'>;
  /** Pieces as byte strings (each char code is one byte). */
  pieces: string[];
  scores: Float32Array;
  /** The byte string that stands for a space: ' ' (llama2.c) or '▁' in UTF-8 (GGUF). */
  space: string;
  addSpacePrefix: boolean;
  bosId: number | null;
  eosIds: number[];
  unkId: number;
  addBos: boolean;
  addEos: boolean;
  specialIds: Set<number>;
  /** Ids whose text is split out of the input and emitted as is (GGUF control/user-defined tokens). */
  splitIds: number[];
  /** run.c's safe_printf: drop single control bytes when decoding (llama2.c only). */
  dropControlBytes: boolean;
}

/** JS string -> byte string (UTF-8 bytes as char codes 0–255). */
export function toByteString(s: string): string {
  const b = utf8Encode(s);
  let out = '';
  for (let i = 0; i < b.length; i += 8192) out += String.fromCharCode(...b.subarray(i, i + 8192));
  return out;
}

/** Byte string -> bytes. */
export function byteStringBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

const CACHE_MAX_ENTRIES = 100_000;
const CACHE_MAX_WORD = 256;

function isCtrlByte(b: number): boolean {
  // run.c's safe_printf drops single-byte pieces that are neither printable nor whitespace
  return b < 0x20 ? !(b >= 0x09 && b <= 0x0d) : b === 0x7f;
}

/** Where encodeFragment puts the tokens when offsets are wanted (ids go to `ids` otherwise). */
interface FragmentOut {
  ids: Int32Builder;
  tokens: string[];
  offsets: Int32Builder;
  offsetsUtf16: Int32Builder;
  cpOfUnit: Int32Array;
}

export class SpmTokenizer implements Tokenizer {
  readonly kind: SpmConfig['kind'];
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly specialIds: ReadonlySet<number>;
  private readonly cfg: SpmConfig;
  private readonly pieceToId = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly byteOfId: Int16Array;
  private readonly display: string[];
  private readonly matcher: AddedTokenMatcher | null;
  /**
   * True when no piece has a space after a non-space character (no "a▁", "a▁b"): then no
   * merge can join a word to the space that starts the next one, and the text can be merged
   * one word at a time with the same result as all at once.
   */
  private readonly splitsAtSpace: boolean;
  /** merge() results by byte string (a pure function of it), for words up to CACHE_MAX_WORD bytes. */
  private readonly cache = new Map<string, number[]>();
  /** Reused buffers for one word's bytes and their source ranges (grown as needed). */
  private readonly scratch = { bytes: new Uint8Array(256), srcStart: new Int32Array(256), srcEnd: new Int32Array(256) };

  constructor(cfg: SpmConfig) {
    this.cfg = cfg;
    this.kind = cfg.kind;
    this.vocabSize = cfg.pieces.length;
    this.bosId = cfg.bosId;
    this.eosIds = cfg.eosIds;
    this.specialIds = cfg.specialIds;
    this.byteOfId = new Int16Array(cfg.pieces.length).fill(-1);
    cfg.pieces.forEach((p, id) => {
      if (!this.pieceToId.has(p)) this.pieceToId.set(p, id);
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p);
      if (m) {
        const b = parseInt(m[1]!, 16);
        this.byteOfId[id] = b;
        if (this.byteIds[b]! < 0) this.byteIds[b] = id;
      }
    });
    this.display = cfg.pieces.map((p) => utf8DecodeLossy(byteStringBytes(p)));
    this.splitsAtSpace = cfg.pieces.every((p) => {
      for (let j = p.indexOf(cfg.space, 1); j > 0; j = p.indexOf(cfg.space, j + 1)) if (!p.slice(0, j).endsWith(cfg.space)) return false;
      return true;
    });
    this.matcher =
      cfg.splitIds.length > 0
        ? new AddedTokenMatcher(
            cfg.splitIds.map((id) => ({
              pattern: this.display[id]!,
              spec: { id, content: this.display[id]!, singleWord: false, lstrip: false, rstrip: false, normalized: false, special: true },
            })),
          )
        : null;
  }

  /** The vocabulary and settings it was built from (what an exporter writes out). */
  get spmConfig(): Readonly<SpmConfig> {
    return this.cfg;
  }

  idToToken(id: number): string | undefined {
    return this.display[id];
  }

  tokenToId(token: string): number | undefined {
    return this.pieceToId.get(toByteString(token));
  }

  encode(text: string, opts: EncodeOptions = {}): Encoding {
    const f = this.encodeFlat(text, opts);
    return { ids: Array.from(f.ids), tokens: f.tokens, offsets: pairs(f.offsets), offsetsUtf16: pairs(f.offsetsUtf16) };
  }

  encodeFlat(text: string, opts: EncodeOptions = {}): FlatEncoding {
    return this.run(wellFormed(text), opts.addSpecialTokens ?? true, true) as FlatEncoding;
  }

  encodeIds(text: string, opts: EncodeOptions = {}): number[] {
    return this.run(wellFormed(text), opts.addSpecialTokens ?? true, false).ids as number[];
  }

  private run(text: string, addSpecial: boolean, withOffsets: boolean): FlatEncoding | { ids: number[] } {
    const ids: number[] = [];
    const out: FragmentOut | null = withOffsets
      ? { ids: new Int32Builder(), tokens: [], offsets: new Int32Builder(), offsetsUtf16: new Int32Builder(), cpOfUnit: new Int32Array(0) }
      : null;
    const special = (id: number, s: number, e: number, su: number, eu: number): void => {
      if (!out) return void ids.push(id);
      out.ids.push(id);
      out.tokens.push(this.display[id] ?? '');
      out.offsets.push(s);
      out.offsets.push(e);
      out.offsetsUtf16.push(su);
      out.offsetsUtf16.push(eu);
    };
    if (addSpecial && this.cfg.addBos && this.cfg.bosId !== null) special(this.cfg.bosId, 0, 0, 0, 0);
    // fragments: [unitStart, unitEnd, tokenId or -1]
    const fragments: [number, number, number][] = this.matcher ? this.matcher.findMatches(text) : text.length > 0 ? [[0, text.length, -1]] : [];
    // code point index of each unit start (for offsets)
    if (out) {
      const p: Piece = initialPiece(text, true);
      out.cpOfUnit = new Int32Array(text.length + 1);
      for (let u = 0; u < text.length; u++) out.cpOfUnit[u] = p.align![2 * u]!;
      out.cpOfUnit[text.length] = text.length === 0 ? 0 : p.align![2 * text.length - 1]!;
    }
    let prevSpecial = true;
    for (const [us, ue, tid] of fragments) {
      if (tid >= 0) {
        special(tid, out ? out.cpOfUnit[us]! : 0, out ? out.cpOfUnit[ue]! : 0, us, ue);
        prevSpecial = true;
        continue;
      }
      this.encodeFragment(text, us, ue, prevSpecial && this.cfg.addSpacePrefix, ids, out);
      prevSpecial = false;
    }
    if (addSpecial && this.cfg.addEos && this.cfg.eosIds.length > 0) special(this.cfg.eosIds[0]!, 0, 0, 0, 0);
    if (!out) return { ids };
    return { ids: out.ids.finish(), tokens: out.tokens, offsets: out.offsets.finish(), offsetsUtf16: out.offsetsUtf16.finish() };
  }

  private encodeFragment(text: string, us: number, ue: number, prefix: boolean, ids: number[], out: FragmentOut | null): void {
    // The fragment's bytes (spaces as cfg.space), with each byte's source UTF-16 range, are
    // merged a word at a time where the vocabulary allows it (splitsAtSpace): the buffers
    // hold one word, so memory stays proportional to the longest word, not to the input.
    const space = this.cfg.space;
    let n = 0;
    let bytes = this.scratch.bytes;
    let srcStart = this.scratch.srcStart;
    let srcEnd = this.scratch.srcEnd;
    const put = (b: number, u0: number, u1: number): void => {
      if (n === bytes.length) {
        const grow = (a: Int32Array) => {
          const g = new Int32Array(a.length * 2);
          g.set(a);
          return g;
        };
        const gb = new Uint8Array(bytes.length * 2);
        gb.set(bytes);
        bytes = this.scratch.bytes = gb;
        srcStart = this.scratch.srcStart = grow(srcStart);
        srcEnd = this.scratch.srcEnd = grow(srcEnd);
      }
      bytes[n] = b;
      srcStart[n] = u0;
      srcEnd[n++] = u1;
    };
    const flush = (): void => {
      if (n === 0) return;
      let s = '';
      // (apply takes the typed array as is; a spread would iterate it)
      for (let i = 0; i < n; i += 8192) s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(n, i + 8192)) as unknown as number[]);
      const syms = this.merge(s);
      for (let k = 0; k < syms.length; k += 3) {
        const id = syms[k]!;
        if (out) {
          const u0 = srcStart[syms[k + 1]!]!;
          const u1 = srcEnd[syms[k + 2]! - 1]!;
          out.ids.push(id);
          out.tokens.push(this.display[id] ?? '');
          out.offsets.push(out.cpOfUnit[u0]!);
          out.offsets.push(out.cpOfUnit[u1]!);
          out.offsetsUtf16.push(u0);
          out.offsetsUtf16.push(u1);
        } else ids.push(id);
      }
      n = 0;
    };
    const firstW = us < ue ? (text.codePointAt(us)! > 0xffff ? 2 : 1) : 0;
    if (prefix) for (let k = 0; k < space.length; k++) put(space.charCodeAt(k), us, us + firstW);
    const tmp = [0, 0, 0, 0];
    let prevSpace = prefix;
    for (let u = us; u < ue;) {
      const cp = text.codePointAt(u)!;
      const w = cp > 0xffff ? 2 : 1;
      if (cp === 0x20) {
        if (!prevSpace && this.splitsAtSpace) flush(); // a word ends: no merge joins it to what follows
        for (let k = 0; k < space.length; k++) put(space.charCodeAt(k), u, u + 1);
        prevSpace = true;
      } else {
        const m = utf8Put(cp, tmp, 0);
        for (let k = 0; k < m; k++) put(tmp[k]!, u, u + w);
        prevSpace = false;
      }
      u += w;
    }
    flush();
  }

  /** SPM merge over a byte string (cached when short); returns triples [id, byteStart, byteEnd]. */
  private merge(s: string): number[] {
    const hit = this.cache.get(s);
    if (hit) return hit;
    const res = this.mergeUncached(s);
    if (s.length < CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      this.cache.set(s, res);
    }
    return res;
  }

  private mergeUncached(s: string): number[] {
    // initial symbols: UTF-8 characters (lead byte + continuation bytes, at most 4)
    const starts: number[] = [];
    for (let i = 0; i < s.length;) {
      starts.push(i);
      let j = i + 1;
      while (j < s.length && j - i < 4 && (s.charCodeAt(j) & 0xc0) === 0x80) j++;
      i = j;
    }
    const n = starts.length;
    const st = Int32Array.from(starts);
    const en = new Int32Array(n);
    for (let k = 0; k < n; k++) en[k] = k + 1 < n ? starts[k + 1]! : s.length;
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let k = 0; k < n; k++) {
      prev[k] = k - 1;
      next[k] = k + 1 < n ? k + 1 : -1;
    }
    const heap = new BigramHeap();
    const scores = this.cfg.scores;
    const tryAdd = (l: number, r: number): void => {
      if (l < 0 || r < 0) return;
      const id = this.pieceToId.get(s.slice(st[l]!, en[r]!));
      if (id === undefined) return;
      heap.push(scores[id]!, l, en[r]! - st[l]!);
    };
    for (let k = 0; k + 1 < n; k++) tryAdd(k, k + 1);
    while (heap.size > 0) {
      const { left, size } = heap.pop();
      if (!alive[left]) continue;
      const right = next[left]!;
      if (right < 0 || en[right]! - st[left]! !== size) continue;
      en[left] = en[right]!;
      alive[right] = 0;
      const rn = next[right]!;
      next[left] = rn;
      if (rn >= 0) prev[rn] = left;
      tryAdd(prev[left]!, left);
      tryAdd(left, rn);
    }
    const out: number[] = [];
    for (let k = 0; k < n; k = next[k]!) {
      const text = s.slice(st[k]!, en[k]!);
      const id = this.pieceToId.get(text);
      if (id !== undefined) out.push(id, st[k]!, en[k]!);
      else {
        for (let b = st[k]!; b < en[k]!; b++) {
          const bid = this.byteIds[s.charCodeAt(b)]!;
          out.push(bid >= 0 ? bid : this.cfg.unkId, b, b + 1);
        }
      }
      if (next[k]! < 0) break;
    }
    return out;
  }

  /**
   * Decoding as run.c prints it: pieces concatenated, `<0xNN>` as raw bytes, the leading
   * space of a piece that follows BOS dropped; for llama2.c also single control bytes
   * dropped (run.c's safe_printf). Unlike run.c, bytes >= 0x80 from byte tokens are kept and
   * assembled into UTF-8 characters (safe_printf drops them). GGUF vocabularies: `▁` is a space.
   */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    const out: number[] = [];
    const spaceBytes = this.cfg.space;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const piece = this.cfg.pieces[id];
      if (piece === undefined) continue;
      if (skip && this.specialIds.has(id)) continue;
      const b = this.byteOfId[id]!;
      if (b >= 0) {
        if (!(this.cfg.dropControlBytes && isCtrlByte(b))) out.push(b);
        continue;
      }
      let p = piece;
      const afterBos = i > 0 && this.cfg.bosId !== null && ids[i - 1] === this.cfg.bosId;
      if (afterBos && p.startsWith(spaceBytes)) p = p.slice(spaceBytes.length);
      if (this.cfg.dropControlBytes && p.length === 1 && isCtrlByte(p.charCodeAt(0))) continue;
      for (let k = 0; k < p.length;) {
        if (spaceBytes !== ' ' && p.startsWith(spaceBytes, k)) {
          out.push(0x20);
          k += spaceBytes.length;
        } else out.push(p.charCodeAt(k++));
      }
    }
    return utf8DecodeLossy(Uint8Array.from(out));
  }

  createStreamDecoder(opts?: StreamDecoderOptions): StreamDecoder {
    return new WindowStreamDecoder((ids, o) => this.decode(ids, o), opts);
  }
}

/** Max-heap on score, then min on left index. */
class BigramHeap {
  private score: number[] = [];
  private left: number[] = [];
  private sz: number[] = [];
  get size(): number {
    return this.score.length;
  }
  private better(i: number, j: number): boolean {
    const a = this.score[i]!;
    const b = this.score[j]!;
    return a > b || (a === b && this.left[i]! < this.left[j]!);
  }
  private swap(i: number, j: number): void {
    [this.score[i], this.score[j]] = [this.score[j]!, this.score[i]!];
    [this.left[i], this.left[j]] = [this.left[j]!, this.left[i]!];
    [this.sz[i], this.sz[j]] = [this.sz[j]!, this.sz[i]!];
  }
  push(score: number, left: number, size: number): void {
    this.score.push(score);
    this.left.push(left);
    this.sz.push(size);
    let i = this.score.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): { left: number; size: number } {
    const top = { left: this.left[0]!, size: this.sz[0]! };
    const last = this.score.length - 1;
    this.swap(0, last);
    this.score.pop();
    this.left.pop();
    this.sz.pop();
    let i = 0;
    const n = this.score.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.better(l, m)) m = l;
      if (r < n && this.better(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
