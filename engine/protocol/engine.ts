/**
 * The engine worker's environment and health: the webview probes the worker (WebGPU
 * adapter, limits, features, the start-up self-test, or why the CPU path is used)
 * and passes the answer on to the host; the worker's log lines and fatal errors.
 */
import type { EngineEnv } from '../gpu/probe';
import type { BackendDecision } from './backend';
import { LOG_LEVELS, type LogLevel, type PlaygroundSettings } from './shell';
import { ProtocolError, describe, isRecord, num, str, type ReplyTable, type MessageParsers } from './validate';

export type { EngineEnv };
export type { BackendDecision };

/** Webview -> host: what the worker found; which backend runs and why (backend.ts decides, the status bar shows it). */
export type EngineWebviewMessage = { type: 'env'; env: EngineEnv } | { type: 'backend'; decision: BackendDecision };

/** onnxruntime-web's WebAssembly build with its WebGPU execution provider, relative to the worker script (dist/; copied there by scripts/build.mjs). */
export const ORT_WASM_FILE = 'ort/ort-wasm-simd-threaded.jsep.wasm';

/**
 * Webview -> worker. `ortWasm`: the URL of onnxruntime-web's WebAssembly file (dist/ort), for ONNX
 * models. `ortWasmFromPage`: the worker asks the page for the file's bytes (`ortWasmRequest`,
 * answered by `ortWasmData`) the first time it opens an ONNX session, instead of fetching the URL
 * itself: in VS Code a webview's resources are served to its document only, not to a worker.
 */
export type EngineWorkerRequest =
  | { type: 'probe'; id: number; backend: PlaygroundSettings['backend']; ortWasm?: string; ortWasmFromPage?: boolean }
  | { type: 'ortWasmData'; reqId: number; bytes?: ArrayBuffer; error?: string };

/** Worker -> webview. */
export type EngineWorkerMessage =
  | { type: 'env'; id: number; env: EngineEnv }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'fatal'; message: string }
  /** The worker wants onnxruntime-web's wasm bytes (probe's ortWasmFromPage). */
  | { type: 'ortWasmRequest'; reqId: number };

/** The worker's answers to each request (a probe that cannot honour the settings ends in `fatal`, which has no id). */
export interface EngineWorkerReplies {
  probe: 'env';
  /** Answers the worker's ortWasmRequest, by its reqId. */
  ortWasmData: never;
}

export const ENGINE_REPLIES: ReplyTable<EngineWorkerReplies> = { probe: { replies: ['env'], last: ['env'] }, ortWasmData: { replies: [], last: [] } };

export function parseEnv(v: unknown): EngineEnv {
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

export function parseDecision(v: unknown): BackendDecision {
  if (!isRecord(v)) throw new ProtocolError(`field "decision" must be an object, got ${describe(v)}`);
  if (v.backend !== 'webgpu' && v.backend !== 'cpu') throw new ProtocolError(`field "decision.backend" must be "webgpu" or "cpu", got ${describe(v.backend)}`);
  return {
    backend: v.backend,
    label: str(v, 'label')!,
    reason: str(v, 'reason')!,
    adapter: str(v, 'adapter', true),
    software: v.software === true,
    ...(v.ort === 'wasm' || v.ort === 'webgpu' ? { ort: v.ort } : {}),
  };
}

export const engineWebviewParsers: MessageParsers<EngineWebviewMessage> = {
  env: (raw) => ({ type: 'env', env: parseEnv(raw.env) }),
  backend: (raw) => ({ type: 'backend', decision: parseDecision(raw.decision) }),
};

export const engineWorkerParsers: MessageParsers<EngineWorkerMessage> = {
  env: (raw) => ({ type: 'env', id: num(raw, 'id')!, env: parseEnv(raw.env) }),
  log: (raw) => {
    // A worker's odd level is not worth dropping its line for.
    const level = LOG_LEVELS.includes(raw.level as LogLevel) ? (raw.level as LogLevel) : 'info';
    return { type: 'log', level, message: str(raw, 'message')! };
  },
  fatal: (raw) => ({ type: 'fatal', message: str(raw, 'message')! }),
  ortWasmRequest: (raw) => ({ type: 'ortWasmRequest', reqId: num(raw, 'reqId')! }),
};
