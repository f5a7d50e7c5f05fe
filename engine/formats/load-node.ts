/**
 * Node-only: open any model path the CLI (and later the extension host) accepts —
 * an HF folder, a .safetensors (or .index.json) beside its config.json, a .gguf,
 * or a llama2.c .bin — with the tokenizer that belongs to it.
 */
import { readdir, stat, open } from 'node:fs/promises';
import path from 'node:path';
import { FormatError, UnsupportedError } from '../errors';
import type { LoadedModel } from '../model/types';
import { loadTokenizerFromPath } from '../tokenizer/load-node';
import { tokenizerFromGgufMetadata } from '../tokenizer/gguf-tokenizer';
import type { Tokenizer } from '../tokenizer/types';
import { loadGgufModel } from './gguf-model';
import { readGguf } from './gguf';
import { loadHfModelFromPath } from './hf-node';
import { loadLlama2cModel } from './llama2c-model';
import { readLlama2cHeader } from './llama2c';
import { fileSource } from './source-node';

export type ModelFormat = 'safetensors' | 'gguf' | 'llama2c';

export interface OpenedModel {
  format: ModelFormat;
  path: string;
  loaded: LoadedModel;
  tokenizer?: Tokenizer;
  /** Where the tokenizer came from (file path, or "embedded in <gguf>"). */
  tokenizerSource?: string;
}

const NO_SUCH = 'an HF folder (config.json + *.safetensors), a .safetensors file, a .gguf file or a llama2.c .bin checkpoint';

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isFile() ?? false;
}

async function magic(p: string): Promise<string> {
  const fh = await open(p, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return b.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
}

/** Where a model lives: its folder, the main file in it (undefined for an HF folder) and its format. */
export interface ModelLocation {
  root: string;
  main?: string;
  format: ModelFormat | 'onnx';
}

/** The format of a path from its name and first bytes; undefined when it is not a model we know. */
export async function locateModel(p: string): Promise<ModelLocation | undefined> {
  const st = await stat(p).catch(() => null);
  if (!st) return undefined;
  if (st.isDirectory()) return { root: p, format: 'safetensors' };
  const root = path.dirname(p);
  const main = path.basename(p);
  const lower = main.toLowerCase();
  if (lower.endsWith('.onnx')) return { root, main, format: 'onnx' };
  if (lower.endsWith('.safetensors') || lower.endsWith('.safetensors.index.json') || lower === 'config.json') {
    return { root, main: lower === 'config.json' ? undefined : main, format: 'safetensors' };
  }
  if (lower.endsWith('.gguf') || (await magic(p).catch(() => '')) === 'GGUF') return { root, main, format: 'gguf' };
  if (lower.endsWith('.bin')) return { root, main, format: 'llama2c' };
  return undefined;
}

/** What kind of model a path holds (locateModel), or a FormatError saying what was expected. */
export async function detectModelFormat(p: string): Promise<ModelFormat> {
  const st = await stat(p).catch(() => null);
  if (!st) throw new FormatError('no such file or folder', { file: p, expected: NO_SUCH });
  if (st.isDirectory() && !(await isFile(path.join(p, 'config.json')))) {
    throw new FormatError('this folder has no config.json', { file: p, expected: NO_SUCH });
  }
  const loc = await locateModel(p);
  if (loc?.format === 'onnx') {
    throw new UnsupportedError('ONNX models run on onnxruntime-web in the playground; the reference engine reads safetensors, GGUF and llama2.c files', { file: p, expected: NO_SUCH });
  }
  if (loc?.format === 'gguf' && (await magic(p)) !== 'GGUF') {
    throw new FormatError('not a GGUF file: the magic bytes are wrong', { file: p, offset: 0, expected: '"GGUF"' });
  }
  if (!loc) throw new FormatError('unrecognised model file', { file: p, expected: NO_SUCH });
  return loc.format;
}

/** The tokenizer next to a llama2.c checkpoint: tokenizer.bin, or the only tok*.bin there. */
async function llama2cTokenizerBeside(p: string): Promise<string | undefined> {
  const dir = path.dirname(p);
  if (await isFile(path.join(dir, 'tokenizer.bin'))) return path.join(dir, 'tokenizer.bin');
  const toks = (await readdir(dir)).filter((f) => /^tok.*\.bin$/i.test(f) && path.join(dir, f) !== p);
  return toks.length === 1 ? path.join(dir, toks[0]) : undefined;
}

/** True when the path is a model (not a bare tokenizer file): a folder with config.json, a GGUF, safetensors, or a valid llama2.c checkpoint. */
export async function looksLikeModel(p: string): Promise<boolean> {
  const st = await stat(p).catch(() => null);
  if (!st) return false;
  if (st.isDirectory()) return isFile(path.join(p, 'config.json'));
  const lower = p.toLowerCase();
  if (lower.endsWith('.safetensors') || lower.endsWith('.safetensors.index.json') || lower.endsWith('.gguf')) return true;
  if ((await magic(p)) === 'GGUF') return true;
  if (!lower.endsWith('.bin')) return false;
  const src = await fileSource(p);
  try {
    await readLlama2cHeader(src); // checks the header and that the file length matches it exactly
    return true;
  } catch {
    return false;
  } finally {
    await src.close?.();
  }
}

export async function openModel(p: string, opts: { tokenizer?: string } = {}): Promise<OpenedModel> {
  const format = await detectModelFormat(p);
  let loaded: LoadedModel;
  let tokenizer: Tokenizer | undefined;
  let tokenizerSource: string | undefined;
  if (format === 'safetensors') {
    if (path.basename(p).toLowerCase() === 'config.json') p = path.dirname(p);
    loaded = await loadHfModelFromPath(p);
    const dir = (await stat(p)).isDirectory() ? p : path.dirname(p);
    if (!opts.tokenizer && (await isFile(path.join(dir, 'tokenizer.json')))) tokenizerSource = path.join(dir, 'tokenizer.json');
  } else if (format === 'gguf') {
    const src = await fileSource(p);
    try {
      loaded = await loadGgufModel(src);
      if (!opts.tokenizer) {
        const file = await readGguf(src);
        if (file.metadata.has('tokenizer.ggml.model')) {
          tokenizer = tokenizerFromGgufMetadata(file.metadata);
          tokenizerSource = `embedded in ${p}`;
        }
      }
    } finally {
      await src.close?.();
    }
  } else {
    const src = await fileSource(p);
    try {
      loaded = await loadLlama2cModel(src);
    } finally {
      await src.close?.();
    }
    if (!opts.tokenizer) tokenizerSource = await llama2cTokenizerBeside(p);
  }
  if (opts.tokenizer) tokenizerSource = opts.tokenizer;
  if (!tokenizer && tokenizerSource) tokenizer = await loadTokenizerFromPath(tokenizerSource);
  return { format, path: p, loaded, tokenizer, tokenizerSource };
}
