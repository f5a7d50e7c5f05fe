/**
 * The model manager's view of a model's headers: the per-format header checks (in
 * engine/formats/inspect.ts, picked by the format registry) and what the engine will
 * allocate for a model (memoryPlan).
 */
import type { ModelInfo } from '../formats/inspect';

export type { ModelCheck, ModelDir, ModelInfo, ModelProblem, ProblemKind } from '../formats/inspect';

export interface MemoryLimits {
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
}

export interface MemoryPlan {
  contextLength: number;
  /** Every weight as f32 (the engine dequantises on load). */
  weightBytes: number;
  kvCacheBytes: number;
  /** Activations for one token plus the logits (rough). */
  scratchBytes: number;
  totalBytes: number;
  largestBufferBytes: number;
  /** Against the adapter's limits, when known: which buffer does not fit. */
  problems: string[];
}

/** What the engine will allocate at `contextLength` tokens, and whether each buffer fits the adapter. */
export function memoryPlan(info: ModelInfo, contextLength: number, limits?: MemoryLimits): MemoryPlan {
  const ctx = Math.max(1, Math.floor(contextLength));
  const weightBytes = info.parameters * 4;
  const kvCacheBytes = info.kvBytesPerToken * ctx;
  const kvLayerBytes = info.numLayers ? kvCacheBytes / info.numLayers / 2 : 0;
  const scratchBytes = 4 * (8 * info.hiddenSize + 2 * info.numHeads * info.headDim + info.vocabSize + info.numHeads * ctx);
  const largestBufferBytes = Math.max(info.largestTensorBytes, kvLayerBytes);
  const problems: string[] = [];
  if (limits?.maxStorageBufferBindingSize !== undefined && info.largestTensorBytes > limits.maxStorageBufferBindingSize) {
    problems.push(`the largest weight (${info.largestTensorBytes} bytes as f32) exceeds maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize})`);
  }
  if (limits?.maxBufferSize !== undefined && largestBufferBytes > limits.maxBufferSize) {
    problems.push(`a buffer of ${largestBufferBytes} bytes exceeds maxBufferSize (${limits.maxBufferSize})`);
  }
  if (limits?.maxStorageBufferBindingSize !== undefined && kvLayerBytes > limits.maxStorageBufferBindingSize) {
    problems.push(`one layer's K cache at ${ctx} tokens (${kvLayerBytes} bytes) exceeds maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize})`);
  }
  return { contextLength: ctx, weightBytes, kvCacheBytes, scratchBytes, totalBytes: weightBytes + kvCacheBytes + scratchBytes, largestBufferBytes, problems };
}
