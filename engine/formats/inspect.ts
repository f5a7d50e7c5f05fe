/**
 * Cheap model checks, one per format: read headers only (GGUF metadata + tensor
 * infos, the llama2.c header and file length, safetensors headers + config.json) and
 * say either "ready" with the model's vital statistics, or what is wrong in words.
 * No weights are read. Pure TypeScript over `ModelDir` (Node: engine/catalog/inspect-node.ts;
 * tests: memoryDir), so it runs in Node, the worker and the tests alike. The format
 * registry (registry.ts) picks the check for a path.
 */
import { FormatError, UnsupportedError } from '../errors';
import { GGUF_CONFIG_TENSORS, ggufKeyForEngine, ggufModelConfigFromFile } from './gguf-model';
import { readGguf } from './gguf';
import { ggufString } from './gguf-metadata';
import { applyGenerationConfig, readJsonFile, type HfFolder } from './hf';
import { parseHfConfig } from './hfconfig';
import { llama2cConfig } from './llama2c-model';
import { readOnnxModel } from './onnx-model';
import { readLlama2cHeader } from './llama2c';
import { openSafetensors, openShardedSafetensors, SUPPORTED_DTYPES, type TensorStore } from './safetensors';
import { memorySource, type ByteSource } from './source';
import type { ModelConfig } from '../model/types';
import type { FormatId } from './ids';

/** A folder of model files: opened by name, listed (for tokenizers beside a checkpoint). */
export interface ModelDir extends HfFolder {
  list(): Promise<string[]>;
}

/** A model's vital statistics, from its headers. Plain data (crosses postMessage). */
export interface ModelInfo {
  format: FormatId;
  architecture: string;
  parameters: number;
  /** On-disk dtypes (F32, F16, BF16, Q8_0…). */
  dtypes: string[];
  /** Bytes of the files the engine reads (weights + config + tokenizer). */
  fileBytes: number;
  contextLength: number;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  tokenizer?: { kind: string; /** a file of the model's folder, or "embedded" (GGUF) */ source: string };
  /** K and V, every layer, f32. */
  kvBytesPerToken: number;
  /** The largest tensor as f32 (the largest buffer the engine allocates for a weight). */
  largestTensorBytes: number;
  /** What the model's files are, relative to its folder; the weights file first. */
  files: { name: string; size: number; role: 'weights' | 'config' | 'tokenizer' }[];
}

export type ProblemKind = 'truncated' | 'architecture' | 'dtype' | 'tokenizer' | 'onnx' | 'missing' | 'format' | 'io';

export interface ModelProblem {
  kind: ProblemKind;
  /** Short, in words, for the tree's description. */
  message: string;
  /** The full error (file, offset, expected/found) for the tooltip and the log. */
  detail: string;
}

export interface ModelCheck {
  /** ready: can be used; warning: listed with details but cannot generate text yet; error: cannot be read. */
  status: 'ready' | 'warning' | 'error';
  info?: ModelInfo;
  problem?: ModelProblem;
}

/** A header read: the model's statistics and its full config (what the loader would run), no weights read. */
export interface ModelHeader {
  info: ModelInfo;
  config: ModelConfig;
}

export function kvBytesPerToken(c: ModelConfig): number {
  return 2 * c.numLayers * c.numKvHeads * c.headDim * 4;
}

function infoFromConfig(
  c: ModelConfig,
  rest: Pick<ModelInfo, 'format' | 'parameters' | 'dtypes' | 'fileBytes' | 'tokenizer' | 'largestTensorBytes' | 'files'> & { architecture?: string },
): ModelInfo {
  return {
    architecture: rest.architecture ?? c.architecture,
    contextLength: c.maxPositions,
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    kvBytesPerToken: kvBytesPerToken(c),
    ...rest,
  };
}

