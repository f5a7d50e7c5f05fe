/**
 * What the engine's own KV cache costs, predicted from the config alone (no model built):
 * the numbers `kv --model` compares with the bytes the backends really allocated.
 *
 * Both backends allocate, per layer, one K and one V array of f32 [ctx, nKvHeads, headDim]
 * when the model is built, and never grow them. Sliding-window layers get the full context
 * too: the window only masks attention (keys older than the window are skipped), the cache is
 * not a ring of the window. The WebGPU engine rounds every buffer up to 16 bytes (at least 16).
 */
import type { ModelConfig } from '../types';

/** Where the cache lives: the CPU's typed arrays or WebGPU buffers (rounded up to 16 bytes). */
export type KvLayoutBackend = 'cpu' | 'webgpu';

export interface EngineKvPrediction {
  /** K and V bytes of one token summed over the layers. */
  bytesPerToken: number;
  /** K and V bytes of each layer at this context. */
  perLayer: number[];
  total: number;
  /** Tokens each layer holds (the full context on every layer, sliding ones included). */
  tokensPerLayer: number[];
}

/** Bytes of one WebGPU storage buffer of `bytes` (engine/gpu/kernel.ts createStorage). */
export function gpuBufferBytes(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/** The engine's KV cache for `contextLength` tokens: f32 K and V of [ctx, nKvHeads, headDim] per layer. */
export function predictEngineKv(c: ModelConfig, contextLength: number, backend: KvLayoutBackend = 'cpu'): EngineKvPrediction {
  if (!Number.isSafeInteger(contextLength) || contextLength < 1) throw new RangeError(`context length must be a positive integer, got ${contextLength}`);
  const rowBytes = c.numKvHeads * c.headDim * 4; // one token of K (or V) in one layer
  const one = (tokens: number) => (backend === 'webgpu' ? gpuBufferBytes(tokens * rowBytes) : tokens * rowBytes);
  const tokensPerLayer = Array.from({ length: c.numLayers }, () => contextLength);
  const perLayer = tokensPerLayer.map((t) => 2 * one(t));
  return { bytesPerToken: c.numLayers * 2 * rowBytes, perLayer, total: perLayer.reduce((a, b) => a + b, 0), tokensPerLayer };
}
