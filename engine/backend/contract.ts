/**
 * The backend contract: what every engine that runs a model implements (the CPU
 * reference, the WebGPU engine, onnxruntime-web for ONNX graphs), and what the generate pipeline, the worker,
 * the CLI and the views program against. Types only: no backend is imported here.
 *
 * A backend holds one model and its KV cache. `forward` runs tokens at the next cache
 * slots and returns what was asked for (logits, the top-k of the last row computed on
 * the device, captures for the views); `reset` / `truncate` move the cache's end;
 * `kvCache` reports its bytes. Backends that can keep greedy steps queued on the device
 * offer `decodeGreedy` (capabilities.pipelinedGreedy).
 */
import type { LoraAdapter } from '../model/lora';
import type { ModelConfig } from '../model/types';

/** The backends the registry knows (engine/backend/registry.ts). */
export type BackendId = 'cpu' | 'webgpu' | 'ort';

/** How weights live on a device backend. */
export type WeightPrecision = 'f32' | 'f16';

/** What a forward pass should record besides the logits. */
export interface CaptureOptions {
  /** Softmax probabilities per layer: [L] × [H, T, Tk]. */
  attentions?: boolean;
  /** Residual stream: [L + 1] × [T, D] — after the embeddings, then after each layer (before the final norm). */
  residuals?: boolean;
  /** After the final norm: [T, D]. */
  finalHidden?: boolean;
  /** MoE router choices per layer and token. */
  router?: boolean;
  /** KV cache size per layer after this pass. */
  kvBytes?: boolean;
  /** Queries and keys as attention sees them (after q/k norm and RoPE): [L] × [T, H, hd] and [L] × [T, Kv, hd]. */
  qk?: boolean;
}

export interface ForwardOptions {
  /** Only the last row of logits ([1, V]): what decoding needs. */
  lastOnly?: boolean;
  capture?: CaptureOptions;
  /** Top-k of the last row (value desc, id asc), on the device where the backend can (capabilities.onDevice.topK). */
  topK?: number;
  /** Read the logits back (default true). With false, `logits` is empty: use `top`. */
  logits?: boolean;
}

export interface RouterChoice {
  layer: number;
  topK: number;
  experts: Int32Array; // [T, k] expert ids, best first
  weights: Float32Array; // [T, k] mixing weights (renormalised when the config says so)
  probs: Float32Array; // [T, E] router softmax
  /** The router's raw logits, where the backend records them. */
  logits?: Float32Array; // [T, E]
}

export interface KvCacheBytes {
  layer: number;
  /** Bytes of the static K and V buffers together. */
  allocated: number;
  /** Bytes of K and V holding tokens now. */
  used: number;
  tokens: number;
  capacity: number;
}

export interface TopK {
  ids: number[];
  values: number[];
}

export interface ForwardResult {
  logits: Float32Array; // [rows, V] (empty with logits: false)
  /** Rows of logits: T, or 1 with lastOnly. */
  rows: number;
  vocab: number;
  /** Cache slot of the first token of this pass (= tokens cached before it). */
  start: number;
  /** Keys attended to by the last row: start + T. */
  keys: number;
  /** With topK: the last row's top k. */
  top?: TopK;
  attentions?: Float32Array[]; // [L] × [H, T, Tk]
  residuals?: Float32Array[]; // [L + 1] × [T, D]
  finalHidden?: Float32Array; // [T, D]
  router?: RouterChoice[]; // one per MoE layer
  kvBytes?: KvCacheBytes[]; // [L]
  qk?: QueriesKeys[]; // [L]
}

/** One layer's queries and keys as attention saw them (CaptureOptions.qk). */
export interface QueriesKeys {
  q: Float32Array; // [T, H, hd]
  k: Float32Array; // [T, Kv, hd]
}

/** What a backend can record and what it can compute on its device. */
export interface BackendCapabilities {
  captures: { attentions: boolean; residuals: boolean; finalHidden: boolean; router: boolean; kvBytes: boolean; qk?: boolean };
  onDevice: {
    /** The argmax of the last row without reading the logits back. */
    argmax: boolean;
    /** Largest top-k computed on the device (0: none; the host computes it from the logits). */
    topK: number;
    /** Sampling (temperature, top-k/p) on the device. */
    sampling: boolean;
  };
  /** `decodeGreedy` keeps greedy steps queued on the device. */
  pipelinedGreedy: boolean;
  /** LoRA adapters can be attached. */
  lora: boolean;
}

/** How a pipelined greedy decode batches its read-backs (defaults: the backend's own). */
export interface DecodePipeline {
  /** Steps whose ids are read back together. */
  block?: number;
  /** Steps the host may submit past the last id it has read (at least `block`). */
  ahead?: number;
}

export interface GreedyDecodeOptions extends DecodePipeline {
  /** Most ids to yield (the prompt's next token counts as the first). */
  maxNew: number;
}

/**
 * Why a greedy decode ended on its own: it yielded `maxNew` ids ('length') or the cache is
 * full ('context'). A consumer that stops early calls the generator's return().
 */
export type GreedyDecodeEnd = 'length' | 'context';

export interface Backend {
  readonly id: BackendId;
  /** For people: "CPU (WebAssembly SIMD)", "WebGPU, f16 weights". */
  readonly label: string;
  readonly config: ModelConfig;
  /** KV cache capacity in tokens. */
  readonly contextLength: number;
  /** Tokens held in the KV cache. */
  readonly length: number;
  readonly capabilities: BackendCapabilities;
  /**
   * Runs `tokens` at the next cache slots (positions default to the slots): logits [T, V]
   * (or [1, V] with lastOnly), `top` with topK, and the captures asked for.
   */
  forward(tokens: number[], positions?: number[], opts?: ForwardOptions): Promise<ForwardResult>;
  /** Empties the KV cache. */
  reset(): void;
  /** Keeps only the first n cached tokens (n ≤ length). */
  truncate(n: number): void;
  /** KV cache bytes per layer. */
  kvCache(): KvCacheBytes[];
  /**
   * Greedy decoding from a fresh cache with steps queued ahead on the device: yields the
   * prompt's next id, then one id per step. The cache then holds the prompt and every id
   * yielded but the last; steps queued past it are dropped (also on return()).
   */
  decodeGreedy?(promptIds: number[], opts: GreedyDecodeOptions): AsyncGenerator<number, GreedyDecodeEnd, void>;
  /** Attaches a LoRA adapter unmerged, replacing any previous one (undefined: none). Where capabilities.lora. */
  setLora?(adapter: LoraAdapter | undefined): void;
  /** Frees what the backend holds (buffers, WebAssembly memory). */
  dispose(): void;
}
