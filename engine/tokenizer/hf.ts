/**
 * Hugging Face `tokenizer.json` with a BPE model, encoding and decoding exactly as HF
 * tokenizers (Rust) does: added tokens split out first (on the raw text, then on the
 * normalized text), normalizer, pre-tokenizer, BPE per word, post-processor; decoding
 * through the decoder chain.
 *
 * Not used from tokenizer.json: `truncation` and `padding` (fixed-length batches; the engine
 * never needs them) and BPE `dropout` (random merges for training; inference is deterministic).
 */
import { AddedTokenMatcher, type AddedTokenSpec } from './added';
import { BpeBuildError, BpeModel } from './bpe';
import { type Decoder, buildDecoder } from './decoders';
import { type Json, type JsonObject, JsonReader } from './json';
import { type Normalizer, buildNormalizer } from './normalizers';
import { type Piece, initialPiece, slicePiece } from './piece';
import { type PostProcessor, type WorkEncoding, buildPostProcessor } from './post-processors';
import { type PreTokenizerStep, buildPreTokenizer } from './pre-tokenizers';
import type { FlatEncoding } from './flat';
import { WindowStreamDecoder } from './stream';
import type { DecodeOptions, EncodeOptions, Encoding, StreamDecoder, StreamDecoderOptions, Tokenizer, TokenizerKind } from './types';
import { byteUnits, wellFormed } from './unicode';

export interface SpecialTokenOverrides {
  /** Overrides the guessed BOS id (e.g. from config.json / generation_config.json). */
  bosId?: number | null;
  /** Overrides the guessed end-of-generation ids. */
  eosIds?: number[];
}

const BOS_NAMES = ['<|begin_of_text|>', '<s>', '<bos>', '<|startoftext|>', '<BOS>'];
const EOS_NAMES = ['</s>', '<|end_of_text|>', '<|eot_id|>', '<|eom_id|>', '<|endoftext|>', '<|im_end|>', '<eos>', '<end_of_turn>', '<|end|>', '<EOS>'];

export interface HfParts {
  model: BpeModel;
  normalizer: Normalizer | null;
  preTokenizer: PreTokenizerStep | null;
  postProcessor: PostProcessor | null;
  decoder: Decoder | null;
  added: AddedTokenSpec[];
}

/** Inputs longer than this (UTF-16 units) are pre-tokenized in batches of words where that is exact (piecesInBatches). */
const LONG_INPUT = 1 << 16;
const WORDS_PER_BATCH = 4096;

export class HfTokenizer implements Tokenizer {
  readonly kind: Extract<TokenizerKind, 'hf-bpe' | 'gguf-gpt2'>;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly specialIds: ReadonlySet<number>;

  /** The BPE model (exposed for tests and tools). */
  readonly model: BpeModel;
  private readonly normalizer: Normalizer | null;
  private readonly pre: PreTokenizerStep | null;
  private readonly post: PostProcessor | null;
  private readonly decoder: Decoder | null;
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normMatcher: AddedTokenMatcher;
  private readonly addedById = new Map<number, string>();
  private readonly addedByContent = new Map<string, number>();
  private readonly specialContents = new Set<string>();
  private readonly byteLevelModelInput: boolean;
  private readonly alwaysAlign: boolean;