/** Turns any error of the readers into a ModelProblem with a short sentence. */
export function describeProblem(e: unknown, fileSize?: number): ModelProblem {
  const detail = e instanceof Error ? e.message : String(e);
  if (e instanceof FormatError) {
    const m = e.message;
    const truncated = /truncated|outside the file|past the end|larger than the rest of the file|larger than the file|file ended/i.test(m);
    if (truncated) {
      const at = fileSize ?? e.offset;
      return { kind: 'truncated', message: `Truncated file: it ends at offset ${at ?? '?'}${e.expected ? ` (expected ${e.expected})` : ''}`, detail };
    }
    if (e instanceof UnsupportedError) {
      if (/architecture|model type/i.test(m) || e.key === 'general.architecture' || e.key === 'model_type') {
        return { kind: 'architecture', message: `Unsupported architecture ${e.found ?? '?'}`, detail };
      }
      const dt = /ggml type (\S+)/.exec(m);
      if (dt) return { kind: 'dtype', message: `Unsupported dtype ${dt[1]}${e.key ? ` (tensor ${e.key})` : ''}`, detail };
      return { kind: 'format', message: `Unsupported: ${shortMessage(m)}`, detail };
    }
    if (/unknown dtype/i.test(m)) return { kind: 'dtype', message: `Unsupported dtype ${e.found ?? '?'}${e.key ? ` (${e.key})` : ''}`, detail };
    if (/no such file|is missing|no weights found/i.test(m)) {
      // name the file ("File is missing: tokenizer.json"), not just the fact
      const named = /is missing/i.test(m) && !/tensor|key/i.test(m) ? `: ${baseName(e.file)}` : '';
      return { kind: 'missing', message: `${shortMessage(m)}${named}`, detail };
    }
    return { kind: 'format', message: shortMessage(m), detail };
  }
  return { kind: 'io', message: shortMessage(detail), detail };
}

/** The last part of a path ("models/x/tokenizer.json" → "tokenizer.json"). */
function baseName(p: string): string {
  return p.split(/[\\/]/).filter(Boolean).pop() ?? p;
}

