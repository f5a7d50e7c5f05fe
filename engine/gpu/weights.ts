/**
 * A GpuModel's weights on the device: linear weights and embedding tables packed once
 * (f32, or f16 two per u32; tensors larger than one storage binding split by rows), norms
 * and biases as f32, the KV cache allocated for the context length, and LoRA adapters
 * uploaded unmerged. Also counts the bytes one decode step reads, for roofline figures.
 */
import type { LoraAdapter } from '../model/lora';
import { foldColumns } from '../ops/normfold/normfold';
import { rowStrideWords, type WeightDtype } from '../wgsl/weight-read';
import { createStorage, packRows } from './kernel';
import type { ModelCore } from './lifecycle';
import type { WeightUploader } from './upload';

/** A [rows, cols] weight on the GPU, split by rows into parts of at most one binding each. */
export interface GpuWeight {
  rows: number;
  cols: number;
  dtype: WeightDtype;
  rowStride: number; // u32 words per row
  parts: { buffer: GPUBuffer; rowStart: number; rows: number }[];
}

export interface LoraOnGpu {
  A: GpuWeight; // [r, in]
  B: GpuWeight; // [out, r]
  r: number;
  scale: number;
}

export interface LayerWeights {
  attnNorm: GPUBuffer; // [D]
  attnNormB?: GPUBuffer; // [D]
  mlpNorm: GPUBuffer; // [D]
  mlpNormB?: GPUBuffer; // [D]
  /**
   * The MLP's RMSNorm weight [D], when it is folded into the columns of gu (gu = W ⊙ w,
   * so RMSNorm(x)·w·Wᵀ = RMSNorm₁(x)·guᵀ, RMSNorm₁ without a weight): the fused gate|up
   * then reads no norm weight (engine/gpu/BENCH.md, "MLP norm folded into gate|up"). The
   * MLP norm dispatch runs with a weight of ones, and a LoRA A on gate or up is folded the
   * same way. Dense RMSNorm MLPs without a norm bias.
   */
  mlpNormIn?: Float32Array; // [D]
  qkv: GpuWeight; // [(H + 2Kv)·hd, D]
  qkvBias?: GPUBuffer; // [(H + 2Kv)·hd]
  o: GpuWeight; // [D, H·hd]
  oBias?: GPUBuffer; // [D]
  qNorm?: GPUBuffer; // [hd]
  kNorm?: GPUBuffer; // [hd]
  gu?: GpuWeight; // gated: [2I, D] (gate | up); plain: up [I, D]
  guBias?: GPUBuffer; // [2I] or [I]
  down?: GpuWeight; // [D, I]
  downBias?: GPUBuffer; // [D]
  router?: GpuWeight; // [E, D]
  expGu?: GpuWeight; // [E·2I, D]
  expDown?: GpuWeight; // [E·D, I]
  kc: GPUBuffer; // [ctx, Kv, hd] f32, or int8: [ctx, Kv, hd/4] u32 words of four int8
  vc: GPUBuffer; // [ctx, Kv, hd] (int8: [ctx, Kv, hd/4] u32)
  /** int8 cache: the scales of K and V, f32 [ctx, Kv] each (one per token and KV head). */
  kScale?: GPUBuffer;
  vScale?: GPUBuffer;
  window: number; // 0 = none
  lora: Map<string, LoraOnGpu>; // q, k, v, o, gate, up, down
}

export interface ModelWeights {
  layers: LayerWeights[];
  embed: GpuWeight; // [V, D]
  posEmbed?: GpuWeight; // [P, D]
  finalNorm: GPUBuffer; // [D]
  finalNormB?: GPUBuffer; // [D]
  head: GpuWeight; // [V, D] (the embedding when tied)
  /** Bytes of weights read by one decode step (every layer + the head), for roofline figures. */
  decodeWeightBytes: number;
}