  constructor(parts: HfParts, overrides: SpecialTokenOverrides = {}, kind: Extract<TokenizerKind, 'hf-bpe' | 'gguf-gpt2'> = 'hf-bpe') {
    this.kind = kind;
    this.model = parts.model;
    this.normalizer = parts.normalizer;
    this.pre = parts.preTokenizer;
    this.post = parts.postProcessor;
    this.decoder = parts.decoder;
    for (const t of parts.added) {
      // HF 0.23: a normalized added token reads back (id_to_token, decode) in its normalized form
      const shown = t.normalized && this.normalizer ? this.normalizer(initialPiece(t.content, false)).text : t.content;
      this.addedById.set(t.id, shown); // a later token with the same id replaces the earlier (HF map_r)
      this.addedByContent.set(t.content, t.id);
      if (t.special) this.specialContents.add(t.content);
    }
    // HF order: special tokens, then the other added tokens (those whose content is not special).
    const ordered = [...parts.added.filter((t) => t.special), ...parts.added.filter((t) => !this.specialContents.has(t.content))];
    this.rawMatcher = new AddedTokenMatcher(ordered.filter((t) => !t.normalized).map((spec) => ({ pattern: spec.content, spec })));
    this.normMatcher = new AddedTokenMatcher(
      ordered.filter((t) => t.normalized).map((spec) => ({ pattern: this.normalizer ? this.normalizer(initialPiece(spec.content, false)).text : spec.content, spec })),
    );
    this.byteLevelModelInput = this.pre !== null && this.pre.byteLevelLast;
    this.alwaysAlign = this.pre !== null && this.pre.needsAlign;

    let maxId = this.model.vocabR.length - 1;
    for (const t of parts.added) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    this.specialIds = new Set(parts.added.filter((t) => this.specialContents.has(t.content)).map((t) => t.id));

    let bos: number | null = null;
    if (this.post && this.post.prefixIds.length > 0) bos = this.post.prefixIds[0]!;
    else {
      for (const n of BOS_NAMES) {
        const id = this.tokenToId(n);
        if (id !== undefined && this.specialIds.has(id)) {
          bos = id;
          break;
        }
      }
    }
    this.bosId = overrides.bosId !== undefined ? overrides.bosId : bos;
    const eos: number[] = [];
    for (const n of EOS_NAMES) {
      const id = this.tokenToId(n);
      if (id !== undefined && !eos.includes(id) && this.specialIds.has(id)) eos.push(id);
    }
    this.eosIds = overrides.eosIds ?? eos;
  }

