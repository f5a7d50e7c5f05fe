/**
 * GpuModel: the transformer on WebGPU, every op a WGSL kernel (engine/ops/<op>/<op>.wgsl.ts),
 * behind the backend contract (engine/backend/contract.ts): forward(tokens, positions?, opts)
 * with a static KV cache, lastOnly, captures (attention probabilities, residuals, final
 * hidden, MoE router, KV bytes) and GPU top-k; pipelined greedy decoding (the GPU argmax
 * feeds the next step's embedding directly; the host reads ids a block of steps behind).
 *
 * This class is the facade; the work is done by its parts:
 *   lifecycle.ts        shared state (ModelCore), options, GpuError, create / destroy, device loss
 *   weights.ts          weights uploaded once (f32, or f16 packed two per u32, read as f16 with
 *                       `shader-f16` where the device has it; tensors larger than one storage
 *                       binding split by rows), the KV cache, LoRA adapters
 *   forward-plan.ts     activations, dispatches built once, the encoding of one forward, top-k
 *   linear-op.ts        a linear layer as matvec (decode) and tiled matmul (prefill)
 *   step-inputs.ts      the Step uniform, positions, cos|sin, the decode-attention split
 *   decode-scheduler.ts pipelined greedy decoding and the per-slot decode-input table
 *   readback.ts         staging buffers and waits for read-backs
 *   profiling.ts        the benchmark's hooks (stats, step timestamps, traces, host profile)
 * One command submission per forward / decode step. Device loss and out-of-memory raise
 * GpuError and free the model's buffers.
 *
 * Usage (browser worker or Node with the `webgpu` package):
 *   const gpu = await openGpu(navigator.gpu);            // engine/gpu/probe.ts
 *   const m = await GpuModel.create(gpu.device, loaded, { contextLength: 2048, weights: 'f16' });
 *   const r = await m.forward(ids, undefined, { lastOnly: true, topK: 40, logits: false });
 *   for await (const rec of generate(m, { promptIds, maxNewTokens: 64 })) …   // engine/generate/
 *   m.destroy();
 */
import type { Backend, BackendCapabilities, ForwardOptions, ForwardResult, GreedyDecodeEnd, GreedyDecodeOptions, KvCacheBytes } from '../backend/contract';
import { checkedTruncate } from '../model/model';
import { kvRowBytes } from '../model/kv/layout';
import type { GpuKvDtype } from '../ops/kvquant/kvquant.wgsl';
import type { GpuMemoryReport } from './ledger';
import type { LoraAdapter } from '../model/lora';
import { lazyView } from '../model/lazy';
import { validateShapes, validateWeights } from '../model/shapes';
import type { LazyModel, LoadedModel, ModelConfig, WeightMap } from '../model/types';
import type { WeightDtype, WeightRead } from '../wgsl/weight-read';
import { DecodeScheduler } from './decode-scheduler';
import { ForwardPlan, TOPK_MAX } from './forward-plan';
import { createInErrorScopes, ModelCore, type GpuModelOptions } from './lifecycle';
import { profileHost, traceDecodeStep, tracePrefill, type DecodeStats, type StepTimestamps, type TracedDispatch } from './profiling';
import { ReadBack } from './readback';
import { WeightUploader, type LoadControl } from './upload';
import { StepInputs } from './step-inputs';
import { freeLora, uploadLora, uploadModel, type ModelWeights } from './weights';

export { GpuError, type GpuModelOptions, type GpuTuning } from './lifecycle';
export type { LoadControl } from './upload';

/** The contract's forward options (kept as a name for callers of GpuModel). */
export type GpuForwardOptions = ForwardOptions;
export type GpuForwardResult = ForwardResult;

const GPU_CAPABILITIES: BackendCapabilities = {
  captures: { attentions: true, residuals: true, finalHidden: true, router: true, kvBytes: true, qk: true },
  onDevice: { argmax: true, topK: TOPK_MAX, sampling: false },
  pipelinedGreedy: true,
  lora: true,
};

export class GpuModel implements Backend {
  readonly id = 'webgpu' as const;
  readonly config: ModelConfig;
  readonly contextLength: number;
  readonly weightDtype: WeightDtype;
  /** The KV cache's element type (GpuModelOptions.kvDtype). */
  readonly kvDtype: GpuKvDtype;
  readonly subgroups: boolean;
  readonly subgroupMaxSize: number;
  /** f16 weights are read with `shader-f16` (GpuModelOptions.shaderF16). */
  readonly shaderF16: boolean;
  /** Bytes of weights read by one decode step (every layer + the head), for roofline figures. */
  readonly decodeWeightBytes: number;
  /** Host time spent encoding and submitting pipelined decode steps (benchmarks read it). */
  readonly stats: DecodeStats;
  private readonly core: ModelCore;
  private readonly weights: ModelWeights;
  private readonly plan: ForwardPlan;
  private readonly decode: DecodeScheduler;

