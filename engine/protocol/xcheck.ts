/**
 * Cross-check: the worker runs a model on the engine's backend and an ONNX graph on
 * onnxruntime-web for a text, and reports the logit differences per position, both greedy
 * paths and each backend's time per token (engine/generate/cross-check.ts,
 * engine/worker/xcheck.ts). Two pairings: the active model against its ONNX export (made in
 * memory), or a pair of models from the list — one ONNX model and one the engine runs.
 */
import type { FormatId } from '../formats/ids';
import type { ModelLoadSpec } from './models';
import { describe, num, str, ProtocolError, type MessageParsers, type Raw, type ReplyTable } from './validate';

/** Most greedy steps one cross-check runs. */
export const MAX_XCHECK_STEPS = 256;
/** Longest text a cross-check accepts, in characters. */
export const MAX_XCHECK_TEXT = 20_000;

/** Why an active ONNX model is not exported and cross-checked (the worker's refusal, and the view's reason). */
export const XCHECK_ONNX_REFUSAL =
  'The active model is an ONNX file, so there is nothing to export: choose "a pair of models from the list" to compare it with an engine-loadable model of the same weights (a .safetensors folder, GGUF or llama2.c file).';

/** The models a pair cross-check runs: `onnx` on onnxruntime-web, `engine` on the engine. */
export interface XcheckPair {
  onnx: ModelLoadSpec;
  engine: ModelLoadSpec;
}

/** One side of a pair as far as it is known before loading (the vocabulary once read). */
export interface XcheckPairSide {
  name: string;
  format: FormatId;
  vocabSize?: number;
}

/**
 * Why `onnx` and `engine` cannot be cross-checked as a pair; undefined: they can (as far as
 * known). The view shows it beside Run; the worker refuses with it.
 */
export function xcheckPairProblem(onnx: XcheckPairSide, engine: XcheckPairSide): string | undefined {
  if (onnx.format !== 'onnx' || engine.format === 'onnx') {
    const kind = (s: XcheckPairSide) => (s.format === 'onnx' ? 'an ONNX file' : `a ${s.format} model the engine runs`);
    return `A pair is one ONNX model (run on onnxruntime-web) and one model the engine runs (a .safetensors folder, GGUF or llama2.c file): ${onnx.name} is ${kind(onnx)} and ${engine.name} is ${kind(engine)}.`;
  }
  if (onnx.vocabSize !== undefined && engine.vocabSize !== undefined && onnx.vocabSize !== engine.vocabSize)
    return `The vocabularies differ: ${onnx.name} has ${onnx.vocabSize.toLocaleString('en-US')} tokens and ${engine.name} has ${engine.vocabSize.toLocaleString('en-US')}; logits are compared id for id, so both need the same vocabulary.`;
  return undefined;
}

/** Webview -> worker. */
export type XcheckWorkerRequest =
  /** Without `pair`: the active model against its ONNX export; with it: that pair of listed models. */
  | { type: 'xcheckRun'; id: number; text: string; steps: number; pair?: XcheckPair }
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
  /** Where the ONNX graph came from: the active model exported in memory, or an ONNX model of the list (a pair). */
  source: 'export' | 'pair';
  /** The ONNX graph's size in bytes (the export, or the pair's .onnx file). */
  onnxBytes: number;
  /** A pair: the names of its two models. */
  models?: { engine: string; onnx: string };
  /** A pair whose tokenizers give the text different ids: which, and that the engine side's ran. */
  tokenizerNote?: string;
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

export type XcheckPhase = 'loading' | 'exporting' | 'opening' | 'running';
const PHASES: readonly string[] = ['loading', 'exporting', 'opening', 'running'] satisfies XcheckPhase[];

/** Worker -> webview. */
export type XcheckWorkerMessage =
  /** `loading`: a pair's models read through the host (done of total models). */
  | { type: 'xcheckProgress'; id: number; phase: XcheckPhase; done: number; total: number }
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
    if (typeof phase !== 'string' || !PHASES.includes(phase)) throw new ProtocolError(`field "phase" must be one of ${PHASES.join(', ')}, got ${describe(phase)}`);
    return { type: 'xcheckProgress', id, phase: phase as XcheckPhase, done: num(raw, 'done')!, total: num(raw, 'total')! };
  },
  xcheckResult: (raw) => {
    const id = num(raw, 'id')!;
    const r = record(raw, 'result');
    const source = r.source;
    if (source !== 'export' && source !== 'pair') throw new ProtocolError(`field "source" must be "export" or "pair", got ${describe(source)}`);
    if (r.provider !== 'wasm' && r.provider !== 'webgpu') throw new ProtocolError(`field "provider" must be "wasm" or "webgpu", got ${describe(r.provider)}`);
    const maxAbs = r.maxAbs;
    if (typeof maxAbs !== 'number' || Number.isNaN(maxAbs)) throw new ProtocolError(`field "maxAbs" must be a number, got ${describe(maxAbs)}`);
    let models: XcheckView['models'];
    if (source === 'pair') {
      const m = record(r, 'models');
      models = { engine: str(m, 'engine')!, onnx: str(m, 'onnx')! };
    } else if (r.models !== undefined) throw new ProtocolError('field "models" belongs to a pair\'s result only');
    const result: XcheckView = {
      source,
      onnxBytes: num(r, 'onnxBytes')!,
      ...(models ? { models } : {}),
      tokenizerNote: str(r, 'tokenizerNote', true),
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
    if (result.tokenizerNote === undefined) delete result.tokenizerNote;
    return { type: 'xcheckResult', id, result };
  },
  xcheckError: (raw) => ({ type: 'xcheckError', id: num(raw, 'id')!, message: str(raw, 'message')!, ...(raw.cancelled === true ? { cancelled: true } : {}) }),
};