  /** True when the model's tokens are in GPT-2's byte-level alphabet (Ġ = space). */
  get byteLevel(): boolean {
    return this.byteLevelModelInput;
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id) ?? this.model.vocabR[id];
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token) ?? this.model.vocab.get(token);
  }

  encode(text: string, opts: EncodeOptions = {}): Encoding {
    const src = wellFormed(text);
    const w = this.run(src, opts.addSpecialTokens ?? true, true);
    return finishEncoding(src, w);
  }

  encodeIds(text: string, opts: EncodeOptions = {}): number[] {
    return this.run(wellFormed(text), opts.addSpecialTokens ?? true, false).ids;
  }

  encodeFlat(text: string, opts: EncodeOptions = {}): FlatEncoding {
    const src = wellFormed(text);
    const w = this.run(src, opts.addSpecialTokens ?? true, true);
    const offsets = Int32Array.from(w.offsets);
    w.offsets = []; // the flat copy replaces it before the UTF-16 one is made
    const toUnit = codePointToUnit(src);
    const offsetsUtf16 = toUnit ? offsets.map((o) => toUnit[o] ?? src.length) : offsets.slice();
    return { ids: Int32Array.from(w.ids), tokens: w.tokens, offsets, offsetsUtf16 };
  }

  /** Pieces after added-token extraction, normalization and pre-tokenization. */
  private pieces(text: string, align: boolean): Piece[] {
    if (text.length === 0) return [];
    const first: Piece[] = [];
    this.rawMatcher.split(initialPiece(text, align), first);
    let pieces: Piece[] = [];
    for (const p of first) {
      if (p.tokenId !== undefined) {
        pieces.push(p);
        continue;
      }
      const n = this.normalizer ? this.normalizer(p) : p;
      this.normMatcher.split(n, pieces);
    }
    if (this.pre) pieces = this.pre.run(pieces);
    return pieces.filter((p) => p.text.length > 0);
  }

  /**
   * The pipeline's pieces for a long input, passed to `emit` a batch of words at a time so
   * that the pieces of the whole input never exist at once. Taken only where it provably gives
   * the pieces of `pieces()`: the pre-tokenizer's words (its text-only split) must tile each
   * normalized piece, and pre-tokenizing each batch's slice must give exactly that batch's
   * words. False when not (a word changed, a prefix added…): the caller then drops what was
   * emitted and takes `pieces()`.
   */
  private piecesInBatches(text: string, align: boolean, emit: (p: Piece) => void): boolean {
    const pre = this.pre;
    if (!pre) return false;
    const first: Piece[] = [];
    this.rawMatcher.split(initialPiece(text, align), first);
    for (const p of first) {
      if (p.tokenId !== undefined) {
        emit(p); // the pre-tokenizer passes token pieces through
        continue;
      }
      const parts: Piece[] = [];
      this.normMatcher.split(this.normalizer ? this.normalizer(p) : p, parts);
      for (const q of parts) {
        if (q.tokenId !== undefined) {
          emit(q);
          continue;
        }
        const words: string[] = [];
        pre.splitText(q.text, words);
        let at = 0;
        for (const w of words) {
          if (!q.text.startsWith(w, at)) return false;
          at += w.length;
        }
        if (at !== q.text.length) return false;
        let start = 0;
        for (let i = 0; i < words.length;) {
          // a batch ends between a word ending in a non-space and one starting with at most one
          // space (a regex's view of whitespace runs and of the end of its text would differ there)
          let j = Math.min(words.length, i + WORDS_PER_BATCH);
          while (j < words.length && !(/\S$/.test(words[j - 1]!) && /^ ?\S/.test(words[j]!))) j++;
          const batch = words.slice(i, j).filter((w) => w.length > 0);
          const end = start + batch.reduce((n, w) => n + w.length, 0);
          const got = pre.run([slicePiece(q, start, end)]).filter((x) => x.text.length > 0);
          if (got.length !== batch.length || got.some((g, k) => g.text !== batch[k])) return false;
          for (const g of got) emit(g);
          start = end;
          i = j;
        }
      }
    }
    return true;
  }

  /** ids only, on plain strings (no alignments): the hot path of `encodeIds`. */
  private runIds(text: string): number[] {
    const ids: number[] = [];
    if (text.length === 0) return ids;
    const words: string[] = [];
    const model = this.model;
    const byteLevel = this.byteLevelModelInput;
    const emitText = (s: string): void => {
      words.length = 0;
      if (this.pre) this.pre.splitText(s, words);
      else words.push(s);
      for (const w of words) {
        if (w.length === 0) continue;
        if (!byteLevel) {
          model.tokenizeIds(w, ids);
          continue;
        }
        const res = model.tokenizeByteLevel(w);
        for (let k = 0; k < res.length; k += 3) ids.push(res[k]!);
      }
    };
    const segs = this.rawMatcher.empty ? [[0, text.length, -1] as [number, number, number]] : this.rawMatcher.findMatches(text);
    for (const [s, e, id] of segs) {
      if (id >= 0) {
        ids.push(id);
        continue;
      }
      if (e <= s) continue;
      let t = text.slice(s, e);
      if (this.normalizer) t = this.normalizer({ text: t, align: null, base: s === 0 ? 0 : -1 }).text;
      if (this.normMatcher.empty) {
        if (t.length > 0) emitText(t);
        continue;
      }
      for (const [s2, e2, id2] of this.normMatcher.findMatches(t)) {
        if (id2 >= 0) ids.push(id2);
        else if (e2 > s2) emitText(t.slice(s2, e2));
      }
    }
    return ids;
  }

  private run(text: string, addSpecial: boolean, withOffsets: boolean): WorkEncoding {
    if (!withOffsets && !this.alwaysAlign) {
      const ids = this.runIds(text);
      return { ids: this.post ? this.post.processIds(ids, addSpecial) : ids, tokens: [], offsets: [] };
    }
    const ids: number[] = [];
    const tokens: string[] = [];
    const offsets: number[] = [];
    const vocabR = this.model.vocabR;
    const emit = (p: Piece): void => {
      if (p.text.length === 0) return;
      if (p.tokenId !== undefined) {
        ids.push(p.tokenId);
        if (withOffsets) {
          tokens.push(p.text);
          const a = p.align!;
          offsets.push(a[0]!, a[a.length - 1]!);
        }
        return;
      }
      const res = this.byteLevelModelInput ? this.model.tokenizeByteLevel(p.text) : this.model.tokenize(p.text);
      if (!withOffsets) {
        for (let k = 0; k < res.length; k += 3) ids.push(res[k]!);
        return;
      }
      const a = p.align!;
      const unitOfByte = this.byteLevelModelInput ? byteUnits(p.text) : null;
      for (let k = 0; k < res.length; k += 3) {
        const id = res[k]!;
        ids.push(id);
        tokens.push(vocabR[id] ?? '');
        let s = res[k + 1]!;
        let e = res[k + 2]! - 1;
        if (unitOfByte) {
          s = unitOfByte[s]!;
          e = unitOfByte[e]!;
        }
        offsets.push(a[2 * s]!, a[2 * e + 1]!);
      }
    };
    const align = withOffsets || this.alwaysAlign;
    if (!(text.length > LONG_INPUT && this.piecesInBatches(text, align, emit))) {
      ids.length = tokens.length = offsets.length = 0;
      for (const p of this.pieces(text, align)) emit(p);
    }
    if (!withOffsets) return { ids: this.post ? this.post.processIds(ids, addSpecial) : ids, tokens: [], offsets: [] };
    const enc: WorkEncoding = { ids, tokens, offsets };
    return this.post ? this.post.process(enc, addSpecial) : enc;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    const tokens: string[] = [];
    for (const id of ids) {
      const t = this.idToToken(id);
      if (t === undefined) continue;
      if (skip && this.specialContents.has(t)) continue;
      tokens.push(t);
    }
    if (!this.decoder) return tokens.join(' ');
    return this.decoder(tokens).join('');
  }

  createStreamDecoder(opts?: StreamDecoderOptions): StreamDecoder {
    return new WindowStreamDecoder((ids, o) => this.decode(ids, o), opts);
  }
}

