/**
 * GpuModel: the transformer on WebGPU, every op a WGSL kernel (engine/ops/<op>/<op>.wgsl.ts),
 * with the CPU `Model`'s contract (engine/model/model.ts): forward(tokens, positions?, opts)
 * with a static KV cache, lastOnly, captures (attention probabilities, residuals, final
 * hidden, MoE router, KV bytes), greedy generation; plus GPU top-k so a decode step
 * reads back only what the sampler needs, and pipelined greedy decoding (the GPU argmax
 * feeds the next step's embedding directly; the host reads ids one step behind).
 *
 * Resources: weights uploaded once (f32, or f16 packed two per u32 and read as f16 with
 * `shader-f16` where the device has it, else unpacked; tensors larger than one storage
 * binding split by rows); the KV cache allocated once for the context length;
 * activations pooled for the largest T seen; pipelines and bind groups built once (again
 * only when the row capacity grows or a LoRA adapter changes). One command submission
 * per forward / decode step. Device loss and out-of-memory raise GpuError and free the
 * model's buffers.
 *
 * Usage (browser worker or Node with the `webgpu` package):
 *   const gpu = await openGpu(navigator.gpu);            // engine/gpu/probe.ts
 *   const m = await GpuModel.create(gpu.device, loaded, { contextLength: 2048, weights: 'f16' });
 *   const r = await m.forward(ids, undefined, { lastOnly: true, topK: 40, logits: false });
 *   for await (const rec of generate(m, { promptIds, maxNewTokens: 64 })) …   // engine/generate/
 *   m.destroy();
 */
import { ACT_ID, activationWgsl } from '../ops/activations/activations.wgsl';
import { canThrottle, throttledWait } from './map-wait';
import { ATTN_DECODE_SPLIT_MAX, ATTN_GQA_MAX_GROUP, ATTN_GQA_SPLIT_MAX, ATTN_SPLIT_MAX, attnCombineWgsl, attnDecodeGqaWgsl, attnDecodeWgsl, attnRowsWgsl } from '../ops/attention/attention-decode.wgsl';
import { attnFlashWgsl, attnProbsWgsl, flashTile } from '../ops/attention/attention.wgsl';
import { embeddingWgsl } from '../ops/embedding/embedding.wgsl';
import { layernormRowsWgsl } from '../ops/layernorm/layernorm.wgsl';
import { matmulWgsl, matvecRows, matvecShape, matvecSlots, matvecWgsl, MATMUL_TILE, type MatvecEpilogue, type MatvecPrologue, type MatvecShape } from '../ops/matmul/matmul.wgsl';
import { moeCombineWgsl, moeRouteWgsl } from '../ops/moe/moe.wgsl';
import { rmsnormRowsWgsl } from '../ops/rmsnorm/rmsnorm.wgsl';
import { ROPE_STYLE, ropeQkvWgsl } from '../ops/rope/rope.wgsl';
import { ropeCosSin, ropeInvFreq, type RopeParams } from '../ops/rope/rope';
import { TOPK_CHUNK, topkFinalWgsl, topkPartialWgsl } from '../ops/topk/topk.wgsl';
import type { Backend, BackendCapabilities, CaptureOptions, ForwardOptions, ForwardResult, GreedyDecodeEnd, GreedyDecodeOptions, KvCacheBytes, RouterChoice } from '../backend/contract';
import { checkedTruncate, kvCacheReport } from '../model/model';
import type { LoraAdapter } from '../model/lora';
import { validateWeights } from '../model/shapes';
import type { LoadedModel, ModelConfig, WeightMap } from '../model/types';
import { createStorage, Dispatch, grid2, packRows, PipelineCache } from './kernel';
import { M_FROM_HEAD, M_FROM_T, M_STATIC, packParams, STEP_FIELDS, type KernelSource, type StepValues } from '../wgsl/kernel-source';
import { rowStrideWords, type WeightDtype, type WeightRead } from '../wgsl/weight-read';

/** A GPU failure the caller can act on: device lost, out of memory, model destroyed. */
export class GpuError extends Error {
  constructor(
    message: string,
    readonly kind: 'device-lost' | 'out-of-memory' | 'validation' | 'destroyed',
  ) {
    super(message);
    this.name = 'GpuError';
  }
}

export interface GpuModelOptions {
  /** KV cache capacity in tokens (default: min(maxPositions, 2048)). */
  contextLength?: number;
  /** How linear weights and embedding tables live on the GPU (default f32). Norms, biases, LoRA stay f32. */
  weights?: WeightDtype;
  /** Split tensors above this many bytes per binding (default: the device's limit). Tests force splits with it. */
  maxBindingBytes?: number;
  /** Use subgroup reductions in the decode matvec (default: when the device has `subgroups`). */
  subgroups?: boolean;
  /** The device's largest subgroup size (default: the adapter's, else 128). */
  subgroupMaxSize?: number;
  /**
   * Read f16 weights as f16 with the `shader-f16` feature instead of unpacking u32 pairs
   * (default: when the device has the feature; the same numbers either way).
   */
  shaderF16?: boolean;
  /** Decode launch tuning (benchmarks): matvec shape by weight dtype, attention split policy. */
  tuning?: GpuTuning;
  /**
   * Node: wait on read-backs through `throttledWait` (engine/gpu/map-wait.ts), sleeping 0.2 ms
   * between event-loop turns, instead of letting Dawn poll every turn (default false; the
   * Node CLI and bench set it). Dawn's Node binding makes a fresh native callback per turn
   * while a map is pending; the garbage from a 2 048-token prefill's wait and from the waits
   * between decode blocks cost 10–60 ms of collector pauses and finalizer stalls per 128
   * decode steps on the H200. Needs a thread that may block (Node; not a browser's main thread).
   */
  throttleMapWait?: boolean;
}

export interface GpuTuning {
  /** Matvec launch shape for N rows of K values (undefined: the default). */
  matvec?: (K: number, dtype: WeightDtype, N: number) => MatvecShape | undefined;
  /** Decode attention: one split up to this many keys (default 256). */
  singleSplitKeys?: number;
  /** Decode attention: aim for about this many workgroups when splitting (default 512). */
  splitWorkgroups?: number;
  /**
   * Decode attention with the query heads of a KV head in one workgroup (attnDecodeGqa):
   * 'split' (default) when the keys are split, 'always', or 'off'.
   */
  gqaDecode?: 'off' | 'split' | 'always';
  /**
   * The grouped-query decode kernel: aim for about this many workgroups when splitting
   * (default 128: on the H200 at 2048 keys, 16 splits of 128 keys took 8.6 + 3.4 µs per layer
   * with the combine, against 9.6 + 4.9 for 32 and 9.4 + 3.3 for 8; engine/gpu/BENCH.md).
   */
  gqaSplitWorkgroups?: number;
  /** Decode: fuse the final RMSNorm into the head matvec (default false: measured slower on the H200). */
  fuseHeadNorm?: boolean;
}

/** The contract's forward options (kept as a name for callers of GpuModel). */
export type GpuForwardOptions = ForwardOptions;
export type GpuForwardResult = ForwardResult;

const MATVEC_MAX_ROWS = 4;
const TOPK_MAX = 256;

const GPU_CAPABILITIES: BackendCapabilities = {
  captures: { attentions: true, residuals: true, finalHidden: true, router: true, kvBytes: true },
  onDevice: { argmax: true, topK: TOPK_MAX, sampling: false },
  pipelinedGreedy: true,
  lora: true,
};
/** Decode slots whose input records are written at once (encodeDecodeInputs), each chunk once per model. */
const DECODE_BLOCK = 1024;
/** Most greedy decode steps whose ids are read back together (GpuModel.decodeGreedy). */
const DECODE_READ_BLOCK = 16;
/** GPU time a read-back block grows to (GpuModel.decodeGreedy), in ms: about a frame. */
const DECODE_BLOCK_MS = 16;
/**
 * Blocks a greedy decode keeps submitted past the last one read: when a block is read,
 * two more (≈ 32 ms of GPU work) are still queued while the host encodes the next, so a
 * host pause of 10–20 ms (Node's major collections) is less likely to run the queue dry
 * (with two blocks one did: a 14 ms gap on the GPU, engine/gpu/BENCH.md run 56).
 */
const DECODE_AHEAD_BLOCKS = 3;

interface DecodeBlock {
  n: number;
  staging: GPUBuffer;
  /** when its last step was submitted */
  submittedAt: number;
}

/** A [rows, cols] weight on the GPU, split by rows into parts of at most one binding each. */
interface GpuWeight {
  rows: number;
  cols: number;
  dtype: WeightDtype;
  rowStride: number; // u32 words per row
  parts: { buffer: GPUBuffer; rowStart: number; rows: number }[];
}

interface LinearSpec {
  w: GpuWeight;
  bias?: GPUBuffer;
  x: GPUBuffer;
  y: GPUBuffer;
  N: number;
  K: number;
  mSel: number;
  mFixed?: number;
  xRowStride: number;
  yRowStride: number;
  yOffset?: number;
  accumulate?: boolean;
  alpha?: number;
  wOffset?: number; // words
  expertStride?: number; // words
  ids?: GPUBuffer;
  matvecOnly?: boolean;
  /** Decode matvec prologue (RMSNorm with weight `nw` and `eps`) and epilogue (SwiGLU of gate|up, or RoPE + KV write). */
  pro?: MatvecPrologue;
  nw?: GPUBuffer;
  eps?: number;
  epi?: MatvecEpilogue;
  /** x row m is row headFirst + m (the head's rows of the residual stream). */
  xHead?: boolean;
  /** RoPE epilogue: the rotated-pair layout and where q, k, v go. */
  rope?: { H: number; Kv: number; hd: number; style: number; cs: GPUBuffer; q: GPUBuffer; kc: GPUBuffer; vc: GPUBuffer };
}

