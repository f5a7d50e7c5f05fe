/**
 * The one message protocol shared by the extension host, the webview and the
 * engine worker. Every message is a discriminated union on `type`; requests
 * carry an `id` that their response echoes.
 *
 *   host  <-> webview : HostToWebview / WebviewToHost   (postMessage via VS Code)
 *   webview <-> worker: WebviewToWorker / WorkerToWebview (Worker.postMessage)
 *
 * Pure TypeScript: no `vscode`, no DOM. The host validates every message it
 * receives with `parseWebviewMessage`.
 */

import type { FormatId, RunnableFormatId } from './formats/ids';
import type { ModelInfo, ModelProblem } from './models/inspect';

/** Where the engine runs and what the GPU offers, as the worker found it. */
export interface EngineEnv {
  backend: 'webgpu' | 'cpu';
  /** Why the CPU path is used (no navigator.gpu, no adapter, device failed…). */
  reason?: string;
  adapter?: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter: boolean;
  };
  limits?: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxStorageBuffersPerShaderStage: number;
  };
  features?: string[];
  /** Result of a tiny kernel run at start-up against its CPU reference. */
  selfTest?: { op: string; maxAbsDiff: number; ok: boolean };
  userAgent?: string;
}

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

/** The `llmPlayground.*` settings the webview needs. */
export interface PlaygroundSettings {
  backend: 'auto' | 'webgpu' | 'cpu';
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

// ---------------------------------------------------------------- models (issue 6)

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
export type GpuWeights = 'f32' | 'f16';

export interface LoadedSummary {
  device: 'cpu' | 'gpu';
  /** On the GPU: f32 or f16 weights. */
  weights?: GpuWeights;
  contextLength: number;
  parameters: number;
  tokenizerKind?: string;
  seconds: number;
  note?: string;
}

export type GenerateStopReason = 'stop' | 'length' | 'context' | 'stopString' | 'cancelled';

// ---------------------------------------------------------------- host -> webview

export type HostToWebview =
  | {
      type: 'init';
      /** Where the webview is shown: the side bar view or an editor panel. */
      location: 'view' | 'panel';
      workerUri: string;
      bundledModel: ModelRef;
      extensionVersion: string;
      settings: PlaygroundSettings;
    }
  | { type: 'settings'; settings: PlaygroundSettings }
  | { type: 'models'; models: ModelSummary[]; activeId?: string }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string }
  | { type: 'showError'; message: string }
  | TokenizerHostMessage;

// ---------------------------------------------------------------- webview -> host

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'env'; env: EngineEnv }
  | { type: 'request'; id: number; method: 'getBundledModel' }
  | { type: 'request'; id: number; method: 'openLog' }
  | { type: 'request'; id: number; method: 'listModels' }
  | { type: 'request'; id: number; method: 'showModels' }
  | { type: 'request'; id: number; method: 'useModel'; modelId: string }
  | { type: 'request'; id: number; method: 'readModelRange'; modelId: string; file: string; offset: number; length: number }
  | TokenizerRequest
  | { type: 'error'; message: string; stack?: string };

export type WebviewRequestMethod = Extract<WebviewToHost, { type: 'request' }>['method'];

// ---------------------------------------------------------------- webview <-> worker

export type WebviewToWorker =
  | { type: 'probe'; id: number; backend: PlaygroundSettings['backend'] }
  | { type: 'dispose'; id: number }
  | { type: 'loadModel'; id: number; spec: ModelLoadSpec; contextLength: number; device: 'cpu' | 'gpu'; weights?: GpuWeights }
  | { type: 'cancelLoad'; id: number }
  | { type: 'rangeData'; reqId: number; bytes?: Uint8Array; error?: string }
  | { type: 'generate'; id: number; prompt: string; maxTokens: number; stop: string[] }
  | { type: 'stopGenerate'; id: number };