/** Converts a pipeline encoding (code-point offsets) into the public Encoding. */
export function finishEncoding(text: string, w: WorkEncoding): Encoding {
  const n = w.ids.length;
  const offsets: [number, number][] = new Array(n);
  const offsetsUtf16: [number, number][] = new Array(n);
  const toUnit = codePointToUnit(text);
  for (let i = 0; i < n; i++) {
    const s = w.offsets[2 * i]!;
    const e = w.offsets[2 * i + 1]!;
    offsets[i] = [s, e];
    offsetsUtf16[i] = toUnit ? [toUnit[s] ?? text.length, toUnit[e] ?? text.length] : [s, e];
  }
  return { ids: w.ids, tokens: w.tokens, offsets, offsetsUtf16 };
}

/** code point index -> UTF-16 index (length cp+1), or null when both are the same. */
export function codePointToUnit(text: string): Int32Array | null {
  let astral = false;
  for (let u = 0; u < text.length; u++) {
    const c = text.charCodeAt(u);
    if (c >= 0xd800 && c <= 0xdbff && u + 1 < text.length) {
      const d = text.charCodeAt(u + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        astral = true;
        break;
      }
    }
  }
  if (!astral) return null;
  const map: number[] = [];
  let u = 0;
  for (const ch of text) {
    map.push(u);
    u += ch.length;
  }
  map.push(u);
  return Int32Array.from(map);
}

// ---------------------------------------------------------------- loading

function readAdded(r: JsonReader, v: Json | undefined): AddedTokenSpec[] {
  if (v === undefined || v === null) return [];
  const list = r.arr(v, 'added_tokens');
  return list.map((t, i) => {
    const k = `added_tokens[${i}]`;
    const o = r.obj(t, k);
    const content = r.str(o.content, `${k}.content`);
    const special = r.bool(o.special, `${k}.special`, false);
    return {
      id: r.tokenId(o.id, `${k}.id`),
      content,
      singleWord: r.bool(o.single_word, `${k}.single_word`, false),
      lstrip: r.bool(o.lstrip, `${k}.lstrip`, false),
      rstrip: r.bool(o.rstrip, `${k}.rstrip`, false),
      normalized: r.bool(o.normalized, `${k}.normalized`, !special),
      special,
    };
  });
}

/** How far above the number of vocabulary entries an id may be (room for ids left to added tokens). */
const MAX_VOCAB_ID_GAP = 65_536;

function readBpe(r: JsonReader, m: JsonObject): BpeModel {
  const vocabObj = r.obj(m.vocab, 'model.vocab');
  const vocab = new Map<string, number>();
  // ids index arrays of the vocabulary's size: one far above the number of entries would allocate for it
  r.idLimit = Object.keys(vocabObj).length + MAX_VOCAB_ID_GAP;
  r.idLimitWhy = `the number of entries of model.vocab + ${MAX_VOCAB_ID_GAP}`;
  for (const tok in vocabObj) vocab.set(tok, r.tokenId(vocabObj[tok], `model.vocab.${tok}`));
  const mergesJson = r.arr(m.merges, 'model.merges');
  const merges: [string, string][] = new Array(mergesJson.length);
  for (let i = 0; i < mergesJson.length; i++) {
    const e = mergesJson[i];
    if (typeof e === 'string') {
      const k = e.indexOf(' ');
      if (k < 0 || e.indexOf(' ', k + 1) >= 0) {
        throw r.error('a merge must be two tokens separated by one space', `model.merges[${i}]`, '"left right"', e);
      }
      merges[i] = [e.slice(0, k), e.slice(k + 1)];
    } else if (Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string') {
      merges[i] = [e[0], e[1]];
    } else {
      throw r.error('wrong type', `model.merges[${i}]`, 'a "left right" string or a [left, right] pair', e);
    }
  }
  const opts = {
    unkToken: r.optStr(m.unk_token, 'model.unk_token'),
    fuseUnk: r.bool(m.fuse_unk, 'model.fuse_unk', false),
    byteFallback: r.bool(m.byte_fallback, 'model.byte_fallback', false),
    continuingSubwordPrefix: r.optStr(m.continuing_subword_prefix, 'model.continuing_subword_prefix'),
    endOfWordSuffix: r.optStr(m.end_of_word_suffix, 'model.end_of_word_suffix'),
    ignoreMerges: r.bool(m.ignore_merges, 'model.ignore_merges', false),
    source: r.file,
  };
  if (m.dropout !== undefined && m.dropout !== null && typeof m.dropout !== 'number') {
    throw r.error('wrong type', 'model.dropout', 'a number or null', m.dropout);
  }
  try {
    return new BpeModel(vocab, merges, opts);
  } catch (e) {
    if (e instanceof BpeBuildError) {
      throw r.error(e.message, `model.merges[${e.index}]`, 'tokens of model.vocab', e.found);
    }
    throw e;
  }
}