/** The message of a FormatError without its "file (offset): " prefix and "— expected…" tail. */
function shortMessage(m: string): string {
  const s = m.replace(/^.*?: /, '').replace(/ — .*$/, '');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

async function sizeOf(dir: ModelDir, name: string): Promise<number | undefined> {
  const src = await dir.open(name);
  if (!src) return undefined;
  const n = src.size;
  await src.close?.();
  return n;
}

/** The tokenizer beside a llama2.c checkpoint: tokenizer.bin, else the only tok*.bin. */
export function llama2cTokenizerName(names: readonly string[], weights: string): string | undefined {
  if (names.includes('tokenizer.bin')) return 'tokenizer.bin';
  const toks = names.filter((f) => /^tok.*\.bin$/i.test(f) && f !== weights);
  return toks.length === 1 ? toks[0] : undefined;
}

/** The tokenizer beside an HF checkpoint: tokenizer.json. */
export function hfTokenizerName(names: readonly string[]): string | undefined {
  return names.includes('tokenizer.json') ? 'tokenizer.json' : undefined;
}

function missingTokenizer(check: ModelCheck, message: string, detail: string): ModelCheck {
  return { ...check, status: 'warning', problem: { kind: 'tokenizer', message, detail } };
}

/** A weights file of `dir`, or the typed error that says it is missing. */
async function openOrThrow(dir: ModelDir, name: string): Promise<ByteSource> {
  const src = await dir.open(name);
  if (!src) throw new FormatError('no such file', { file: `${dir.name}/${name}`, expected: 'the model file' });
  return src;
}

function fileNotFound(dir: ModelDir, name: string): ModelCheck {
  return { status: 'error', problem: { kind: 'missing', message: `File not found: ${name}`, detail: `${dir.name}/${name}: no such file` } };
}

/** A header read over a file of `dir` (opened and closed here); throws the reader's typed error. */
async function withHeaderFile(dir: ModelDir, name: string, read: (src: ByteSource) => Promise<ModelHeader>): Promise<ModelHeader> {
  const src = await openOrThrow(dir, name);
  try {
    return await read(src);
  } finally {
    await src.close?.();
  }
}

async function llama2cHeader(dir: ModelDir, weights: string, src: ByteSource): Promise<ModelHeader> {
  const { header, layout } = await readLlama2cHeader(src);
  const c = llama2cConfig(header);
  const blocks = Object.entries(layout).filter(([k]) => k !== 'freqCis' && k !== 'totalBytes') as [string, { count: number }][];
  const parameters = blocks.reduce((s, [, b]) => s + b.count, 0);
  const largest = Math.max(layout.embed.count, header.hiddenDim * header.dim, header.nHeads * header.headSize * header.dim);
  const files: ModelInfo['files'] = [{ name: weights, size: src.size, role: 'weights' }];
  const tok = llama2cTokenizerName(await dir.list(), weights);
  const tokSize = tok ? await sizeOf(dir, tok) : undefined;
  if (tok && tokSize !== undefined) files.push({ name: tok, size: tokSize, role: 'tokenizer' });
  const info = infoFromConfig(c, {
    format: 'llama2c',
    parameters,
    dtypes: ['F32'],
    fileBytes: files.reduce((s, f) => s + f.size, 0),
    tokenizer: tok ? { kind: 'llama2c', source: tok } : undefined,
    largestTensorBytes: largest * 4,
    files,
  });
  return { info, config: c };
}

/** The llama2.c header read (no weights); throws the reader's typed error. */
export const readLlama2cModelHeader = (dir: ModelDir, weights: string) => withHeaderFile(dir, weights, (src) => llama2cHeader(dir, weights, src));

export async function inspectLlama2c(dir: ModelDir, weights: string): Promise<ModelCheck> {
  const src = await dir.open(weights);
  if (!src) return fileNotFound(dir, weights);
  try {
    const { info } = await llama2cHeader(dir, weights, src);
    const ok: ModelCheck = { status: 'ready', info };
    if (!info.tokenizer)
      return missingTokenizer(
        ok,
        'Missing tokenizer: no tokenizer.bin (or one tok*.bin) beside it',
        `${dir.name}: a llama2.c checkpoint needs its tokenizer.bin in the same folder`,
      );
    return ok;
  } catch (e) {
    return { status: 'error', problem: describeProblem(e, src.size) };
  } finally {
    await src.close?.();
  }
}

/** The largest GGUF head the header check reads to see whether it duplicates the embedding. */
const DUPLICATE_CHECK_BYTES = 32 * 1024 * 1024;

async function ggufHeader(weights: string, src: ByteSource): Promise<ModelHeader> {
  const file = await readGguf(src, { keep: ggufKeyForEngine });
  // A head written twice (llama.cpp's llama2.c converter) is one tied matrix, as the loader reads it: counted once.
  // Compared only when small (DUPLICATE_CHECK_BYTES), so the check stays a header read for large files.
  const c = await ggufModelConfigFromFile(file, DUPLICATE_CHECK_BYTES);
  const shared = c.tieEmbeddings && file.tensorsByName.has('output.weight');
  let parameters = 0;
  let largest = 0;
  const dtypes = new Set<string>();
  for (const t of file.tensors) {
    if (!(shared && t.name === 'output.weight') && !GGUF_CONFIG_TENSORS.has(t.name)) parameters += t.nElements;
    largest = Math.max(largest, t.nElements);
    dtypes.add(t.typeName);
  }
  const tokModel = ggufString(file, 'tokenizer.ggml.model');
  const info = infoFromConfig(c, {
    format: 'gguf',
    architecture: ggufString(file, 'general.architecture') ?? c.architecture,
    parameters,
    dtypes: [...dtypes],
    fileBytes: src.size,
    tokenizer: tokModel ? { kind: `gguf-${tokModel}`, source: 'embedded' } : undefined,
    largestTensorBytes: largest * 4,
    files: [{ name: weights, size: src.size, role: 'weights' }],
  });
  return { info, config: c };
}

/** The GGUF header read (metadata and tensor infos, no weights); throws the reader's typed error. */
export const readGgufModelHeader = (dir: ModelDir, weights: string) => withHeaderFile(dir, weights, (src) => ggufHeader(weights, src));

export async function inspectGguf(dir: ModelDir, weights: string): Promise<ModelCheck> {
  const src = await dir.open(weights);
  if (!src) return fileNotFound(dir, weights);
  try {
    const { info } = await ggufHeader(weights, src);
    const tokModel = info.tokenizer?.kind.replace(/^gguf-/, '');
    const ok: ModelCheck = { status: 'ready', info };
    if (!tokModel) return missingTokenizer(ok, 'Missing tokenizer: the GGUF has no tokenizer.ggml.model', `${src.name}: no embedded tokenizer (metadata key tokenizer.ggml.model)`);
    if (tokModel !== 'llama' && tokModel !== 'gpt2') {
      return missingTokenizer(ok, `Unsupported tokenizer ${tokModel}`, `${src.name}: tokenizer.ggml.model = "${tokModel}"; the engine reads "llama" and "gpt2"`);
    }
    return ok;
  } catch (e) {
    return { status: 'error', problem: describeProblem(e, src.size) };
  } finally {
    await src.close?.();
  }
}

/** An HF folder's header read: config.json (+ generation_config.json), the safetensors headers; `seen` hears each weights file's size. */
async function hfHeader(dir: ModelDir, weightsFile: string | undefined, seen: (size: number) => void): Promise<ModelHeader> {
  let store: TensorStore | undefined;
  try {
    const configJson = await readJsonFile(dir, 'config.json', true);
    const c = parseHfConfig(configJson, `${dir.name}/config.json`);
    const gen = await readJsonFile(dir, 'generation_config.json', false);
    if (gen !== undefined) applyGenerationConfig(c, gen, `${dir.name}/generation_config.json`);
    const names = await dir.list();
    const weights = weightsFile ?? (names.includes('model.safetensors.index.json') ? 'model.safetensors.index.json' : 'model.safetensors');
    const shardFiles: string[] = [];
    const openTracked = async (name: string): Promise<ByteSource | null> => {
      const s = await dir.open(name);
      if (s) {
        shardFiles.push(name);
        seen(s.size);
      }
      return s;
    };
    if (weights.endsWith('.index.json')) {
      const idx = await readJsonFile(dir, weights, true);
      store = await openShardedSafetensors(`${dir.name}/${weights}`, idx, openTracked);
    } else {
      const src = await openTracked(weights);
      if (!src) {
        const any = names.filter((n) => n.endsWith('.safetensors'));
        throw new FormatError('no weights found', {
          file: `${dir.name}/${weights}`,
          expected: any.length ? `model.safetensors (found ${any.join(', ')})` : 'model.safetensors or model.safetensors.index.json',
        });
      }
      try {
        store = await openSafetensors(src);
      } catch (e) {
        await src.close?.();
        throw e;
      }
    }
    let parameters = 0;
    let largest = 0;
    const dtypes = new Set<string>();
    for (const [name, e] of store.entries) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      parameters += n;
      largest = Math.max(largest, n);
      dtypes.add(e.dtype);
      if (!(SUPPORTED_DTYPES as readonly string[]).includes(e.dtype)) {
        throw new UnsupportedError(`tensor dtype ${e.dtype} is not supported`, { file: e.file, key: name, expected: SUPPORTED_DTYPES.join(', '), found: e.dtype });
      }
    }
    const files: ModelInfo['files'] = [];
    for (const f of weights.endsWith('.index.json') ? [weights, ...shardFiles] : shardFiles) files.push({ name: f, size: (await sizeOf(dir, f)) ?? 0, role: 'weights' });
    for (const f of ['config.json', 'generation_config.json']) {
      const s = names.includes(f) ? await sizeOf(dir, f) : undefined;
      if (s !== undefined) files.push({ name: f, size: s, role: 'config' });
    }
    const tok = hfTokenizerName(names);
    if (tok) files.push({ name: tok, size: (await sizeOf(dir, tok)) ?? 0, role: 'tokenizer' });
    const info = infoFromConfig(c, {
      format: 'safetensors',
      parameters,
      dtypes: [...dtypes],
      fileBytes: files.reduce((s, f) => s + f.size, 0),
      tokenizer: tok ? { kind: 'hf-bpe', source: tok } : undefined,
      largestTensorBytes: largest * 4,
      files,
    });
    return { info, config: c };
  } finally {
    await store?.close();
  }
}

