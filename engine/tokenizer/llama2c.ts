/**
 * llama2.c `tokenizer.bin`: int32 max_token_length, then per token: f32 score, int32 length,
 * that many bytes (little-endian). The file does not store the vocabulary size (run.c takes
 * it from the model); pass `vocabSize` to have a short file rejected.
 *
 * Conventions of llama2.c's export: id 0 `<unk>`, 1 BOS (`\n<s>\n`), 2 EOS (`\n</s>\n`),
 * 3..258 `<0x00>`..`<0xFF>`, SentencePiece's `▁` already turned into a plain space.
 */
import { FormatError } from '../errors';
import { SpmTokenizer } from './spm';

export interface Llama2cTokenizerOptions {
  /** Expected number of tokens (the model's vocab_size). When given, the file must hold exactly that many. */
  vocabSize?: number;
}

/** Sanity bound: llama2.c's exports have max_token_length well under 100. */
const MAX_TOKEN_LENGTH_LIMIT = 1 << 16;

export function parseLlama2cTokenizer(bytes: Uint8Array, fileName: string, opts: Llama2cTokenizerOptions = {}): SpmTokenizer {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const err = (message: string, offset: number, expected?: string, found?: string): FormatError => new FormatError(message, { file: fileName, offset, expected, found });
  if (bytes.byteLength < 4) throw err('file too short for the header', 0, '4 bytes (int32 max_token_length)', `${bytes.byteLength} bytes`);
  const maxLen = dv.getInt32(0, true);
  if (maxLen <= 0 || maxLen > MAX_TOKEN_LENGTH_LIMIT) {
    throw err('bad max_token_length', 0, `1..${MAX_TOKEN_LENGTH_LIMIT}`, String(maxLen));
  }
  const pieces: string[] = [];
  const scores: number[] = [];
  let o = 4;
  const limit = opts.vocabSize;
  while (o < bytes.byteLength && (limit === undefined || pieces.length < limit)) {
    const id = pieces.length;
    if (o + 8 > bytes.byteLength) {
      throw err(`file ends inside token ${id}'s header`, o, '8 bytes (f32 score, int32 length)', `${bytes.byteLength - o} bytes`);
    }
    const score = dv.getFloat32(o, true);
    const len = dv.getInt32(o + 4, true);
    if (!Number.isFinite(score)) throw err(`token ${id} has a non-finite score`, o, 'a finite float', String(score));
    if (len < 0 || len > maxLen) throw err(`token ${id} has a bad length`, o + 4, `0..${maxLen} (max_token_length)`, String(len));
    o += 8;
    if (o + len > bytes.byteLength) {
      throw err(`file ends inside token ${id}'s bytes`, o, `${len} bytes`, `${bytes.byteLength - o} bytes`);
    }
    let s = '';
    for (let k = 0; k < len; k++) s += String.fromCharCode(bytes[o + k]!);
    pieces.push(s);
    scores.push(score);
    o += len;
  }
  if (limit !== undefined && pieces.length < limit) {
    throw err(`file holds ${pieces.length} tokens`, o, `${limit} tokens (the model's vocab_size)`, `${pieces.length}`);
  }
  if (limit !== undefined && o !== bytes.byteLength) {
    throw err('trailing bytes after the last token', o, `end of file after ${limit} tokens`, `${bytes.byteLength - o} more bytes`);
  }
  if (pieces.length < 3) throw err('too few tokens', o, 'at least <unk>, BOS and EOS', `${pieces.length} tokens`);
  return new SpmTokenizer({
    kind: 'llama2c',
    pieces,
    scores: Float32Array.from(scores),
    space: ' ',
    addSpacePrefix: true,
    bosId: 1,
    eosIds: [2],
    unkId: 0,
    addBos: true,
    addEos: false,
    specialIds: new Set([1, 2]),
    splitIds: [],
    dropControlBytes: true,
  });
}