/**
 * HF's AddedVocabulary::add_tokens id assignment, which is what HF does with the
 * `added_tokens` of a tokenizer.json: the JSON ids are not used. A token whose content is
 * already a model token takes that id; otherwise it gets the vocabulary size, or one past
 * the highest added id once that is beyond the vocabulary. Exact duplicates are skipped.
 */
export function assignAddedTokenIds(added: AddedTokenSpec[], model: BpeModel): AddedTokenSpec[] {
  const byContent = new Map<string, number>();
  const out: AddedTokenSpec[] = [];
  const vocabSize = model.size;
  let maxAdded = -1;
  const seen = new Set<string>();
  for (const t of added) {
    if (t.content.length === 0) continue;
    const sig = `${+t.singleWord}${+t.lstrip}${+t.rstrip}${+t.normalized}${+t.special}${t.content}`;
    if (seen.has(sig)) continue;
    seen.add(sig);
    let id = byContent.get(t.content) ?? model.vocab.get(t.content);
    if (id === undefined) id = maxAdded < 0 ? vocabSize : maxAdded >= vocabSize || vocabSize === 0 ? maxAdded + 1 : vocabSize;
    byContent.set(t.content, id);
    if (id > maxAdded) maxAdded = id;
    out.push({ ...t, id });
  }
  return out;
}

/** Builds a tokenizer from an already parsed tokenizer.json object. */
export function fromTokenizerJsonValue(json: unknown, fileName: string, overrides?: SpecialTokenOverrides): HfTokenizer {
  const r = new JsonReader(fileName);
  const root = r.obj(json as Json, '(root)');
  if (root.model === undefined || root.model === null) throw r.error('missing', 'model', 'a model object');
  const m = r.obj(root.model, 'model');
  let type: string;
  if (m.type !== undefined && m.type !== null) type = r.str(m.type, 'model.type');
  else if (m.merges !== undefined) type = 'BPE';
  else if (Array.isArray(m.vocab)) type = 'Unigram';
  else if (m.max_input_chars_per_word !== undefined) type = 'WordPiece';
  else type = 'WordLevel';
  if (type !== 'BPE') throw r.unsupported(`model type "${type}" is not supported (only BPE)`, 'model.type', type);
  const model = readBpe(r, m);
  // ids of added tokens and of the post-processor's special tokens may also lie past the vocabulary, one per added token
  if (Array.isArray(root.added_tokens) && root.added_tokens.length > 0) {
    r.idLimit += root.added_tokens.length;
    r.idLimitWhy = `the number of entries of model.vocab and added_tokens + ${MAX_VOCAB_ID_GAP}`;
  }
  const normalizer = buildNormalizer(r, root.normalizer, 'normalizer');
  const preTokenizer = buildPreTokenizer(r, root.pre_tokenizer, 'pre_tokenizer');
  const postProcessor = buildPostProcessor(r, root.post_processor, 'post_processor');
  const decoder = buildDecoder(r, root.decoder, 'decoder');
  const added = assignAddedTokenIds(readAdded(r, root.added_tokens), model);
  return new HfTokenizer({ model, normalizer, preTokenizer, postProcessor, decoder, added }, overrides);
}

/** Parses a tokenizer.json text. Throws FormatError (UnsupportedError for unsupported parts). */
export function fromTokenizerJson(text: string, fileName: string, overrides?: SpecialTokenOverrides): HfTokenizer {
  const r = new JsonReader(fileName);
  return fromTokenizerJsonValue(r.parse(text), fileName, overrides);
}