/** A linear layer prepared twice: matvec (few rows) and tiled matmul (prefill), per weight part. */
class LinearOp {
  private readonly mv: { d: Dispatch; groups: number }[] = [];
  private readonly mm: { d: Dispatch; N: number }[] = [];
  constructor(g: GpuModel, spec: LinearSpec) {
    if (spec.epi && spec.w.parts.length > 1) throw new RangeError('LinearOp: a matvec epilogue needs the weight in one binding');
    const shape = g.matvecShape(spec.K, spec.w.dtype, spec.N, spec.epi);
    for (const part of spec.w.parts) {
      const N = spec.w.parts.length > 1 ? part.rows : spec.N;
      const groups = Math.ceil(matvecSlots(N, spec.epi) / matvecRows(spec.K, spec.w.dtype, shape));
      const [gx] = grid2(groups);
      const values = {
        mSel: spec.mSel,
        mFixed: spec.mFixed ?? 0,
        N,
        K: spec.K,
        rowStride: spec.w.rowStride,
        wOffset: spec.wOffset ?? 0,
        xOffset: 0,
        xRowStride: spec.xRowStride,
        yOffset: (spec.yOffset ?? 0) + part.rowStart,
        yRowStride: spec.yRowStride,
        hasBias: spec.bias ? 1 : 0,
        accumulate: spec.accumulate ? 1 : 0,
        alpha: spec.alpha ?? 1,
        expertStride: spec.expertStride ?? 0,
        nGroupsX: gx,
        eps: spec.eps ?? 0,
        xHead: spec.xHead ? 1 : 0,
        half: spec.epi?.kind === 'act' ? spec.N / 2 : spec.rope ? (spec.rope.style === ROPE_STYLE.interleaved ? 1 : spec.rope.hd / 2) : 0,
        H: spec.rope?.H ?? 0,
        Kv: spec.rope?.Kv ?? 0,
        hd: spec.rope?.hd ?? 0,
        ropeStyle: spec.rope?.style ?? 0,
      };
      const r = spec.rope;
      const bufs = { x: spec.x, w: part.buffer, b: spec.bias ?? g.dummy, y: spec.y, ids: spec.ids ?? g.dummyU32, nw: spec.nw ?? g.dummy, ...(r ? { cs: r.cs, q: r.q, kc: r.kc, vc: r.vc } : {}) };
      const k = matvecWgsl(g.read(spec.w.dtype), g.subgroups, spec.K, { pro: spec.pro, epi: spec.epi, subgroupMaxSize: g.subgroupMaxSize, shape });
      const d = g.dispatch(k, values, bufs);
      d.note = `[${N}, ${spec.K}]`;
      this.mv.push({ d, groups });
      if (!spec.matvecOnly) this.mm.push({ d: g.dispatch(matmulWgsl(g.read(spec.w.dtype)), values, bufs), N });
    }
  }
  encode(pass: GPUComputePassEncoder, M: number): void {
    if (M <= MATVEC_MAX_ROWS || this.mm.length === 0) {
      for (const { d, groups } of this.mv) {
        const [gx, gy] = grid2(groups);
        d.encode(pass, gx, gy, M);
      }
    } else {
      for (const { d, N } of this.mm) d.encode(pass, Math.ceil(N / MATMUL_TILE), Math.ceil(M / MATMUL_TILE));
    }
  }
}

interface LoraOnGpu {
  A: GpuWeight; // [r, in]
  B: GpuWeight; // [out, r]
  r: number;
  scale: number;
}

interface LayerWeights {
  attnNorm: GPUBuffer;
  attnNormB?: GPUBuffer;
  mlpNorm: GPUBuffer;
  mlpNormB?: GPUBuffer;
  /**
   * The MLP's RMSNorm weight [D], when it is folded into the columns of gu (gu = W ⊙ w,
   * so RMSNorm(x)·w·Wᵀ = RMSNorm₁(x)·guᵀ, RMSNorm₁ without a weight): the fused gate|up
   * then reads no norm weight, which saved 3.5 µs of its 25 per layer at f16 on the H200
   * (engine/gpu/BENCH.md run 33). The MLP norm dispatch runs with a weight of ones, and a
   * LoRA A on gate or up is folded the same way. Dense RMSNorm MLPs without a norm bias.
   */
  mlpNormIn?: Float32Array;
  qkv: GpuWeight; // [(H + 2Kv)·hd, D]
  qkvBias?: GPUBuffer;
  o: GpuWeight;
  oBias?: GPUBuffer;
  qNorm?: GPUBuffer;
  kNorm?: GPUBuffer;
  gu?: GpuWeight; // gated: [2I, D] (gate | up); plain: up [I, D]
  guBias?: GPUBuffer;
  down?: GpuWeight; // [D, I]
  downBias?: GPUBuffer;
  router?: GpuWeight; // [E, D]
  expGu?: GpuWeight; // [E·2I, D]
  expDown?: GpuWeight; // [E·D, I]
  kc: GPUBuffer; // [ctx, Kv, hd]
  vc: GPUBuffer; // [ctx, Kv, hd]
  window: number; // 0 = none
  lora: Map<string, LoraOnGpu>; // q, k, v, o, gate, up, down
}

interface Act {
  rows: number; // activation row capacity
  headRows: number; // logits row capacity
  x: GPUBuffer; // [rows, D]
  h: GPUBuffer; // [rows, D]
  qkv: GPUBuffer; // [rows, (H+2Kv)·hd]
  q: GPUBuffer; // [rows, H·hd]
  att: GPUBuffer; // [rows, H·hd]
  gu: GPUBuffer; // [max(rows,k), 2I]
  act: GPUBuffer; // [max(rows,k), I]
  Y: GPUBuffer; // MoE [E, rows, D]
  rl: GPUBuffer; // [rows, E]
  rIds: GPUBuffer; // [rows, k] u32
  rWk: GPUBuffer; // [rows, k]
  rWd: GPUBuffer; // [rows, E]
  rProbs: GPUBuffer; // [rows, E]
  loraTmp: GPUBuffer; // [rows, rMax]
  ids: GPUBuffer; // [rows] u32 tokens
  pos: GPUBuffer; // [rows] u32 positions
  cs: GPUBuffer; // [rows, hd] cos | sin
  part: GPUBuffer; // [MATVEC_MAX_ROWS, H, maxSplit, hd + 2]
  logits: GPUBuffer; // [headRows, V]
  cand: GPUBuffer; // [G, TOPK_MAX, 2]
  res: GPUBuffer; // [TOPK_MAX, 2]
}

interface LayerOps {
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
  rows: Dispatch;
  /** decode attention, the grouped-query kernel (when the model allows it) */
  rowsGqa?: Dispatch;
  combine: Dispatch;
  flash: Dispatch;
  o: LinearOp;
  oLora: { a: LinearOp; b: LinearOp }[];
  mlpNorm: Dispatch;
  gu?: LinearOp;
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

interface Ops {
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

export class GpuModel implements Backend {
  readonly id = 'webgpu' as const;
  readonly config: ModelConfig;
  readonly contextLength: number;
  readonly weightDtype: WeightDtype;
  readonly subgroups: boolean;
  readonly subgroupMaxSize: number;
  /** f16 weights are read with `shader-f16` (GpuModelOptions.shaderF16). */
  readonly shaderF16: boolean;
  private readonly tuning: GpuTuning;
  /** Bytes of weights read by one decode step (every layer + the head), for roofline figures. */
  readonly decodeWeightBytes: number;
  /** @internal */ readonly dummy: GPUBuffer;
  /** @internal */ readonly dummyU32: GPUBuffer;
  private readonly cache: PipelineCache;
  private readonly step: GPUBuffer;
  private readonly owned: GPUBuffer[] = [];
  private readonly layers: LayerWeights[] = [];
  private readonly embed: GpuWeight;
  private readonly posEmbed?: GpuWeight;
  private readonly finalNorm: GPUBuffer;
  private readonly finalNormB?: GPUBuffer;
  private readonly head: GpuWeight;
  private readonly ropeParams?: RopeParams;
  private readonly staticInvFreq?: Float64Array;
  private readonly maxBinding: number;
  private readonly maxSplit: number;
  private act?: Act;
  private ops?: Ops;
  private dispatches: Dispatch[] = [];
  private staging = new Map<number, GPUBuffer[]>();
  /** Decode-step input records for every slot, and which DECODE_BLOCK chunks are written (encodeDecodeInputs). */
  private decodeTable?: { buffer: GPUBuffer; written: Set<number> };
  private len = 0;
  /** Host time spent encoding and submitting pipelined decode steps (benchmarks read it). */
  readonly stats = { encodeMs: 0, steps: 0, dispatchesPerStep: 0, waitMs: 0, firstSubmitAt: 0, lastReadAt: 0, longSubmitAt: 0, longReadAt: 0 };
  /**
   * @internal benchmark diagnosis: when set, each decode step's forward pass writes its
   * start and end GPU timestamps at 2i, 2i + 1 of `set` (i = `n`, counted up to `cap`).
   */
  stepTimestamps?: { set: GPUQuerySet; n: number; cap: number };

  private readonly throttleMapWait: boolean;
  /** GPU ms per decode step measured by the last generate (0: none yet); sizes the next one's first run-ahead. */
  private lastStepMs = 0;
  private lost?: string;
  private destroyed = false;
  private busy = false;

