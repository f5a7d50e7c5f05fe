/**
 * A byte-level BPE trainer, from scratch (GPT-2 style): the text is split with GPT-2's
 * pre-tokenizer regex (as HF's ByteLevel pre-tokenizer does), every piece becomes its UTF-8
 * bytes (ids 0–255), and the most frequent adjacent pair is merged into a new token, again and
 * again, until the vocabulary has the size asked for (or no pair occurs twice).
 *
 * Usage: `addText` (as often as needed, in chunks), then `step()` until it returns null, or
 * `train()`. Each step reports the pair, its count and the new token, so a UI can show merges
 * as they happen. `toTokenizerJson()` exports a standard HF `tokenizer.json` (BPE model with a
 * ByteLevel pre-tokenizer and decoder) that HF tokenizers, tokenizers.js and this engine load;
 * `encodeIds` encodes with the merges in memory (the same ids those readers give).
 *
 * Ties between pairs of equal count go to the pair with the smaller (left id, right id).
 * Pure TypeScript (no DOM, no Node).
 */
import { compileOnigRegex } from './regex';
import { BYTE_STR } from './unicode';

/** GPT-2's pre-tokenizer pattern (HF ByteLevel with use_regex). */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export interface BpeTrainerOptions {
  /** Final vocabulary size: 256 bytes + merges + special tokens. */
  vocabSize: number;
  /** Special tokens, added after the merges (default ["<|endoftext|>"]). */
  specialTokens?: string[];
  /** A pair must occur at least this often to be merged (default 2). */
  minFrequency?: number;
}

export interface MergeStep {
  /** 0-based merge rank. */
  rank: number;
  leftId: number;
  rightId: number;
  /** Byte-level forms (Ġ = space) of the two parts and the result. */
  left: string;
  right: string;
  token: string;
  /** How often the pair occurred (weighted by word frequency) when it was merged. */
  count: number;
  /** Id of the new token. */
  id: number;
}

export class TrainerInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainerInputError';
  }
}

const SHIFT = 2 ** 21;
const MAX_VOCAB = 1_000_000;

export class BpeTrainer {
  readonly vocabSize: number;
  readonly specialTokens: string[];
  readonly minFrequency: number;
  /** id -> byte-level token text. */
  readonly tokens: string[] = [];
  /** Merges so far, in rank order. */
  readonly merges: MergeStep[] = [];

  private readonly re: RegExp;
  private wordCounts = new Map<string, number>();
  private words: number[][] = [];
  private counts: number[] = [];
  private pairCounts = new Map<number, number>();
  private where = new Map<number, Set<number>>();
  private heap = new MaxHeap();
  private started = false;
  private finished = false;
  /** Characters of input added so far. */
  inputChars = 0;
  private mergeRank = new Map<number, number>(); // pair key -> rank
  private encodeCache = new Map<string, number[]>();

