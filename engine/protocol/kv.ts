/**
 * KV cache: the worker profiles a greedy generation of the active model (the cache filling
 * token by token: bytes per layer, prefill and per-step time, allocations per step) and times
 * the same steps with the cache and recomputing without it; `kvQuantEffect` runs a text with
 * the f32 cache and with the int8 one and compares the logits (engine/model/kv/quant-effect.ts)
 * beside the bytes each cache takes. The what-ifs are pure functions
 * (engine/model/kv/) that the webview runs itself.
 */
import { num, str, ProtocolError, type MessageParsers, type Raw, type ReplyTable } from './validate';

/** Webview -> worker. */
export type KvWorkerRequest =
  | { type: 'kvProfile'; id: number; prompt: string; maxTokens: number }
  | { type: 'kvCompare'; id: number; positions: number[] }
  | { type: 'kvQuantEffect'; id: number; text: string };

/** One step of a profiled generation: after the prefill (step 0) or one decode step. */
export interface KvStepView {
  step: number;
  phase: 'prefill' | 'decode';
  /** Tokens in the cache after this step. */
  tokens: number;
  ms: number;
  /** K and V bytes holding tokens now, per layer. */
  usedPerLayer: number[];
  /** Buffers / cache arrays the backend created during this step. */
  allocations: number;
}

export interface KvProfileHeader {
  backend: string;
  capacity: number;
  bytesPerToken: number;
  /** Bytes of the K and V arrays or buffers the backend allocated, per layer. */
  allocatedPerLayer: number[];
  /** The GPU model's accounts of every buffer it created (weights, cache, scratch); absent on the CPU. */
  gpu?: { weights: number; kvCache: number; scratch: number; buffers: number };
}

export interface KvCompareRow {
  position: number;
  withCacheMs: number;
  withoutCacheMs: number;
  maxAbsDiff: number;
}

/** The int8 cache against the f32 one on a text: accuracy and bytes. */
export interface KvQuantEffectView {
  backend: string;
  /** Tokens run (BOS included where the tokenizer has one); at most the context. */
  tokens: number;
  /** Tokens the text had before it was cut to the context (equal to tokens when it was not). */
  textTokens: number;
  maxAbsPerPosition: number[];
  /** KL(f32 ‖ int8) of each position's next-token distribution, nats. */
  klPerPosition: number[];
  maxAbs: number;
  maxKl: number;
  meanKl: number;
  /** Largest |logit| of the f32 run. */
  logitScale: number;
  perplexityF32: number;
  perplexityInt8: number;
  /** (int8 − f32) / f32. */
  perplexityChange: number;
  /** The model's context (the cache's capacity) and its cache bytes with each dtype (predictEngineKv on this backend). */
  context: number;
  bytesF32: number;
  bytesInt8: number;
}

/** Worker -> webview. */
export type KvWorkerMessage =
  | { type: 'kvHeader'; id: number; header: KvProfileHeader }
  | { type: 'kvStep'; id: number; step: KvStepView }
  | { type: 'kvDone'; id: number; text: string }
  | { type: 'kvCompareResult'; id: number; rows: KvCompareRow[] }
  | { type: 'kvQuantEffectResult'; id: number; result: KvQuantEffectView }
  | { type: 'kvError'; id: number; message: string };

export interface KvWorkerReplies {
  kvProfile: 'kvHeader' | 'kvStep' | 'kvDone' | 'kvError';
  kvCompare: 'kvCompareResult' | 'kvError';
  kvQuantEffect: 'kvQuantEffectResult' | 'kvError';
}

export const KV_REPLIES: ReplyTable<KvWorkerReplies> = {
  kvProfile: { replies: ['kvHeader', 'kvStep', 'kvDone', 'kvError'], last: ['kvDone', 'kvError'] },
  kvCompare: { replies: ['kvCompareResult', 'kvError'], last: ['kvCompareResult', 'kvError'] },
  kvQuantEffect: { replies: ['kvQuantEffectResult', 'kvError'], last: ['kvQuantEffectResult', 'kvError'] },
};

function nums(o: Raw, key: string): number[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new ProtocolError(`field "${key}" must be an array of numbers`);
  return v as number[];
}

function record(o: Raw, key: string): Raw {
  const v = o[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`field "${key}" must be an object`);
  return v as Raw;
}

export const kvWorkerParsers: MessageParsers<KvWorkerMessage> = {
  kvHeader: (raw) => {
    const id = num(raw, 'id')!;
    const h = record(raw, 'header');
    const g = h.gpu === undefined ? undefined : record(h, 'gpu');
    return {
      type: 'kvHeader',
      id,
      header: {
        backend: str(h, 'backend')!,
        capacity: num(h, 'capacity')!,
        bytesPerToken: num(h, 'bytesPerToken')!,
        allocatedPerLayer: nums(h, 'allocatedPerLayer'),
        gpu: g ? { weights: num(g, 'weights')!, kvCache: num(g, 'kvCache')!, scratch: num(g, 'scratch')!, buffers: num(g, 'buffers')! } : undefined,
      },
    };
  },
  kvStep: (raw) => {
    const id = num(raw, 'id')!;
    const s = record(raw, 'step');
    return {
      type: 'kvStep',
      id,
      step: {
        step: num(s, 'step')!,
        phase: s.phase === 'prefill' ? 'prefill' : 'decode',
        tokens: num(s, 'tokens')!,
        ms: num(s, 'ms')!,
        usedPerLayer: nums(s, 'usedPerLayer'),
        allocations: num(s, 'allocations')!,
      },
    };
  },
  kvDone: (raw) => ({ type: 'kvDone', id: num(raw, 'id')!, text: str(raw, 'text')! }),
  kvCompareResult: (raw) => {
    const id = num(raw, 'id')!;
    const rows = raw.rows;
    if (!Array.isArray(rows)) throw new ProtocolError('field "rows" must be an array');
    return {
      type: 'kvCompareResult',
      id,
      rows: rows.map((r: Raw) => ({
        position: num(r, 'position')!,
        withCacheMs: num(r, 'withCacheMs')!,
        withoutCacheMs: num(r, 'withoutCacheMs')!,
        maxAbsDiff: num(r, 'maxAbsDiff')!,
      })),
    };
  },
  kvQuantEffectResult: (raw) => {
    const id = num(raw, 'id')!;
    const r = record(raw, 'result');
    const n = (k: keyof KvQuantEffectView) => num(r, k)!;
    const result: KvQuantEffectView = {
      backend: str(r, 'backend')!,
      tokens: n('tokens'),
      textTokens: n('textTokens'),
      maxAbsPerPosition: nums(r, 'maxAbsPerPosition'),
      klPerPosition: nums(r, 'klPerPosition'),
      maxAbs: n('maxAbs'),
      maxKl: n('maxKl'),
      meanKl: n('meanKl'),
      logitScale: n('logitScale'),
      perplexityF32: n('perplexityF32'),
      perplexityInt8: n('perplexityInt8'),
      perplexityChange: n('perplexityChange'),
      context: n('context'),
      bytesF32: n('bytesF32'),
      bytesInt8: n('bytesInt8'),
    };
    if (result.klPerPosition.length !== result.tokens || result.maxAbsPerPosition.length !== result.tokens)
      throw new ProtocolError(`fields "klPerPosition" and "maxAbsPerPosition" must hold one value per token (${result.tokens})`);
    return { type: 'kvQuantEffectResult', id, result };
  },
  kvError: (raw) => ({ type: 'kvError', id: num(raw, 'id')!, message: str(raw, 'message')! }),
};