  private constructor(
    readonly device: GPUDevice,
    core: ModelCore,
    w: ModelWeights,
  ) {
    this.core = core;
    this.config = core.config;
    this.contextLength = core.contextLength;
    this.weightDtype = core.weightDtype;
    this.kvDtype = core.kvDtype;
    this.subgroups = core.subgroups;
    this.subgroupMaxSize = core.subgroupMaxSize;
    this.shaderF16 = core.shaderF16;
    this.stats = core.stats;
    this.weights = w;
    this.decodeWeightBytes = w.decodeWeightBytes;
    const inputs = new StepInputs(core);
    const readback = new ReadBack(core);
    this.plan = new ForwardPlan(core, w, inputs, readback);
    this.decode = new DecodeScheduler(core, w, inputs, this.plan, readback);
    core.onDestroy.push(
      () => this.plan.free(),
      () => freeLora(w.layers),
    );
  }

  /**
   * Uploads the weights, allocates the KV cache and builds the pipelines. `loaded`: weights in
   * memory, or a LazyModel whose tensors are read from their file by row ranges in bounded
   * chunks and uploaded in their stored dtype where the kernels read it (upload.ts), never as
   * a whole f32 copy on the host (the caller closes it after). `opts.onProgress` and
   * `opts.signal` follow the upload, `opts.onPhase` hears when the pipelines are compiled, the
   * upload is done (with its host-side split) and the first forward is submitted (LoadControl).
   * Rejects with GpuError('out-of-memory') when
   * the device cannot hold the model and GpuError('cancelled') when the signal is set, with
   * everything freed either way.
   */
  static async create(
    device: GPUDevice,
    loaded: LoadedModel | LazyModel | { config: ModelConfig; weights: WeightMap },
    opts: GpuModelOptions & LoadControl = {},
  ): Promise<GpuModel> {
    const c = loaded.config;
    const file = 'source' in loaded ? loaded.source.files.join(', ') : 'weights';
    const lazy = 'lazy' in loaded ? loaded.lazy : lazyView(loaded.weights);
    if ('lazy' in loaded) validateShapes(c, lazy, file);
    else validateWeights(c, loaded.weights, file);
    const total = 'lazy' in loaded ? loaded.totalBytes : [...lazy.values()].reduce((a, t) => a + t.byteSize, 0);
    return createInErrorScopes(
      device,
      async () => {
        const core = new ModelCore(device, c, opts);
        try {
          const up = new WeightUploader(core, lazy, total, opts);
          core.ledger.kind = 'weights';
          const w = await uploadModel(core, up);
          core.ledger.kind = 'scratch';
          // the dispatches are built first, so that their pipelines compile while the weights upload
          core.cache.deferring = true;
          let m: GpuModel;
          try {
            m = new GpuModel(device, core, w);
            m.plan.ensureCapacity(1, 1);
          } finally {
            core.cache.deferring = false;
          }
          const compiled = core.cache.settle().then(() => opts.onPhase?.('pipelines'));
          compiled.catch(() => {}); // awaited after the upload; a failure is thrown there
          await up.run();
          opts.onPhase?.('upload', { ...up.split });
          await compiled;
          if (opts.onPhase) core.onFirstSubmit = () => opts.onPhase?.('first-submit');
          return m;
        } catch (e) {
          core.destroy();
          await core.cache.abandon();
          throw e;
        }
      },
      () => {},
    );
  }

  /** Tokens held in the KV cache. */
  get length(): number {
    return this.core.len;
  }

  /** Empties the KV cache. */
  reset(): void {
    this.core.len = 0;
  }

  /** Keeps only the first n cached tokens (n ≤ length). */
  truncate(n: number): void {
    this.core.len = checkedTruncate(n, this.core.len);
  }

  /** KV cache bytes per layer, read from the sizes of the K and V buffers (and the int8 cache's scales) this model created. */
  kvCacheBytes(): KvCacheBytes[] {
    const ctx = this.contextLength;
    const len = this.core.len;
    const row = kvRowBytes(this.config, this.kvDtype); // bytes of one token of K (or V)
    return this.weights.layers.map((L, layer) => ({
      layer,
      allocated: L.kc.size + L.vc.size + (L.kScale?.size ?? 0) + (L.vScale?.size ?? 0),
      used: 2 * len * row,
      tokens: len,
      capacity: ctx,
    }));
  }

