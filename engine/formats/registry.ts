/**
 * The format registry: one record per model format the playground knows (the ids are
 * the one list in ids.ts). A record says
 *   - how the format is recognised: file-name endings, magic bytes, or a folder that
 *     holds a marker file (and what discovery lists unasked);
 *   - its header check for the model manager (`inspect` → ModelCheck, inspect.ts);
 *   - how its weights load (`load` → LoadedModel; absent for formats listed but not run);
 *   - where its tokenizer comes from: embedded in the weights, a file beside them, none.
 *
 * Platform-neutral: it works on ByteSource and on folders opened by name (HfFolder,
 * ModelDir), so the worker (ranges from the host), the CLI and the extension host
 * (files on disk, through load-node.ts and engine/catalog/*-node.ts) and the tests all
 * use the same records.
 */
import { FormatError, UnsupportedError } from '../errors';
import type { LazyModel, LoadedModel } from '../model/types';
import { tokenizerFromBytes } from '../tokenizer/index';
import { tokenizerFromGgufMetadata } from '../tokenizer/gguf-tokenizer';
import type { Tokenizer } from '../tokenizer/types';
import { readGguf } from './gguf';
import { loadGgufModel, openGgufModel } from './gguf-model';
import { loadHfModel, openHfModel, type HfFolder } from './hf';
import type { FormatId, RunnableFormatId } from './ids';
import {
  hfTokenizerName,
  inspectGguf,
  inspectHf,
  inspectLlama2c,
  inspectOnnx,
  llama2cTokenizerName,
  readGgufModelHeader,
  readHfModelHeader,
  readLlama2cModelHeader,
  readOnnxModelHeader,
  type ModelCheck,
  type ModelDir,
  type ModelHeader,
} from './inspect';
import { readLlama2cHeader } from './llama2c';
import { loadLlama2cModel, openLlama2cModel } from './llama2c-model';
import { loadOnnxModel } from './onnx-model';
import type { ByteSource } from './source';

export { FORMAT_IDS, RUNNABLE_FORMAT_IDS, isFormatId, isRunnableFormat, type FormatId, type RunnableFormatId } from './ids';

/** Where a format's tokenizer comes from. */
export type TokenizerRule =
  | {
      where: 'embedded';
      /** The tokenizer in the weights file; undefined when this file carries none. */
      read(src: ByteSource): Promise<Tokenizer | undefined>;
    }
  | {
      where: 'beside';
      /** The tokenizer file among the names of the model's folder; undefined when none is there. */
      find(names: readonly string[], main: string | undefined): string | undefined;
    }
  | { where: 'none' };

export interface ModelFormat {
  readonly id: FormatId;
  /** For people and messages ("not a GGUF file"). */
  readonly label: string;
  /** Lower-case endings of the file names that mark a file of this format. */
  readonly extensions: readonly string[];
  /** The bytes every file of the format starts with: a file that starts with them is of this format whatever its name. */
  readonly magic?: string;
  /**
   * The format's models are folders holding `marker` (a file of that name stands for its folder);
   * discovery lists such a folder when a file ending in `weights` is beside the marker.
   */
  readonly folder?: { marker: string; weights: string };
  /** Formats listed but not run: why (the CLI's error), and the editor's sentence ("<name> is …"). */
  readonly notRunnable?: { reason: string; editor: string };
  /** Whether a file named like this format is a model of it (not, say, a tokenizer with the same ending); reads headers only. Absent: the name is enough. */
  isModel?(src: ByteSource): Promise<boolean>;
  /**
   * Discovery (models listed unasked): whether this file of a folder is a model of this format.
   * `names`: the folder's files; `dir` opens them when the name is not enough. Absent: files of
   * this format are not listed on their own (folder formats: the folder is).
   */
  discover?(name: string, names: readonly string[], dir: HfFolder): Promise<boolean>;
  /** The header check: ready with the model's statistics, or the problem in words. `main`: the file named; undefined: the folder. */
  inspect(dir: ModelDir, main: string | undefined): Promise<ModelCheck>;
  /** Loads the weights (runnable formats). `main`: the weights file; undefined: the folder's default. */
  load?(dir: HfFolder, main: string | undefined): Promise<LoadedModel>;
  /** Opens the model with its weights left in the file(s), read on demand (LazyModel; its close() closes the files). Runnable formats. */
  open?(dir: HfFolder, main: string | undefined): Promise<LazyModel>;
  /** The header read behind `inspect` with the full config, throwing the reader's typed error (runnable formats; no weights read). */
  header?(dir: ModelDir, main: string | undefined): Promise<ModelHeader>;
  readonly tokenizer: TokenizerRule;
}

