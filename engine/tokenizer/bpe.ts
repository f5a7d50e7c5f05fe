/**
 * The BPE model of Hugging Face tokenizers (`models/bpe`), merge for merge identical:
 * a word is split into characters (vocabulary ids, with byte fallback / unknown-token fusion),
 * then the pair with the lowest merge rank (leftmost on ties) is merged until none is left.
 * Short words use a direct scan; long ones a binary heap over a linked list (same order,
 * as in HF's `Word::merge_all`). Results are cached per word.
 */
import { FormatError } from '../errors';
import { toByteLevel, utf8Encode, utf8Put } from './unicode';

export interface BpeOptions {
  unkToken: string | null;
  fuseUnk: boolean;
  byteFallback: boolean;
  continuingSubwordPrefix: string | null;
  endOfWordSuffix: string | null;
  ignoreMerges: boolean;
  /** File name for errors. */
  source?: string;
}

/** A merge-rule or vocabulary problem found while building the model (the caller adds file/key). */
export class BpeBuildError extends Error {
  constructor(
    message: string,
    readonly index: number,
    readonly found: string,
  ) {
    super(message);
  }
}

const CACHE_MAX_ENTRIES = 100_000;
const CACHE_MAX_WORD = 256;
const SCAN_LIMIT = 48;

export class BpeModel {
  readonly vocab: Map<string, number>;
  /** id -> token (sparse). */
  readonly vocabR: (string | undefined)[];
  readonly opts: BpeOptions;
  private readonly merges: PairTable;
  private readonly byteIds: Int32Array; // byte -> id of <0xNN>, or -1
  private readonly unkId: number;
  private cache = new Map<string, Int32Array>();
  /** BMP character -> id of its one-character token, or -1; null when a subword prefix or word suffix changes the lookup. */
  private readonly charIds: Int32Array | null;
  /** UTF-8 length of the continuing-subword prefix / end-of-word suffix (room for their byte-fallback tokens). */
  private readonly prefixBytes: number;
  private readonly suffixBytes: number;
  /** mergeWord's reused buffers: symbol ids, source ranges, pair ranks (grown as needed), one character's UTF-8. */
  private sIds = new Int32Array(256);
  private sSt = new Int32Array(256);
  private sEn = new Int32Array(256);
  private sRank = new Int32Array(256);
  private readonly bytes4 = new Uint8Array(4);
  private byteLevelCache = new Map<string, Int32Array>();

