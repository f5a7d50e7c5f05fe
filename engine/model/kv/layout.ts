/**
 * What the engine's own KV cache costs, predicted from the config alone (no model built):
 * the numbers `kv --model` compares with the bytes the backends really allocated.
 *
 * Both backends allocate, per layer, one K and one V cache when the model is built, and never
 * grow them: f32 [ctx, nKvHeads, headDim] each, or with the int8 cache int8 [ctx, nKvHeads,
 * headDim] (on WebGPU packed four to a u32 word) plus f32 scales [ctx, nKvHeads] (one per
 * token and KV head) each. Sliding-window layers get the full context too: the window only
 * masks attention (keys older than the window are skipped), the cache is not a ring of the
 * window. The WebGPU engine rounds every buffer up to 16 bytes (at least 16).
 */
import type { ModelConfig } from '../types';

/** The KV element types the engine's cache can hold. */
export type KvCacheDtype = 'f32' | 'int8';

/** Bytes of one token of K (or V) in one layer: f32 rows, or int8 rows plus their f32 scale per KV head. */
export function kvRowBytes(c: Pick<ModelConfig, 'numKvHeads' | 'headDim'>, dtype: KvCacheDtype = 'f32'): number {
  return dtype === 'int8' ? c.numKvHeads * (c.headDim + 4) : c.numKvHeads * c.headDim * 4;
}

/** Where the cache lives: the CPU's typed arrays or WebGPU buffers (rounded up to 16 bytes). */
export type KvLayoutBackend = 'cpu' | 'webgpu';

export interface EngineKvPrediction {
  /** K and V bytes of one token summed over the layers (int8: the scales included). */
  bytesPerToken: number;
  /** K and V bytes of each layer at this context (int8: the scales included). */
  perLayer: number[];
  total: number;
  /** Tokens each layer holds (the full context on every layer, sliding ones included). */
  tokensPerLayer: number[];
}

/** Bytes of one WebGPU storage buffer of `bytes` (engine/gpu/kernel.ts createStorage). */
export function gpuBufferBytes(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/**
 * The engine's KV cache for `contextLength` tokens, per layer: K and V of [ctx, nKvHeads,
 * headDim] as f32 (ctx·Kv·hd·4 bytes each), or as int8 (ctx·Kv·hd bytes each) plus f32 scales
 * (ctx·Kv·4 bytes each); on WebGPU each of those buffers rounded as gpuBufferBytes says.
 */
export function predictEngineKv(c: ModelConfig, contextLength: number, backend: KvLayoutBackend = 'cpu', dtype: KvCacheDtype = 'f32'): EngineKvPrediction {
  if (!Number.isSafeInteger(contextLength) || contextLength < 1) throw new RangeError(`context length must be a positive integer, got ${contextLength}`);
  if (dtype !== 'f32' && dtype !== 'int8') throw new RangeError(`KV dtype must be f32 or int8, got ${String(dtype)}`);
  const buf = (bytes: number) => (backend === 'webgpu' ? gpuBufferBytes(bytes) : bytes);
  // one of K or V in one layer: its rows, and int8's scales in a second array / buffer
  const one = (tokens: number) => (dtype === 'int8' ? buf(tokens * c.numKvHeads * c.headDim) + buf(tokens * c.numKvHeads * 4) : buf(tokens * c.numKvHeads * c.headDim * 4));
  const tokensPerLayer = Array.from({ length: c.numLayers }, () => contextLength);
  const perLayer = tokensPerLayer.map((t) => 2 * one(t));
  return { bytesPerToken: c.numLayers * 2 * kvRowBytes(c, dtype), perLayer, total: perLayer.reduce((a, b) => a + b, 0), tokensPerLayer };
}
