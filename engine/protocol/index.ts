/**
 * The one message protocol shared by the extension host, the webview and the
 * engine worker. Every message is a discriminated union on `type`; requests
 * carry an `id` that their answers echo.
 *
 *   host  <-> webview : HostToWebview / WebviewToHost   (postMessage via VS Code)
 *   webview <-> worker: WebviewToWorker / WorkerToWebview (Worker.postMessage)
 *
 * Split by feature, each file with its messages, its request -> answer map and
 * its validators: shell.ts (init, settings, logs, errors), engine.ts (probe, env,
 * fatal), models.ts (model list, load, byte ranges), generate.ts, tokenizer.ts
 * (Tokenizer panel, BPE trainer), lab.ts (the decoding lab), export.ts (files saved through the host), inside.ts (attention, logit lens,
 * routing views), kv.ts (KV cache), xcheck.ts (cross-check against onnxruntime-web: an export, or a pair of listed models); validate.ts holds the shared checks. This file
 * joins them into the unions, the request -> answer maps and the parse entry points.
 *
 * Types the engine produces (EngineEnv, TokenView, ModelInfo...) are defined by
 * the engine module that makes them; the protocol imports them, never the reverse.
 * Pure TypeScript: no `vscode`, no DOM. The host validates every message it
 * receives with `parseWebviewMessage`, the webview every worker message with
 * `parseWorkerMessage`.
 */
import {
  ENGINE_REPLIES,
  engineWebviewParsers,
  engineWorkerParsers,
  type EngineWebviewMessage,
  type EngineWorkerMessage,
  type EngineWorkerReplies,
  type EngineWorkerRequest,
} from './engine';
import { INSIDE_REPLIES, insideWorkerParsers, type InsideWorkerMessage, type InsideWorkerReplies, type InsideWorkerRequest } from './inside';
import { LAB_REPLIES, labWorkerParsers, type LabWorkerMessage, type LabWorkerReplies, type LabWorkerRequest } from './lab';
import { exportRequestParsers, type ExportRequest, type ExportResults } from './export';
import { KV_REPLIES, kvWorkerParsers, type KvWorkerMessage, type KvWorkerReplies, type KvWorkerRequest } from './kv';
import { XCHECK_REPLIES, xcheckWorkerParsers, type XcheckWorkerMessage, type XcheckWorkerReplies, type XcheckWorkerRequest } from './xcheck';
import { GENERATE_REPLIES, generateWorkerParsers, type GenerateWorkerMessage, type GenerateWorkerReplies, type GenerateWorkerRequest } from './generate';
import {
  MODEL_REPLIES,
  modelRequestParsers,
  modelWorkerParsers,
  type ModelRequest,
  type ModelResults,
  type ModelsHostMessage,
  type ModelWebviewReplies,
  type ModelWorkerMessage,
  type ModelWorkerReplies,
  type ModelWorkerRequest,
} from './models';
import { shellRequestParsers, shellWebviewParsers, type ShellHostMessage, type ShellRequest, type ShellResults, type ShellWebviewMessage } from './shell';
import { tokenizerRequestParsers, type TokenizerHostMessage, type TokenizerRequest, type TokenizerResults } from './tokenizer';
import { ProtocolError, describe, isRecord, lookup, num, type ReplyTable, type MessageParsers, type Raw, type RequestParsers } from './validate';

export { ProtocolError } from './validate';
export type { EngineEnv } from './engine';
export { ORT_WASM_FILE } from './engine';
export { decideBackend, ortLabel, softwareWarning, type BackendDecision, type DeviceChoice, type OrtProvider } from './backend';
export type { GenerateStopReason } from './generate';
export { MAX_LAB_COLUMNS, MAX_LAB_TOKENS, MAX_LAB_TOP, LAB_SAMPLER_KINDS } from './lab';
export type { LabColumn, LabPieces, LabSampler, LabSamplerKind, LabStepMessage, LabStrategy, LabWorkerMessage } from './lab';
export { EXPORT_FORMATS, type ExportFormat } from './export';
export { MAX_INSIDE_TEXT, type FlashStep, type FlashView, type HeadSummary, type InsideRunInfo } from './inside';
export type { KvCompareRow, KvProfileHeader, KvQuantEffectView, KvStepView } from './kv';
export { MAX_XCHECK_STEPS, MAX_XCHECK_TEXT, XCHECK_ONNX_REFUSAL, xcheckPairProblem, type XcheckPair, type XcheckPairSide, type XcheckSide, type XcheckView } from './xcheck';
export type { GpuWeights, LoadedSummary, ModelLoadSpec, ModelRef, ModelRequest, ModelSummary } from './models';
export type { LogLevel, PlaygroundSettings, PlaygroundTab } from './shell';
export { MAX_TOKENIZE_TEXT } from './tokenizer';
export type {
  BpeMergeView,
  BpeSource,
  TokenizeResult,
  TokenizeResultEntry,
  TokenizerHostMessage,
  TokenizerInfo,
  TokenizerListResult,
  TokenizerRequest,
  TokenView,
} from './tokenizer';