  constructor(vocab: Map<string, number>, merges: [string, string][], opts: BpeOptions) {
    this.vocab = vocab;
    this.opts = opts;
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabR = new Array(maxId + 1);
    for (const [tok, id] of vocab) this.vocabR[id] = tok;
    this.merges = new PairTable(merges.length);
    const prefixLen = opts.continuingSubwordPrefix ? opts.continuingSubwordPrefix.length : 0;
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r]!;
      const ia = vocab.get(a);
      if (ia === undefined) throw new BpeBuildError(`merge ${r} uses a token that is not in the vocabulary`, r, a);
      const ib = vocab.get(b);
      if (ib === undefined) throw new BpeBuildError(`merge ${r} uses a token that is not in the vocabulary`, r, b);
      const merged = a + b.slice(prefixLen);
      const nid = vocab.get(merged);
      if (nid === undefined) throw new BpeBuildError(`merge ${r} produces a token that is not in the vocabulary`, r, merged);
      this.merges.set(ia, ib, r, nid);
    }
    this.byteIds = new Int32Array(256).fill(-1);
    if (opts.byteFallback) {
      for (let b = 0; b < 256; b++) {
        const id = vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
        if (id !== undefined) this.byteIds[b] = id;
      }
    }
    let unk = -1;
    if (opts.unkToken !== null) {
      const u = vocab.get(opts.unkToken);
      if (u !== undefined) unk = u;
    }
    this.unkId = unk;
    this.prefixBytes = opts.continuingSubwordPrefix ? utf8Encode(opts.continuingSubwordPrefix).length : 0;
    this.suffixBytes = opts.endOfWordSuffix ? utf8Encode(opts.endOfWordSuffix).length : 0;
    if (opts.continuingSubwordPrefix || opts.endOfWordSuffix) this.charIds = null;
    else {
      this.charIds = new Int32Array(0x10000).fill(-1);
      for (const [tok, id] of vocab) if (tok.length === 1) this.charIds[tok.charCodeAt(0)] = id;
    }
    if (prefixLen === 0) this.wordStart = ['\u2581', ' '].find((c) => merges.some(([a]) => a.startsWith(c)) && !merges.some(([a, b]) => b.startsWith(c) && !a.endsWith(c)));
  }

  /**
   * A character that starts words (SentencePiece's ▁, or a space) when no merge joins it to a
   * different character before it: then a long input can be merged a word at a time, with
   * the result of merging it whole, in memory and time proportional to its longest word.
   */
  private readonly wordStart: string | undefined;

  get size(): number {
    return this.vocab.size;
  }

  /**
   * Tokenizes one word. Returns triples [id, start, end] with start/end in UTF-16 units of
   * `word` (a token covering part of a character covers that character).
   */
  tokenize(word: string): Int32Array {
    if (word.length === 0) return EMPTY;
    if (word.length > LONG_WORD && this.wordStart !== undefined) return this.tokenizeByWords(word, this.wordStart);
    return this.tokenizeWord(word);
  }

  /** tokenize() of one word, merged whole (cached when short). */
  private tokenizeWord(word: string): Int32Array {
    if (this.opts.ignoreMerges) {
      const id = this.vocab.get(word);
      if (id !== undefined) return Int32Array.of(id, 0, word.length);
    }
    const hit = this.cache.get(word);
    if (hit) return hit;
    const res = this.mergeWord(word);
    if (word.length < CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      this.cache.set(word, res);
    }
    return res;
  }

  /** The ids of tokenize(word), appended to `ids` (encodeIds' path: no offsets, no triples copied). */
  tokenizeIds(word: string, ids: number[]): void {
    const sep = this.wordStart;
    if (word.length <= LONG_WORD || sep === undefined) {
      const r = this.tokenize(word);
      for (let k = 0; k < r.length; k += 3) ids.push(r[k]!);
      return;
    }
    const code = sep.charCodeAt(0);
    let from = 0;
    for (let j = word.indexOf(sep, 1); ; j = word.indexOf(sep, j + 1)) {
      if (j >= 0 && word.charCodeAt(j - 1) === code) continue;
      const end = j < 0 ? word.length : j;
      const r = this.tokenizeWord(word.slice(from, end));
      for (let k = 0; k < r.length; k += 3) ids.push(r[k]!);
      if (j < 0) return;
      from = end;
    }
  }

  /** tokenize() of a long input, split before every `sep` that follows another character (see wordStart). */
  private tokenizeByWords(text: string, sep: string): Int32Array {
    let out = new Int32Array(Math.max(64, text.length)); // [id, start, end] triples; grown if needed
    let at = 0;
    let from = 0;
    const code = sep.charCodeAt(0);
    for (let j = text.indexOf(sep, 1); ; j = text.indexOf(sep, j + 1)) {
      if (j >= 0 && text.charCodeAt(j - 1) === code) continue;
      const end = j < 0 ? text.length : j;
      const r = this.tokenizeWord(text.slice(from, end));
      if (at + r.length > out.length) {
        const g = new Int32Array(Math.max(out.length * 2, at + r.length));
        g.set(out.subarray(0, at));
        out = g;
      }
      for (let k = 0; k < r.length; k += 3) {
        out[at++] = r[k]!;
        out[at++] = r[k + 1]! + from;
        out[at++] = r[k + 2]! + from;
      }
      if (j < 0) return out.slice(0, at);
      from = end;
    }
  }

  /**
   * Tokenizes the byte-level form of `raw` (GPT-2's byte-to-char mapping applied first).
   * Offsets are in units of the byte-level word (one unit per UTF-8 byte).
   */
  tokenizeByteLevel(raw: string): Int32Array {
    const hit = this.byteLevelCache.get(raw);
    if (hit) return hit;
    const res = this.tokenize(toByteLevel(raw));
    if (raw.length < CACHE_MAX_WORD) {
      if (this.byteLevelCache.size >= CACHE_MAX_ENTRIES) this.byteLevelCache.clear();
      this.byteLevelCache.set(raw, res);
    }
    return res;
  }

  /**
   * Testing hook: merges `word` without the cache, forcing the direct scan or the heap
   * (the two must always agree).
   */
  mergeWordWith(word: string, strategy: 'scan' | 'heap'): Int32Array {
    this.strategy = strategy;
    try {
      return this.mergeWord(word);
    } finally {
      this.strategy = 'auto';
    }
  }

  private strategy: 'auto' | 'scan' | 'heap' = 'auto';

  private mergeWord(w: string): Int32Array {
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix, fuseUnk } = this.opts;
    // at most 3 symbols a UTF-16 unit (byte fallback of a BMP character), plus the bytes of a prefix / suffix
    const cap = w.length * (3 + this.prefixBytes) + this.suffixBytes;
    if (this.sIds.length < cap) {
      const c = Math.max(cap, 2 * this.sIds.length);
      this.sIds = new Int32Array(c);
      this.sSt = new Int32Array(c);
      this.sEn = new Int32Array(c);
    }
    const ids = this.sIds;
    const st = this.sSt;
    const en = this.sEn;
    const charIds = this.charIds;
    let n = 0;
    let unkStart = -1;
    let unkEnd = -1;
    let unkPending = false;
    const bytes = this.bytes4;
    for (let u = 0; u < w.length;) {
      const cp = w.codePointAt(u)!;
      const cw = cp > 0xffff ? 2 : 1;
      let id: number | undefined;
      let s = '';
      if (charIds !== null && cw === 1) {
        const c = charIds[cp]!;
        id = c >= 0 ? c : undefined;
      } else {
        s = w.slice(u, u + cw);
        if (u > 0 && prefix) s = prefix + s;
        if (u + cw >= w.length && suffix) s = s + suffix;
        id = this.vocab.get(s);
      }
      if (id !== undefined) {
        if (unkPending) {
          ids[n] = this.unkId;
          st[n] = unkStart;
          en[n++] = unkEnd;
          unkPending = false;
        }
        ids[n] = id;
        st[n] = u;
        en[n++] = u + cw;
        u += cw;
        continue;
      }
      if (this.opts.byteFallback) {
        // HF uses the bytes of the character's string, prefix / suffix included, and only if all have tokens
        let src: ArrayLike<number> = bytes;
        let nb: number;
        if (prefix || suffix) {
          src = new TextEncoder().encode(s); // (charIds is null then, so `s` was built above)
          nb = src.length;
        } else nb = utf8Put(cp, bytes, 0);
        let all = true;
        for (let k = 0; k < nb; k++) if (this.byteIds[src[k]!]! < 0) all = false;
        if (all) {
          for (let k = 0; k < nb; k++) {
            ids[n] = this.byteIds[src[k]!]!;
            st[n] = u;
            en[n++] = u + cw;
          }
          u += cw;
          continue;
        }
      }
      if (this.unkId >= 0) {
        if (unkPending && fuseUnk) {
          unkEnd = u + cw;
        } else {
          if (unkPending) {
            ids[n] = this.unkId;
            st[n] = unkStart;
            en[n++] = unkEnd;
          }
          unkPending = true;
          unkStart = u;
          unkEnd = u + cw;
        }
      } else if (this.opts.unkToken !== null) {
        // HF: Error::UnkTokenOutOfVocabulary, raised when a character needs the unknown token
        throw new FormatError('the unknown token is not in the vocabulary', {
          file: this.opts.source ?? 'tokenizer.json',
          key: 'model.unk_token',
          expected: 'a token of model.vocab',
          found: JSON.stringify(this.opts.unkToken),
        });
      }
      u += cw;
    }
    if (unkPending) {
      ids[n] = this.unkId;
      st[n] = unkStart;
      en[n++] = unkEnd;
    }
    if (n >= 2) {
      const scan = this.strategy === 'scan' || (this.strategy === 'auto' && n <= SCAN_LIMIT);
      n = scan ? this.mergeScan(ids, st, en, n) : this.mergeHeap(ids, st, en, n);
    }
    const out = new Int32Array(3 * n);
    for (let k = 0; k < n; k++) {
      out[3 * k] = ids[k]!;
      out[3 * k + 1] = st[k]!;
      out[3 * k + 2] = en[k]!;
    }
    return out;
  }

  /**
   * Repeatedly merges the lowest-rank adjacent pair (leftmost on ties), in place; returns the
   * new symbol count. Same result as the heap. Each pair's merge slot is kept, so a merge
   * looks up only the two pairs it changes.
   */
  private mergeScan(ids: Int32Array, st: Int32Array, en: Int32Array, n: number): number {
    const pt = this.merges;
    if (this.sRank.length < n) this.sRank = new Int32Array(Math.max(n, 2 * this.sRank.length));
    const rank = this.sRank; // rank[k]: rank of the pair (k, k + 1), or NONE
    for (let k = 0; k + 1 < n; k++) rank[k] = pt.rankOf(ids[k]!, ids[k + 1]!);
    for (;;) {
      let best = NONE;
      let at = -1;
      // strict < keeps the leftmost place where the same rule applies
      for (let k = 0; k + 1 < n; k++) {
        if (rank[k]! < best) {
          best = rank[k]!;
          at = k;
        }
      }
      if (at < 0) return n;
      ids[at] = pt.newId(pt.find(ids[at]!, ids[at + 1]!));
      en[at] = en[at + 1]!;
      for (let k = at + 1; k + 1 < n; k++) {
        ids[k] = ids[k + 1]!;
        st[k] = st[k + 1]!;
        en[k] = en[k + 1]!;
        rank[k] = rank[k + 1]!;
      }
      n--;
      if (at > 0) rank[at - 1] = pt.rankOf(ids[at - 1]!, ids[at]!);
      if (at + 1 < n) rank[at] = pt.rankOf(ids[at]!, ids[at + 1]!);
    }
  }

  /** The same merges with a binary heap over a linked list (long words), compacted in place; returns the new count. */
  private mergeHeap(c: Int32Array, s: Int32Array, e: Int32Array, n: number): number {
    const pt = this.merges;
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let k = 0; k < n; k++) {
      prev[k] = k - 1;
      next[k] = k + 1 < n ? k + 1 : -1;
    }
    const heap = new MinHeap(n);
    for (let k = 0; k + 1 < n; k++) {
      const slot = pt.find(c[k]!, c[k + 1]!);
      if (slot >= 0) heap.push(pt.rank(slot), k, pt.newId(slot));
    }
    while (heap.size > 0) {
      const pos = heap.topPos();
      const newId = heap.topNewId();
      heap.pop();
      if (!alive[pos]) continue;
      const right = next[pos]!;
      if (right < 0) continue;
      // skip entries made stale by earlier merges
      const cur = pt.find(c[pos]!, c[right]!);
      if (cur < 0 || pt.newId(cur) !== newId) continue;
      c[pos] = newId;
      e[pos] = e[right]!;
      alive[right] = 0;
      const rn = next[right]!;
      next[pos] = rn;
      if (rn >= 0) prev[rn] = pos;
      const p = prev[pos]!;
      if (p >= 0) {
        const slot = pt.find(c[p]!, newId);
        if (slot >= 0) heap.push(pt.rank(slot), p, pt.newId(slot));
      }
      if (rn >= 0) {
        const slot = pt.find(newId, c[rn]!);
        if (slot >= 0) heap.push(pt.rank(slot), pos, pt.newId(slot));
      }
    }
    let j = 0;
    for (let k = 0; k < n; k++) {
      if (!alive[k]) continue;
      c[j] = c[k]!;
      s[j] = s[k]!;
      e[j++] = e[k]!;
    }
    return j;
  }
}

