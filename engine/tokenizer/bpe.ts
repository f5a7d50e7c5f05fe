/**
 * The BPE model of Hugging Face tokenizers (`models/bpe`), merge for merge identical:
 * a word is split into characters (vocabulary ids, with byte fallback / unknown-token fusion),
 * then the pair with the lowest merge rank (leftmost on ties) is merged until none is left.
 * Short words use a direct scan; long ones a binary heap over a linked list (same order,
 * as in HF's `Word::merge_all`). Results are cached per word.
 */
import { FormatError } from '../errors';
import { toByteLevel, utf8Put } from './unicode';

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
    const ids: number[] = [];
    const st: number[] = [];
    const en: number[] = [];
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix, fuseUnk } = this.opts;
    let unkStart = -1;
    let unkEnd = -1;
    let unkPending = false;
    const bytes = [0, 0, 0, 0];
    for (let u = 0; u < w.length;) {
      const cp = w.codePointAt(u)!;
      const cw = cp > 0xffff ? 2 : 1;
      const isFirst = u === 0;
      const isLast = u + cw >= w.length;
      let s = w.slice(u, u + cw);
      if (!isFirst && prefix) s = prefix + s;
      if (isLast && suffix) s = s + suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (unkPending) {
          ids.push(this.unkId);
          st.push(unkStart);
          en.push(unkEnd);
          unkPending = false;
        }
        ids.push(id);
        st.push(u);
        en.push(u + cw);
        u += cw;
        continue;
      }
      if (this.opts.byteFallback) {
        // HF uses the bytes of `s` (prefix/suffix included)
        const n = prefix || suffix ? -1 : utf8Put(cp, bytes, 0);
        let all: number[] | null = null;
        if (n > 0) {
          all = [];
          for (let k = 0; k < n; k++) {
            const b = this.byteIds[bytes[k]!]!;
            if (b < 0) {
              all = null;
              break;
            }
            all.push(b);
          }
        } else {
          const enc = new TextEncoder().encode(s);
          all = [];
          for (const byte of enc) {
            const b = this.byteIds[byte]!;
            if (b < 0) {
              all = null;
              break;
            }
            all.push(b);
          }
        }
        if (all) {
          for (const b of all) {
            ids.push(b);
            st.push(u);
            en.push(u + cw);
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
            ids.push(this.unkId);
            st.push(unkStart);
            en.push(unkEnd);
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
      ids.push(this.unkId);
      st.push(unkStart);
      en.push(unkEnd);
    }
    const n = ids.length;
    if (n >= 2) {
      const scan = this.strategy === 'scan' || (this.strategy === 'auto' && n <= SCAN_LIMIT);
      if (scan) this.mergeScan(ids, st, en);
      else return this.mergeHeap(ids, st, en);
    }
    const out = new Int32Array(3 * ids.length);
    for (let k = 0; k < ids.length; k++) {
      out[3 * k] = ids[k]!;
      out[3 * k + 1] = st[k]!;
      out[3 * k + 2] = en[k]!;
    }
    return out;
  }

  /** Repeatedly merges the lowest-rank adjacent pair (leftmost on ties): same result as the heap. */
  private mergeScan(ids: number[], st: number[], en: number[]): void {
    const pt = this.merges;
    for (;;) {
      let bestRank = 0x7fffffff;
      let bestSlot = -1;
      let bestAt = -1;
      for (let k = 0; k + 1 < ids.length; k++) {
        const slot = pt.find(ids[k]!, ids[k + 1]!);
        // strict < keeps the leftmost place where the same rule applies
        if (slot >= 0 && pt.rank[slot]! < bestRank) {
          bestRank = pt.rank[slot]!;
          bestSlot = slot;
          bestAt = k;
        }
      }
      if (bestAt < 0) return;
      ids[bestAt] = pt.newId[bestSlot]!;
      en[bestAt] = en[bestAt + 1]!;
      ids.splice(bestAt + 1, 1);
      st.splice(bestAt + 1, 1);
      en.splice(bestAt + 1, 1);
    }
  }

  private mergeHeap(ids0: number[], st0: number[], en0: number[]): Int32Array {
    const n = ids0.length;
    const pt = this.merges;
    const c = Int32Array.from(ids0);
    const s = Int32Array.from(st0);
    const e = Int32Array.from(en0);
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
      if (slot >= 0) heap.push(pt.rank[slot]!, k, pt.newId[slot]!);
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
      if (cur < 0 || pt.newId[cur] !== newId) continue;
      c[pos] = newId;
      e[pos] = e[right]!;
      alive[right] = 0;
      const rn = next[right]!;
      next[pos] = rn;
      if (rn >= 0) prev[rn] = pos;
      const p = prev[pos]!;
      if (p >= 0) {
        const slot = pt.find(c[p]!, newId);
        if (slot >= 0) heap.push(pt.rank[slot]!, p, pt.newId[slot]!);
      }
      if (rn >= 0) {
        const slot = pt.find(newId, c[rn]!);
        if (slot >= 0) heap.push(pt.rank[slot]!, pos, pt.newId[slot]!);
      }
    }
    let count = 0;
    for (let k = 0; k < n; k++) if (alive[k]) count++;
    const out = new Int32Array(3 * count);
    let j = 0;
    for (let k = 0; k < n; k++) {
      if (!alive[k]) continue;
      out[j++] = c[k]!;
      out[j++] = s[k]!;
      out[j++] = e[k]!;
    }
    return out;
  }
}

/**
 * Open-addressing hash table (a, b) -> (rank, newId) in typed arrays: merge lookups are the
 * inner loop of BPE, and a Map keyed by a*N+b would use non-small-integer keys (slow).
 * A later duplicate rule overwrites an earlier one, as HF's HashMap collect does.
 */
class PairTable {
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly rank: Int32Array;
  readonly newId: Int32Array;
  private readonly mask: number;
  constructor(n: number) {
    let cap = 16;
    while (cap < n * 2) cap *= 2;
    this.mask = cap - 1;
    this.a = new Int32Array(cap).fill(-1);
    this.b = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.newId = new Int32Array(cap);
  }
  private hash(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) & this.mask;
  }
  set(a: number, b: number, rank: number, newId: number): void {
    let i = this.hash(a, b);
    for (;;) {
      const ka = this.a[i]!;
      if (ka === -1 || (ka === a && this.b[i] === b)) break;
      i = (i + 1) & this.mask;
    }
    this.a[i] = a;
    this.b[i] = b;
    this.rank[i] = rank;
    this.newId[i] = newId;
  }
  /** Slot of (a, b), or -1. */
  find(a: number, b: number): number {
    let i = this.hash(a, b);
    for (;;) {
      const ka = this.a[i]!;
      if (ka === -1) return -1;
      if (ka === a && this.b[i] === b) return i;
      i = (i + 1) & this.mask;
    }
  }
}

/** Inputs longer than this (UTF-16 units) are merged a word at a time where the vocabulary allows (tokenizeByWords). */
const LONG_WORD = 256;
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
