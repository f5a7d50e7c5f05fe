/**
 * The KV-cache what-if calculator: pure functions over a KvSpec (spec.ts). For each layer l
 * of a sequence:
 *
 *   tokens_l  = min(context, window) on a sliding-window layer (a ring of the window, as
 *               serving engines keep it), else context
 *   elems_l   = 2 · kvHeads · headDim                     (MHA: kvHeads = heads; MQA: 1)
 *             = kvLoraRank + ropeHeadDim                   (MLA: one latent for K and V)
 *   bytes_l   = batch · tokens_l · (elems_l · dtypeBytes + groups_l · 2)
 *
 * dtypeBytes: f32 4, f16 2, int8 1, int4 ½, q8_0 1; groups_l: the f16 scales of int8/int4, one
 * per head per token for K and for V (2 · kvHeads; MLA: 1); of q8_0 (llama.cpp's block of 32
 * int8 and one f16 scale, 34 bytes per 32 values), one per 32 values (elems_l / 32; each head
 * width must be a multiple of 32, as llama.cpp requires); else 0. Paged: tokens_l is rounded
 * up to whole blocks, and what the rounding adds is the fragmentation. Weights: parameters ·
 * weight bytes. Numbers are f64: absurd inputs give a number and a warning, never a hang.
 */
import { estimateParams, type KvSpec } from './spec';

export type KvDtype = 'f32' | 'f16' | 'int8' | 'int4' | 'q8_0';
export type WeightDtypeWhatIf = 'f32' | 'f16' | 'int8' | 'int4';
/** As the config says, or one of the attention kinds applied to the same model. */
export type AttentionKind = 'config' | 'mha' | 'gqa' | 'mqa' | 'mla';

export const KV_DTYPE_BYTES: Record<KvDtype, number> = { f32: 4, f16: 2, int8: 1, int4: 0.5, q8_0: 1 };
const WEIGHT_DTYPES = ['f32', 'f16', 'int8', 'int4'];

export interface WhatIfOptions {
  context: number;
  batch?: number;
  kvDtype?: KvDtype;
  attention?: AttentionKind;
  /** KV heads for 'gqa' (default: the config's, or heads / 8 when the config is MHA). */
  kvHeads?: number;
  /** Sliding window in tokens (undefined: the config's; 0: none). */
  window?: number;
  /** Which layers slide: the config's, all, or every other (Gemma-2: even layers). */
  windowLayers?: 'config' | 'all' | 'alternate';
  /** Paged cache: tokens per block (undefined or 0: contiguous). */
  blockSize?: number;
  weightDtype?: WeightDtypeWhatIf;
  /** The GPU's memory in bytes, to compare weights + cache against. */
  gpuMemoryBytes?: number;
}

export interface WhatIfResult {
  name: string;
  context: number;
  batch: number;
  kvDtype: KvDtype;
  attention: Exclude<AttentionKind, 'config'>;
  kvHeads: number;
  /** Cache elements of one token in each layer (K and V together). */
  elemsPerToken: number[];
  /** Tokens each layer holds for one sequence (window-capped, before paging). */
  tokensPerLayer: number[];
  /** Bytes of one more token over all layers (no window cap), scales included. */
  bytesPerToken: number;
  /** Cache bytes of each layer for the whole batch (paged blocks included). */
  perLayerBytes: number[];
  /** Of perLayerBytes: K's share (V is the rest; MLA's latent counts as K, as llama.cpp keeps it). */
  perLayerKBytes: number[];
  /** Of cacheBytes: the int8/int4 scales. */
  scaleBytes: number;
  /** Of cacheBytes: block slots allocated but not holding a token (paged). */
  fragmentationBytes: number;
  cacheBytes: number;
  params: number;
  paramsEstimated: boolean;
  weightsBytes: number;
  totalBytes: number;
  gpuMemoryBytes?: number;
  fits?: boolean;
  /** Largest context whose weights + cache fit in gpuMemoryBytes at this batch (0: not even one token). */
  maxContextThatFits?: number;
  warnings: string[];
}

export class WhatIfError extends RangeError {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(`${parameter}: ${message}`);
    this.name = 'WhatIfError';
  }
}

function positiveInt(name: string, v: number | undefined, dflt?: number, allowZero = false): number {
  if (v === undefined) {
    if (dflt === undefined) throw new WhatIfError(name, 'is required');
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || !Number.isInteger(v) || v < (allowZero ? 0 : 1))
    throw new WhatIfError(name, `must be an integer ≥ ${allowZero ? 0 : 1}, got ${v}`);
  return v;
}

