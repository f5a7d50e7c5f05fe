/**
 * What every part of a GpuModel shares, and its lifecycle: the device, the config and the
 * options resolved against the device (`ModelCore`); the buffers the model owns; the
 * KV-cache length; one operation at a time (`claim`); device loss and destruction, after
 * which every call raises GpuError; and `createInErrorScopes`, which turns an upload that
 * runs out of memory or fails validation into a GpuError with everything freed.
 */
import { UnsupportedError } from '../errors';
import type { FlashKernel } from '../ops/attention/attention-flash.wgsl';
import type { GpuKvDtype } from '../ops/kvquant/kvquant.wgsl';
import { matvecShape, type MatvecEpilogue, type MatvecShape } from '../ops/matmul/matmul.wgsl';
import type { SgShape, TiledShape } from '../ops/matmul/matmul-tiled.wgsl';
import type { ModelConfig } from '../model/types';
import { STEP_FIELDS } from '../wgsl/kernel-source';
import type { WeightDtype, WeightRead } from '../wgsl/weight-read';
import { createStorage, PipelineCache } from './kernel';
import { accountedDevice, BufferLedger } from './ledger';
import { canThrottle } from './map-wait';
import { subgroupMatrixOf, type SgMatrixUse } from './prefill-matmul';
import { newDecodeStats, type DecodeStats } from './profiling';

