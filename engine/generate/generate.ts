/**
 * The one decode loop: every product path (the CLI, the worker's Generate tab, the tests,
 * the benches) generates through `generate(backend, request)`. It yields a StepRecord per
 * new id — the id, the text it makes printable, its time, and optionally the top
 * candidates and the step's captures — and returns a GenerateSummary.
 *
 * How a step runs depends on what the request needs:
 *   - 'pipelined': greedy, nothing needing the logits on the host, no captures, and a
 *     backend with decodeGreedy (the WebGPU engine): steps stay queued on the device and
 *     ids come back in blocks; stopping mid-block drops the steps queued past the stop.
 *   - 'device-argmax': greedy on a backend that takes the argmax on the device: each step
 *     reads back one id instead of a row of logits.
 *   - 'host-logits': anything else (processors, sampling, top candidates, captures): the
 *     last row of logits comes back and processors and sampler run here.
 */
import type { Backend, CaptureOptions, DecodePipeline, ForwardResult } from '../backend/contract';
import type { StreamDecoder, Tokenizer } from '../tokenizer/types';
import { inspectStages, type InspectOptions, type StepInspection } from './inspect';
import { applyProcessors, type LogitsProcessor } from './processors';
import { GreedySampler, softmax, type Sampler } from './samplers';
import { StopStringFilter, type StoppingCriterion, type StopReason } from './stopping';

export type DecodePath = 'pipelined' | 'device-argmax' | 'host-logits';

export interface GenerateRequest {
  promptIds: number[];
  /** Most new ids (≥ 0). */
  maxNewTokens: number;
  /** Ids that end generation (not included in the output). Default: the model's stop ids. */
  eosIds?: readonly number[];
  /** Applied to the logits in order before the sampler. */
  processors?: readonly LogitsProcessor[];
  /** Default: greedy. */
  sampler?: Sampler;
  /** Text that ends generation; the output ends just before it (needs `tokenizer`). */
  stopStrings?: readonly string[];
  stopping?: readonly StoppingCriterion[];
  /** Streams text with each record (a streaming detokenizer that never splits a character). */
  tokenizer?: Tokenizer;
  /** Checked after each id (and each prefill chunk): when aborted, generation ends with 'cancelled'. */
  signal?: { readonly aborted: boolean };
  /**
   * Runs a prompt longer than `chunk` ids in chunks of that many (the host-logits and
   * device-argmax paths, without captures): `onChunk` hears the ids done after each (awaited,
   * so a caller can let other work run), and `signal` is checked between chunks.
   */
  prefill?: { chunk: number; onChunk?: (done: number, total: number) => void | Promise<void> };
  /** Record the n most likely next ids (with probabilities) at each step. */
  topCandidates?: number;
  /** Record these captures at each step (host-logits path). */
  capture?: CaptureOptions;
  /** Record each step's stages, the chosen id's place and the named ids (step debugger; host-logits path). */
  inspect?: InspectOptions;
  /** Read-back batching for the pipelined path. */
  pipeline?: DecodePipeline;
  /** Do not use the pipelined path even where it could run (tests, comparisons). */
  noPipeline?: boolean;
}

export interface Candidate {
  id: number;
  /** softmax of the processed scores. */
  prob: number;
  /** The raw logit. */
  logit: number;
}

export interface StepRecord {
  /** 0 for the prompt's next id. */
  step: number;
  id: number;
  /** Text this id makes printable (may be '' while a character or a possible stop string is incomplete). */
  text: string;
  /** Milliseconds since the previous record (step 0: since the call, the prefill included). */
  ms: number;
  top?: Candidate[];
  captures?: Omit<ForwardResult, 'logits' | 'top'>;
  /** With `inspect`: what each processor did to this step's distribution. */
  inspection?: StepInspection;
}

export interface GenerateSummary {
  promptIds: number[];
  /** The new ids, without an end-of-sequence id. */
  ids: number[];
  /** Every text piece joined, the flushed tail included. */
  text: string;
  /** Text released only at the end (held back by the detokenizer or a possible stop string). */
  tail: string;
  stopReason: StopReason;
  /** The end-of-sequence id that stopped generation. */
  stopId?: number;
  path: DecodePath;
  /** From the call to the first id. */
  prefillMs: number;
  /** From the first id to the last. */
  decodeMs: number;
  /** (ids − 1) / decodeMs. */
  decodeTokensPerSec: number;
}