  /** The contract's KV cache report (the same as kvCacheBytes). */
  kvCache(): KvCacheBytes[] {
    return this.kvCacheBytes();
  }

  /**
   * Bytes of every live buffer this model created, by kind (weights, KV cache, scratch), the
   * live buffer count and how many it has created in all: WebGPU cannot report VRAM, so the
   * model accounts its own buffers (ledger.ts).
   */
  memory(): GpuMemoryReport {
    return this.core.ledger.report();
  }

  /** Attaches a LoRA adapter unmerged (y += scale·(x·Aᵀ)·Bᵀ); replaces any previous one. */
  setLora(adapter: LoraAdapter | undefined): void {
    this.core.alive();
    this.core.ledger.kind = 'weights';
    try {
      uploadLora(this.core, this.weights.layers, adapter);
    } finally {
      this.core.ledger.kind = 'scratch';
    }
    this.plan.reallocate(); // the LoRA scratch is sized by the largest rank
  }

  /** For people: which path runs and how the weights are read. */
  get label(): string {
    return `WebGPU, ${this.weightDtype} weights${this.weightDtype === 'f16' ? (this.shaderF16 ? ' (shader-f16)' : ' (unpacked from u32)') : ''}${this.kvDtype === 'int8' ? ', int8 KV cache' : ''}`;
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
    this.core.destroy();
  }

  /**
   * Runs `tokens` at the next cache slots (positions default to the slots). Returns logits
   * [T, V] (or [1, V] with lastOnly; empty with logits: false), `top` with topK, and the
   * captures asked for. One submission; awaits the read-back.
   */
  async forward(tokens: number[], positions?: number[], opts: GpuForwardOptions = {}): Promise<GpuForwardResult> {
    this.core.claim();
    try {
      return await this.plan.run(tokens, positions, opts);
    } finally {
      this.core.busy = false;
    }
  }

  /**
   * Greedy decoding from a fresh cache (the contract's decodeGreedy): prefill, then one
   * token at a time, pipelined on the GPU (decode-scheduler.ts). When the consumer stops
   * (return()), the steps queued past its last id are dropped from the cache.
   */
  decodeGreedy(promptIds: number[], opts: GreedyDecodeOptions): AsyncGenerator<number, GreedyDecodeEnd, void> {
    return this.decode.decodeGreedy(promptIds, opts);
  }

  /** How kernels read a weight stored as `dtype` (f16 with `shader-f16` when the model uses it). */
  read(dtype: WeightDtype): WeightRead {
    return this.core.read(dtype);
  }

  /** @internal benchmark: see StepTimestamps (profiling.ts). */
  get stepTimestamps(): StepTimestamps | undefined {
    return this.plan.stepTimestamps;
  }
  set stepTimestamps(t: StepTimestamps | undefined) {
    this.plan.stepTimestamps = t;
  }

  /** @internal benchmark: the dispatches of one decode step at `slot` (profiling.ts). */
  traceDecodeStep(slot: number): TracedDispatch[] {
    return traceDecodeStep(this.core, this.plan, this.decode, slot);
  }

  /** @internal benchmark: the dispatches of a prefill of `ids` from an empty cache, after running it `runs` times (profiling.ts). */
  async tracePrefill(ids: number[], runs = 1): Promise<TracedDispatch[]> {
    for (let r = 0; r < Math.max(1, runs); r++) {
      this.reset();
      await this.forward(ids, undefined, { lastOnly: true, topK: 1, logits: false });
    }
    const trace = tracePrefill(this.core, this.plan, ids.length);
    this.reset();
    return trace;
  }

  /** @internal benchmark: host encode / submit ms and chained GPU ms of a decode step at `slot` (profiling.ts). */
  profileHost(slot: number, n: number): Promise<{ encodeMs: number; submitMs: number; gpuMs: number }> {
    return profileHost(this.core, this.decode, slot, n);
  }

  /** @internal exposed for the benchmark: buffers in use, by role. */
  memoryBytes(): { weights: number; kvCache: number } {
    const c = this.config;
    return { weights: this.decodeWeightBytes, kvCache: this.weights.layers.length * 2 * this.contextLength * kvRowBytes(c, this.kvDtype) };
  }
}