/** A GPU failure the caller can act on: device lost, out of memory, model destroyed, load cancelled. */
export class GpuError extends Error {
  constructor(
    message: string,
    readonly kind: 'device-lost' | 'out-of-memory' | 'validation' | 'destroyed' | 'cancelled',
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
  /**
   * The KV cache's element type (default f32). 'int8': K and V packed four int8 to a u32 word
   * with one f32 scale per (token, KV head) each, quantised when written and dequantised by
   * the attention kernels (ops/kvquant); needs a head dim that is a multiple of 4.
   */
  kvDtype?: GpuKvDtype;
  /** Split tensors above this many bytes per binding (default: the device's limit). Tests force splits with it. */
  maxBindingBytes?: number;
  /** Most bytes of packed rows per upload chunk (default upload.ts STAGING_BYTES). Tests force chunks smaller than a tensor with it. */
  uploadChunkBytes?: number;
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
   * Node: wait on read-backs through `throttledWait`, sleeping 0.2 ms between event-loop
   * turns, instead of letting Dawn poll every turn (default false; the Node CLI and bench
   * set it). engine/gpu/map-wait.ts says why. Needs a thread that may block (Node; not a
   * browser's main thread).
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
   * (default 128: the fastest split count with its combine; engine/gpu/BENCH.md,
   * "Grouped-query decode splits").
   */
  gqaSplitWorkgroups?: number;
  /** Decode: fuse the final RMSNorm into the head matvec (default false: slower; engine/gpu/BENCH.md, "Final norm outside the head"). */
  fuseHeadNorm?: boolean;
  /**
   * Prefill matmul kernel (default: 'sgmatrix' where the device passed checkSubgroupMatrix and
   * the weights are f16, else 'tiled'); 'tile64' is the earlier 64×64 kernel (benchmarks compare).
   */
  prefill?: PrefillKernel;
  /** Prefill tiles: the tiled and the subgroup-matrix kernels' large and small shapes (benchmarks sweep them). */
  tiledLarge?: TiledShape;
  tiledSmall?: TiledShape;
  sgShape?: SgShape;
  sgSmall?: SgShape;
  /** A prefill matmul takes its large tile when that still gives at least this many workgroups (default 256). */
  tiledLargeMinGroups?: number;
  /** The same for the subgroup-matrix kernel (default 96: Llama-3.2-1B's q|k|v at 512 rows takes the 128×128 tile, o and down the 64×128). */
  sgLargeMinGroups?: number;
  /**
   * Prefill attention kernel: 'rows' (default; one thread per query row, head widths that are
   * multiples of 4 up to 256, else 'tile16') or 'tile16', the earlier 16-row tile kernel
   * (benchmarks compare; engine/gpu/BENCH.md, "Flash attention for prefill").
   */
  flashPrefill?: FlashKernel;
}

export type PrefillKernel = 'sgmatrix' | 'tiled' | 'tile64';

/** The device, config and resolved options a GpuModel's parts share, and the model's state. */
export class ModelCore {
  readonly contextLength: number;
  readonly weightDtype: WeightDtype;
  readonly kvDtype: GpuKvDtype;
  readonly subgroups: boolean;
  readonly subgroupMaxSize: number;
  /** f16 weights are read with `shader-f16` (GpuModelOptions.shaderF16). */
  readonly shaderF16: boolean;
  readonly tuning: GpuTuning;
  /** The prefill matmul kernel (GpuTuning.prefill) and, for 'sgmatrix', the device's checked configuration. */
  readonly prefill: PrefillKernel;
  readonly sgMatrix?: SgMatrixUse;
  readonly throttleMapWait: boolean;
  /** Most bytes of one storage binding (tensors above it are split by rows). */
  readonly maxBinding: number;
  /** GpuModelOptions.uploadChunkBytes (undefined: the uploader's default). */
  readonly uploadChunkBytes?: number;
  /** Most decode-attention splits at this context length (sizes the partials buffer). */
  readonly maxSplit: number;
  readonly cache: PipelineCache;
  /** The Step uniform every kernel reads (engine/wgsl/kernel-source.ts). */
  readonly step: GPUBuffer;
  /** Bound where a kernel's optional buffer is absent. */
  readonly dummy: GPUBuffer;
  readonly dummyU32: GPUBuffer;
  /** Host time of pipelined decode steps and read-back waits (benchmarks read it). */
  readonly stats: DecodeStats = newDecodeStats();
  /** Tokens held in the KV cache. */
  len = 0;
  /** One forward or greedy decode at a time. */
  busy = false;
  private lost?: string;
  private destroyed = false;
  private readonly owned: GPUBuffer[] = [];
  /** Run by destroy() before the owned buffers are freed, in order (the activations, the LoRA weights). */
  readonly onDestroy: (() => void)[] = [];

  /** The device, with every buffer the model creates recorded in `ledger`. */
  readonly device: GPUDevice;
  /** Every buffer the model has created and not destroyed: weights, KV cache, scratch. */
  readonly ledger = new BufferLedger();

  constructor(
    device: GPUDevice,
    readonly config: ModelConfig,
    opts: GpuModelOptions,
  ) {
    this.device = accountedDevice(device, this.ledger);
    const c = config;
    const ctx = opts.contextLength ?? Math.min(c.maxPositions, 2048);
    if (!Number.isSafeInteger(ctx) || ctx < 1) throw new RangeError(`contextLength ${ctx} must be a positive integer`);
    if (c.positions === 'learned' && ctx > c.maxPositions) throw new RangeError(`contextLength ${ctx} exceeds the ${c.maxPositions} learned positions`);
    if (c.headDim > 512 || c.headDim % 2) throw new RangeError(`GpuModel: head dim ${c.headDim} is not supported (even, ≤ 512)`);
    this.contextLength = ctx;
    this.weightDtype = opts.weights ?? 'f32';
    this.kvDtype = opts.kvDtype ?? 'f32';
    if (this.kvDtype !== 'f32' && this.kvDtype !== 'int8')
      throw new UnsupportedError('unknown KV cache dtype', { file: 'GpuModel options', key: 'kvDtype', expected: 'f32 or int8', found: String(this.kvDtype) });
    if (this.kvDtype === 'int8' && c.headDim % 4)
      throw new UnsupportedError('the int8 KV cache packs four values to a u32 word', {
        file: 'GpuModel options',
        key: 'kvDtype',
        expected: 'a head dim that is a multiple of 4',
        found: `head dim ${c.headDim}`,
      });
    this.subgroups = opts.subgroups ?? device.features.has('subgroups');
    this.subgroupMaxSize = opts.subgroupMaxSize ?? (device as GPUDevice & { adapterInfo?: { subgroupMaxSize?: number } }).adapterInfo?.subgroupMaxSize ?? 128;
    this.shaderF16 = this.weightDtype === 'f16' && (opts.shaderF16 ?? device.features.has('shader-f16'));
    if (this.shaderF16 && !device.features.has('shader-f16')) throw new RangeError('GpuModel: shaderF16 asked for, but the device was created without the shader-f16 feature');
    this.tuning = opts.tuning ?? {};
    const sgm = subgroupMatrixOf(device);
    const want = this.tuning.prefill ?? (sgm && this.weightDtype === 'f16' ? 'sgmatrix' : 'tiled');
    if (want === 'sgmatrix' && !(sgm && this.weightDtype === 'f16'))
      throw new RangeError('GpuModel: the subgroup-matrix prefill needs f16 weights and a device that passed checkSubgroupMatrix (Node, allow_unsafe_apis)');
    this.prefill = want;
    if (want === 'sgmatrix') this.sgMatrix = sgm;
    this.throttleMapWait = (opts.throttleMapWait ?? false) && canThrottle();
    this.maxBinding = Math.min(opts.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.uploadChunkBytes = opts.uploadChunkBytes;
    this.maxSplit = Math.ceil(ctx / 32) + 1;
    this.cache = PipelineCache.of(device);
    this.step = this.device.createBuffer({ label: 'step', size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.dummy = this.own(createStorage(this.device, 16, 'dummy'));
    this.dummyU32 = this.own(createStorage(this.device, 16, 'dummy-u32'));
    device.lost.then((info) => {
      this.lost = `the WebGPU device was lost (${info.reason}): ${info.message || 'no details'}`;
    });
  }

  /** Called once, at the first forward's submission after the load (LoadControl.onPhase 'first-submit'). */
  onFirstSubmit?: () => void;

  /** A forward was submitted: calls onFirstSubmit the first time. */
  submitted(): void {
    const f = this.onFirstSubmit;
    this.onFirstSubmit = undefined;
    f?.();
  }

  /** Frees `b` with the model. */
  own(b: GPUBuffer): GPUBuffer {
    this.owned.push(b);
    return b;
  }

  /** How kernels read a weight stored as `dtype` (f16 with `shader-f16` when the model uses it). */
  read(dtype: WeightDtype): WeightRead {
    return dtype === 'f16' && this.shaderF16 ? 'f16h' : dtype;
  }

  /** The decode matvec's launch shape for rows of K values (GpuTuning.matvec where it applies). */
  matvecShape(K: number, dtype: WeightDtype, N: number, epi?: MatvecEpilogue): MatvecShape {
    const t = this.tuning.matvec?.(K, dtype, N);
    return t && (!epi || t.R % 4 === 0) ? t : matvecShape(K, dtype, epi);
  }

  /** Throws GpuError when the device is lost or the model destroyed. */
  alive(): void {
    if (this.lost) throw new GpuError(`GpuModel: ${this.lost}`, 'device-lost');
    if (this.destroyed) throw new GpuError('GpuModel: this model was destroyed', 'destroyed');
  }

  /** Marks the model busy for one forward or greedy decode; throws if it is lost, destroyed or already busy. */
  claim(): void {
    this.alive();
    if (this.busy) throw new Error('GpuModel: another forward is still running (await it first)');
    this.busy = true;
  }

  /** The error to throw for a failed GPU wait: on a lost device, GpuError with the model freed. */
  failure(e: unknown): Error {
    if (this.lost) {
      this.destroy();
      return new GpuError(`GpuModel: ${this.lost}; the model's GPU resources were freed`, 'device-lost');
    }
    return e instanceof Error ? e : new Error(String(e));
  }

  /** Frees every buffer of the model (the device stays open). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const f of this.onDestroy) f();
    for (const b of this.owned) b.destroy();
    this.step.destroy();
    this.owned.length = 0;
  }
}

/**
 * Builds a model inside out-of-memory and validation error scopes: `construct` uploads its
 * weights (freeing what it built when it throws), `init` allocates what the first forward
 * needs. Rejects with GpuError ('out-of-memory' or 'validation'), or what either threw, after
 * destroying what was built.
 */
export async function createInErrorScopes<T extends { destroy(): void }>(device: GPUDevice, construct: () => T | Promise<T>, init: (m: T) => void): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let m: T | undefined;
  let thrown: unknown;
  try {
    m = await construct();
    init(m);
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