/** The HF folder's header read (configs and safetensors headers, no weights); throws the reader's typed error. */
export const readHfModelHeader = (dir: ModelDir, weightsFile?: string) => hfHeader(dir, weightsFile, () => {});

/** An HF folder: config.json + model.safetensors (or an index + shards), tokenizer.json beside. */
export async function inspectHf(dir: ModelDir, weightsFile?: string): Promise<ModelCheck> {
  let lastSize: number | undefined;
  try {
    const { info } = await hfHeader(dir, weightsFile, (size) => (lastSize = size));
    const ok: ModelCheck = { status: 'ready', info };
    if (!info.tokenizer)
      return missingTokenizer(
        ok,
        'Missing tokenizer: no tokenizer.json in the folder',
        `${dir.name}: no tokenizer.json; the model can run on token ids but cannot turn text into tokens`,
      );
    return ok;
  } catch (e) {
    const p = describeProblem(e, lastSize);
    if (e instanceof UnsupportedError && /dtype/.test(e.message)) Object.assign(p, { kind: 'dtype', message: `Unsupported dtype ${e.found}${e.key ? ` (tensor ${e.key})` : ''}` });
    return { status: 'error', problem: p };
  }
}

async function onnxHeader(dir: ModelDir, main: string): Promise<ModelHeader> {
  const r = await readOnnxModel(dir, main, { structureOnly: true });
  const names = await dir.list();
  const files: ModelInfo['files'] = [{ name: main, size: r.size, role: 'weights' }];
  for (const f of r.configFiles) files.push({ name: f, size: (await sizeOf(dir, f)) ?? 0, role: 'config' });
  const tok = hfTokenizerName(names);
  if (tok) files.push({ name: tok, size: (await sizeOf(dir, tok)) ?? 0, role: 'tokenizer' });
  let parameters = 0;
  for (const n of r.graph.weightElements.values()) parameters += n;
  const info = infoFromConfig(r.config, {
    format: 'onnx',
    architecture: r.configFiles.includes('config.json') ? `onnx (${r.config.architecture})` : 'onnx',
    parameters,
    dtypes: r.dtypes,
    fileBytes: files.reduce((s, f) => s + f.size, 0),
    tokenizer: tok ? { kind: 'hf-bpe', source: tok } : undefined,
    largestTensorBytes: r.graph.largestInitializer * 4,
    files,
  });
  return { info, config: r.config };
}

