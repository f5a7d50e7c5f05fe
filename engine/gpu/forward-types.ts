/**
 * The data of a ForwardPlan (forward-plan.ts): its activation buffers, the dispatches built
 * once per layer and per forward, and what a forward's captures fill.
 */
import type { QueriesKeys, RouterChoice } from '../backend/contract';
import type { Dispatch } from './kernel';
import type { LinearOp } from './linear-op';

/** The activation buffers of a forward, sized for `rows` rows and `headRows` logits rows. */
export interface Act {
  rows: number; // activation row capacity
  headRows: number; // logits row capacity
  x: GPUBuffer; // [rows, D]
  h: GPUBuffer; // [max(rows, headRows), D]: normed rows
  qkv: GPUBuffer; // [rows, (H+2Kv)·hd]
  q: GPUBuffer; // [rows, H·hd]
  att: GPUBuffer; // [rows, H·hd]
  gu: GPUBuffer; // [max(rows,k), 2I]
  act: GPUBuffer; // [max(rows,k), I]
  Y: GPUBuffer; // MoE [E, rows, D] (dense) or [k, D] (sparse, decode)
  rl: GPUBuffer; // [rows, E]
  rIds: GPUBuffer; // [rows, k] u32
  rWk: GPUBuffer; // [rows, k]
  rWd: GPUBuffer; // [rows, E]
  rProbs: GPUBuffer; // [rows, E]
  loraTmp: GPUBuffer; // [rows, rMax]
  ids: GPUBuffer; // [rows] u32 tokens
  pos: GPUBuffer; // [rows] u32 positions
  cs: GPUBuffer; // [rows, hd] cos | sin
  kNew: GPUBuffer; // int8 cache: [rows, Kv, hd] this forward's keys before quantisation (else 1 float)
  vNew: GPUBuffer; // int8 cache: [rows, Kv, hd] values
  part: GPUBuffer; // [MATVEC_MAX_ROWS, H, maxSplit, hd + 2]
  logits: GPUBuffer; // [headRows, V]
  cand: GPUBuffer; // [G, TOPK_MAX, 2]
  res: GPUBuffer; // [TOPK_MAX, 2]
}

/** The dispatches of one layer. */
export interface LayerOps {
  attnNorm: Dispatch;
  qkv: LinearOp;
  /**
   * Decode (T ≤ MATVEC_MAX_ROWS) fusions, where the layer allows them: RMSNorm into the
   * q|k|v and gate|up matvecs, RoPE + the KV write after q|k|v (`qkvRope`: no rope
   * dispatch), SwiGLU after gate|up (`guAct`: no activation dispatch).
   */
  qkvF?: LinearOp;
  qkvRope?: boolean;
  guF?: LinearOp;
  guAct?: boolean;
  lora: { a: LinearOp; b: LinearOp }[]; // before rope (q, k, v)
  rope: Dispatch;
  /** int8 cache: quantises the forward's K and V rows (kNew, vNew) into the cache. */
  kvQuant?: Dispatch;
  rows: Dispatch;
  /** decode attention, the grouped-query kernel (when the model allows it) */
  rowsGqa?: Dispatch;
  combine: Dispatch;
  /** Prefill attention (GpuTuning.flashPrefill's kernel) and its grid for T rows. */
  flash: Dispatch;
  flashGrid: (T: number) => [number, number];
  o: LinearOp;
  oLora: { a: LinearOp; b: LinearOp }[];
  mlpNorm: Dispatch;
  gu?: LinearOp;
  /** Prefill (T > MATVEC_MAX_ROWS): gate|up with SwiGLU fused, normed rows → the down projection's x (no activation dispatch). */
  guMM?: LinearOp;
  guLora: { a: LinearOp; b: LinearOp }[];
  act?: Dispatch;
  down?: LinearOp;
  downLora: { a: LinearOp; b: LinearOp }[];
  router?: LinearOp;
  route?: Dispatch;
  expDense?: { gu: LinearOp; down: LinearOp }[];
  actDense?: Dispatch;
  combineDense?: Dispatch;
  expGuSparse?: LinearOp;
  actSparse?: Dispatch;
  expDownSparse?: LinearOp;
  combineSparse?: Dispatch;
}

/** Every dispatch of a forward. */
export interface Ops {
  embed: Dispatch[];
  posEmbed: Dispatch[];
  layers: LayerOps[];
  finalNorm: Dispatch;
  head: LinearOp;
  /** Decode: the final RMSNorm fused into the head matvec. */
  headF?: LinearOp;
  topkPartial: Dispatch;
  topkFinal: Dispatch;
}

/** What encodeForward captured: buffers to free after the read-back, and the arrays the read-backs fill. */
export interface ForwardCaptures {
  free: GPUBuffer[];
  attentions?: Float32Array[];
  residuals?: Float32Array[];
  finalHidden?: Float32Array;
  router?: RouterChoice[];
  qk?: QueriesKeys[];
}