const SAFE = Number.MAX_SAFE_INTEGER;

/** Megatron-LM's activation memory of one transformer layer in training (16-bit, Korthikanti et al. 2022): bytes, for sequence s, batch b, hidden h, heads a, tensor parallel t, sequence parallel on or off. */
export function megatronActivationBytes(s: number, b: number, h: number, a: number, t = 1, sequenceParallel = false): number {
  if (sequenceParallel) return ((s * b * h) / t) * (34 + (5 * a * s) / h);
  return s * b * h * (10 + 24 / t + (5 * a * s) / (h * t));
}

/** The cache (and weights) of `spec` under `opts`. */
export function kvWhatIf(spec: KvSpec, opts: WhatIfOptions): WhatIfResult {
  const warnings: string[] = [];
  const context = positiveInt('context', opts.context);
  const batch = positiveInt('batch', opts.batch, 1);
  const kvDtype = opts.kvDtype ?? 'f16';
  if (!(kvDtype in KV_DTYPE_BYTES)) throw new WhatIfError('kv dtype', `must be f32, f16, int8, int4 or q8_0, got ${String(kvDtype)}`);
  const weightDtype = opts.weightDtype ?? 'f16';
  if (!WEIGHT_DTYPES.includes(weightDtype)) throw new WhatIfError('weight dtype', `must be f32, f16, int8 or int4, got ${String(weightDtype)}`);
  const blockSize = positiveInt('block size', opts.blockSize, 0, true);
  const H = spec.numHeads;
  let attention: Exclude<AttentionKind, 'config'>;
  const asConfig = opts.attention === undefined || opts.attention === 'config';
  if (asConfig) attention = spec.mla ? 'mla' : spec.numKvHeads === H ? 'mha' : spec.numKvHeads === 1 ? 'mqa' : 'gqa';
  else attention = opts.attention as Exclude<AttentionKind, 'config'>;
  if (!['mha', 'gqa', 'mqa', 'mla'].includes(attention)) throw new WhatIfError('attention', `must be config, mha, gqa, mqa or mla, got ${String(opts.attention)}`);
  if (attention === 'mla' && !spec.mla) throw new WhatIfError('attention', `mla needs kv_lora_rank and qk_rope_head_dim, which ${spec.name} does not have`);
  let kvHeads =
    attention === 'mha' ? H : attention === 'mqa' ? 1 : attention === 'mla' ? 1 : (opts.kvHeads ?? (spec.numKvHeads < H && !spec.mla ? spec.numKvHeads : Math.max(1, H / 8)));
  if (attention === 'gqa') {
    kvHeads = positiveInt('kv heads', kvHeads);
    if (H % kvHeads) throw new WhatIfError('kv heads', `must divide the ${H} query heads, got ${kvHeads}`);
  }
  // K and V widths per head: MLA models without MLA keep K of nope + rope and V of v_head_dim
  const kWidth = spec.mla ? spec.mla.nopeHeadDim + spec.mla.ropeHeadDim : spec.headDim;
  const vWidth = spec.mla ? spec.mla.vHeadDim : spec.headDim;
  const kElems = attention === 'mla' ? spec.mla!.kvLoraRank + spec.mla!.ropeHeadDim : kvHeads * kWidth;
  const vElems = attention === 'mla' ? 0 : kvHeads * vWidth;
  const elems = kElems + vElems;
  if (kvDtype === 'q8_0') {
    const widths = attention === 'mla' ? [kElems] : [kWidth, vWidth];
    const bad = widths.find((w) => w % 32);
    if (bad !== undefined) throw new WhatIfError('kv dtype', `q8_0 packs blocks of 32 values; a head width of ${bad} is not a multiple of 32 (llama.cpp refuses it too)`);
  }
  // f16 scales: int8/int4 one per head per token for K and V (MLA: one); q8_0 one per 32 values
  const groupsOf = (e: number, heads: number) => (kvDtype === 'q8_0' ? e / 32 : kvDtype === 'int8' || kvDtype === 'int4' ? (e ? heads : 0) : 0);
  const kGroups = groupsOf(kElems, attention === 'mla' ? 1 : kvHeads);
  const groups = kGroups + groupsOf(vElems, kvHeads);
  const dtypeBytes = KV_DTYPE_BYTES[kvDtype];
  const tokenBytes = elems * dtypeBytes + groups * 2; // one token, one layer
  const kTokenBytes = kElems * dtypeBytes + kGroups * 2;
  const window = opts.window === undefined ? spec.slidingWindow : positiveInt('window', opts.window, 0, true) || undefined;
  const which = opts.windowLayers ?? 'config';
  const slides = (l: number) => {
    if (window === undefined) return false;
    if (which === 'all') return true;
    if (which === 'alternate') return l % 2 === 0;
    return spec.slidingLayers?.[l] ?? true;
  };
  const L = spec.numLayers;
  const tokensPerLayer = Array.from({ length: L }, (_, l) => (slides(l) ? Math.min(context, window!) : context));
  const slots = (t: number) => (blockSize ? Math.ceil(t / blockSize) * blockSize : t);
  const perLayerBytes = tokensPerLayer.map((t) => batch * slots(t) * tokenBytes);
  const perLayerKBytes = tokensPerLayer.map((t) => batch * slots(t) * kTokenBytes);
  const cacheBytes = perLayerBytes.reduce((a, b) => a + b, 0);
  const fragmentationBytes = batch * tokensPerLayer.reduce((a, t) => a + (slots(t) - t), 0) * tokenBytes;
  const scaleBytes = batch * tokensPerLayer.reduce((a, t) => a + slots(t), 0) * groups * 2;
  const paramsEstimated = spec.params === undefined;
  const params = spec.params ?? estimateParams(spec);
  const weightsBytes = params * KV_DTYPE_BYTES[weightDtype];
  const totalBytes = cacheBytes + weightsBytes;
  const r: WhatIfResult = {
    name: spec.name,
    context,
    batch,
    kvDtype,
    attention,
    kvHeads: attention === 'mla' ? 0 : kvHeads,
    elemsPerToken: Array.from({ length: L }, () => elems),
    tokensPerLayer,
    bytesPerToken: L * tokenBytes,
    perLayerBytes,
    perLayerKBytes,
    scaleBytes,
    fragmentationBytes,
    cacheBytes,
    params,
    paramsEstimated,
    weightsBytes,
    totalBytes,
    warnings,
  };
  if (opts.gpuMemoryBytes !== undefined) {
    const g = opts.gpuMemoryBytes;
    if (typeof g !== 'number' || !Number.isFinite(g) || g <= 0) throw new WhatIfError('gpu memory', `must be a positive number of bytes, got ${g}`);
    r.gpuMemoryBytes = g;
    r.fits = totalBytes <= g;
    r.maxContextThatFits = maxContext(spec, opts, g);
  }
  if (context > spec.maxPositions)
    warnings.push(`context ${context} is past the model's ${spec.maxPositions} positions (max_position_embeddings): the model was not trained that far`);
  if (context >= 1e9) warnings.push(`context ${context.toExponential(2)} is far beyond any real model: the figure is arithmetic, not a plan`);
  if (cacheBytes > SAFE || totalBytes > SAFE) warnings.push('the bytes exceed 2^53: shown to double precision (about 16 significant digits)');
  if (!Number.isFinite(totalBytes)) warnings.push('the bytes overflow a double: infinite');
  if (paramsEstimated) warnings.push('parameters estimated from the shapes (no count given)');
  if (weightDtype === 'int4' || weightDtype === 'int8') warnings.push(`${weightDtype} weights: quantisation scales not counted`);
  return r;
}