/**
 * Open-addressing hash table (a, b) -> (rank, newId) in typed arrays: merge lookups are the
 * inner loop of BPE, and a Map keyed by a*N+b would use non-small-integer keys (slow).
 * A later duplicate rule overwrites an earlier one, as HF's HashMap collect does.
 */
class PairTable {
  /** Entries of four: a, b, rank, newId (one cache line holds a whole entry; a = -1: empty). */
  private readonly t: Int32Array;
  private readonly mask: number;
  constructor(n: number) {
    let cap = 16;
    while (cap < n * 2) cap *= 2;
    this.mask = cap - 1;
    this.t = new Int32Array(4 * cap).fill(-1);
  }
  private hash(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) & this.mask;
  }
  set(a: number, b: number, rank: number, newId: number): void {
    const t = this.t;
    let i = this.hash(a, b);
    for (;;) {
      const ka = t[4 * i]!;
      if (ka === -1 || (ka === a && t[4 * i + 1] === b)) break;
      i = (i + 1) & this.mask;
    }
    t[4 * i] = a;
    t[4 * i + 1] = b;
    t[4 * i + 2] = rank;
    t[4 * i + 3] = newId;
  }
  /** Rank of the rule (a, b), or NONE. */
  rankOf(a: number, b: number): number {
    const slot = this.find(a, b);
    return slot >= 0 ? this.t[slot + 2]! : NONE;
  }
  /** Slot of (a, b), or -1. */
  find(a: number, b: number): number {
    const t = this.t;
    let i = this.hash(a, b);
    for (;;) {
      const ka = t[4 * i]!;
      if (ka === -1) return -1;
      if (ka === a && t[4 * i + 1] === b) return 4 * i;
      i = (i + 1) & this.mask;
    }
  }
  rank(slot: number): number {
    return this.t[slot + 2]!;
  }
  newId(slot: number): number {
    return this.t[slot + 3]!;
  }
}