  private constructor(
    readonly device: GPUDevice,
    loaded: LoadedModel | { config: ModelConfig; weights: WeightMap },
    opts: GpuModelOptions,
  ) {
    const c = loaded.config;
    this.config = c;
    validateWeights(c, loaded.weights, 'source' in loaded ? loaded.source.files.join(', ') : 'weights');
    const ctx = opts.contextLength ?? Math.min(c.maxPositions, 2048);
    if (!Number.isSafeInteger(ctx) || ctx < 1) throw new RangeError(`contextLength ${ctx} must be a positive integer`);
    if (c.positions === 'learned' && ctx > c.maxPositions) throw new RangeError(`contextLength ${ctx} exceeds the ${c.maxPositions} learned positions`);
    if (c.headDim > 512 || c.headDim % 2) throw new RangeError(`GpuModel: head dim ${c.headDim} is not supported (even, ≤ 512)`);
    this.contextLength = ctx;
    this.weightDtype = opts.weights ?? 'f32';
    this.subgroups = opts.subgroups ?? device.features.has('subgroups');
    this.subgroupMaxSize = opts.subgroupMaxSize ?? (device as GPUDevice & { adapterInfo?: { subgroupMaxSize?: number } }).adapterInfo?.subgroupMaxSize ?? 128;
    this.shaderF16 = this.weightDtype === 'f16' && (opts.shaderF16 ?? device.features.has('shader-f16'));
    if (this.shaderF16 && !device.features.has('shader-f16')) throw new RangeError('GpuModel: shaderF16 asked for, but the device was created without the shader-f16 feature');
    this.tuning = opts.tuning ?? {};
    this.throttleMapWait = (opts.throttleMapWait ?? false) && canThrottle();
    this.maxBinding = Math.min(opts.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.maxSplit = Math.ceil(ctx / 32) + 1;
    this.cache = new PipelineCache(device);
    this.step = device.createBuffer({ label: 'step', size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.dummy = this.own(createStorage(device, 16, 'dummy'));
    this.dummyU32 = this.own(createStorage(device, 16, 'dummy-u32'));
    device.lost.then((info) => {
      this.lost = `the WebGPU device was lost (${info.reason}): ${info.message || 'no details'}`;
    });

    const W = (n: string) => loaded.weights.get(n)!;
    const vec = (n: string) => this.own(createStorage(device, W(n).data, n));
    const opt = (n: string) => (loaded.weights.has(n) ? vec(n) : undefined);
    const D = c.hiddenSize;
    const H = c.numHeads;
    const Kv = c.numKvHeads;
    const hd = c.headDim;
    const I = c.intermediateSize;
    const dt = this.weightDtype;
    const cat = (names: string[]) => {
      const ts = names.map(W);
      const out = new Float32Array(ts.reduce((a, t) => a + t.data.length, 0));
      let o = 0;
      for (const t of ts) {
        out.set(t.data, o);
        o += t.data.length;
      }
      return out;
    };
    let wBytes = 0;
    const lin = (data: Float32Array, rows: number, cols: number, label: string, count = true) => {
      const w = this.weight(data, rows, cols, dt, label);
      if (count) wBytes += rows * w.rowStride * 4;
      return w;
    };
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      const a = `${p}self_attn.`;
      const L: LayerWeights = {
        attnNorm: vec(`${p}input_layernorm.weight`),
        attnNormB: opt(`${p}input_layernorm.bias`),
        mlpNorm: vec(`${p}post_attention_layernorm.weight`),
        mlpNormB: opt(`${p}post_attention_layernorm.bias`),
        qkv: lin(cat([`${a}q_proj.weight`, `${a}k_proj.weight`, `${a}v_proj.weight`]), (H + 2 * Kv) * hd, D, `${p}qkv`),
        qkvBias: c.qkvBias ? this.own(createStorage(device, cat([`${a}q_proj.bias`, `${a}k_proj.bias`, `${a}v_proj.bias`]), `${p}qkv.bias`)) : undefined,
        o: lin(W(`${a}o_proj.weight`).data, D, H * hd, `${a}o_proj`),
        oBias: opt(`${a}o_proj.bias`),
        qNorm: c.qkNorm ? vec(`${a}q_norm.weight`) : undefined,
        kNorm: c.qkNorm ? vec(`${a}k_norm.weight`) : undefined,
        kc: this.own(createStorage(device, ctx * Kv * hd * 4, `${p}k_cache`)),
        vc: this.own(createStorage(device, ctx * Kv * hd * 4, `${p}v_cache`)),
        window: c.slidingWindow !== undefined && (c.slidingWindowLayers?.[i] ?? true) ? c.slidingWindow : 0,
        lora: new Map(),
      };
      const m = `${p}mlp.`;
      // a dense RMSNorm MLP gets its norm weight folded into gate|up (LayerWeights.mlpNormIn)
      if (!c.moe && c.norm.kind === 'rms' && !L.mlpNormB) L.mlpNormIn = W(`${p}post_attention_layernorm.weight`).data;
      if (c.moe) {
        const E = c.moe.numExperts;
        L.router = lin(W(`${m}router.weight`).data, E, D, `${m}router`);
        const gu: string[] = [];
        const dn: string[] = [];
        for (let e = 0; e < E; e++) {
          gu.push(`${m}experts.${e}.gate_proj.weight`, `${m}experts.${e}.up_proj.weight`);
          dn.push(`${m}experts.${e}.down_proj.weight`);
        }
        L.expGu = lin(cat(gu), E * 2 * I, D, `${m}experts.gate_up`, false);
        L.expDown = lin(cat(dn), E * D, I, `${m}experts.down`, false);
        // a decode step reads k of the E experts
        wBytes += (c.moe.topK * (2 * I * L.expGu.rowStride + D * L.expDown.rowStride)) * 4;
      } else if (c.mlp === 'gated') {
        L.gu = lin(foldColumns(cat([`${m}gate_proj.weight`, `${m}up_proj.weight`]), D, L.mlpNormIn, true), 2 * I, D, `${m}gate_up`);
        if (c.mlpBias) L.guBias = this.own(createStorage(device, cat([`${m}gate_proj.bias`, `${m}up_proj.bias`]), `${m}gate_up.bias`));
        L.down = lin(W(`${m}down_proj.weight`).data, D, I, `${m}down_proj`);
        L.downBias = opt(`${m}down_proj.bias`);
      } else {
        L.gu = lin(foldColumns(W(`${m}up_proj.weight`).data, D, L.mlpNormIn), I, D, `${m}up_proj`);
        L.guBias = opt(`${m}up_proj.bias`);
        L.down = lin(W(`${m}down_proj.weight`).data, D, I, `${m}down_proj`);
        L.downBias = opt(`${m}down_proj.bias`);
      }
      this.layers.push(L);
    }
    this.embed = this.weight(W('model.embed_tokens.weight').data, c.vocabSize, D, dt, 'embed');
    this.posEmbed = c.positions === 'learned' ? this.weight(W('model.embed_positions.weight').data, c.maxPositions, D, 'f32', 'positions') : undefined;
    this.finalNorm = vec('model.norm.weight');
    this.finalNormB = opt('model.norm.bias');
    this.head = c.tieEmbeddings ? this.embed : this.weight(W('lm_head.weight').data, c.vocabSize, D, dt, 'lm_head');
    wBytes += c.vocabSize * this.head.rowStride * 4;
    this.decodeWeightBytes = wBytes;
    if (c.positions === 'rope') {
      if (!c.rope) throw new RangeError('rotary positions without rope settings');
      this.ropeParams = { rotaryDim: hd, theta: c.rope.theta, scaling: c.rope.scaling, maxPositions: c.maxPositions };
      if (c.rope.scaling.type !== 'dynamic') this.staticInvFreq = ropeInvFreq(this.ropeParams);
    }
  }

  /**
   * Uploads the weights, allocates the KV cache and builds the pipelines. Rejects with
   * GpuError('out-of-memory') (everything freed) when the device cannot hold the model.
   */
  static async create(device: GPUDevice, loaded: LoadedModel | { config: ModelConfig; weights: WeightMap }, opts: GpuModelOptions = {}): Promise<GpuModel> {
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let m: GpuModel | undefined;
    let thrown: unknown;
    try {
      m = new GpuModel(device, loaded, opts);
      m.ensureCapacity(1, 1);
    } catch (e) {
      thrown = e;
    }
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (thrown || validation || oom) {
      m?.destroy();
      if (oom) throw new GpuError(`GpuModel: out of GPU memory while uploading the model (${oom.message})`, 'out-of-memory');
      if (thrown) throw thrown;
      throw new GpuError(`GpuModel: WebGPU validation failed while building the model: ${validation!.message}`, 'validation');
    }
    return m!;
  }

  /** Tokens held in the KV cache. */
  get length(): number {
    return this.len;
  }

  /** Empties the KV cache. */
  reset(): void {
    this.len = 0;
  }

  /** Keeps only the first n cached tokens (n ≤ length). */
  truncate(n: number): void {
    this.len = checkedTruncate(n, this.len);
  }

  /** KV cache bytes per layer: K and V, f32, [ctx, nKvHeads, headDim] each. */
  kvCacheBytes(): KvCacheBytes[] {
    return kvCacheReport(this.config, this.contextLength, this.len);
  }

  /** The contract's KV cache report (the same as kvCacheBytes). */
  kvCache(): KvCacheBytes[] {
    return kvCacheReport(this.config, this.contextLength, this.len);
  }

  /** Attaches a LoRA adapter unmerged (y += scale·(x·Aᵀ)·Bᵀ); replaces any previous one. */
  setLora(adapter: LoraAdapter | undefined): void {
    this.alive();
    for (const L of this.layers) {
      for (const l of L.lora.values()) for (const w of [l.A, l.B]) for (const p of w.parts) p.buffer.destroy();
      L.lora.clear();
    }
    for (const t of adapter?.targets ?? []) {
      const m = /^model\.layers\.(\d+)\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.weight$/.exec(t.canonical);
      if (!m) throw new RangeError(`GpuModel: LoRA on ${t.canonical} is not supported on the GPU path (only attention and dense MLP projections)`);
      const L = this.layers[Number(m[1])];
      if (!L || (this.config.moe && m[2] === 'mlp')) throw new RangeError(`GpuModel: LoRA target ${t.canonical} is not a linear layer of this model`);
      const out = t.B.length / t.r;
      const inn = t.A.length / t.r;
      const A = (m[3] === 'gate' || m[3] === 'up') && L.mlpNormIn ? foldColumns(t.A, inn, L.mlpNormIn) : t.A; // reads RMSNorm₁(x), as gu does
      L.lora.set(m[3], { A: this.weight(A, t.r, inn, 'f32', `${t.canonical}.lora_A`), B: this.weight(t.B, out, t.r, 'f32', `${t.canonical}.lora_B`), r: t.r, scale: t.scale });
    }
    if (this.act) {
      // the LoRA scratch is sized by the largest rank: reallocate the activations
      const { rows, headRows } = this.act;
      this.freeActivations();
      this.ensureCapacity(rows, headRows);
    }
  }

  /** For people: which path runs and how the weights are read. */
  get label(): string {
    return `WebGPU, ${this.weightDtype} weights${this.weightDtype === 'f16' ? (this.shaderF16 ? ' (shader-f16)' : ' (unpacked from u32)') : ''}`;
  }

  get capabilities(): BackendCapabilities {
    return GPU_CAPABILITIES;
  }

  /** The contract's dispose: destroy(). */
  dispose(): void {
    this.destroy();
  }

  /** Frees every buffer of this model (the device stays open). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.freeActivations();
    for (const L of this.layers) for (const l of L.lora.values()) for (const w of [l.A, l.B]) for (const p of w.parts) p.buffer.destroy();
    for (const b of this.owned) b.destroy();
    this.step.destroy();
    this.owned.length = 0;
  }

  // ------------------------------------------------------------------ forward

  /**
   * Runs `tokens` at the next cache slots (positions default to the slots). Returns logits
   * [T, V] (or [1, V] with lastOnly; empty with logits: false), `top` with topK, and the
   * captures asked for. One submission; awaits the readback.
   */
  /** Marks the model busy for one forward or generate; throws if it is lost, destroyed or already busy. */
  private claim(): void {
    this.alive();
    if (this.busy) throw new Error('GpuModel: another forward is still running (await it first)');
    this.busy = true;
  }

  async forward(tokens: number[], positions?: number[], opts: GpuForwardOptions = {}): Promise<GpuForwardResult> {
    this.claim();
    try {
      return await this.forwardInner(tokens, positions, opts);
    } finally {
      this.busy = false;
    }
  }

  /** `onSubmitted`: called once the forward is submitted, before its read-back is awaited (generate queues decode steps behind it). */
  private async forwardInner(tokens: number[], positions: number[] | undefined, opts: GpuForwardOptions, onSubmitted?: () => void): Promise<GpuForwardResult> {
    const c = this.config;
    const T = tokens.length;
    if (T === 0) throw new RangeError('forward: no tokens');
    const start = this.len;
    if (start + T > this.contextLength) throw new RangeError(`forward: ${start} cached + ${T} new tokens exceed the context length ${this.contextLength}`);
    const pos = positions ?? Array.from({ length: T }, (_, i) => start + i); // [T]
    if (pos.length !== T || !pos.every((p) => Number.isSafeInteger(p) && p >= 0)) throw new RangeError('forward: positions must be T non-negative integers');
    tokens.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new RangeError(`embedding: id ${id} at ${t} is outside [0, ${c.vocabSize})`);
    });
    if (this.posEmbed) pos.forEach((p, t) => {
      if (p >= c.maxPositions) throw new RangeError(`embeddingAdd: index ${p} at ${t} is outside [0, ${c.maxPositions})`);
    });
    const k = opts.topK ?? 0;
    if (!Number.isInteger(k) || k < 0 || k > Math.min(TOPK_MAX, c.vocabSize)) throw new RangeError(`topK must be an integer in [0, ${Math.min(TOPK_MAX, c.vocabSize)}]`);
    const cap = opts.capture ?? {};
    const rows = opts.lastOnly ? 1 : T;
    const wantLogits = opts.logits ?? true;
    this.ensureCapacity(T, rows);
    this.writeInputs(tokens, pos);
    this.writeStep(T, start, rows);
    const act = this.act!;
    const enc = this.device.createCommandEncoder();
    const reads: { src: GPUBuffer; size: number; then: (b: ArrayBuffer) => void }[] = [];
    const captures = this.encodeForward(enc, T, start, rows, cap, reads);
    if (k > 0) this.encodeTopK(enc, k);
    const V = c.vocabSize;
    const result: GpuForwardResult = { logits: new Float32Array(0), rows, vocab: V, start, keys: start + T };
    if (wantLogits) reads.push({ src: act.logits, size: rows * V * 4, then: (b) => (result.logits = new Float32Array(b)) });
    if (k > 0) reads.push({ src: act.res, size: k * 8, then: (b) => (result.top = decodeTop(b, k)) });
    // bench diagnosis: when a long forward went in and when its read-back came
    const long = T >= 64;
    await this.submitAndRead(enc, reads, () => {
      if (long) this.stats.longSubmitAt = performance.now();
      onSubmitted?.();
    });
    if (long) this.stats.longReadAt = performance.now();
    for (const b of captures.free) b.destroy();
    this.len = start + T;
    if (captures.attentions) result.attentions = captures.attentions;
    if (captures.residuals) result.residuals = captures.residuals;
    if (captures.finalHidden) result.finalHidden = captures.finalHidden;
    if (captures.router) result.router = captures.router;
    if (cap.kvBytes) result.kvBytes = this.kvCacheBytes();
    return result;
  }