/** Which path a request takes on a backend. */
export function decodePath(backend: Backend, req: Pick<GenerateRequest, 'processors' | 'sampler' | 'topCandidates' | 'capture' | 'noPipeline' | 'inspect'>): DecodePath {
  const greedy = (req.sampler?.greedy ?? true) && !req.processors?.length && !req.topCandidates && !hasCapture(req.capture) && !req.inspect;
  if (!greedy) return 'host-logits';
  if (backend.capabilities.pipelinedGreedy && backend.decodeGreedy && !req.noPipeline) return 'pipelined';
  return backend.capabilities.onDevice.argmax ? 'device-argmax' : 'host-logits';
}

function hasCapture(c: CaptureOptions | undefined): boolean {
  return !!c && Object.values(c).some(Boolean);
}

function checkRequest(backend: Backend, req: GenerateRequest): void {
  const V = backend.config.vocabSize;
  if (!Number.isSafeInteger(req.maxNewTokens) || req.maxNewTokens < 0) throw new RangeError(`maxNewTokens must be an integer ≥ 0, got ${req.maxNewTokens}`);
  if (req.promptIds.length === 0) throw new RangeError('the prompt has no tokens');
  req.promptIds.forEach((id, i) => {
    if (!Number.isSafeInteger(id) || id < 0 || id >= V) throw new RangeError(`prompt token ${i} is ${id}, outside the vocabulary [0, ${V})`);
  });
  if (req.promptIds.length > backend.contextLength) throw new RangeError(`the prompt is ${req.promptIds.length} tokens; the context holds ${backend.contextLength}`);
  if (req.topCandidates !== undefined && (!Number.isSafeInteger(req.topCandidates) || req.topCandidates < 0))
    throw new RangeError(`topCandidates must be an integer ≥ 0, got ${req.topCandidates}`);
  if (req.stopStrings?.some((s) => s.length > 0) && !req.tokenizer) throw new RangeError('stop strings need a tokenizer to read the text');
}

/**
 * Generates from a fresh cache: yields one record per new id, returns the summary. The
 * cache then holds the prompt and every new id but the last. Breaking out of the loop
 * (or return()) ends generation as 'cancelled' would, without a summary.
 */