/** Inputs longer than this (UTF-16 units) are merged a word at a time where the vocabulary allows (tokenizeByWords). */
const LONG_WORD = 256;
/** No merge rule (above every rank). */
const NONE = 0x7fffffff;
const EMPTY = new Int32Array(0);

/** Binary min-heap on (rank, pos) with a payload. */
class MinHeap {
  private keys: Float64Array;
  private pos: Int32Array;
  private pay: Int32Array;
  size = 0;
  constructor(cap: number) {
    const c = Math.max(16, cap * 2);
    this.keys = new Float64Array(c);
    this.pos = new Int32Array(c);
    this.pay = new Int32Array(c);
  }
  push(rank: number, pos: number, payload: number): void {
    if (this.size === this.keys.length) {
      const k2 = new Float64Array(this.keys.length * 2);
      k2.set(this.keys);
      const p2 = new Int32Array(this.keys.length * 2);
      p2.set(this.pos);
      const y2 = new Int32Array(this.keys.length * 2);
      y2.set(this.pay);
      this.keys = k2;
      this.pos = p2;
      this.pay = y2;
    }
    const key = rank * 4294967296 + pos;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent]! <= key) break;
      this.keys[i] = this.keys[parent]!;
      this.pos[i] = this.pos[parent]!;
      this.pay[i] = this.pay[parent]!;
      i = parent;
    }
    this.keys[i] = key;
    this.pos[i] = pos;
    this.pay[i] = payload;
  }
  topPos(): number {
    return this.pos[0]!;
  }
  topNewId(): number {
    return this.pay[0]!;
  }
  pop(): void {
    const last = --this.size;
    if (last === 0) return;
    const key = this.keys[last]!;
    const p = this.pos[last]!;
    const y = this.pay[last]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && this.keys[child + 1]! < this.keys[child]!) child++;
      if (this.keys[child]! >= key) break;
      this.keys[i] = this.keys[child]!;
      this.pos[i] = this.pos[child]!;
      this.pay[i] = this.pay[child]!;
      i = child;
    }
    this.keys[i] = key;
    this.pos[i] = p;
    this.pay[i] = y;
  }
}
