/**
 * The worker's KV-cache requests (engine/protocol/kv.ts) on the session's loaded model:
 * `kvProfile` runs a greedy generation one step at a time and reports, after the prefill and
 * each decode step, the cache bytes per layer read from the backend, the step's time and the
 * buffers or cache arrays created during it; `kvCompare` times steps with and without the
 * cache (engine/generate/cache-compare.ts); `kvQuantEffect` runs a text (cut to the context)
 * through the session's backend with its f32 cache and through a second backend of the same
 * kind and weights with the int8 cache, a chunk at a time, and reports what the int8 cache
 * changes in the logits and the perplexity (engine/model/kv/quant-effect.ts) beside the bytes
 * each cache takes (engine/model/kv/layout.ts).
 */
import type { Backend } from '../backend/contract';
import { CpuBackend } from '../backend/cpu';
import { compareWithAndWithoutCache } from '../generate/cache-compare';
import { argmax } from '../generate/samplers';
import type { WebviewToWorker, WorkerToWebview } from '../protocol/index';
import type { KvQuantEffectView, KvWorkerRequest } from '../protocol/kv';
import { predictEngineKv, type KvCacheDtype } from '../model/kv/layout';
import { QuantEffectMeter } from '../model/kv/quant-effect';
import type { Tokenizer } from '../tokenizer/index';

export interface KvSessionModel {
  backend: Backend;
  tokenizer?: Tokenizer;
  stopIds: number[];
  /**
   * A second backend of the session's kind on the same weights, with this KV dtype (the
   * caller disposes it); absent with the reason when the session did not keep the weights.
   */
  createBackend?: ((kvDtype: KvCacheDtype) => Promise<Backend>) | string;
}

/** Tokens per forward of the accuracy run (both caches advance a chunk at a time). */
export const KV_QUANT_CHUNK = 256;
/** Longest text the accuracy run accepts, in characters (it is cut to the context in tokens anyway). */
export const KV_QUANT_MAX_CHARS = 200_000;

/** Most decode steps one profile runs. */
export const KV_PROFILE_MAX_TOKENS = 1024;

/** Counts what the backend allocates between calls: GPU buffers created (its ledger), or CPU cache arrays replaced. */
export function allocationCounter(b: Backend): () => number {
  const gpu = b as Backend & { memory?: () => { created: number } };
  if (gpu.memory) {
    let last = gpu.memory().created;
    return () => {
      const now = gpu.memory!().created;
      const d = now - last;
      last = now;
      return d;
    };
  }
  if (b instanceof CpuBackend) {
    let last = b.model.kvCacheArrays();
    return () => {
      const now = b.model.kvCacheArrays();
      const d = now.reduce((n, a, l) => n + (a.k !== last[l]?.k ? 1 : 0) + (a.v !== last[l]?.v ? 1 : 0), 0);
      last = now;
      return d;
    };
  }
  return () => 0;
}

export class KvWorker {
  private busy = false;

  constructor(
    private readonly post: (m: WorkerToWebview) => void,
    private readonly model: () => KvSessionModel | undefined,
    private readonly yieldNow: () => Promise<void>,
  ) {}

  /** True when the message was a KV request. */
  handle(msg: WebviewToWorker): boolean {
    if (msg.type !== 'kvProfile' && msg.type !== 'kvCompare' && msg.type !== 'kvQuantEffect') return false;
    void this.run(msg);
    return true;
  }

  private async run(msg: KvWorkerRequest): Promise<void> {
    const m = this.model();
    if (!m) return this.post({ type: 'kvError', id: msg.id, message: 'No model is loaded yet.' });
    if (this.busy) return this.post({ type: 'kvError', id: msg.id, message: 'A KV-cache measurement is already running.' });
    this.busy = true;
    try {
      if (msg.type === 'kvProfile') await this.profile(msg.id, m, msg.prompt, msg.maxTokens);
      else if (msg.type === 'kvCompare') this.post({ type: 'kvCompareResult', id: msg.id, rows: await this.compare(m.backend, msg.positions) });
      else this.post({ type: 'kvQuantEffectResult', id: msg.id, result: await this.quantEffect(m, msg.text) });
    } catch (e) {
      this.post({ type: 'kvError', id: msg.id, message: e instanceof Error ? e.message : String(e) });
    } finally {
      this.busy = false;
    }
  }