export type WorkerToWebview =
  | { type: 'env'; id: number; env: EngineEnv }
  | { type: 'disposed'; id: number }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'fatal'; message: string }
  | { type: 'readRange'; reqId: number; modelId: string; file: string; offset: number; length: number }
  | { type: 'loadProgress'; id: number; bytes: number; total: number; phase: string }
  | { type: 'loaded'; id: number; modelId: string; summary: LoadedSummary }
  | { type: 'loadFailed'; id: number; modelId: string; message: string; cancelled: boolean }
  | { type: 'genText'; id: number; text: string; tokens: number; tokensPerSec: number }
  | { type: 'genDone'; id: number; text: string; tokens: number; promptTokens: number; tokensPerSec: number; stopReason: GenerateStopReason }
  | { type: 'genError'; id: number; message: string };

// ---------------------------------------------------------------- validation

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
const REQUEST_METHODS: readonly WebviewRequestMethod[] = ['getBundledModel', 'openLog', 'listModels', 'showModels', 'useModel', 'readModelRange', 'tokenizerList', 'tokenize', 'trainBpe', 'cancelTrainBpe', 'exportBpe'];
const MAX_STRING = 64 * 1024;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') throw new ProtocolError(`field "${key}" must be a string, got ${describe(v)}`);
  if (v.length > MAX_STRING) throw new ProtocolError(`field "${key}" is longer than ${MAX_STRING} characters`);
  return v;
}