/** An ONNX decoder's header read (the graph's inputs, outputs and opsets; config.json beside it when present); throws the reader's typed error. */
export const readOnnxModelHeader = (dir: ModelDir, main: string) => onnxHeader(dir, main);

/** An ONNX decoder (run by the ort backend), tokenizer.json and config.json beside it. */
export async function inspectOnnx(dir: ModelDir, main: string): Promise<ModelCheck> {
  const size = await sizeOf(dir, main);
  if (size === undefined) return fileNotFound(dir, main);
  try {
    const { info } = await onnxHeader(dir, main);
    const ok: ModelCheck = { status: 'ready', info };
    if (!info.tokenizer)
      return missingTokenizer(
        ok,
        'Missing tokenizer: no tokenizer.json beside the .onnx',
        `${dir.name}: no tokenizer.json; the model can run on token ids but cannot turn text into tokens`,
      );
    return ok;
  } catch (e) {
    const p = describeProblem(e, size);
    if (e instanceof FormatError && !(e instanceof UnsupportedError) && p.kind === 'format') p.kind = 'onnx';
    return { status: 'error', problem: p };
  }
}

/** A ModelDir over in-memory files (tests; drag-and-drop). */
export function memoryDir(name: string, files: Record<string, Uint8Array>): ModelDir {
  return {
    name,
    async open(file) {
      const b = files[file];
      return b ? memorySource(b, `${name}/${file}`) : null;
    },
    async list() {
      return Object.keys(files);
    },
  };
}