/** Uploads a row-major [rows, cols] tensor as `dtype`, split by rows where one binding cannot hold it. */
export function uploadWeight(core: ModelCore, data: Float32Array, rows: number, cols: number, dtype: WeightDtype, label: string): GpuWeight {
  const rowStride = rowStrideWords(cols, dtype);
  const rowBytes = rowStride * 4;
  let per = Math.max(1, Math.floor(core.maxBinding / rowBytes));
  if (per < rows) per = Math.max(1, per - (per % 8));
  const parts: GpuWeight['parts'] = [];
  for (let r0 = 0; r0 < rows; r0 += per) {
    const r1 = Math.min(rows, r0 + per);
    parts.push({ buffer: core.own(createStorage(core.device, packRows(data, cols, r0, r1, dtype), `${label}[${r0}:${r1}]`)), rowStart: r0, rows: r1 - r0 });
  }
  return { rows, cols, dtype, rowStride, parts };
}

/**
 * Makes the buffers of every weight of the model (shapes validated already) and allocates the
 * KV cache; norms and biases are uploaded now, the linear weights and tables when `up.run()`
 * streams them (upload.ts: by row ranges, in bounded chunks).
 */
export async function uploadModel(core: ModelCore, up: WeightUploader): Promise<ModelWeights> {
  const c = core.config;
  const device = core.device;
  const ctx = core.contextLength;
  const vec = (n: string) => up.vector([n], n);
  const opt = (n: string) => (up.has(n) ? vec(n) : undefined);
  const D = c.hiddenSize;
  const H = c.numHeads;
  const Kv = c.numKvHeads;
  const hd = c.headDim;
  const I = c.intermediateSize;
  const dt = core.weightDtype;
  const int8 = core.kvDtype === 'int8';
  const kvBytes = int8 ? 1 : 4; // bytes per cached value
  let wBytes = 0;
  const lin = (names: string[], cols: number, label: string, fold?: Float32Array, count = true) => {
    const w = up.weight(names, cols, dt, label, fold);
    if (count) wBytes += w.rows * w.rowStride * 4;
    return w;
  };
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const a = `${p}self_attn.`;
    const m = `${p}mlp.`;
    const L: LayerWeights = {
      attnNorm: await vec(`${p}input_layernorm.weight`),
      attnNormB: await opt(`${p}input_layernorm.bias`),
      mlpNorm: await vec(`${p}post_attention_layernorm.weight`),
      mlpNormB: await opt(`${p}post_attention_layernorm.bias`),
      qkv: lin([`${a}q_proj.weight`, `${a}k_proj.weight`, `${a}v_proj.weight`], D, `${p}qkv`), // [(H + 2Kv)·hd, D]
      qkvBias: c.qkvBias ? await up.vector([`${a}q_proj.bias`, `${a}k_proj.bias`, `${a}v_proj.bias`], `${p}qkv.bias`) : undefined,
      o: lin([`${a}o_proj.weight`], H * hd, `${a}o_proj`), // [D, H·hd]
      oBias: await opt(`${a}o_proj.bias`),
      qNorm: c.qkNorm ? await vec(`${a}q_norm.weight`) : undefined,
      kNorm: c.qkNorm ? await vec(`${a}k_norm.weight`) : undefined,
      kc: core.own(createStorage(device, ctx * Kv * hd * kvBytes, `${p}k_cache`)),
      vc: core.own(createStorage(device, ctx * Kv * hd * kvBytes, `${p}v_cache`)),
      kScale: int8 ? core.own(createStorage(device, ctx * Kv * 4, `${p}k_scale_cache`)) : undefined,
      vScale: int8 ? core.own(createStorage(device, ctx * Kv * 4, `${p}v_scale_cache`)) : undefined,
      window: c.slidingWindow !== undefined && (c.slidingWindowLayers?.[i] ?? true) ? c.slidingWindow : 0,
      lora: new Map(),
    };
    // a dense RMSNorm MLP gets its norm weight folded into gate|up (LayerWeights.mlpNormIn)
    if (!c.moe && c.norm.kind === 'rms' && !L.mlpNormB) L.mlpNormIn = await up.f32(`${p}post_attention_layernorm.weight`);
    if (c.moe) {
      const E = c.moe.numExperts;
      L.router = lin([`${m}router.weight`], D, `${m}router`); // [E, D]
      const gu: string[] = [];
      const dn: string[] = [];
      for (let e = 0; e < E; e++) {
        gu.push(`${m}experts.${e}.gate_proj.weight`, `${m}experts.${e}.up_proj.weight`);
        dn.push(`${m}experts.${e}.down_proj.weight`);
      }
      L.expGu = lin(gu, D, `${m}experts.gate_up`, undefined, false); // [E·2I, D]
      L.expDown = lin(dn, I, `${m}experts.down`, undefined, false); // [E·D, I]
      // a decode step reads k of the E experts
      wBytes += c.moe.topK * (2 * I * L.expGu.rowStride + D * L.expDown.rowStride) * 4;
    } else if (c.mlp === 'gated') {
      L.gu = lin([`${m}gate_proj.weight`, `${m}up_proj.weight`], D, `${m}gate_up`, L.mlpNormIn); // [2I, D]
      if (c.mlpBias) L.guBias = await up.vector([`${m}gate_proj.bias`, `${m}up_proj.bias`], `${m}gate_up.bias`);
      L.down = lin([`${m}down_proj.weight`], I, `${m}down_proj`); // [D, I]
      L.downBias = await opt(`${m}down_proj.bias`);
    } else {
      L.gu = lin([`${m}up_proj.weight`], D, `${m}up_proj`, L.mlpNormIn); // [I, D]
      L.guBias = await opt(`${m}up_proj.bias`);
      L.down = lin([`${m}down_proj.weight`], I, `${m}down_proj`); // [D, I]
      L.downBias = await opt(`${m}down_proj.bias`);
    }
    layers.push(L);
  }
  const embed = up.weight(['model.embed_tokens.weight'], D, dt, 'embed'); // [V, D]
  const posEmbed = c.positions === 'learned' ? up.weight(['model.embed_positions.weight'], D, 'f32', 'positions') : undefined; // [P, D]
  const finalNorm = await vec('model.norm.weight');
  const finalNormB = await opt('model.norm.bias');
  const head = c.tieEmbeddings ? embed : up.weight(['lm_head.weight'], D, dt, 'lm_head'); // [V, D]
  wBytes += c.vocabSize * head.rowStride * 4;
  return { layers, embed, posEmbed, finalNorm, finalNormB, head, decodeWeightBytes: wBytes };
}