  /**
   * Greedy decoding from a fresh cache (the contract's decodeGreedy): prefill, then one
   * token at a time. The GPU argmax writes each id where the next step's embedding reads
   * it, so the host runs ahead of the GPU: it submits each step as soon as it is encoded,
   * keeps up to `ahead` steps past the last id it has read, and reads the ids back a block
   * of steps at a time (one mapped buffer per block). The first steps are queued right
   * behind the prefill, before its id is read. When the consumer stops (return()), the
   * steps queued past its last id are dropped from the cache.
   *
   * Why blocks: a host pause (in Node, a garbage collection of 10–25 ms) empties a queue
   * two steps deep (engine/gpu/BENCH.md, "Reading ids back in blocks"). By default the
   * block grows, once the step time is known, to about DECODE_BLOCK_MS of GPU work (at most
   * DECODE_READ_BLOCK steps), with DECODE_AHEAD_BLOCKS blocks queued: ids still reach the
   * consumer within a few frames.
   */
  async *decodeGreedy(promptIds: number[], opts: GreedyDecodeOptions): AsyncGenerator<number, GreedyDecodeEnd, void> {
    const maxNew = opts.maxNew;
    if (!Number.isSafeInteger(maxNew) || maxNew < 1) throw new RangeError(`decodeGreedy: maxNew must be a positive integer, got ${maxNew}`);
    this.claim();
    this.reset();
    const maxK = Math.max(1, Math.floor(opts.block ?? DECODE_READ_BLOCK));
    let K = opts.block === undefined ? 1 : maxK; // steps per block (grows with the measured step time unless set)
    // steps submitted past the last block read: DECODE_AHEAD_BLOCKS blocks once this run's step time is known; before,
    // about two blocks' time at the last run's step time (2…DECODE_READ_BLOCK steps; 4 on a model's first run), so
    // a stop right after the prefill leaves little speculative work queued on a slow device
    const first = this.lastStepMs > 0 ? Math.min(DECODE_READ_BLOCK, Math.max(2, Math.floor((2 * DECODE_BLOCK_MS) / this.lastStepMs))) : 4;
    const ahead = () => Math.max(K, Math.floor(opts.ahead ?? (stepMs > 0 ? DECODE_AHEAD_BLOCKS * K : first)));
    // staging buffers: unread blocks hold at most `ahead` steps (one or more each), plus the open one
    const ringSize = Math.max(maxK, Math.floor(opts.ahead ?? Math.max(DECODE_READ_BLOCK, DECODE_AHEAD_BLOCKS * maxK))) + 2;
    const base = promptIds.length; // the prefill fills slots [0, base)
    const limit = Math.min(this.contextLength, base + maxNew - 1); // slots that may be submitted: [base, limit)
    let cached = 0; // slots whose tokens are final (the prefill's once it has run)
    let submitted = base; // next slot to submit
    let ring = 0;
    const ready: number[] = []; // ids read back, not yet handed out
    const blocks: DecodeBlock[] = []; // submitted, not yet read
    let open: DecodeBlock | undefined; // being filled
    let stepMs = 0; // GPU ms per step, measured between back-to-back blocks (0: unknown)
    let lastDone = 0; // when the last block read was found done
    const submitAhead = () => {
      while (submitted < limit && submitted - cached < ahead()) {
        if (!open) open = { n: 0, staging: this.stagingBuffer(maxK * 8, ring++ % ringSize), submittedAt: 0 };
        this.submitDecodeStep(submitted++, open.staging, open.n++ * 8);
        open.submittedAt = performance.now();
        if (submitted === base + 1) this.stats.firstSubmitAt = open.submittedAt;
        if (open.n >= K) {
          blocks.push(open);
          open = undefined;
        }
      }
      if (open && (submitted === limit || submitted - cached >= ahead())) {
        blocks.push(open);
        open = undefined;
      }
    };
    const readBlock = async () => {
      const b = blocks.shift()!;
      const queuedBefore = lastDone > 0 && b.submittedAt < lastDone; // the GPU went from the last block straight on to this one
      const w0 = performance.now();
      try {
        await this.mapped(b.staging.mapAsync(GPUMapMode.READ, 0, b.n * 8));
      } catch (e) {
        throw this.failure(e);
      }
      const now = performance.now();
      this.stats.waitMs += now - w0;
      this.stats.lastReadAt = now;
      const words = new Uint32Array(b.staging.getMappedRange(0, b.n * 8)); // [n]: (value, id)
      for (let i = 0; i < b.n; i++) ready.push(words[2 * i + 1]);
      b.staging.unmap();
      if (queuedBefore) {
        const ms = (now - lastDone) / b.n;
        stepMs = stepMs > 0 ? 0.7 * stepMs + 0.3 * ms : ms;
        if (opts.block === undefined) K = Math.max(1, Math.min(maxK, Math.floor(DECODE_BLOCK_MS / stepMs)));
      }
      lastDone = now;
    };
    try {
      // the prefill's argmax feeds the first decode step on the GPU: queue steps behind it before reading its id
      // (the GPU goes from the prefill into decode with no host round trip; a host stall there is covered)
      const prefill = await this.forwardInner(promptIds, undefined, { lastOnly: true, topK: 1, logits: false }, () => {
        cached = base;
        submitAhead();
      });
      let id = prefill.top!.ids[0];
      let n = 0;
      for (;;) {
        yield id;
        n++;
        if (n >= maxNew) return 'length';
        if (cached >= this.contextLength) return 'context';
        if (!ready.length) {
          submitAhead();
          await readBlock();
          submitAhead();
        }
        id = ready.shift()!;
        cached++;
      }
    } finally {
      this.len = cached;
      if (stepMs > 0) this.lastStepMs = stepMs;
      this.busy = false;
    }
  }