/** What the engine loads (the CLI's model argument), for "expected …" in its errors. */
export const LOADABLE_PATHS = 'an HF folder (config.json + *.safetensors), a .safetensors file, a .gguf file, a llama2.c .bin checkpoint or a .onnx decoder';
/** What the model manager lists (Add Model), for its prompts and errors. */
export const LISTED_PATHS = 'a .gguf, a llama2.c .bin, a .onnx, or a folder with config.json and *.safetensors';

const endsWithAny = (name: string, endings: readonly string[]) => {
  const lower = name.toLowerCase();
  return endings.some((e) => lower.endsWith(e));
};

/** True when the source starts with `magic` (false when it is shorter or cannot be read). */
async function startsWith(src: ByteSource, magic: string): Promise<boolean> {
  if (src.size < magic.length) return false;
  try {
    const b = await src.read(0, magic.length);
    return String.fromCharCode(...b) === magic;
  } catch {
    return false;
  }
}

/** Opens the file a loader or tokenizer reads, and closes it after. */
async function withFile<T>(dir: HfFolder, name: string | undefined, use: (src: ByteSource) => Promise<T>): Promise<T> {
  const src = name === undefined ? null : await dir.open(name);
  if (!src) throw new Error(name === undefined ? `${dir.name}: no weights file was named` : `${name} is not among the model's files`);
  try {
    return await use(src);
  } finally {
    await src.close?.();
  }
}

/** Opens the file a lazy model reads and leaves it open until the model's close(). */
async function withOpenFile(dir: HfFolder, name: string | undefined, open: (src: ByteSource) => Promise<LazyModel>): Promise<LazyModel> {
  const src = name === undefined ? null : await dir.open(name);
  if (!src) throw new Error(name === undefined ? `${dir.name}: no weights file was named` : `${name} is not among the model's files`);
  try {
    return { ...(await open(src)), close: async () => src.close?.() };
  } catch (e) {
    await src.close?.();
    throw e;
  }
}

/** The file a one-file format's header read needs: it must be named. */
function namedFile(dir: HfFolder, main: string | undefined): string {
  if (main === undefined) throw new Error(`${dir.name}: a folder is not a model of this format; name its file`);
  return main;
}

/** A header check of a one-file format: the file must be named. */
function fileCheck(check: (dir: ModelDir, main: string) => Promise<ModelCheck>): ModelFormat['inspect'] {
  return async (dir, main) => {
    if (main === undefined) throw new Error(`${dir.name}: a folder is not a model of this format; name its file`);
    return check(dir, main);
  };
}

/** A llama2.c checkpoint, not a tokenizer.bin: the header checks out and the file length matches it exactly. */
async function isLlama2cCheckpoint(src: ByteSource): Promise<boolean> {
  try {
    await readLlama2cHeader(src);
    return true;
  } catch {
    return false;
  }
}

