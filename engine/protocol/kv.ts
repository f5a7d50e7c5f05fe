/**
 * KV cache: the worker profiles a greedy generation of the active model (the cache filling
 * token by token: bytes per layer, prefill and per-step time, allocations per step) and times
 * the same steps with the cache and recomputing without it. The what-ifs are pure functions
 * (engine/model/kv/) that the webview runs itself.
 */
import { num, str, ProtocolError, type MessageParsers, type Raw, type ReplyTable } from './validate';

/** Webview -> worker. */
export type KvWorkerRequest = { type: 'kvProfile'; id: number; prompt: string; maxTokens: number } | { type: 'kvCompare'; id: number; positions: number[] };

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

/** Worker -> webview. */
export type KvWorkerMessage =
  | { type: 'kvHeader'; id: number; header: KvProfileHeader }
  | { type: 'kvStep'; id: number; step: KvStepView }
  | { type: 'kvDone'; id: number; text: string }
  | { type: 'kvCompareResult'; id: number; rows: KvCompareRow[] }
  | { type: 'kvError'; id: number; message: string };

export interface KvWorkerReplies {
  kvProfile: 'kvHeader' | 'kvStep' | 'kvDone' | 'kvError';
  kvCompare: 'kvCompareResult' | 'kvError';
}

export const KV_REPLIES: ReplyTable<KvWorkerReplies> = {
  kvProfile: { replies: ['kvHeader', 'kvStep', 'kvDone', 'kvError'], last: ['kvDone', 'kvError'] },
  kvCompare: { replies: ['kvCompareResult', 'kvError'], last: ['kvCompareResult', 'kvError'] },
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
  kvError: (raw) => ({ type: 'kvError', id: num(raw, 'id')!, message: str(raw, 'message')! }),
};
