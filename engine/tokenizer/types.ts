/**
 * The one tokenizer interface of the engine. Every kind implements it:
 *   - `hf-bpe`      Hugging Face `tokenizer.json` with a BPE model (byte-level or SentencePiece-style)
 *   - `llama2c`     llama2.c `tokenizer.bin` (run.c's score-driven merge)
 *   - `gguf-llama`  GGUF `tokenizer.ggml.model = llama` (llama.cpp's SPM tokenizer)
 *   - `gguf-gpt2`   GGUF `tokenizer.ggml.model = gpt2` (byte-level BPE, llama.cpp pre-tokenizer regexes)
 *
 * Pure TypeScript: no `vscode`, no DOM, no Node APIs (the Node-only loader lives in `load-node.ts`).
 *
 * Strings are JavaScript strings (UTF-16). Lone surrogates cannot reach a Hugging Face
 * tokenizer at all (Python refuses to encode them to UTF-8); here they are tokenized as
 * U+FFFD, exactly as `TextEncoder` would turn them into bytes. Each lone surrogate is still
 * one code point of the input, so offsets keep indexing the string the caller passed, and
 * `decode(encode(s).ids)` gives `s.toWellFormed()` for byte-level tokenizers.
 */

import type { FlatEncoding } from './flat';

export type TokenizerKind = 'hf-bpe' | 'llama2c' | 'gguf-llama' | 'gguf-gpt2' | 'tiktoken';

/** One encoded text. All four arrays have the same length (one entry per token). */
export interface Encoding {
  ids: number[];
  tokens: string[];
  /**
   * [start, end) of each token in the input, in Unicode code points, exactly as Hugging Face
   * tokenizers reports them from Python. Tokens added by a post-processor (BOS…) get [0, 0].
   * A token that covers part of a character (one byte of a multi-byte character) covers the
   * whole character.
   */
  offsets: [number, number][];
  /** The same ranges in UTF-16 code units, i.e. usable with `String.prototype.slice` (the editor's unit). */
  offsetsUtf16: [number, number][];
}

export interface EncodeOptions {
  /** Add BOS/EOS etc. as the tokenizer's post-processor (or GGUF add_bos/add_eos) says. Default true (as HF). */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (HF: added tokens marked `special`; GGUF: control tokens). Default true (as HF). */
  skipSpecialTokens?: boolean;
}

export interface StreamDecoderOptions extends DecodeOptions {
  /**
   * Ids already shown to the user (e.g. the prompt). They give the decoder its context
   * (leading-space rules, pending bytes) and are never emitted.
   */
  context?: readonly number[];
}

/** Incremental detokenizer for generation: never emits half a UTF-8 character. */
export interface StreamDecoder {
  /** Adds one id; returns the newly complete text (possibly ''). */
  push(id: number): string;
  /** Returns whatever is still held back (an incomplete character becomes U+FFFD as in `decode`). */
  flush(): string;
}

export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** Highest token id + 1, counting added/special tokens (the size an embedding matrix must have at least). */
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or null when the vocabulary has none (Qwen). */
  readonly bosId: number | null;
  /** Ids that end generation (EOS, end-of-turn…). */
  readonly eosIds: readonly number[];
  /** Ids of special tokens (skipped by `decode` with skipSpecialTokens). */
  readonly specialIds: ReadonlySet<number>;

  encode(text: string, opts?: EncodeOptions): Encoding;
  /** Same ids as `encode(text, opts).ids`, without computing tokens and offsets (faster). */
  encodeIds(text: string, opts?: EncodeOptions): number[];
  /** The same encoding as `encode` in flat arrays (long inputs: a few tens of bytes a token); flat.ts's encodeFlat falls back on encode. */
  encodeFlat?(text: string, opts?: EncodeOptions): FlatEncoding;
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  createStreamDecoder(opts?: StreamDecoderOptions): StreamDecoder;
}