  /**
   * Encodes and submits the decode step at slot `slot` (its token already in ids[0],
   * written by the previous argmax); its argmax (value, id) is copied to `staging` at `at`.
   */
  private submitDecodeStep(slot: number, staging: GPUBuffer, at: number): void {
    this.alive();
    const t0 = performance.now();
    const n0 = Dispatch.encoded;
    const enc = this.device.createCommandEncoder();
    this.encodeDecodeStep(enc, slot);
    enc.copyBufferToBuffer(this.act!.res, 0, staging, at, 8);
    this.device.queue.submit([enc.finish()]);
    this.stats.encodeMs += performance.now() - t0;
    this.stats.steps++;
    this.stats.dispatchesPerStep = Dispatch.encoded - n0;
  }

  /**
   * @internal benchmark: the dispatches of one decode step at `slot` (inputs written,
   * nothing submitted), for timing each kernel on its own.
   */
  traceDecodeStep(slot: number): { d: Dispatch; grid: [number, number, number] }[] {
    this.alive();
    const trace: { d: Dispatch; grid: [number, number, number] }[] = [];
    const enc = this.device.createCommandEncoder();
    this.encodeDecodeInputs(enc, slot);
    this.device.queue.submit([enc.finish()]); // the step's inputs stay for the profile
    Dispatch.trace = trace;
    try {
      const enc = this.device.createCommandEncoder();
      this.encodeForward(enc, 1, slot, 1, {}, []);
      this.encodeTopK(enc, 1);
      enc.finish();
    } finally {
      Dispatch.trace = undefined;
    }
    return trace;
  }