function num(o: Record<string, unknown>, key: string, optional = false): number | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ProtocolError(`field "${key}" must be a finite number, got ${describe(v)}`);
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 40))}`;
  return typeof v;
}

function parseEnv(v: unknown): EngineEnv {
  if (!isRecord(v)) throw new ProtocolError(`field "env" must be an object, got ${describe(v)}`);
  const backend = v.backend;
  if (backend !== 'webgpu' && backend !== 'cpu') {
    throw new ProtocolError(`field "env.backend" must be "webgpu" or "cpu", got ${describe(backend)}`);
  }
  str(v, 'reason', true);
  if (v.features !== undefined) {
    if (!Array.isArray(v.features) || !v.features.every((f) => typeof f === 'string')) {
      throw new ProtocolError('field "env.features" must be an array of strings');
    }
  }
  for (const key of ['adapter', 'limits', 'selfTest'] as const) {
    if (v[key] !== undefined && !isRecord(v[key])) throw new ProtocolError(`field "env.${key}" must be an object`);
  }
  return v as unknown as EngineEnv;
}

/**
 * Checks a message that arrived from the webview. Returns it typed, or throws a
 * ProtocolError that says what is wrong with it.
 */
export function parseWebviewMessage(raw: unknown): WebviewToHost {
  if (!isRecord(raw)) throw new ProtocolError(`message must be an object, got ${describe(raw)}`);
  const type = raw.type;
  switch (type) {
    case 'ready':
      return { type };
    case 'log': {
      const level = raw.level;
      if (!LOG_LEVELS.includes(level as LogLevel)) {
        throw new ProtocolError(`field "level" must be one of ${LOG_LEVELS.join(', ')}, got ${describe(level)}`);
      }
      return { type, level: level as LogLevel, message: str(raw, 'message')! };
    }
    case 'env':
      return { type, env: parseEnv(raw.env) };
    case 'request': {
      const id = num(raw, 'id')!;
      if (!Number.isInteger(id) || id < 0) throw new ProtocolError('field "id" must be a non-negative integer');
      const method = raw.method;
      if (!REQUEST_METHODS.includes(method as WebviewRequestMethod)) {
        throw new ProtocolError(`unknown request method ${describe(method)}; expected one of ${REQUEST_METHODS.join(', ')}`);
      }
      if (method === 'useModel') return { type, id, method, modelId: str(raw, 'modelId')! };
      if (method === 'readModelRange') {
        const offset = num(raw, 'offset')!;
        const length = num(raw, 'length')!;
        if (!Number.isSafeInteger(offset) || offset < 0) throw new ProtocolError('field "offset" must be a non-negative integer');
        if (!Number.isSafeInteger(length) || length < 0) throw new ProtocolError('field "length" must be a non-negative integer');
        return { type, id, method, modelId: str(raw, 'modelId')!, file: str(raw, 'file')!, offset, length };
      }
      if ((TOKENIZER_METHODS as readonly string[]).includes(method as string)) return parseTokenizerRequest(raw, id, method as TokenizerRequest['method']);
      return { type, id, method: method as WebviewRequestMethod } as WebviewToHost;
    }
    case 'error':
      return { type, message: str(raw, 'message')!, stack: str(raw, 'stack', true) };
    default:
      throw new ProtocolError(`unknown message type ${describe(type)}`);
  }
}

/** Checks a message from the worker (the webview trusts its own worker less than nothing). */
export function parseWorkerMessage(raw: unknown): WorkerToWebview {
  if (!isRecord(raw)) throw new ProtocolError(`worker message must be an object, got ${describe(raw)}`);
  switch (raw.type) {
    case 'env':
      return { type: 'env', id: num(raw, 'id')!, env: parseEnv(raw.env) };
    case 'disposed':
      return { type: 'disposed', id: num(raw, 'id')! };
    case 'log': {
      const level = LOG_LEVELS.includes(raw.level as LogLevel) ? (raw.level as LogLevel) : 'info';
      return { type: 'log', level, message: str(raw, 'message')! };
    }
    case 'fatal':
      return { type: 'fatal', message: str(raw, 'message')! };
    case 'readRange':
      return { type: 'readRange', reqId: num(raw, 'reqId')!, modelId: str(raw, 'modelId')!, file: str(raw, 'file')!, offset: num(raw, 'offset')!, length: num(raw, 'length')! };
    case 'loadProgress':
      return { type: 'loadProgress', id: num(raw, 'id')!, bytes: num(raw, 'bytes')!, total: num(raw, 'total')!, phase: str(raw, 'phase')! };
    case 'loaded':
      if (!isRecord(raw.summary)) throw new ProtocolError('field "summary" must be an object');
      return { type: 'loaded', id: num(raw, 'id')!, modelId: str(raw, 'modelId')!, summary: raw.summary as unknown as LoadedSummary };
    case 'loadFailed':
      return { type: 'loadFailed', id: num(raw, 'id')!, modelId: str(raw, 'modelId')!, message: str(raw, 'message')!, cancelled: raw.cancelled === true };
    case 'genText':
      return { type: 'genText', id: num(raw, 'id')!, text: str(raw, 'text')!, tokens: num(raw, 'tokens')!, tokensPerSec: num(raw, 'tokensPerSec')! };
    case 'genDone': {
      const reasons: GenerateStopReason[] = ['stop', 'length', 'context', 'stopString', 'cancelled'];
      const stopReason = reasons.includes(raw.stopReason as GenerateStopReason) ? (raw.stopReason as GenerateStopReason) : 'length';
      return { type: 'genDone', id: num(raw, 'id')!, text: str(raw, 'text')!, tokens: num(raw, 'tokens')!, promptTokens: num(raw, 'promptTokens')!, tokensPerSec: num(raw, 'tokensPerSec')!, stopReason };
    }
    case 'genError':
      return { type: 'genError', id: num(raw, 'id')!, message: str(raw, 'message')! };
    default:
      throw new ProtocolError(`unknown worker message type ${describe(raw.type)}`);
  }
}

// ---------------------------------------------------------------- tokenizer inspection (issue 5)

/** Host -> webview messages of the Tokenizer panel and the BPE trainer. */
export type TokenizerHostMessage =
  /** Show this text in the Tokenizer panel (LLM Playground: Tokenize Selection). */
  | { type: 'tokenizerInput'; text: string }
  /** The list of tokenizers changed (a new active model, a trained tokenizer): ask again. */
  | { type: 'tokenizersChanged' }
  | { type: 'bpeProgress'; runId: number; phase: 'reading' | 'counting' | 'merging'; done: number; total: number; merges: BpeMergeView[] }
  | { type: 'bpeFinished'; runId: number; ok: boolean; message: string; vocabSize?: number; merges?: number };

export type BpeSource = 'shakespeare' | 'activeFile' | 'folder';

/** Webview -> host requests of the Tokenizer panel. */
export type TokenizerRequest =
  | { type: 'request'; id: number; method: 'tokenizerList' }
  | { type: 'request'; id: number; method: 'tokenize'; tokenizers: string[]; text: string }
  | { type: 'request'; id: number; method: 'trainBpe'; source: BpeSource; vocabSize: number }
  | { type: 'request'; id: number; method: 'cancelTrainBpe' }
  | { type: 'request'; id: number; method: 'exportBpe' };

const TOKENIZER_METHODS = ['tokenizerList', 'tokenize', 'trainBpe', 'cancelTrainBpe', 'exportBpe'] as const;

/** One token as the Tokenizer panel shows it (engine/tokenizer/inspect.ts makes them). */
export interface TokenView {
  id: number;
  /** The vocabulary's form (Ġthe, ▁the, <0xE5>). */
  piece: string;
  /** Raw bytes, hex ("e4 bd"). */
  bytes: string;
  /** [start, end) in UTF-16 units of the text. */
  start: number;
  end: number;
  special: boolean;
  /** Part of a multi-byte character. */
  partial: boolean;
}

export interface TokenizerInfo {
  /** 'active-model', a built-in id (o200k_base, cl100k_base, llama2, llama3, qwen3) or 'trained'. */
  id: string;
  label: string;
  description: string;
}

export interface TokenizerListResult {
  tokenizers: TokenizerInfo[];
  /** The editor's tokenizer (setting llmPlayground.tokenizer). */
  editorTokenizer: string;
  /** Text waiting for the panel (Tokenize Selection ran before the panel was ready). */
  pendingText?: string;
}

export interface TokenizeResultEntry {
  tokenizer: string;
  label: string;
  tokens: TokenView[];
  counts: { tokens: number; characters: number; bytes: number; charsPerToken: number };
  /** Only the first tokens.length tokens are listed (counts cover all). */
  truncated: boolean;
  error?: string;
  /** Milliseconds the encoding took in the host. */
  ms: number;
}

export interface TokenizeResult {
  results: TokenizeResultEntry[];
}

export interface BpeMergeView {
  rank: number;
  left: string;
  right: string;
  token: string;
  count: number;
  id: number;
}

/** Longest text the Tokenizer panel may send to be tokenized (characters). */
export const MAX_TOKENIZE_TEXT = 1_000_000;
const TOKENIZER_ID = /^[a-z0-9_-]{1,40}$/;
const BPE_SOURCES: readonly BpeSource[] = ['shakespeare', 'activeFile', 'folder'];

function parseTokenizerRequest(raw: Record<string, unknown>, id: number, method: TokenizerRequest['method']): TokenizerRequest {
  switch (method) {
    case 'tokenize': {
      const list = raw.tokenizers;
      if (!Array.isArray(list) || list.length < 1 || list.length > 3 || !list.every((t) => typeof t === 'string' && TOKENIZER_ID.test(t))) {
        throw new ProtocolError('field "tokenizers" must be an array of 1 to 3 tokenizer ids');
      }
      const text = raw.text;
      if (typeof text !== 'string') throw new ProtocolError(`field "text" must be a string, got ${describe(text)}`);
      if (text.length > MAX_TOKENIZE_TEXT) throw new ProtocolError(`field "text" is longer than ${MAX_TOKENIZE_TEXT} characters`);
      return { type: 'request', id, method, tokenizers: list as string[], text };
    }
    case 'trainBpe': {
      const source = raw.source;
      if (!BPE_SOURCES.includes(source as BpeSource)) throw new ProtocolError(`field "source" must be one of ${BPE_SOURCES.join(', ')}, got ${describe(source)}`);
      const vocabSize = num(raw, 'vocabSize')!;
      if (!Number.isInteger(vocabSize) || vocabSize < 257 || vocabSize > 100_000) throw new ProtocolError('field "vocabSize" must be an integer from 257 to 100000');
      return { type: 'request', id, method, source: source as BpeSource, vocabSize };
    }
    default:
      return { type: 'request', id, method };
  }
}
