/** Node-only: load a tokenizer from a path (never import this from browser/worker code). */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../errors';
import { type TokenizerBytesOptions, tokenizerFromBytes } from './index';
import type { Tokenizer } from './types';
import { readRegularFile } from '../formats/confine-node';

/** The largest tokenizer file read (the biggest real tokenizer.json files are tens of MB). */
const MAX_TOKENIZER_BYTES = 512 * 1024 * 1024;

/**
 * Accepts a tokenizer.json, a llama2.c tokenizer.bin, or a folder containing tokenizer.json
 * (or, failing that, tokenizer.bin).
 */
export async function loadTokenizerFromPath(path: string, opts: TokenizerBytesOptions = {}): Promise<Tokenizer> {
  const st = await stat(path).catch(() => null);
  if (!st) {
    throw new FormatError('no such file or folder', { file: path, expected: 'a tokenizer.json, a tokenizer.bin or a folder with tokenizer.json' });
  }
  let file = path;
  if (st.isDirectory()) {
    const candidates = ['tokenizer.json', 'tokenizer.bin'];
    let found: string | null = null;
    for (const c of candidates) {
      const p = join(path, c);
      const s = await stat(p).catch(() => null);
      if (s?.isFile()) {
        found = p;
        break;
      }
    }
    if (!found) throw new FormatError('no tokenizer in this folder', { file: path, expected: 'tokenizer.json or tokenizer.bin inside' });
    file = found;
  }
  const bytes = await readRegularFile(file, MAX_TOKENIZER_BYTES);
  return tokenizerFromBytes(bytes, file, opts);
}