const llama2c: ModelFormat = {
  id: 'llama2c',
  label: 'llama2.c checkpoint',
  extensions: ['.bin'],
  isModel: isLlama2cCheckpoint,
  // A lone .bin is too often something else: listed only with its tokenizer beside it and a header that fits its size.
  async discover(name, names, dir) {
    if (!endsWithAny(name, llama2c.extensions) || /^tok.*\.bin$/i.test(name) || !llama2cTokenizerName(names, name)) return false;
    const src = await dir.open(name).catch(() => null);
    if (!src) return false;
    try {
      return await isLlama2cCheckpoint(src);
    } finally {
      await src.close?.();
    }
  },
  inspect: fileCheck(inspectLlama2c),
  header: (dir, main) => readLlama2cModelHeader(dir, namedFile(dir, main)),
  load: (dir, main) => withFile(dir, main, loadLlama2cModel),
  open: (dir, main) => withOpenFile(dir, main, openLlama2cModel),
  tokenizer: { where: 'beside', find: (names, main) => llama2cTokenizerName(names, main ?? '') },
};

const gguf: ModelFormat = {
  id: 'gguf',
  label: 'GGUF',
  extensions: ['.gguf'],
  magic: 'GGUF',
  discover: async (name) => endsWithAny(name, gguf.extensions),
  inspect: fileCheck(inspectGguf),
  header: (dir, main) => readGgufModelHeader(dir, namedFile(dir, main)),
  load: (dir, main) => withFile(dir, main, loadGgufModel),
  open: (dir, main) => withOpenFile(dir, main, openGgufModel),
  tokenizer: {
    where: 'embedded',
    async read(src) {
      const file = await readGguf(src, { keep: (key) => key.startsWith('tokenizer.') || key.startsWith('general.') });
      // no_vocab: the file says it has no tokenizer (llama.cpp's spelling)
      const model = file.metadata.get('tokenizer.ggml.model');
      return model !== undefined && model !== 'no_vocab' ? tokenizerFromGgufMetadata(file.metadata, { fileName: src.name }) : undefined;
    },
  },
};

/** Hugging Face checkpoints: a folder (config.json + model.safetensors or an index + shards), or one .safetensors / .index.json file in it. */
const safetensors: ModelFormat = {
  id: 'safetensors',
  label: 'safetensors',
  extensions: ['.safetensors', '.safetensors.index.json'],
  folder: { marker: 'config.json', weights: '.safetensors' },
  inspect: (dir, main) => inspectHf(dir, main),
  header: (dir, main) => readHfModelHeader(dir, main),
  load: (dir, main) => loadHfModel(dir, main === undefined ? {} : { weightsFile: main }),
  open: (dir, main) => openHfModel(dir, main === undefined ? {} : { weightsFile: main }),
  tokenizer: { where: 'beside', find: (names) => hfTokenizerName(names) },
};

const onnx: ModelFormat = {
  id: 'onnx',
  label: 'ONNX',
  extensions: ['.onnx'],
  discover: async (name) => endsWithAny(name, onnx.extensions),
  inspect: fileCheck(inspectOnnx),
  header: (dir, main) => readOnnxModelHeader(dir, namedFile(dir, main)),
  // the weights stay in the graph: the ort backend runs it (engine/backend/ort.ts)
  load: (dir, main) => loadOnnxModel(dir, main),
  tokenizer: { where: 'beside', find: (names) => hfTokenizerName(names) },
};

/**
 * Every format, in detection order: ONNX and safetensors by name, GGUF by name or by its
 * magic bytes, llama2.c last (".bin" is a weak sign: a GGUF named .bin is a GGUF).
 */
export const FORMATS: readonly ModelFormat[] = [onnx, safetensors, gguf, llama2c];

const BY_ID: Readonly<Record<FormatId, ModelFormat>> = { llama2c, gguf, safetensors, onnx };

export function formatById(id: FormatId): ModelFormat {
  return BY_ID[id];
}

/** A format the engine loads (its record has `load`). */
export type RunnableFormat = ModelFormat & { id: RunnableFormatId; load: NonNullable<ModelFormat['load']> };

