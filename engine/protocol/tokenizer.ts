/**
 * The Tokenizer panel and the BPE trainer, both answered by the host: list the
 * tokenizers, tokenize a text with up to three of them, train a byte-level BPE on a
 * corpus with progress, cancel, export tokenizer.json.
 */
import type { TokenView } from '../tokenizer/inspect';
import { ProtocolError, describe, num, type RequestParsers } from './validate';

export type { TokenView };

/** Host -> webview messages of the Tokenizer panel and the BPE trainer. */
export type TokenizerHostMessage =
  /** Show this text in the Tokenizer panel (LLM Playground: Tokenize Selection). */
  | { type: 'tokenizerInput'; text: string }
  /** The list of tokenizers changed (a new active model, a trained tokenizer): ask again. */
  | { type: 'tokenizersChanged' }
  | { type: 'bpeProgress'; runId: number; phase: 'reading' | 'counting' | 'merging'; done: number; total: number; merges: BpeMergeView[] }
  | { type: 'bpeFinished'; runId: number; ok: boolean; message: string; vocabSize?: number; merges?: number };

export type BpeSource = 'shakespeare' | 'activeFile' | 'folder';

/** Webview -> host requests of the Tokenizer panel. */
export type TokenizerRequest =
  | { type: 'request'; id: number; method: 'tokenizerList' }
  | { type: 'request'; id: number; method: 'tokenize'; tokenizers: string[]; text: string }
  | { type: 'request'; id: number; method: 'trainBpe'; source: BpeSource; vocabSize: number }
  | { type: 'request'; id: number; method: 'cancelTrainBpe' }
  | { type: 'request'; id: number; method: 'exportBpe' };

/** What the host answers each request with. */
export interface TokenizerResults {
  tokenizerList: TokenizerListResult;
  tokenize: TokenizeResult;
  /** The run's id, which its bpeProgress / bpeFinished messages carry. */
  trainBpe: { runId: number };
  cancelTrainBpe: null;
  /** Where tokenizer.json was saved, or null when the save dialog was cancelled. */
  exportBpe: string | null;
}

export interface TokenizerInfo {
  /** 'active-model', a built-in id (o200k_base, cl100k_base, llama2, llama3, qwen3) or 'trained'. */
  id: string;
  label: string;
  description: string;
}

export interface TokenizerListResult {
  tokenizers: TokenizerInfo[];
  /** The editor's tokenizer (setting llmPlayground.tokenizer). */
  editorTokenizer: string;
  /** Text waiting for the panel (Tokenize Selection ran before the panel was ready). */
  pendingText?: string;
}

export interface TokenizeResultEntry {
  tokenizer: string;
  label: string;
  tokens: TokenView[];
  counts: { tokens: number; characters: number; bytes: number; charsPerToken: number };
  /** Only the first tokens.length tokens are listed (counts cover all). */
  truncated: boolean;
  error?: string;
  /** Milliseconds the encoding took in the host. */
  ms: number;
}

export interface TokenizeResult {
  results: TokenizeResultEntry[];
}

export interface BpeMergeView {
  rank: number;
  left: string;
  right: string;
  token: string;
  count: number;
  id: number;
}

/** Longest text the Tokenizer panel may send to be tokenized (characters). */
export const MAX_TOKENIZE_TEXT = 1_000_000;
const TOKENIZER_ID = /^[a-z0-9_-]{1,40}$/;
const BPE_SOURCES: readonly BpeSource[] = ['shakespeare', 'activeFile', 'folder'];

export const tokenizerRequestParsers: RequestParsers<TokenizerRequest> = {
  tokenizerList: (_raw, id) => ({ type: 'request', id, method: 'tokenizerList' }),
  tokenize: (raw, id) => {
    const list = raw.tokenizers;
    if (!Array.isArray(list) || list.length < 1 || list.length > 3 || !list.every((t) => typeof t === 'string' && TOKENIZER_ID.test(t))) {
      throw new ProtocolError('field "tokenizers" must be an array of 1 to 3 tokenizer ids');
    }
    const text = raw.text;
    if (typeof text !== 'string') throw new ProtocolError(`field "text" must be a string, got ${describe(text)}`);
    if (text.length > MAX_TOKENIZE_TEXT) throw new ProtocolError(`field "text" is longer than ${MAX_TOKENIZE_TEXT} characters`);
    return { type: 'request', id, method: 'tokenize', tokenizers: list as string[], text };
  },
  trainBpe: (raw, id) => {
    const source = raw.source;
    if (!BPE_SOURCES.includes(source as BpeSource)) throw new ProtocolError(`field "source" must be one of ${BPE_SOURCES.join(', ')}, got ${describe(source)}`);
    const vocabSize = num(raw, 'vocabSize')!;
    if (!Number.isInteger(vocabSize) || vocabSize < 257 || vocabSize > 100_000) throw new ProtocolError('field "vocabSize" must be an integer from 257 to 100000');
    return { type: 'request', id, method: 'trainBpe', source: source as BpeSource, vocabSize };
  },
  cancelTrainBpe: (_raw, id) => ({ type: 'request', id, method: 'cancelTrainBpe' }),
  exportBpe: (_raw, id) => ({ type: 'request', id, method: 'exportBpe' }),
};
