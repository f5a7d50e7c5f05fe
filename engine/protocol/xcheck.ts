/**
 * Cross-check: the worker runs the active model on the engine's backend and on
 * onnxruntime-web (its ONNX export, made in memory) for a text, and reports the logit
 * differences per position, both greedy paths and each backend's time per token
 * (engine/generate/cross-check.ts, engine/worker/xcheck.ts).
 */
import { describe, num, str, ProtocolError, type MessageParsers, type Raw, type ReplyTable } from './validate';

/** Most greedy steps one cross-check runs. */
export const MAX_XCHECK_STEPS = 256;
/** Longest text a cross-check accepts, in characters. */
export const MAX_XCHECK_TEXT = 20_000;

/** Why an active ONNX model is not cross-checked (the worker's refusal, and the view's reason). */
export const XCHECK_ONNX_REFUSAL =
  'The active model is an ONNX file: comparing it needs an engine-loadable model of the same weights (a .safetensors folder, GGUF or llama2.c file), which this view cannot pick yet. Make that model active to compare the engine with its ONNX export.';

/** Webview -> worker. */
export type XcheckWorkerRequest =
  | { type: 'xcheckRun'; id: number; text: string; steps: number }
  /** Cancels the run with this id (0: whichever runs); it ends with xcheckError, cancelled. */
  | { type: 'xcheckCancel'; id: number };

/** One backend's side of a cross-check. */
export interface XcheckSide {
  /** For people: "CPU (WebAssembly SIMD)", "onnxruntime-web (wasm EP)". */
  label: string;
  ids: number[];
  /** The text of each id. */
  pieces: string[];
  prefillMs: number;
  msPerToken: number;
}

export interface XcheckView {
  /** Where the ONNX graph came from: the active model exported in memory. */
  source: 'export';
  /** The export's size in bytes. */
  onnxBytes: number;
  /** onnxruntime-web's execution provider that ran the graph. */
  provider: 'wasm' | 'webgpu';
  /** Why the WebGPU execution provider was not used, when it was not. */
  providerNote?: string;
  promptTokens: number;
  /** max |Δ logit| per compared position (the prompt's, then the greedy steps while the paths agree); Infinity for a NaN. */
  maxAbsPerPosition: number[];
  maxAbs: number;
  logitScale: number;
  engine: XcheckSide;
  ort: XcheckSide;
  /** First greedy index where the ids differ; -1: none. */
  firstDivergence: number;
}

/** Worker -> webview. */
export type XcheckWorkerMessage =
  | { type: 'xcheckProgress'; id: number; phase: 'exporting' | 'opening' | 'running'; done: number; total: number }
  | { type: 'xcheckResult'; id: number; result: XcheckView }
  | { type: 'xcheckError'; id: number; message: string; cancelled?: boolean };

export interface XcheckWorkerReplies {
  xcheckRun: XcheckWorkerMessage['type'];
  /** Answered by the run's own xcheckError (cancelled). */
  xcheckCancel: never;
}

export const XCHECK_REPLIES: ReplyTable<XcheckWorkerReplies> = {
  xcheckRun: { replies: ['xcheckProgress', 'xcheckResult', 'xcheckError'], last: ['xcheckResult', 'xcheckError'] },
  xcheckCancel: { replies: [], last: [] },
};

function record(o: Raw, key: string): Raw {
  const v = o[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`field "${key}" must be an object, got ${describe(v)}`);
  return v as Raw;
}

/** Numbers that may be Infinity (a NaN difference is reported as Infinity), never NaN. */
function diffs(o: Raw, key: string): number[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && !Number.isNaN(x) && x >= 0))
    throw new ProtocolError(`field "${key}" must be an array of non-negative numbers, got ${describe(v)}`);
  return v as number[];
}

function ints(o: Raw, key: string): number[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x))) throw new ProtocolError(`field "${key}" must be an array of integers, got ${describe(v)}`);
  return v as number[];
}

function strs(o: Raw, key: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ProtocolError(`field "${key}" must be an array of strings, got ${describe(v)}`);
  return v as string[];
}

function side(o: Raw, key: string): XcheckSide {
  const s = record(o, key);
  const ids = ints(s, 'ids');
  const pieces = strs(s, 'pieces');
  if (pieces.length !== ids.length) throw new ProtocolError(`field "${key}.pieces" must hold one text per id (${ids.length})`);
  return { label: str(s, 'label')!, ids, pieces, prefillMs: num(s, 'prefillMs')!, msPerToken: num(s, 'msPerToken')! };
}

export const xcheckWorkerParsers: MessageParsers<XcheckWorkerMessage> = {
  xcheckProgress: (raw) => {
    const id = num(raw, 'id')!;
    const phase = raw.phase;
    if (phase !== 'exporting' && phase !== 'opening' && phase !== 'running') throw new ProtocolError(`field "phase" must be exporting, opening or running, got ${describe(phase)}`);
    return { type: 'xcheckProgress', id, phase, done: num(raw, 'done')!, total: num(raw, 'total')! };
  },
  xcheckResult: (raw) => {
    const id = num(raw, 'id')!;
    const r = record(raw, 'result');
    if (r.source !== 'export') throw new ProtocolError(`field "source" must be "export", got ${describe(r.source)}`);
    if (r.provider !== 'wasm' && r.provider !== 'webgpu') throw new ProtocolError(`field "provider" must be "wasm" or "webgpu", got ${describe(r.provider)}`);
    const maxAbs = r.maxAbs;
    if (typeof maxAbs !== 'number' || Number.isNaN(maxAbs)) throw new ProtocolError(`field "maxAbs" must be a number, got ${describe(maxAbs)}`);
    const result: XcheckView = {
      source: 'export',
      onnxBytes: num(r, 'onnxBytes')!,
      provider: r.provider,
      providerNote: str(r, 'providerNote', true),
      promptTokens: num(r, 'promptTokens')!,
      maxAbsPerPosition: diffs(r, 'maxAbsPerPosition'),
      maxAbs,
      logitScale: num(r, 'logitScale')!,
      engine: side(r, 'engine'),
      ort: side(r, 'ort'),
      firstDivergence: num(r, 'firstDivergence')!,
    };
    if (result.maxAbsPerPosition.length < result.promptTokens)
      throw new ProtocolError(`field "maxAbsPerPosition" must cover the prompt's ${result.promptTokens} positions at least`);
    if (result.providerNote === undefined) delete result.providerNote;
    return { type: 'xcheckResult', id, result };
  },
  xcheckError: (raw) => ({ type: 'xcheckError', id: num(raw, 'id')!, message: str(raw, 'message')!, ...(raw.cancelled === true ? { cancelled: true } : {}) }),
};
