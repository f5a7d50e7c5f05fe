/**
 * Node-only: the paths side of the format registry (registry.ts). Detects a model
 * path — an HF folder, a .safetensors (or .index.json) beside its config.json, a .gguf,
 * a llama2.c .bin, a .onnx — and opens it with its format's loader and the tokenizer
 * that belongs to it.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { FormatError } from '../errors';
import type { LazyModel, LoadedModel } from '../model/types';
import { loadTokenizerFromPath } from '../tokenizer/load-node';
import type { Tokenizer } from '../tokenizer/types';
import { nodeFolder, nodeModelDir } from './hf-node';
import type { FormatId, RunnableFormatId } from './ids';
import type { ModelHeader } from './inspect';
import { fileSource } from './source-node';
import {
  detectFile,
  detectFolder,
  detectLoadable,
  findTokenizer,
  formatById,
  FOLDER_FORMAT,
  isLoadableFile,
  LOADABLE_PATHS,
  loadModel,
  openLazyModel,
  loadModelTokenizer,
  readModelHeader,
  whyNotListable,
  type Detected,
  type Entry,
} from './registry';

export interface OpenedModel {
  format: RunnableFormatId;
  path: string;
  loaded: LoadedModel;
  tokenizer?: Tokenizer;
  /** Where the tokenizer came from (file path, or "embedded in <gguf>"). */
  tokenizerSource?: string;
}

/** Where a model lives: its folder, the main file in it (undefined for an HF folder) and its format. */
export interface ModelLocation {
  root: string;
  main?: string;
  format: FormatId;
}

/** The names of a folder's files (none when it cannot be read: the header check or the error says what is missing). */
const filesIn = (dir: string) =>
  nodeModelDir(dir)
    .list()
    .catch(() => [] as string[]);

/** Detects a path with the registry: a folder by its file names, a file by its name and first bytes. */
async function detectPath<T>(p: string, isDir: boolean, detect: (entry: Entry) => Promise<T>): Promise<T> {
  if (isDir) return detect({ folder: await filesIn(p) });
  const src = await fileSource(p).catch(() => null);
  try {
    return await detect({ name: path.basename(p), src });
  } finally {
    await src?.close?.();
  }
}

function location(p: string, isDir: boolean, d: Detected): ModelLocation {
  return isDir ? { root: p, main: d.main, format: d.format.id } : { root: path.dirname(p), main: d.main, format: d.format.id };
}

/** The format of a path from its name and first bytes (a folder: HF); undefined when it is not a model we know. */
export async function locateModel(p: string): Promise<ModelLocation | undefined> {
  const st = await stat(p).catch(() => null);
  if (!st) return undefined;
  const isDir = st.isDirectory();
  const d = await detectPath(p, isDir, async (e) => ('folder' in e ? (detectFolder(e.folder) ?? { format: FOLDER_FORMAT }) : detectFile(e.name, e.src)));
  return d && location(p, isDir, d);
}

/** Where the model at a path is and its runnable format, or the registry's error saying what was expected. */
async function locateLoadable(p: string): Promise<ModelLocation & { format: RunnableFormatId }> {
  const st = await stat(p).catch(() => null);
  if (!st) throw new FormatError('no such file or folder', { file: p, expected: LOADABLE_PATHS });
  const isDir = st.isDirectory();
  const d = await detectPath(p, isDir, (e) => detectLoadable(e, p));
  return { ...location(p, isDir, d), format: d.format.id };
}

/** Why Add Model refuses a path (missing, or no model of a listed format), or undefined when it is listed (registry.ts: whyNotListable). */
export async function whyNotListablePath(p: string): Promise<string | undefined> {
  const st = await stat(p).catch(() => null);
  if (!st) return `No such file or folder: ${p}`;
  return detectPath(p, st.isDirectory(), (e) => whyNotListable(e, path.basename(p) || p));
}