  /**
   * @internal benchmark: where a decode step's time goes at slot `slot`: host ms to
   * encode + finish its commands and to submit them, and GPU ms per step when `n` steps
   * run chained in one submission (no host in the way; a 1-step chain's round trip
   * taken out).
   */
  async profileHost(slot: number, n: number): Promise<{ encodeMs: number; submitMs: number; gpuMs: number }> {
    this.alive();
    const encodeSteps = (enc: GPUCommandEncoder, k: number) => {
      for (let i = 0; i < k; i++) this.encodeDecodeStep(enc, slot);
    };
    let t = performance.now();
    for (let i = 0; i < n; i++) {
      const enc = this.device.createCommandEncoder();
      encodeSteps(enc, 1);
      enc.finish();
    }
    const encodeMs = (performance.now() - t) / n;
    let submitMs = 0;
    for (let i = 0; i < n; i++) {
      const enc = this.device.createCommandEncoder();
      encodeSteps(enc, 1);
      const cb = enc.finish();
      t = performance.now();
      this.device.queue.submit([cb]);
      submitMs += performance.now() - t;
      await this.device.queue.onSubmittedWorkDone();
    }
    const chain = async (k: number) => {
      const enc = this.device.createCommandEncoder();
      encodeSteps(enc, k);
      const cb = enc.finish();
      const t0 = performance.now();
      this.device.queue.submit([cb]);
      await this.device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    await chain(1);
    const gpuMs = ((await chain(n)) - (await chain(1))) / (n - 1);
    return { encodeMs, submitMs: submitMs / n, gpuMs };
  }

  // ------------------------------------------------------------------ internals

  private alive(): void {
    if (this.lost) throw new GpuError(`GpuModel: ${this.lost}`, 'device-lost');
    if (this.destroyed) throw new GpuError('GpuModel: this model was destroyed', 'destroyed');
  }

  private failure(e: unknown): Error {
    if (this.lost) {
      this.destroy();
      return new GpuError(`GpuModel: ${this.lost}; the model's GPU resources were freed`, 'device-lost');
    }
    return e instanceof Error ? e : new Error(String(e));
  }

  private own(b: GPUBuffer): GPUBuffer {
    this.owned.push(b);
    return b;
  }

  private onesBuf?: GPUBuffer;
  /** [D] ones: the weight of a norm whose own weight is folded into the next matrix. */
  private ones(): GPUBuffer {
    return (this.onesBuf ??= this.own(createStorage(this.device, new Float32Array(this.config.hiddenSize).fill(1), 'ones')));
  }

  /** How kernels read a weight stored as `dtype` (f16 with `shader-f16` when the model uses it). */
  read(dtype: WeightDtype): WeightRead {
    return dtype === 'f16' && this.shaderF16 ? 'f16h' : dtype;
  }

  /** @internal the decode matvec's launch shape for rows of K values. */
  matvecShape(K: number, dtype: WeightDtype, N: number, epi?: MatvecEpilogue): MatvecShape {
    const t = this.tuning.matvec?.(K, dtype, N);
    return t && (!epi || t.R % 4 === 0) ? t : matvecShape(K, dtype, epi);
  }

  /** @internal */
  dispatch(k: KernelSource, values: Record<string, number>, buffers: Record<string, GPUBuffer>): Dispatch {
    const d = new Dispatch(this.device, this.cache, k, this.step, values, buffers);
    this.dispatches.push(d);
    return d;
  }


  private weight(data: Float32Array, rows: number, cols: number, dtype: WeightDtype, label: string): GpuWeight {
    const rowStride = rowStrideWords(cols, dtype);
    const rowBytes = rowStride * 4;
    let per = Math.max(1, Math.floor(this.maxBinding / rowBytes));
    if (per < rows) per = Math.max(1, per - (per % 8));
    const parts: GpuWeight['parts'] = [];
    for (let r0 = 0; r0 < rows; r0 += per) {
      const r1 = Math.min(rows, r0 + per);
      parts.push({ buffer: this.own(createStorage(this.device, packRows(data, cols, r0, r1, dtype), `${label}[${r0}:${r1}]`)), rowStart: r0, rows: r1 - r0 });
    }
    return { rows, cols, dtype, rowStride, parts };
  }

  private stagingBuffer(size: number, slot: number): GPUBuffer {
    let list = this.staging.get(size);
    if (!list) this.staging.set(size, (list = []));
    while (list.length <= slot) list.push(this.device.createBuffer({ label: `staging ${size}`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    return list[slot];
  }

  /** The decode attention kernel is the vectorised one (head width a multiple of 4). */
  private get vecAttn(): boolean {
    return this.config.headDim % 4 === 0;
  }

  /** The grouped-query decode kernel (attnDecodeGqa) can run this model: 2–4 query heads per KV head, vec4 heads ≤ 128 wide. */
  private get gqaAttn(): boolean {
    const c = this.config;
    const G = c.numHeads / c.numKvHeads;
    return (this.gqaOk ??= this.vecAttn && (this.tuning.gqaDecode ?? 'split') !== 'off' && Number.isInteger(G) && G >= 2 && G <= ATTN_GQA_MAX_GROUP && c.headDim <= 128 && 256 % (c.headDim / 4) === 0);
  }
  private gqaOk?: boolean;

  /**
   * Split-K for decode attention: one split up to `singleSplitKeys` keys (no combine
   * pass), else about `splitWorkgroups` workgroups of at least 64 keys each; `gqa`: the
   * grouped-query kernel runs it (split contexts by default, grid (Kv, T, nSplit), about
   * `gqaSplitWorkgroups` workgroups of 64–256 keys).
   */
  private splitKeys(Tk: number, T: number): { nSplit: number; splitLen: number; gqa: boolean } {
    const H = this.config.numHeads;
    const max = this.vecAttn ? ATTN_DECODE_SPLIT_MAX : ATTN_SPLIT_MAX;
    const single = Math.min(max, this.tuning.singleSplitKeys ?? 256);
    const gqa = this.gqaAttn;
    if (Tk <= single) {
      const always = gqa && this.tuning.gqaDecode === 'always' && Tk <= ATTN_GQA_SPLIT_MAX;
      return { nSplit: 1, splitLen: always ? ATTN_GQA_SPLIT_MAX : single, gqa: always };
    }
    // workgroups per split: one per head, or one per KV head (gqa)
    const [perSplit, target, most] = gqa ? [this.config.numKvHeads * T, this.tuning.gqaSplitWorkgroups ?? 128, ATTN_GQA_SPLIT_MAX] : [H * T, this.tuning.splitWorkgroups ?? 512, max];
    const n = Math.max(1, Math.min(Math.ceil(Tk / 64), Math.ceil(target / perSplit)));
    const splitLen = Math.min(most, Math.ceil(Tk / n));
    return { nSplit: Math.ceil(Tk / splitLen), splitLen, gqa };
  }

  /** The Step uniform of a forward of T rows from cache slot `start`, logits for the last `headRows`. */
  private stepRecord(T: number, start: number, headRows: number): ArrayBuffer {
    const Tk = start + T;
    const { nSplit, splitLen } = this.splitKeys(Tk, T);
    const v: StepValues = { T, start, Tk, headFirst: T - headRows, headRows, nSplit, splitLen, pad0: 0 };
    return packParams(STEP_FIELDS, v);
  }

  private writeStep(T: number, start: number, headRows: number): void {
    this.device.queue.writeBuffer(this.step, 0, this.stepRecord(T, start, headRows));
  }

  private writeInputs(tokens: number[] | undefined, pos: number[]): void {
    const a = this.act!;
    const q = this.device.queue;
    if (tokens) q.writeBuffer(a.ids, 0, new Uint32Array(tokens));
    if (this.posEmbed) q.writeBuffer(a.pos, 0, new Uint32Array(pos));
    if (this.ropeParams) q.writeBuffer(a.cs, 0, this.cosSin(pos));
  }

  /** RoPE's cos | sin rows for positions `pos` (the rotation all tokens of one forward share). */
  private cosSin(pos: number[]): Float32Array<ArrayBuffer> {
    const hd = this.config.headDim;
    const half = hd >> 1;
    const T = pos.length;
    const inv = this.staticInvFreq ?? ropeInvFreq(this.ropeParams!, Math.max(...pos) + 1); // [hd/2]
    const cos = new Float32Array(T * half); // [T, hd/2]
    const sin = new Float32Array(T * half); // [T, hd/2]
    ropeCosSin(cos, sin, inv, pos);
    const cs = new Float32Array(T * hd); // [T, hd]: cos | sin
    for (let t = 0; t < T; t++) {
      cs.set(cos.subarray(t * half, t * half + half), t * hd);
      cs.set(sin.subarray(t * half, t * half + half), t * hd + half);
    }
    return cs;
  }

  /**
   * Encodes the inputs of the decode step at `slot` as copies from a table of per-slot
   * records (Step uniform | position | cos|sin) over the whole context, written a chunk of
   * DECODE_BLOCK slots at a time when a chunk is first needed and never rewritten, so a
   * decode step makes no queue.writeBuffer call (per-step writes cost ~15% of f16 decode
   * speed in one A/B on the H200, engine/gpu/BENCH.md run 18; until run 57 a 64-slot table
   * was rewritten every 64 steps instead).
   */
  private encodeDecodeInputs(enc: GPUCommandEncoder, slot: number): void {
    const hd = this.config.headDim;
    const rec = 36 + (this.ropeParams ? hd * 4 : 0); // bytes: step (32) | pos (4) | cos|sin [hd]
    const t = (this.decodeTable ??= { buffer: this.own(createStorage(this.device, rec * this.contextLength, 'decode-inputs')), written: new Set<number>() });
    const chunk = Math.floor(slot / DECODE_BLOCK);
    if (!t.written.has(chunk)) {
      const first = chunk * DECODE_BLOCK;
      const n = Math.min(DECODE_BLOCK, this.contextLength - first);
      const data = new ArrayBuffer(rec * n);
      for (let i = 0; i < n; i++) {
        const at = first + i;
        new Uint8Array(data, i * rec, 32).set(new Uint8Array(this.stepRecord(1, at, 1)));
        new Uint32Array(data, i * rec + 32, 1)[0] = at;
        if (this.ropeParams) new Float32Array(data, i * rec + 36, hd).set(this.cosSin([at]));
      }
      this.device.queue.writeBuffer(t.buffer, first * rec, data);
      t.written.add(chunk);
    }
    const off = slot * rec;
    enc.copyBufferToBuffer(t.buffer, off, this.step, 0, 32);
    if (this.posEmbed) enc.copyBufferToBuffer(t.buffer, off + 32, this.act!.pos, 0, 4);
    if (this.ropeParams) enc.copyBufferToBuffer(t.buffer, off + 36, this.act!.cs, 0, hd * 4);
  }

  /** One greedy decode step at `slot` (its token already in ids[0]): inputs, forward, argmax into ids[0]. */
  private encodeDecodeStep(enc: GPUCommandEncoder, slot: number): void {
    this.encodeDecodeInputs(enc, slot);
    this.encodeForward(enc, 1, slot, 1, {}, []);
    this.encodeTopK(enc, 1);
  }

  /** A read-back's map, awaited as GpuModelOptions.throttleMapWait says. */
  private mapped<T>(p: Promise<T>): Promise<T> {
    return this.throttleMapWait ? throttledWait(p) : p;
  }

  private async submitAndRead(enc: GPUCommandEncoder, reads: { src: GPUBuffer; size: number; then: (b: ArrayBuffer) => void }[], onSubmitted?: () => void): Promise<void> {
    const bufs = reads.map((r, i) => {
      const size = Math.max(16, Math.ceil(r.size / 16) * 16);
      const b = r.size > 1 << 16 ? this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : this.stagingBuffer(size, 100 + i);
      enc.copyBufferToBuffer(r.src, 0, b, 0, Math.ceil(r.size / 4) * 4);
      return b;
    });
    this.device.queue.submit([enc.finish()]);
    onSubmitted?.();
    try {
      await this.mapped(Promise.all(bufs.map((b) => b.mapAsync(GPUMapMode.READ))));
    } catch (e) {
      throw this.failure(e);
    }
    reads.forEach((r, i) => {
      r.then(bufs[i].getMappedRange(0, r.size).slice(0));
      bufs[i].unmap();
      if (r.size > 1 << 16) bufs[i].destroy();
    });
  }

  private freeActivations(): void {
    for (const d of this.dispatches) d.destroy();
    this.dispatches = [];
    if (this.act) for (const v of Object.values(this.act)) if (typeof v === 'object') (v as GPUBuffer).destroy();
    for (const list of this.staging.values()) for (const b of list) b.destroy();
    this.staging.clear();
    this.act = undefined;
    this.ops = undefined;
  }

  /** Activations for `rows` rows and `headRows` logits rows; rebuilds bind groups when they grow. */
  private ensureCapacity(rows: number, headRows: number): void {
    if (this.act && this.act.rows >= rows && this.act.headRows >= headRows) return;
    const c = this.config;
    const prev = this.act;
    rows = Math.max(rows, prev?.rows ?? 1);
    headRows = Math.max(headRows, prev?.headRows ?? 1);
    this.freeActivations();
    const d = this.device;
    const D = c.hiddenSize;
    const H = c.numHeads;
    const Kv = c.numKvHeads;
    const hd = c.headDim;
    const I = c.intermediateSize;
    const E = c.moe?.numExperts ?? 0;
    const k = c.moe?.topK ?? 0;
    const mr = Math.max(rows, k);
    let rMax = 1;
    for (const L of this.layers) for (const l of L.lora.values()) rMax = Math.max(rMax, l.r);
    const f = (n: number, label: string) => createStorage(d, Math.max(1, n) * 4, label);
    const G = Math.ceil(c.vocabSize / TOPK_CHUNK);
    this.act = {
      rows,
      headRows,
      x: f(rows * D, 'x'),
      h: f(Math.max(rows, headRows) * D, 'h'),
      qkv: f(rows * (H + 2 * Kv) * hd, 'qkv'),
      q: f(rows * H * hd, 'q'),
      att: f(rows * H * hd, 'att'),
      gu: f(mr * 2 * I, 'gu'),
      act: f(mr * I, 'act'),
      Y: f(E ? Math.max(E * rows, k) * D : 1, 'moe-Y'),
      rl: f(rows * E, 'router-logits'),
      rIds: f(rows * k, 'router-ids'),
      rWk: f(rows * k, 'router-wk'),
      rWd: f(rows * E, 'router-wd'),
      rProbs: f(rows * E, 'router-probs'),
      loraTmp: f(rows * rMax, 'lora-tmp'),
      ids: f(rows, 'ids'),
      pos: f(rows, 'pos'),
      cs: f(rows * hd, 'cos-sin'),
      part: f(MATVEC_MAX_ROWS * H * this.maxSplit * (hd + 2), 'attn-partials'),
      logits: f(headRows * c.vocabSize, 'logits'),
      cand: f(G * TOPK_MAX * 2, 'topk-cand'),
      res: f(TOPK_MAX * 2, 'topk-res'),
    };
    this.build();
  }

  /** Builds every dispatch (pipelines cached by code) for the current activations. */
  private build(): void {
    for (const d of this.dispatches) d.destroy();
    this.dispatches = [];
    const c = this.config;
    const a = this.act!;
    const D = c.hiddenSize;
    const H = c.numHeads;
    const Kv = c.numKvHeads;
    const hd = c.headDim;
    const I = c.intermediateSize;
    const QKV = (H + 2 * Kv) * hd;
    const eps = c.norm.eps;
    const normK = c.norm.kind === 'rms' ? rmsnormRowsWgsl(D) : layernormRowsWgsl(D);
    const norm = (w: GPUBuffer, b: GPUBuffer | undefined, x: GPUBuffer, y: GPUBuffer, mSel: number, fromHead: boolean) =>
      this.dispatch(normK, { D, mSel, mFixed: 0, srcFromHead: fromHead ? 1 : 0, eps, hasBias: b ? 1 : 0 }, { x, weight: w, bias: b ?? this.dummy, y });
    const loraOps = (L: LayerWeights, names: string[], x: GPUBuffer, K: number, y: GPUBuffer, yRowStride: number, offsets: number[], mSel = M_FROM_T) =>
      names.flatMap((n, i) => {
        const l = L.lora.get(n);
        if (!l) return [];
        const r = l.r;
        return [
          {
            a: new LinearOp(this, { w: l.A, x, y: a.loraTmp, N: r, K, mSel, xRowStride: K, yRowStride: r }),
            b: new LinearOp(this, { w: l.B, x: a.loraTmp, y, N: l.B.rows, K: r, mSel, xRowStride: r, yRowStride, yOffset: offsets[i], accumulate: true, alpha: l.scale }),
          },
        ];
      });
    const attnVals = (L: LayerWeights) => ({ H, Kv, hd, window: L.window, scale: 1 / Math.sqrt(hd) });
    const actVals = (rowsSel: number, mFixed: number, gated: boolean) => ({ I, mSel: rowsSel, mFixed, inStride: gated ? 2 * I : I, gated: gated ? 1 : 0, act: ACT_ID[c.activation] });

    const layers: LayerOps[] = this.layers.map((L) => {
      const ops: LayerOps = {
        attnNorm: norm(L.attnNorm, L.attnNormB, a.x, a.h, M_FROM_T, false),
        qkv: new LinearOp(this, { w: L.qkv, bias: L.qkvBias, x: a.h, y: a.qkv, N: QKV, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: QKV }),
        lora: loraOps(L, ['q', 'k', 'v'], a.h, D, a.qkv, QKV, [0, H * hd, (H + Kv) * hd]),
        rope: this.dispatch(
          ropeQkvWgsl(),
          { H, Kv, hd, qkvStride: QKV, style: c.positions === 'rope' ? ROPE_STYLE[c.rope!.style] : ROPE_STYLE.none, qkNorm: c.qkNorm ? 1 : 0, eps },
          { qkv: a.qkv, cs: a.cs, qn: L.qNorm ?? this.dummy, kn: L.kNorm ?? this.dummy, q: a.q, kc: L.kc, vc: L.vc },
        ),
        rows: this.dispatch(this.vecAttn ? attnDecodeWgsl(hd, this.subgroups) : attnRowsWgsl(), attnVals(L), { q: a.q, kc: L.kc, vc: L.vc, o: a.att, part: a.part }),
        rowsGqa: this.gqaAttn ? this.dispatch(attnDecodeGqaWgsl(hd, H / Kv, this.subgroups), attnVals(L), { q: a.q, kc: L.kc, vc: L.vc, o: a.att, part: a.part }) : undefined,
        combine: this.dispatch(attnCombineWgsl(c.headDim), attnVals(L), { part: a.part, o: a.att }),
        flash: this.dispatch(attnFlashWgsl(hd), attnVals(L), { q: a.q, kc: L.kc, vc: L.vc, o: a.att }),
        o: new LinearOp(this, { w: L.o, bias: L.oBias, x: a.att, y: a.x, N: D, K: H * hd, mSel: M_FROM_T, xRowStride: H * hd, yRowStride: D, accumulate: true }),
        oLora: loraOps(L, ['o'], a.att, H * hd, a.x, D, [0]),
        mlpNorm: norm(L.mlpNormIn ? this.ones() : L.mlpNorm, L.mlpNormB, a.x, a.h, M_FROM_T, false),
        guLora: [],
        downLora: [],
      };
      if (c.moe && L.router && L.expGu && L.expDown) {
        const E = c.moe.numExperts;
        const k = c.moe.topK;
        ops.router = new LinearOp(this, { w: L.router, x: a.h, y: a.rl, N: E, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: E });
        ops.route = this.dispatch(moeRouteWgsl(), { E, k, normalize: c.moe.normTopKProb ? 1 : 0 }, { logits: a.rl, ids: a.rIds, wk: a.rWk, wd: a.rWd, probs: a.rProbs });
        const guS = L.expGu.rowStride * 2 * I;
        const dnS = L.expDown.rowStride * D;
        ops.expDense = Array.from({ length: E }, (_, e) => ({
          gu: new LinearOp(this, { w: L.expGu!, x: a.h, y: a.gu, N: 2 * I, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: 2 * I, wOffset: e * guS }),
          down: new LinearOp(this, { w: L.expDown!, x: a.act, y: a.Y, N: D, K: I, mSel: M_FROM_T, xRowStride: I, yRowStride: D, wOffset: e * dnS, yOffset: e * a.rows * D }),
        }));
        ops.actDense = this.dispatch(activationWgsl(), actVals(M_FROM_T, 0, true), { gu: a.gu, o: a.act });
        ops.combineDense = this.dispatch(moeCombineWgsl(), { D, nE: E, eStride: a.rows * D, wStride: E, mSel: M_FROM_T, mFixed: 0 }, { Y: a.Y, wts: a.rWd, x: a.x });
        ops.expGuSparse = new LinearOp(this, { w: L.expGu, x: a.h, y: a.gu, N: 2 * I, K: D, mSel: M_STATIC, mFixed: k, xRowStride: 0, yRowStride: 2 * I, expertStride: guS, ids: a.rIds, matvecOnly: true });
        ops.actSparse = this.dispatch(activationWgsl(), actVals(M_STATIC, k, true), { gu: a.gu, o: a.act });
        ops.expDownSparse = new LinearOp(this, { w: L.expDown, x: a.act, y: a.Y, N: D, K: I, mSel: M_STATIC, mFixed: k, xRowStride: I, yRowStride: D, expertStride: dnS, ids: a.rIds, matvecOnly: true });
        ops.combineSparse = this.dispatch(moeCombineWgsl(), { D, nE: k, eStride: D, wStride: k, mSel: M_FROM_T, mFixed: 0 }, { Y: a.Y, wts: a.rWk, x: a.x });
      } else {
        const gated = c.mlp === 'gated';
        const guN = gated ? 2 * I : I;
        ops.gu = new LinearOp(this, { w: L.gu!, bias: L.guBias, x: a.h, y: a.gu, N: guN, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: guN });
        ops.guLora = gated ? loraOps(L, ['gate', 'up'], a.h, D, a.gu, guN, [0, I]) : loraOps(L, ['up'], a.h, D, a.gu, guN, [0]);
        ops.act = this.dispatch(activationWgsl(), actVals(M_FROM_T, 0, gated), { gu: a.gu, o: a.act });
        ops.down = new LinearOp(this, { w: L.down!, bias: L.downBias, x: a.act, y: a.x, N: D, K: I, mSel: M_FROM_T, xRowStride: I, yRowStride: D, accumulate: true });
        ops.downLora = loraOps(L, ['down'], a.act, I, a.x, D, [0]);
        if (c.norm.kind === 'rms' && !L.mlpNormB && L.lora.size === 0) {
          // gated: gate|up → act(gate)·up straight into a.act (the down projection's x)
          ops.guAct = gated && L.gu!.parts.length === 1;
          ops.guF = ops.guAct
            ? new LinearOp(this, { w: L.gu!, bias: L.guBias, x: a.x, y: a.act, N: guN, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: I, matvecOnly: true, pro: { kind: 'rms', weighted: !L.mlpNormIn }, nw: L.mlpNorm, eps, epi: { kind: 'act', act: ACT_ID[c.activation] } })
            : new LinearOp(this, { w: L.gu!, bias: L.guBias, x: a.x, y: a.gu, N: guN, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: guN, matvecOnly: true, pro: { kind: 'rms', weighted: !L.mlpNormIn }, nw: L.mlpNorm, eps });
        }
      }
      if (c.norm.kind === 'rms' && !L.attnNormB && L.lora.size === 0) {
        // RoPE + KV write fused after the matvec (not with Qwen3's per-head q/k norm)
        ops.qkvRope = c.positions === 'rope' && !c.qkNorm && L.qkv.parts.length === 1;
        const rope = ops.qkvRope ? { H, Kv, hd, style: ROPE_STYLE[c.rope!.style], cs: a.cs, q: a.q, kc: L.kc, vc: L.vc } : undefined;
        ops.qkvF = new LinearOp(this, { w: L.qkv, bias: L.qkvBias, x: a.x, y: a.qkv, N: QKV, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: QKV, matvecOnly: true, pro: { kind: 'rms' }, nw: L.attnNorm, eps, epi: rope && { kind: 'rope' }, rope });
      }
      return ops;
    });
    const V = c.vocabSize;
    this.ops = {
      embed: this.embed.parts.map((p) =>
        this.dispatch(embeddingWgsl(this.read(this.embed.dtype)), { D, rowStride: this.embed.rowStride, rowStart: p.rowStart, rowCount: p.rows, add: 0 }, { ids: a.ids, table: p.buffer, x: a.x }),
      ),
      posEmbed: (this.posEmbed?.parts ?? []).map((p) =>
        this.dispatch(embeddingWgsl('f32'), { D, rowStride: this.posEmbed!.rowStride, rowStart: p.rowStart, rowCount: p.rows, add: 1 }, { ids: a.pos, table: p.buffer, x: a.x }),
      ),
      layers,
      finalNorm: norm(this.finalNorm, this.finalNormB, a.x, a.h, M_FROM_HEAD, true),
      head: new LinearOp(this, { w: this.head, x: a.h, y: a.logits, N: V, K: D, mSel: M_FROM_HEAD, xRowStride: D, yRowStride: V }),
      headF:
        this.tuning.fuseHeadNorm && c.norm.kind === 'rms' && !this.finalNormB
          ? new LinearOp(this, { w: this.head, x: a.x, y: a.logits, N: V, K: D, mSel: M_FROM_HEAD, xRowStride: D, yRowStride: V, matvecOnly: true, pro: { kind: 'rms' }, nw: this.finalNorm, eps, xHead: true })
          : undefined,
      topkPartial: this.dispatch(topkPartialWgsl(), { n: V, chunk: TOPK_CHUNK, k: 1, lastRow: 1 }, { src: a.logits, cand: a.cand }),
      topkFinal: this.dispatch(topkFinalWgsl(), { n: Math.ceil(V / TOPK_CHUNK), chunk: 0, k: 1, lastRow: 0 }, { cand: a.cand, res: a.res, next: a.ids }),
    };
  }

  private topkDispatch = new Map<number, [Dispatch, Dispatch]>();

  private encodeTopK(enc: GPUCommandEncoder, k: number): void {
    const a = this.act!;
    const V = this.config.vocabSize;
    const G = Math.ceil(V / TOPK_CHUNK);
    let pair: [Dispatch, Dispatch];
    if (k === 1) pair = [this.ops!.topkPartial, this.ops!.topkFinal];
    else {
      const key = k;
      let p = this.topkDispatch.get(key);
      if (!p || !this.dispatches.includes(p[0])) {
        p = [
          this.dispatch(topkPartialWgsl(), { n: V, chunk: TOPK_CHUNK, k, lastRow: 1 }, { src: a.logits, cand: a.cand }),
          this.dispatch(topkFinalWgsl(), { n: G * k, chunk: 0, k, lastRow: 0 }, { cand: a.cand, res: a.res, next: a.ids }),
        ];
        this.topkDispatch.set(key, p);
      }
      pair = p;
    }
    const pass = enc.beginComputePass();
    pair[0].encode(pass, G);
    pair[1].encode(pass, 1);
    pass.end();
  }

  /** Encodes one forward (embedding → layers → final norm → head) into `enc`. */
  private encodeForward(
    enc: GPUCommandEncoder,
    T: number,
    start: number,
    headRows: number,
    cap: CaptureOptions,
    reads: { src: GPUBuffer; size: number; then: (b: ArrayBuffer) => void }[],
  ): { free: GPUBuffer[]; attentions?: Float32Array[]; residuals?: Float32Array[]; finalHidden?: Float32Array; router?: RouterChoice[] } {
    const c = this.config;
    const a = this.act!;
    const o = this.ops!;
    const D = c.hiddenSize;
    const H = c.numHeads;
    const I = c.intermediateSize;
    const Tk = start + T;
    const out: ReturnType<GpuModel['encodeForward']> = { free: [] };
    const ts = T === 1 ? this.stepTimestamps : undefined;
    let pass = ts && ts.n < ts.cap ? enc.beginComputePass({ timestampWrites: { querySet: ts.set, beginningOfPassWriteIndex: 2 * ts.n, endOfPassWriteIndex: 2 * ts.n++ + 1 } }) : enc.beginComputePass();
    const copyOut = (src: GPUBuffer, size: number, then: (b: ArrayBuffer) => void) => {
      pass.end();
      const tmp = createStorage(this.device, size, 'capture');
      out.free.push(tmp);
      enc.copyBufferToBuffer(src, 0, tmp, 0, Math.ceil(size / 4) * 4);
      reads.push({ src: tmp, size, then });
      pass = enc.beginComputePass();
    };
    const dx = Math.ceil(D / 64);
    for (const e of o.embed) e.encode(pass, dx, T);
    for (const e of o.posEmbed) e.encode(pass, dx, T);
    if (cap.residuals) {
      out.residuals = new Array(c.numLayers + 1);
      copyOut(a.x, T * D * 4, (b) => (out.residuals![0] = new Float32Array(b)));
    }
    if (cap.attentions) out.attentions = new Array(c.numLayers);
    if (cap.router && c.moe) out.router = [];
    const useRows = T <= MATVEC_MAX_ROWS;
    const { BQ } = flashTile(c.headDim);
    const { nSplit: stepSplit, gqa } = this.splitKeys(Tk, T);
    this.layers.forEach((L, li) => {
      const op = o.layers[li];
      if (useRows && op.qkvF) op.qkvF.encode(pass, T);
      else {
        op.attnNorm.encode(pass, T);
        op.qkv.encode(pass, T);
      }
      for (const l of op.lora) {
        l.a.encode(pass, T);
        l.b.encode(pass, T);
      }
      if (!(useRows && op.qkvF && op.qkvRope)) op.rope.encode(pass, Math.ceil(((H + 2 * c.numKvHeads) * c.headDim) / 2 / 64), T);
      if (useRows) {
        if (gqa) op.rowsGqa!.encode(pass, c.numKvHeads, T, stepSplit);
        else op.rows.encode(pass, H, T, stepSplit);
        if (stepSplit > 1) op.combine.encode(pass, H, T);
      } else {
        op.flash.encode(pass, Math.ceil(T / BQ), H);
      }
      if (cap.attentions) {
        const probs = createStorage(this.device, H * T * Tk * 4, 'attn-probs');
        out.free.push(probs);
        const d = new Dispatch(this.device, this.cache, attnProbsWgsl(), this.step, { H, Kv: c.numKvHeads, hd: c.headDim, window: L.window, scale: 1 / Math.sqrt(c.headDim) }, { q: a.q, kc: L.kc, probs });
        d.encode(pass, T, H);
        out.free.push(d.params);
        copyOut(probs, H * T * Tk * 4, (b) => (out.attentions![li] = new Float32Array(b)));
      }
      op.o.encode(pass, T);
      for (const l of op.oLora) {
        l.a.encode(pass, T);
        l.b.encode(pass, T);
      }
      const guFused = useRows && op.guF !== undefined;
      if (!guFused) op.mlpNorm.encode(pass, T);
      if (op.router && c.moe) {
        const { numExperts: E, topK: k } = c.moe;
        op.router.encode(pass, T);
        op.route!.encode(pass, Math.ceil(T / 64));
        if (out.router) {
          const rc: RouterChoice = { layer: li, topK: k, experts: new Int32Array(T * k), weights: new Float32Array(T * k), probs: new Float32Array(T * E) };
          out.router.push(rc);
          copyOut(a.rIds, T * k * 4, (b) => rc.experts.set(new Int32Array(b)));
          copyOut(a.rWk, T * k * 4, (b) => rc.weights.set(new Float32Array(b)));
          copyOut(a.rProbs, T * E * 4, (b) => rc.probs.set(new Float32Array(b)));
        }
        if (T === 1) {
          op.expGuSparse!.encode(pass, k);
          op.actSparse!.encode(pass, Math.ceil(I / 256), k);
          op.expDownSparse!.encode(pass, k);
          op.combineSparse!.encode(pass, Math.ceil(D / 64), T);
        } else {
          for (const ex of op.expDense!) {
            ex.gu.encode(pass, T);
            op.actDense!.encode(pass, Math.ceil(I / 256), T);
            ex.down.encode(pass, T);
          }
          op.combineDense!.encode(pass, Math.ceil(D / 64), T);
        }
      } else {
        (guFused ? op.guF! : op.gu!).encode(pass, T);
        for (const l of op.guLora) {
          l.a.encode(pass, T);
          l.b.encode(pass, T);
        }
        if (!(guFused && op.guAct)) op.act!.encode(pass, Math.ceil(I / 256), T);
        op.down!.encode(pass, T);
        for (const l of op.downLora) {
          l.a.encode(pass, T);
          l.b.encode(pass, T);
        }
      }
      if (out.residuals) copyOut(a.x, T * D * 4, (b) => (out.residuals![li + 1] = new Float32Array(b)));
    });
    if (cap.finalHidden) {
      const fh = createStorage(this.device, T * D * 4, 'final-hidden');
      out.free.push(fh);
      const d = new Dispatch(this.device, this.cache, c.norm.kind === 'rms' ? rmsnormRowsWgsl(D) : layernormRowsWgsl(D), this.step, { D, mSel: M_FROM_T, mFixed: 0, srcFromHead: 0, eps: c.norm.eps, hasBias: this.finalNormB ? 1 : 0 }, { x: a.x, weight: this.finalNorm, bias: this.finalNormB ?? this.dummy, y: fh });
      d.encode(pass, T);
      out.free.push(d.params);
      copyOut(fh, T * D * 4, (b) => (out.finalHidden = new Float32Array(b)));
    }
    if (useRows && o.headF) o.headF.encode(pass, headRows);
    else {
      o.finalNorm.encode(pass, headRows);
      o.head.encode(pass, headRows);
    }
    pass.end();
    return out;
  }

  /** @internal exposed for the benchmark: buffers in use, by role. */
  memoryBytes(): { weights: number; kvCache: number } {
    const c = this.config;
    return { weights: this.decodeWeightBytes, kvCache: this.layers.length * 2 * this.contextLength * c.numKvHeads * c.headDim * 4 };
  }
}


function decodeTop(b: ArrayBuffer, k: number): { ids: number[]; values: number[] } {
  const u = new Uint32Array(b);
  const f = new Float32Array(b);
  const ids: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < k; i++) {
    if (u[2 * i + 1] === 0xffffffff) break;
    ids.push(u[2 * i + 1]);
    values.push(f[2 * i]);
  }
  return { ids, values };
}

/**
 * Row-major [rows, cols] `data` with column j scaled by w[j]: a copy, or `data` itself
 * when `inPlace` (an array the caller made) or when w is undefined (nothing to fold).
 */
function foldColumns(data: Float32Array, cols: number, w: Float32Array | undefined, inPlace = false): Float32Array {
  if (!w) return data;
  const out = inPlace ? data : new Float32Array(data.length);
  for (let i = 0; i < data.length; i += cols) for (let j = 0; j < cols; j++) out[i + j] = data[i + j] * w[j];
  return out;
}