export function isRunnable(f: ModelFormat): f is RunnableFormat {
  return f.load !== undefined;
}

/** A model as detected: its format and the file named (undefined when the model is its folder). */
export interface Detected {
  format: ModelFormat;
  main?: string;
}

/** The format of one file from its name, else its first bytes (`src`); undefined when it is no model file the playground knows. */
export async function detectFile(name: string, src?: ByteSource | null): Promise<Detected | undefined> {
  const lower = name.toLowerCase();
  for (const f of FORMATS) {
    if (f.folder && lower === f.folder.marker) return { format: f };
    if (endsWithAny(lower, f.extensions)) return { format: f, main: name };
    if (f.magic && src && (await startsWith(src, f.magic))) return { format: f, main: name };
  }
  return undefined;
}

/** The format of a folder from its file names: an ONNX export's model.onnx, else the folder format whose marker it holds (HF: config.json); undefined when none. */
export function detectFolder(names: readonly string[]): Detected | undefined {
  // An ONNX export folder (model.onnx beside config.json and the tokenizer, no safetensors) is its model.onnx.
  if (names.includes('model.onnx') && !names.some((n) => endsWithAny(n.toLowerCase(), safetensors.extensions))) return { format: onnx, main: 'model.onnx' };
  const f = FORMATS.find((x) => x.folder && names.includes(x.folder.marker));
  return f && { format: f };
}

/** What a folder without a marker is checked as, so that its header check says what is missing. */
export const FOLDER_FORMAT: ModelFormat = safetensors;

/** A file (its name, and its bytes when at hand) or a folder (the names of its files). */
export type Entry = { name: string; src?: ByteSource | null } | { folder: readonly string[] };

/**
 * The runnable format of a file or folder, or the error that says why the engine cannot load
 * it (`file`: its path, for the message).
 */
export async function detectLoadable(entry: Entry, file: string): Promise<Detected & { format: RunnableFormat }> {
  const d = 'folder' in entry ? detectFolder(entry.folder) : await detectFile(entry.name, entry.src);
  if (!d) {
    if ('folder' in entry) throw new FormatError(`this folder has no ${FOLDER_FORMAT.folder!.marker}`, { file, expected: LOADABLE_PATHS });
    throw new FormatError('unrecognised model file', { file, expected: LOADABLE_PATHS });
  }
  const f = d.format;
  if (!isRunnable(f)) throw new UnsupportedError(f.notRunnable?.reason ?? `${f.label} models cannot be loaded`, { file, expected: LOADABLE_PATHS });
  if (f.magic && !('folder' in entry) && entry.src && !(await startsWith(entry.src, f.magic))) {
    throw new FormatError(`not a ${f.label} file: the magic bytes are wrong`, { file, offset: 0, expected: `"${f.magic}"` });
  }
  return { ...d, format: f };
}

/**
 * Why the model manager refuses a file or folder at Add Model (it is no model of a format the
 * playground lists), or undefined when it is one (a broken one is listed, with its problem).
 * `file`: its name for the message. Says what is accepted (LISTED_PATHS).
 */
export async function whyNotListable(entry: Entry, file: string): Promise<string | undefined> {
  if ('folder' in entry) {
    if (detectFolder(entry.folder)) return undefined;
    const marker = FOLDER_FORMAT.folder!.marker;
    return `${file} is not a model folder: it has no ${marker}${entry.folder.length === 0 ? ' (the folder is empty)' : ''}. Add ${LISTED_PATHS}.`;
  }
  const d = await detectFile(entry.name, entry.src);
  if (!d) return `${file} is not a model file: it is none of ${LISTED_PATHS}.`;
  if (d.format.isModel && entry.src && !(await d.format.isModel(entry.src))) {
    return `${file} is not a ${d.format.label}: its header does not fit one (is it a tokenizer?). Add ${LISTED_PATHS}.`;
  }
  return undefined;
}

