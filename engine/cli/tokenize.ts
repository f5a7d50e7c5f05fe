/**
 * `tokenize`: ids, tokens and offsets of a text (--text, or --file for long inputs). The
 * encoding is kept in flat arrays (engine/tokenizer/flat.ts) and --json is written in blocks
 * of tokens as it goes, never as one string, so memory stays a few tens of bytes a token.
 */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { FormatError } from '../errors';
import { looksLikeModel, openModelTokenizer } from '../formats/load-node';
import { isBuiltinTokenizerId } from '../tokenizer/builtin';
import { loadBuiltinTokenizer } from '../tokenizer/builtin-node';
import { encodeFlat } from '../tokenizer/flat';
import { loadTokenizerFromPath } from '../tokenizer/load-node';
import type { Tokenizer } from '../tokenizer/types';
import { parse, type Out } from './common';
import { UsageError } from './errors';

/** The longest --file read (UTF-16 units are kept twice: the text and its normalized form). */
export const MAX_TOKENIZE_FILE_BYTES = 256 * 2 ** 20;
/** Tokens per block of --json output. */
const BLOCK = 16_384;

export async function tokenizerFor(p: string): Promise<{ tokenizer: Tokenizer; source: string }> {
  // A built-in vocabulary, a tokenizer file or folder, or a model whose tokenizer comes with it.
  if (isBuiltinTokenizerId(p) && !existsSync(p)) return { tokenizer: await loadBuiltinTokenizer(p), source: p };
  if (await looksLikeModel(p)) {
    const m = await openModelTokenizer(p);
    if (!m.tokenizer) throw new UsageError(`${p}: no tokenizer comes with this model; pass a tokenizer file`);
    return { tokenizer: m.tokenizer, source: m.tokenizerSource ?? p };
  }
  return { tokenizer: await loadTokenizerFromPath(p), source: p };
}

/** A UTF-8 text file: a regular file (not a FIFO or device) of at most MAX_TOKENIZE_FILE_BYTES. */
async function readTextFile(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FormatError('not a regular file', { file, expected: 'a text file' });
    if (st.size > MAX_TOKENIZE_FILE_BYTES)
      throw new FormatError('file is too large to tokenize at once', { file, expected: `at most ${MAX_TOKENIZE_FILE_BYTES} bytes`, found: `${st.size} bytes` });
    const buf = Buffer.alloc(st.size);
    for (let at = 0; at < st.size;) {
      const { bytesRead } = await fh.read(buf, at, st.size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Writes `"key":[…]` in blocks of BLOCK items (each block one call of `out`: JSON allows the line breaks). */
function jsonArray(out: Out, key: string, n: number, item: (i: number) => string, last: boolean): void {
  out(`${JSON.stringify(key)}:[`);
  for (let s = 0; s < n; s += BLOCK) {
    const parts: string[] = [];
    for (let i = s; i < Math.min(n, s + BLOCK); i++) parts.push(item(i));
    out(parts.join(',') + (s + BLOCK < n ? ',' : ''));
  }
  out(last ? ']' : '],');
}

export async function cmdTokenize(argv: string[], out: Out): Promise<void> {
  const { values } = parse(argv, { tokenizer: { type: 'string' }, text: { type: 'string' }, file: { type: 'string' }, 'no-special': { type: 'boolean' } });
  if (!values.tokenizer) throw new UsageError('tokenize needs --tokenizer <file|model>');
  if (values.text !== undefined && values.file !== undefined) throw new UsageError('give --text or --file, not both');
  if (values.text === undefined && values.file === undefined) throw new UsageError('tokenize needs --text <string> or --file <text file>');
  const { tokenizer } = await tokenizerFor(values.tokenizer as string);
  let text = values.file !== undefined ? await readTextFile(values.file as string) : (values.text as string);
  const enc = encodeFlat(tokenizer, text, { addSpecialTokens: !values['no-special'] });
  text = ''; // the input is not needed any more
  const n = enc.ids.length;
  const { offsets: o, offsetsUtf16: u } = enc;
  if (values.json) {
    out('{');
    jsonArray(out, 'ids', n, (i) => String(enc.ids[i]), false);
    jsonArray(out, 'tokens', n, (i) => JSON.stringify(enc.tokens[i]), false);
    jsonArray(out, 'offsets', n, (i) => `[${o[2 * i]},${o[2 * i + 1]}]`, false);
    jsonArray(out, 'offsets_utf16', n, (i) => `[${u[2 * i]},${u[2 * i + 1]}]`, true);
    out('}');
    return;
  }
  out(`${n} tokens`);
  for (let i = 0; i < n; i++) out(`${String(enc.ids[i]).padStart(7)}  ${JSON.stringify(enc.tokens[i])}  [${o[2 * i]}, ${o[2 * i + 1]})`);
}
