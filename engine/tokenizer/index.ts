/**
 * The engine's tokenizers. One interface (`Tokenizer`, in types.ts), four kinds:
 * HF tokenizer.json (BPE), llama2.c tokenizer.bin, GGUF `llama` and GGUF `gpt2`.
 * Node-only loading from a path: `load-node.ts`.
 */
import { FormatError } from '../errors';
import { type SpecialTokenOverrides, fromTokenizerJson } from './hf';
import { type Llama2cTokenizerOptions, parseLlama2cTokenizer } from './llama2c';
import type { Tokenizer } from './types';

export type { DecodeOptions, EncodeOptions, Encoding, StreamDecoder, StreamDecoderOptions, Tokenizer, TokenizerKind } from './types';
export { fromTokenizerJson, fromTokenizerJsonValue, HfTokenizer, type SpecialTokenOverrides } from './hf';
export { parseLlama2cTokenizer, type Llama2cTokenizerOptions } from './llama2c';
export { tokenizerFromGgufMetadata, type GgufValue, type GgufTokenizerOptions } from './gguf-tokenizer';
export { SpmTokenizer } from './spm';
export { translateOnigRegex, compileOnigRegex, RegexTranslationError } from './regex';
export { checkPatternSafety, UnsafePatternError } from './regex-safety';

export interface TokenizerBytesOptions extends SpecialTokenOverrides, Llama2cTokenizerOptions {}

/**
 * A tokenizer from file contents: tokenizer.json (JSON text) or llama2.c tokenizer.bin (binary),
 * told apart by the name's extension, else by the first byte ('{' = JSON).
 */
export function tokenizerFromBytes(bytes: Uint8Array, fileName: string, opts: TokenizerBytesOptions = {}): Tokenizer {
  const lower = fileName.toLowerCase();
  let json: boolean;
  if (lower.endsWith('.json')) json = true;
  else if (lower.endsWith('.bin')) json = false;
  else {
    let k = 0;
    while (k < bytes.length && (bytes[k] === 0x20 || bytes[k] === 0x0a || bytes[k] === 0x0d || bytes[k] === 0x09)) k++;
    json = bytes[k] === 0x7b;
  }
  if (json) {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new FormatError('not UTF-8 text', { file: fileName, expected: 'a UTF-8 JSON document' });
    }
    return fromTokenizerJson(text, fileName, opts);
  }
  return parseLlama2cTokenizer(bytes, fileName, opts);
}