/** True when the path is a model the engine loads (not a bare tokenizer file): a folder with config.json, a GGUF, safetensors, or a valid llama2.c checkpoint. */
export async function looksLikeModel(p: string): Promise<boolean> {
  const st = await stat(p).catch(() => null);
  if (!st) return false;
  if (st.isDirectory()) return detectFolder(await filesIn(p)) !== undefined;
  const src = await fileSource(p).catch(() => null);
  if (!src) return false;
  try {
    return await isLoadableFile(path.basename(p), src);
  } finally {
    await src.close?.();
  }
}

/** The tokenizer of a located model: `opts.tokenizer` when given, else the one that comes with it (embedded or beside it). */
async function tokenizerOf(
  loc: ModelLocation & { format: RunnableFormatId },
  p: string,
  opts: { tokenizer?: string },
): Promise<{ tokenizer?: Tokenizer; tokenizerSource?: string }> {
  if (opts.tokenizer) return { tokenizer: await loadTokenizerFromPath(opts.tokenizer), tokenizerSource: opts.tokenizer };
  const source = findTokenizer(loc.format, await filesIn(loc.root), loc.main);
  const tokenizer = await loadModelTokenizer(loc.format, nodeFolder(loc.root), loc.main, source);
  return { tokenizer, tokenizerSource: tokenizer ? (source === 'embedded' ? `embedded in ${p}` : path.join(loc.root, source!)) : undefined };
}

/** Opens a model path with the registry's loader, and the tokenizer that comes with it unless `opts.tokenizer` names one. */
export async function openModel(p: string, opts: { tokenizer?: string } = {}): Promise<OpenedModel> {
  const loc = await locateLoadable(p);
  const loaded = await loadModel(loc.format, nodeFolder(loc.root), loc.main);
  return { format: loc.format, path: loc.main === undefined ? loc.root : p, loaded, ...(await tokenizerOf(loc, p, opts)) };
}

/** A model path opened with its weights left in the file(s) (device backends read them by ranges); close `lazy` after. */
export interface OpenedLazyModel {
  format: RunnableFormatId;
  path: string;
  lazy: LazyModel;
  tokenizer?: Tokenizer;
  tokenizerSource?: string;
}

/** True when the model at a path is of a format that opens lazily (its record has `open`); false when it is not (ONNX) or not a model. */
export async function opensLazily(p: string): Promise<boolean> {
  const loc = await locateLoadable(p).catch(() => undefined);
  return loc !== undefined && formatById(loc.format).open !== undefined;
}

/** Opens a model path without reading its weights (openLazyModel), and the tokenizer that comes with it unless `opts.tokenizer` names one. */
export async function openModelLazily(p: string, opts: { tokenizer?: string } = {}): Promise<OpenedLazyModel> {
  const loc = await locateLoadable(p);
  const lazy = await openLazyModel(loc.format, nodeFolder(loc.root), loc.main);
  try {
    return { format: loc.format, path: loc.main === undefined ? loc.root : p, lazy, ...(await tokenizerOf(loc, p, opts)) };
  } catch (e) {
    await lazy.close();
    throw e;
  }
}

/** A model path's headers and tokenizer, no weights read: what `inspect` describes. */
export interface ModelHeaderAtPath extends ModelHeader {
  format: RunnableFormatId;
  path: string;
  tokenizer?: Tokenizer;
  tokenizerSource?: string;
}

/** Reads a model path's headers (statistics, full config) and its tokenizer, without the weights. */
export async function readModelHeaderAt(p: string, opts: { tokenizer?: string } = {}): Promise<ModelHeaderAtPath> {
  const loc = await locateLoadable(p);
  const header = await readModelHeader(loc.format, nodeModelDir(loc.root), loc.main);
  return { ...header, format: loc.format, path: loc.main === undefined ? loc.root : p, ...(await tokenizerOf(loc, p, opts)) };
}

/** The tokenizer that comes with a model path (embedded or beside it), without reading the weights; undefined when none. */
export async function openModelTokenizer(p: string): Promise<{ tokenizer?: Tokenizer; tokenizerSource?: string }> {
  return tokenizerOf(await locateLoadable(p), p, {});
}