/** Frees the LoRA weights of every layer. */
export function freeLora(layers: LayerWeights[]): void {
  for (const L of layers) {
    for (const l of L.lora.values()) for (const w of [l.A, l.B]) for (const p of w.parts) p.buffer.destroy();
    L.lora.clear();
  }
}

/** Uploads `adapter` unmerged (y += scale·(x·Aᵀ)·Bᵀ) in place of the layers' current one. */
export function uploadLora(core: ModelCore, layers: LayerWeights[], adapter: LoraAdapter | undefined): void {
  freeLora(layers);
  for (const t of adapter?.targets ?? []) {
    const m = /^model\.layers\.(\d+)\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.weight$/.exec(t.canonical);
    if (!m) throw new RangeError(`GpuModel: LoRA on ${t.canonical} is not supported on the GPU path (only attention and dense MLP projections)`);
    const L = layers[Number(m[1])];
    if (!L || (core.config.moe && m[2] === 'mlp')) throw new RangeError(`GpuModel: LoRA target ${t.canonical} is not a linear layer of this model`);
    const out = t.B.length / t.r;
    const inn = t.A.length / t.r;
    const A = (m[3] === 'gate' || m[3] === 'up') && L.mlpNormIn ? foldColumns(t.A, inn, L.mlpNormIn) : t.A; // reads RMSNorm₁(x), as gu does
    L.lora.set(m[3], {
      A: uploadWeight(core, A, t.r, inn, 'f32', `${t.canonical}.lora_A`),
      B: uploadWeight(core, t.B, out, t.r, 'f32', `${t.canonical}.lora_B`),
      r: t.r,
      scale: t.scale,
    });
  }
}
