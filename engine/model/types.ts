/**
 * The engine's one description of a decoder-only transformer: architectures
 * are data (a table of options), not a fork per family. Every loader (HF
 * config.json + safetensors, GGUF, llama2.c .bin) produces a `LoadedModel` in
 * this shape, with tensors under the canonical names below.
 */
import type { RopeScaling } from '../ops/rope/rope';

// RoPE's scaling options belong to the op (ops/ imports nothing above it); the config names them.
export type { RopeScaling };
import type { RunnableFormatId } from '../formats/ids';

export type Architecture = 'llama' | 'qwen2' | 'qwen3' | 'mistral' | 'mixtral' | 'gpt2';

export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  /** Dense MLP width (or each expert's width for MoE). */
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Per-head width; may differ from hiddenSize / numHeads (Qwen3). */
  headDim: number;
  maxPositions: number;
  norm: { kind: 'rms' | 'layer'; eps: number };
  /** Learned absolute positions (GPT-2) or rotary embeddings. */
  positions: 'rope' | 'learned';
  rope?: {
    theta: number;
    scaling: RopeScaling;
    /**
     * Which dimensions rotate together. 'half' = HF/NeoX (i with i + d/2);
     * 'interleaved' = llama2.c / GPT-J / GGUF-llama (2i with 2i+1).
     * A loader may instead permute Q/K rows to 'half'; either way the math is the same.
     */
    style: 'half' | 'interleaved';
  };
  /** MLP: gated (SwiGLU: down(act(gate(x)) * up(x))) or plain (GPT-2: proj(act(fc(x)))). */
  mlp: 'gated' | 'plain';
  activation: 'silu' | 'gelu_new' | 'gelu';
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Qwen3: RMSNorm over each head of q and k before RoPE. */
  qkNorm: boolean;
  /** Mistral: attend to at most this many previous positions (inclusive of self), or undefined. */
  slidingWindow?: number;
  /**
   * Which layers use `slidingWindow` (Qwen2/Qwen3 `layer_types`, `max_window_layers`).
   * Absent: every layer does (when slidingWindow is set).
   */
  slidingWindowLayers?: boolean[];
  tieEmbeddings: boolean;
  moe?: { numExperts: number; topK: number; normTopKProb: boolean };
  bosTokenId?: number;
  eosTokenIds: number[];
  /**
   * Tokens that end greedy generation when the format says so explicitly
   * (llama2.c's run.c stops at BOS). Absent: `eosTokenIds`.
   */
  stopTokenIds?: number[];
}

/** A dense f32 tensor, row-major. Linear weights are [out, in] (HF nn.Linear layout). */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Canonical tensor names (HF Llama naming; other families are mapped to it on load):
 *   embed            model.embed_tokens.weight            [V, D]
 *   positions        model.embed_positions.weight         [P, D]      (learned positions only)
 *   layer i:
 *     model.layers.{i}.input_layernorm.weight / .bias     [D]         (.bias for LayerNorm)
 *     model.layers.{i}.self_attn.{q,k,v,o}_proj.weight    [out, in]
 *     model.layers.{i}.self_attn.{q,k,v,o}_proj.bias      [out]       (when present)
 *     model.layers.{i}.self_attn.{q,k}_norm.weight        [headDim]   (Qwen3)
 *     model.layers.{i}.post_attention_layernorm.weight / .bias
 *     model.layers.{i}.mlp.{gate,up,down}_proj.weight / .bias          (gated MLP)
 *     model.layers.{i}.mlp.{up,down}_proj.weight / .bias               (plain MLP: up=fc, down=proj)
 *     model.layers.{i}.mlp.router.weight                  [E, D]      (MoE)
 *     model.layers.{i}.mlp.experts.{e}.{gate,up,down}_proj.weight      (MoE)
 *   model.norm.weight / .bias                             [D]
 *   lm_head.weight                                        [V, D]      (absent when tied)
 */
export type WeightMap = Map<string, Tensor>;

export interface LoadedModel {
  config: ModelConfig;
  weights: WeightMap;
  /** Where it came from, for display: format and file(s), and the on-disk dtypes seen. */
  source: { format: RunnableFormatId; files: string[]; dtypes: string[] };
  /** An ONNX decoder (format onnx): the graph's bytes, run by the ort backend; `weights` is then empty. */
  onnx?: { file: string; bytes: Uint8Array; /** elements of the graph's initializers */ parameters: number };
}

/**
 * A tensor left in its file and read on demand, a range of rows at a time (row-major, rows
 * along shape[0]; a vector is one row). Device backends upload from it in bounded chunks,
 * so a model never needs a whole f32 copy on the host.
 */
export interface LazyTensor {
  shape: number[];
  /** The stored dtype as the file names it: F32, F16, BF16, Q8_0, … */
  dtype: string;
  /** Bytes the whole tensor takes in its file (load progress counts them). */
  byteSize: number;
  /** Rows [r0, r1) as f32: the values the eager loader gives (dequantised where stored quantised). */
  rowsF32(r0: number, r1: number): Promise<Float32Array>;
  /** Rows [r0, r1) as IEEE half bits: only for tensors stored as f16, the file's bytes unconverted. */
  rowsF16?(r0: number, r1: number): Promise<Uint16Array>;
}

/** Canonical name → lazy tensor (the names of WeightMap). */
export type LazyWeightMap = Map<string, LazyTensor>;

/** A model whose weights stay in their file(s) until read (LazyTensor); close() closes the file(s). */
export interface LazyModel {
  config: ModelConfig;
  lazy: LazyWeightMap;
  source: LoadedModel['source'];
  /** Bytes of every tensor in the file(s), for load progress. */
  totalBytes: number;
  close(): Promise<void>;
}