/** The largest context (≥ 0) whose weights + cache fit in `gpu` bytes: a bisection over the (monotone) total. */
function maxContext(spec: KvSpec, opts: WhatIfOptions, gpu: number): number {
  const total = (c: number) => kvWhatIf(spec, { ...opts, context: c, gpuMemoryBytes: undefined }).totalBytes;
  if (total(1) > gpu) return 0;
  let lo = 1;
  let hi = 2;
  while (hi < 1e15 && total(hi) <= gpu) {
    lo = hi;
    hi *= 2;
  }
  if (hi >= 1e15) return lo;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (total(mid) <= gpu) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** GPUs to compare against: memory in bytes (GiB as the vendor rounds it). */
export const GPUS: readonly { name: string; bytes: number }[] = [
  { name: 'NVIDIA H200 (141 GB)', bytes: 141e9 },
  { name: 'NVIDIA H100 (80 GB)', bytes: 80 * 2 ** 30 },
  { name: 'NVIDIA A100 (40 GB)', bytes: 40 * 2 ** 30 },
  { name: 'NVIDIA RTX 4090 (24 GB)', bytes: 24 * 2 ** 30 },
  { name: 'NVIDIA L4 (24 GB)', bytes: 24 * 2 ** 30 },
  { name: 'NVIDIA T4 (16 GB)', bytes: 16 * 2 ** 30 },
  { name: 'Apple M-series, 16 GB unified', bytes: 16 * 2 ** 30 },
];
