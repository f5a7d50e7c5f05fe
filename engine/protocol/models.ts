/**
 * Models: the host's model list and active model (its model manager), loading the
 * active model in the worker with progress and cancel, and the byte-range bridge the
 * worker reads the model's files through (worker `readRange` -> webview -> host
 * `readModelRange` -> webview -> worker `rangeData`).
 */
import type { FormatId, RunnableFormatId } from '../formats/ids';
import type { WeightPrecision } from '../backend/contract';
import type { ModelInfo, ModelProblem } from '../catalog/inspect';
import { ProtocolError, isRecord, num, str, type ReplyTable, type MessageParsers, type RequestParsers } from './validate';

/** The bundled model, as `init` names it. */
export interface ModelRef {
  /** Display name, e.g. "stories260K". */
  name: string;
  /** A URI the webview can fetch (asWebviewUri), or undefined when not served. */
  uri?: string;
  /** Format, as far as the host knows from the file name. */
  format: FormatId;
  sizeBytes?: number;
  bundled?: boolean;
}

/** What the worker needs to load a model from the host's files, read by byte range. */
export interface ModelLoadSpec {
  modelId: string;
  name: string;
  /** A format the engine loads (engine/formats/registry.ts). */
  format: RunnableFormatId;
  /** The model's files, relative to its folder (the only files the host will serve for it). */
  files: { name: string; size: number; role: 'weights' | 'config' | 'tokenizer' }[];
  /** The weights file (llama2c/gguf), or the safetensors file / index. */
  weights: string;
  /** A tokenizer file of `files`, or "embedded" (GGUF), or absent. */
  tokenizer?: string;
}

/** One model of the host's model manager, as the playground shows it. */
export interface ModelSummary {
  id: string;
  name: string;
  path: string;
  origin: 'bundled' | 'user' | 'setting' | 'discovered';
  status: 'checking' | 'ready' | 'warning' | 'error';
  problem?: ModelProblem;
  info?: ModelInfo;
  /** Present when the engine can load it. */
  load?: ModelLoadSpec;
}

/** How the GPU holds the weights: f32, or f16 packed two per u32 (half the bytes to stream). */
export type GpuWeights = WeightPrecision;

export interface LoadedSummary {
  device: 'cpu' | 'gpu';
  /** An ONNX model: onnxruntime-web's execution provider that runs it. */
  ort?: 'wasm' | 'webgpu';
  /** On the GPU: f32 or f16 weights. */
  weights?: GpuWeights;
  contextLength: number;
  parameters: number;
  tokenizerKind?: string;
  seconds: number;
  note?: string;
}

/** Host -> webview: the model list changed (or the active model did). */
export type ModelsHostMessage = { type: 'models'; models: ModelSummary[]; activeId?: string };

/** Webview -> host requests. */
export type ModelRequest =
  | { type: 'request'; id: number; method: 'showModels' }
  | { type: 'request'; id: number; method: 'useModel'; modelId: string }
  | { type: 'request'; id: number; method: 'readModelRange'; modelId: string; file: string; offset: number; length: number };

/** What the host answers each request with. */
export interface ModelResults {
  showModels: null;
  useModel: null;
  readModelRange: Uint8Array;
}

/** Webview -> worker. */
export type ModelWorkerRequest =
  | { type: 'loadModel'; id: number; spec: ModelLoadSpec; contextLength: number; device: 'cpu' | 'gpu'; weights?: GpuWeights }
  /** Cancels the load with this id (0: whichever runs). */
  | { type: 'cancelLoad'; id: number }
  | { type: 'rangeData'; reqId: number; bytes?: Uint8Array; error?: string };

/** Worker -> webview. */
export type ModelWorkerMessage =
  | { type: 'readRange'; reqId: number; modelId: string; file: string; offset: number; length: number }
  | { type: 'loadProgress'; id: number; bytes: number; total: number; phase: string }
  | { type: 'loaded'; id: number; modelId: string; summary: LoadedSummary }
  | { type: 'loadFailed'; id: number; modelId: string; message: string; cancelled: boolean };

/** The worker's answers to each request. */
export interface ModelWorkerReplies {
  loadModel: 'loadProgress' | 'loaded' | 'loadFailed';
  /** Answered by the load's own `loadFailed` (cancelled: true), or not at all when it already ended. */
  cancelLoad: never;
  /** Itself the answer to the worker's `readRange`. */
  rangeData: never;
}

export const MODEL_REPLIES: ReplyTable<ModelWorkerReplies> = {
  loadModel: { replies: ['loadProgress', 'loaded', 'loadFailed'], last: ['loaded', 'loadFailed'] },
  cancelLoad: { replies: [], last: [] },
  rangeData: { replies: [], last: [] },
};

/** The webview's answers to the worker's requests. */
export interface ModelWebviewReplies {
  readRange: 'rangeData';
}

export const modelRequestParsers: RequestParsers<ModelRequest> = {
  showModels: (_raw, id) => ({ type: 'request', id, method: 'showModels' }),
  useModel: (raw, id) => ({ type: 'request', id, method: 'useModel', modelId: str(raw, 'modelId')! }),
  readModelRange: (raw, id) => {
    const offset = num(raw, 'offset')!;
    const length = num(raw, 'length')!;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ProtocolError('field "offset" must be a non-negative integer');
    if (!Number.isSafeInteger(length) || length < 0) throw new ProtocolError('field "length" must be a non-negative integer');
    return { type: 'request', id, method: 'readModelRange', modelId: str(raw, 'modelId')!, file: str(raw, 'file')!, offset, length };
  },
};

export const modelWorkerParsers: MessageParsers<ModelWorkerMessage> = {
  readRange: (raw) => ({
    type: 'readRange',
    reqId: num(raw, 'reqId')!,
    modelId: str(raw, 'modelId')!,
    file: str(raw, 'file')!,
    offset: num(raw, 'offset')!,
    length: num(raw, 'length')!,
  }),
  loadProgress: (raw) => ({ type: 'loadProgress', id: num(raw, 'id')!, bytes: num(raw, 'bytes')!, total: num(raw, 'total')!, phase: str(raw, 'phase')! }),
  loaded: (raw) => {
    if (!isRecord(raw.summary)) throw new ProtocolError('field "summary" must be an object');
    return { type: 'loaded', id: num(raw, 'id')!, modelId: str(raw, 'modelId')!, summary: raw.summary as unknown as LoadedSummary };
  },
  loadFailed: (raw) => ({ type: 'loadFailed', id: num(raw, 'id')!, modelId: str(raw, 'modelId')!, message: str(raw, 'message')!, cancelled: raw.cancelled === true }),
};