export async function* generate(backend: Backend, req: GenerateRequest): AsyncGenerator<StepRecord, GenerateSummary, void> {
  checkRequest(backend, req);
  const path = decodePath(backend, req);
  const eos = new Set(req.eosIds ?? backend.config.stopTokenIds ?? backend.config.eosTokenIds);
  const processors = req.processors ?? [];
  const sampler = req.sampler ?? new GreedySampler();
  const decoder: StreamDecoder | undefined = req.tokenizer?.createStreamDecoder({ context: req.promptIds });
  const filter = new StopStringFilter(req.stopStrings ?? []);
  const all = [...req.promptIds]; // prompt + new ids (processors read it)
  const ids: number[] = [];
  let text = '';
  const t0 = performance.now();
  let tPrev = t0;
  let tFirst = 0;
  let stopReason: StopReason = 'length';
  let stopId: number | undefined;

  // Takes an id: returns the record to yield, or undefined when the id ends generation unseen (EOS).
  const accept = (id: number, extra: Pick<StepRecord, 'top' | 'captures' | 'inspection'>): StepRecord | undefined => {
    const now = performance.now();
    if (ids.length === 0) tFirst = now;
    if (eos.has(id)) {
      stopReason = 'stop';
      stopId = id;
      return undefined;
    }
    ids.push(id);
    all.push(id);
    let piece = '';
    if (decoder) {
      piece = filter.push(decoder.push(id));
      text += piece;
    }
    const rec: StepRecord = { step: ids.length - 1, id, text: piece, ms: now - tPrev, ...extra };
    tPrev = now;
    return rec;
  };
  // After a record was consumed: the reason to end now, if any.
  const ended = (): StopReason | undefined => {
    if (req.signal?.aborted) return 'cancelled';
    if (filter.done) return 'stopString';
    if (req.stopping?.some((c) => c.shouldStop({ ids: all, newIds: ids, text }))) return 'criterion';
    if (ids.length >= req.maxNewTokens) return 'length';
    return undefined;
  };

  if (req.maxNewTokens === 0) {
    backend.reset();
  } else if (path === 'pipelined') {
    const it = backend.decodeGreedy!(req.promptIds, { maxNew: req.maxNewTokens, ...req.pipeline });
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) {
          stopReason = r.value;
          break;
        }
        const rec = accept(r.value, {});
        if (!rec) break;
        yield rec;
        const why = ended();
        if (why) {
          stopReason = why;
          break;
        }
      }
    } finally {
      await it.return('length'); // drops the steps queued past the last id (a no-op once done)
    }
  } else {
    backend.reset();
    const V = backend.config.vocabSize;
    const onDevice = path === 'device-argmax';
    const k = req.topCandidates ?? 0;
    const capture = hasCapture(req.capture) ? req.capture : undefined;
    let tokens = req.promptIds;
    const chunk = req.prefill?.chunk ?? Infinity;
    if (tokens.length > chunk && !capture) {
      // all but the last chunk fill the cache; the last one gives the first id's logits below
      let done = 0;
      while (tokens.length - done > chunk) {
        await backend.forward(tokens.slice(done, done + chunk), undefined, { lastOnly: true, logits: false });
        done += chunk;
        await req.prefill!.onChunk?.(done, tokens.length);
        if (req.signal?.aborted) break;
      }
      if (req.signal?.aborted) stopReason = 'cancelled';
      tokens = tokens.slice(done);
    }
    while (stopReason !== 'cancelled') {
      const out = await backend.forward(tokens, undefined, onDevice ? { lastOnly: true, topK: 1, logits: false } : { lastOnly: true, capture });
      let id: number;
      const extra: Pick<StepRecord, 'top' | 'captures' | 'inspection'> = {};
      if (onDevice) {
        id = out.top!.ids[0];
      } else {
        const row = out.logits.subarray((out.rows - 1) * V, out.rows * V); // [V]
        let scores: Float32Array;
        if (req.inspect) {
          const ins = inspectStages(all, row, processors, req.inspect);
          scores = ins.scores;
          id = sampler.sample(scores);
          extra.inspection = ins.finish(id);
        } else {
          scores = processors.length ? row.slice() : row;
          applyProcessors(processors, all, scores);
          id = sampler.sample(scores);
        }
        if (k > 0) extra.top = candidates(row, scores, k);
        if (capture) {
          const { logits: _l, top: _t, ...caps } = out;
          extra.captures = caps;
        }
      }
      const rec = accept(id, extra);
      if (!rec) break;
      yield rec;
      const why = ended();
      if (why) {
        stopReason = why;
        break;
      }
      if (backend.length >= backend.contextLength) {
        stopReason = 'context';
        break;
      }
      tokens = [id];
    }
  }

  let tail = '';
  if (decoder && stopReason !== 'stopString') tail = filter.push(decoder.flush()) + filter.flush();
  text += tail;
  const tEnd = ids.length ? tPrev : performance.now();
  const decodeMs = ids.length > 1 ? tEnd - tFirst : 0;
  const summary: GenerateSummary = {
    promptIds: req.promptIds,
    ids,
    text,
    tail,
    stopReason,
    path,
    prefillMs: (tFirst || tEnd) - t0,
    decodeMs,
    decodeTokensPerSec: decodeMs > 0 ? ((ids.length - 1) * 1000) / decodeMs : 0,
  };
  if (stopId !== undefined) summary.stopId = stopId;
  return summary;
}

/** The n most likely ids by the processed scores, with their probabilities and raw logits. */
function candidates(logits: Float32Array, scores: Float32Array, n: number): Candidate[] {
  const p = softmax(scores);
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, n).map((id) => ({ id, prob: p[id], logit: logits[id] }));
}

/** Runs a generation to its end, calling `onStep` with each record. */
export async function generateAll(backend: Backend, req: GenerateRequest, onStep?: (r: StepRecord) => void | Promise<void>): Promise<GenerateSummary> {
  const it = generate(backend, req);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    await onStep?.(r.value);
  }
}

/** Exactly n greedy ids with no end-of-sequence stop (the references' greedy_24). */
export async function greedy(backend: Backend, promptIds: number[], n: number, pipeline?: DecodePipeline): Promise<number[]> {
  const r = await generateAll(backend, { promptIds, maxNewTokens: n, eosIds: [], pipeline });
  if (r.ids.length !== n) throw new RangeError(`greedy: context length ${backend.contextLength} ended generation after ${r.ids.length} of ${n} tokens`);
  return r.ids;
}