// ---------------------------------------------------------------- host <-> webview

export type HostToWebview = ShellHostMessage | ModelsHostMessage | TokenizerHostMessage;

/** The webview's requests to the host; the host answers each with one `response`. */
export type WebviewRequest = ShellRequest | ModelRequest | TokenizerRequest | ExportRequest;
export type WebviewRequestMethod = WebviewRequest['method'];
export type RequestOf<M extends WebviewRequestMethod> = Extract<WebviewRequest, { method: M }>;

export type WebviewToHost = ShellWebviewMessage | EngineWebviewMessage | WebviewRequest;

/** What the host's `response` to each request carries as its result. */
export interface RequestResults extends ShellResults, ModelResults, TokenizerResults, ExportResults {}
export type ResultOf<M extends WebviewRequestMethod> = RequestResults[M];

// ---------------------------------------------------------------- webview <-> worker

export type WebviewToWorker = EngineWorkerRequest | ModelWorkerRequest | GenerateWorkerRequest | LabWorkerRequest | InsideWorkerRequest | KvWorkerRequest | XcheckWorkerRequest;
export type WorkerToWebview = EngineWorkerMessage | ModelWorkerMessage | GenerateWorkerMessage | LabWorkerMessage | InsideWorkerMessage | KvWorkerMessage | XcheckWorkerMessage;

/** For each webview -> worker request, the types of the worker messages that answer it (by its id). */
export interface WorkerReplies
  extends EngineWorkerReplies, ModelWorkerReplies, GenerateWorkerReplies, LabWorkerReplies, InsideWorkerReplies, KvWorkerReplies, XcheckWorkerReplies {}
export type ReplyOf<T extends WebviewToWorker['type']> = Extract<WorkerToWebview, { type: WorkerReplies[T] }>;
/** The requests that get answers of their own (the others are answered through another request's). */
export type AnsweredRequest = { [T in keyof WorkerReplies]: [WorkerReplies[T]] extends [never] ? never : T }[keyof WorkerReplies];
/** WorkerReplies at run time: for each request, its answers and the ones after which no more come for its id. */
export const WORKER_REPLIES: ReplyTable<WorkerReplies> = {
  ...ENGINE_REPLIES,
  ...MODEL_REPLIES,
  ...GENERATE_REPLIES,
  ...LAB_REPLIES,
  ...INSIDE_REPLIES,
  ...KV_REPLIES,
  ...XCHECK_REPLIES,
};

/** For each worker -> webview request, the webview message that answers it (by its reqId). */
export type WebviewReplies = ModelWebviewReplies;

// ---------------------------------------------------------------- validation

const REQUEST_PARSERS: RequestParsers<WebviewRequest> = { ...shellRequestParsers, ...modelRequestParsers, ...tokenizerRequestParsers, ...exportRequestParsers };
const REQUEST_METHODS = Object.keys(REQUEST_PARSERS);

function parseRequest(raw: Raw): WebviewRequest {
  const id = num(raw, 'id')!;
  if (!Number.isInteger(id) || id < 0) throw new ProtocolError('field "id" must be a non-negative integer');
  const parse = lookup(REQUEST_PARSERS, raw.method);
  if (!parse) throw new ProtocolError(`unknown request method ${describe(raw.method)}; expected one of ${REQUEST_METHODS.join(', ')}`);
  return parse(raw, id);
}

const WEBVIEW_PARSERS: MessageParsers<WebviewToHost> = { ...shellWebviewParsers, ...engineWebviewParsers, request: parseRequest };
const WORKER_PARSERS: MessageParsers<WorkerToWebview> = {
  ...engineWorkerParsers,
  ...modelWorkerParsers,
  ...generateWorkerParsers,
  ...labWorkerParsers,
  ...insideWorkerParsers,
  ...kvWorkerParsers,
  ...xcheckWorkerParsers,
};

/**
 * Checks a message that arrived from the webview. Returns it typed, or throws a
 * ProtocolError that says what is wrong with it.
 */
export function parseWebviewMessage(raw: unknown): WebviewToHost {
  if (!isRecord(raw)) throw new ProtocolError(`message must be an object, got ${describe(raw)}`);
  const parse = lookup(WEBVIEW_PARSERS, raw.type);
  if (!parse) throw new ProtocolError(`unknown message type ${describe(raw.type)}`);
  return parse(raw);
}

/** Checks a message from the worker (the webview trusts its own worker less than nothing). */
export function parseWorkerMessage(raw: unknown): WorkerToWebview {
  if (!isRecord(raw)) throw new ProtocolError(`worker message must be an object, got ${describe(raw)}`);
  const parse = lookup(WORKER_PARSERS, raw.type);
  if (!parse) throw new ProtocolError(`unknown worker message type ${describe(raw.type)}`);
  return parse(raw);
}