/** True when a file is a model the engine loads (not, say, a tokenizer file): its format by name or bytes, then its header. */
export async function isLoadableFile(name: string, src: ByteSource): Promise<boolean> {
  const d = await detectFile(name, src);
  if (!d || !isRunnable(d.format)) return false;
  return d.format.isModel ? d.format.isModel(src) : true;
}

/** Discovery: the models among one folder's files — the folder itself (a model folder) and model files. Reads headers only where a name is not enough. */
export async function modelsAmong(names: readonly string[], dir: HfFolder): Promise<{ folder?: ModelFormat; files: { name: string; format: ModelFormat }[] }> {
  const folder = FORMATS.find((f) => f.folder && names.includes(f.folder.marker) && names.some((n) => n.endsWith(f.folder!.weights)));
  const files: { name: string; format: ModelFormat }[] = [];
  for (const name of names) {
    for (const f of FORMATS) {
      if (f.discover && (await f.discover(name, names, dir))) {
        files.push({ name, format: f });
        break;
      }
    }
  }
  return { folder, files };
}

/** A runnable model's header read (statistics and full config, no weights): `main` names the weights file (undefined: the folder's default). */
export async function readModelHeader(id: RunnableFormatId, dir: ModelDir, main: string | undefined): Promise<ModelHeader> {
  const f = formatById(id);
  if (!f.header) throw new UnsupportedError(f.notRunnable?.reason ?? `${f.label} models cannot be loaded`, { file: dir.name });
  return f.header(dir, main);
}

/** Loads a model of a runnable format from its folder: `main` names the weights file (undefined: the folder's default). */
export async function loadModel(id: RunnableFormatId, dir: HfFolder, main: string | undefined): Promise<LoadedModel> {
  const f = formatById(id);
  if (!isRunnable(f)) throw new UnsupportedError(f.notRunnable?.reason ?? `${f.label} models cannot be loaded`, { file: dir.name });
  return f.load(dir, main);
}

/**
 * Opens a model of a runnable format with its weights left in the file(s) (device backends
 * upload from it by ranges); close() it after. `main` as for loadModel.
 */
export async function openLazyModel(id: RunnableFormatId, dir: HfFolder, main: string | undefined): Promise<LazyModel> {
  const f = formatById(id);
  if (!isRunnable(f) || !f.open) throw new UnsupportedError(f.notRunnable?.reason ?? `${f.label} models cannot be loaded`, { file: dir.name });
  return f.open(dir, main);
}

/** Where a model's own tokenizer is: "embedded" (in `main`), a file of its folder, or undefined (none). */
export function findTokenizer(id: FormatId, names: readonly string[], main: string | undefined): string | undefined {
  const rule = formatById(id).tokenizer;
  if (rule.where === 'embedded') return 'embedded';
  if (rule.where === 'beside') return rule.find(names, main);
  return undefined;
}

/**
 * The tokenizer that a header check (ModelInfo.tokenizer.source) or a load spec names:
 * "embedded" (read from the weights file `main`), a file of the model's folder, or none
 * (undefined source). A named file that is not there is an error.
 */
export async function loadModelTokenizer(id: FormatId, dir: HfFolder, main: string | undefined, source: string | undefined): Promise<Tokenizer | undefined> {
  if (!source) return undefined;
  const f = formatById(id);
  if (source === 'embedded') {
    const rule = f.tokenizer;
    if (rule.where !== 'embedded') throw new FormatError(`a ${f.label} model has no embedded tokenizer`, { file: dir.name, expected: 'a tokenizer file' });
    return withFile(dir, main, (src) => rule.read(src));
  }
  const src = await dir.open(source);
  if (!src) throw new FormatError('file is missing', { file: `${dir.name}/${source}`, expected: "the model's tokenizer" });
  try {
    return tokenizerFromBytes(await src.read(0, src.size), src.name);
  } finally {
    await src.close?.();
  }
}