  private async profile(id: number, m: KvSessionModel, prompt: string, maxTokens: number): Promise<void> {
    const b = m.backend;
    const tok = m.tokenizer;
    if (!tok) throw new Error('This model has no tokenizer, so the prompt cannot be turned into tokens.');
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > KV_PROFILE_MAX_TOKENS)
      throw new RangeError(`max tokens must be an integer in [1, ${KV_PROFILE_MAX_TOKENS}], got ${maxTokens}`);
    const ids = tok.encodeIds(prompt);
    if (ids.length === 0 && tok.bosId !== null) ids.push(tok.bosId);
    if (ids.length === 0) throw new Error('The prompt is empty and this tokenizer has no BOS token to start from.');
    if (ids.length >= b.contextLength) throw new Error(`The prompt is ${ids.length} tokens; the context holds ${b.contextLength}.`);
    b.reset();
    const report = () => b.kvCache();
    const allocations = allocationCounter(b);
    const c = b.config;
    const gpu = (b as Backend & { memory?: () => { weights: number; kvCache: number; scratch: number; buffers: number } }).memory?.();
    this.post({
      type: 'kvHeader',
      id,
      header: {
        backend: b.label,
        capacity: b.contextLength,
        bytesPerToken: c.numLayers * 2 * c.numKvHeads * c.headDim * 4,
        allocatedPerLayer: report().map((r) => r.allocated),
        gpu: gpu ? { weights: gpu.weights, kvCache: gpu.kvCache, scratch: gpu.scratch, buffers: gpu.buffers } : undefined,
      },
    });
    const out: number[] = [];
    let t = performance.now();
    let r = await b.forward(ids, undefined, { lastOnly: true });
    let ms = performance.now() - t;
    for (let step = 0; ; step++) {
      this.post({
        type: 'kvStep',
        id,
        step: { step, phase: step === 0 ? 'prefill' : 'decode', tokens: b.length, ms, usedPerLayer: report().map((x) => x.used), allocations: allocations() },
      });
      const next = argmax(r.logits.subarray((r.rows - 1) * c.vocabSize));
      if (m.stopIds.includes(next) || out.length >= maxTokens || b.length >= b.contextLength) break;
      out.push(next);
      await this.yieldNow();
      t = performance.now();
      r = await b.forward([next], undefined, { lastOnly: true });
      ms = performance.now() - t;
    }
    this.post({ type: 'kvDone', id, text: tok.decode(out) });
  }

  private compare(b: Backend, positions: number[]) {
    const max = Math.max(...positions);
    if (!positions.length || max + 1 > b.contextLength) throw new RangeError(`positions must be in [0, ${b.contextLength - 1}]`);
    const V = b.config.vocabSize;
    const ids = Array.from({ length: max + 1 }, (_, i) => (i * 37 + 5) % V);
    return compareWithAndWithoutCache(b, ids, positions, { reps: 1 });
  }

  /** The text run with the f32 cache (the session's backend) and the int8 one (a second backend, disposed after). */
  private async quantEffect(m: KvSessionModel, text: string): Promise<KvQuantEffectView> {
    const b = m.backend;
    const tok = m.tokenizer;
    if (!tok) throw new Error('This model has no tokenizer, so the text cannot be turned into tokens.');
    if (typeof text !== 'string' || !text.trim()) throw new RangeError('The text is empty: paste or type a text to score.');
    if (text.length > KV_QUANT_MAX_CHARS) throw new RangeError(`The text is ${text.length} characters; at most ${KV_QUANT_MAX_CHARS} are accepted.`);
    if (typeof m.createBackend !== 'function') throw new Error(m.createBackend ?? 'This session cannot build a second backend for the int8 cache.');
    const all = tok.encodeIds(text);
    if (tok.bosId !== null) all.unshift(tok.bosId);
    const ids = all.slice(0, b.contextLength);
    if (ids.length < 2) throw new RangeError(`The text is ${ids.length} token; perplexity needs at least 2.`);
    const V = b.config.vocabSize;
    const meter = new QuantEffectMeter(V);
    const q = await m.createBackend('int8');
    try {
      b.reset();
      q.reset();
      for (let s = 0; s < ids.length; s += KV_QUANT_CHUNK) {
        const chunk = ids.slice(s, s + KV_QUANT_CHUNK);
        // row t of this chunk predicts ids[s + t + 1] (the text's last row has no next token)
        const next = chunk.map((_, t) => (s + t + 1 < ids.length ? ids[s + t + 1] : -1));
        const a = await b.forward(chunk);
        const c = await q.forward(chunk);
        meter.add(a.logits, c.logits, next);
        await this.yieldNow();
      }
    } finally {
      q.dispose();
      b.reset();
    }
    const r = meter.result();
    const where = b.id === 'webgpu' ? 'webgpu' : 'cpu';
    return {
      backend: b.label,
      tokens: ids.length,
      textTokens: all.length,
      maxAbsPerPosition: r.maxAbsPerPosition,
      klPerPosition: r.klPerPosition,
      maxAbs: r.maxAbs,
      maxKl: r.maxKl,
      meanKl: r.meanKl,
      logitScale: r.logitScale,
      perplexityF32: r.perplexityF32,
      perplexityInt8: r.perplexityQuant,
      perplexityChange: r.perplexityChange,
      context: b.contextLength,
      bytesF32: predictEngineKv(b.config, b.contextLength, where, 'f32').total,
      bytesInt8: predictEngineKv(b.config, b.contextLength, where, 'int8').total,
    };
  }
}