  constructor(opts: BpeTrainerOptions) {
    this.specialTokens = opts.specialTokens ?? ['<|endoftext|>'];
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 256 + this.specialTokens.length || opts.vocabSize > MAX_VOCAB) {
      throw new TrainerInputError(
        `the vocabulary size must be an integer from ${256 + this.specialTokens.length} (256 bytes + special tokens) to ${MAX_VOCAB}; got ${opts.vocabSize}`,
      );
    }
    this.vocabSize = opts.vocabSize;
    this.minFrequency = Math.max(1, opts.minFrequency ?? 2);
    for (let b = 0; b < 256; b++) this.tokens.push(BYTE_STR[b]!);
    this.re = compileOnigRegex(GPT2_PATTERN);
  }

  /** Number of merges training aims for. */
  get targetMerges(): number {
    return this.vocabSize - 256 - this.specialTokens.length;
  }

  get done(): boolean {
    return this.finished;
  }

  /** Distinct pre-tokens seen so far. */
  get distinctWords(): number {
    return this.started ? this.words.length : this.wordCounts.size;
  }

  /** Counts the pre-tokens of a chunk of text. Call before the first step. */
  addText(text: string): void {
    if (this.started) throw new TrainerInputError('addText after training started');
    this.inputChars += text.length;
    for (const piece of splitPieces(this.re, text)) this.wordCounts.set(piece, (this.wordCounts.get(piece) ?? 0) + 1);
  }

  private start(): void {
    this.started = true;
    const enc = new TextEncoder();
    for (const [w, c] of this.wordCounts) {
      const bytes = enc.encode(w);
      this.words.push(Array.from(bytes));
      this.counts.push(c);
    }
    this.wordCounts.clear();
    for (let i = 0; i < this.words.length; i++) this.addPairs(i, null);
    for (const [k, c] of this.pairCounts) this.heap.push(c, k);
  }

  private addPairs(w: number, changed: Set<number> | null, sign = 1): void {
    const word = this.words[w]!;
    const c = this.counts[w]! * sign;
    for (let i = 0; i + 1 < word.length; i++) {
      const k = word[i]! * SHIFT + word[i + 1]!;
      this.pairCounts.set(k, (this.pairCounts.get(k) ?? 0) + c);
      if (sign > 0) {
        let s = this.where.get(k);
        if (!s) this.where.set(k, (s = new Set()));
        s.add(w);
      }
      changed?.add(k);
    }
  }

  /** One merge; null when training is complete. */
  step(): MergeStep | null {
    if (this.finished) return null;
    if (!this.started) this.start();
    if (this.merges.length >= this.targetMerges) return this.finish();
    let key = -1;
    let count = 0;
    while (this.heap.size > 0) {
      const [c, k] = this.heap.pop();
      const cur = this.pairCounts.get(k) ?? 0;
      if (cur !== c) continue; // stale
      if (cur < this.minFrequency) break;
      key = k;
      count = cur;
      break;
    }
    if (key < 0) return this.finish();
    const a = Math.floor(key / SHIFT);
    const b = key - a * SHIFT;
    const id = this.tokens.length;
    const token = this.tokens[a]! + this.tokens[b]!;
    this.tokens.push(token);
    const changed = new Set<number>();
    for (const w of this.where.get(key) ?? []) {
      const word = this.words[w]!;
      let has = false;
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === a && word[i + 1] === b) {
          has = true;
          break;
        }
      }
      if (!has) continue;
      this.addPairs(w, changed, -1);
      const out: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(word[i]!);
      }
      this.words[w] = out;
      this.addPairs(w, changed, 1);
    }
    this.where.delete(key);
    this.pairCounts.delete(key);
    changed.delete(key);
    for (const k of changed) {
      const c = this.pairCounts.get(k) ?? 0;
      if (c <= 0) {
        this.pairCounts.delete(k);
        this.where.delete(k);
      } else this.heap.push(c, k);
    }
    const step: MergeStep = { rank: this.merges.length, leftId: a, rightId: b, left: this.tokens[a]!, right: this.tokens[b]!, token, count, id };
    this.merges.push(step);
    this.mergeRank.set(key, step.rank);
    return step;
  }

  private finish(): null {
    if (!this.finished) {
      this.finished = true;
      for (const s of this.specialTokens) this.tokens.push(s);
      this.pairCounts.clear();
      this.where.clear();
      this.words = [];
      this.counts = [];
    }
    return null;
  }

  /** Runs every remaining step. */
  train(): this {
    while (this.step()) {
      /* keep merging */
    }
    return this;
  }

  /** Encodes with the merges learnt (in memory): lowest-rank pair first, leftmost on ties. */
  encodeIds(text: string): number[] {
    const ids: number[] = [];
    const specials = this.finished ? this.specialTokens : [];
    let segments: [string, number][] = [[text, -1]];
    if (specials.length) {
      segments = [];
      const esc = [...specials].sort((x, y) => y.length - x.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      const sre = new RegExp(esc.join('|'), 'g');
      let pos = 0;
      for (let m = sre.exec(text); m; m = sre.exec(text)) {
        if (m.index > pos) segments.push([text.slice(pos, m.index), -1]);
        segments.push([m[0], 256 + this.merges.length + specials.indexOf(m[0])]);
        pos = m.index + m[0].length;
      }
      if (pos < text.length) segments.push([text.slice(pos), -1]);
    }
    const enc = new TextEncoder();
    for (const [seg, sid] of segments) {
      if (sid >= 0) {
        ids.push(sid);
        continue;
      }
      for (const piece of splitPieces(this.re, seg)) {
        const hit = this.encodeCache.get(piece);
        if (hit) {
          for (const x of hit) ids.push(x);
          continue;
        }
        const sym = Array.from(enc.encode(piece));
        for (;;) {
          let best = Infinity;
          let at = -1;
          for (let i = 0; i + 1 < sym.length; i++) {
            const r = this.mergeRank.get(sym[i]! * SHIFT + sym[i + 1]!);
            if (r !== undefined && r < best) {
              best = r;
              at = i;
            }
          }
          if (at < 0) break;
          sym.splice(at, 2, 256 + best);
        }
        if (this.encodeCache.size > 100_000) this.encodeCache.clear();
        this.encodeCache.set(piece, sym);
        for (const x of sym) ids.push(x);
      }
    }
    return ids;
  }

  /** A standard HF tokenizer.json (object; JSON.stringify it to save). */
  toTokenizerJson(): Record<string, unknown> {
    const vocab: Record<string, number> = {};
    const nModel = 256 + this.merges.length;
    for (let i = 0; i < nModel; i++) vocab[this.tokens[i]!] = i;
    const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: this.specialTokens.map((content, k) => ({ id: nModel + k, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        // "left right" strings: byte-level tokens never contain a space.
        merges: this.merges.map((m) => `${m.left} ${m.right}`),
      },
    };
  }
}

function splitPieces(re: RegExp, text: string): string[] {
  const out: string[] = [];
  const r = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  for (let m = r.exec(text); m; m = r.exec(text)) {
    if (m[0].length === 0) {
      r.lastIndex++;
      continue;
    }
    out.push(m[0]);
  }
  return out;
}

/** Max-heap of (count, key); ties: smaller key first. */
class MaxHeap {
  private c: number[] = [];
  private k: number[] = [];
  get size(): number {
    return this.c.length;
  }
  private before(i: number, j: number): boolean {
    return this.c[i]! > this.c[j]! || (this.c[i] === this.c[j] && this.k[i]! < this.k[j]!);
  }
  private swap(i: number, j: number): void {
    [this.c[i], this.c[j]] = [this.c[j]!, this.c[i]!];
    [this.k[i], this.k[j]] = [this.k[j]!, this.k[i]!];
  }
  push(c: number, k: number): void {
    this.c.push(c);
    this.k.push(k);
    let i = this.c.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.c[0]!, this.k[0]!];
    const lc = this.c.pop()!;
    const lk = this.k.pop()!;
    if (this.c.length > 0) {
      this.c[0] = lc;
      this.k[0] = lk;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.c.length && this.before(l, m)) m = l;
        if (r < this.c.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}
