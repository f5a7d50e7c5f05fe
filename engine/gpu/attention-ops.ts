/**
 * The attention block's dispatches of one layer for a ForwardPlan, by the KV cache's element
 * type: RoPE and the KV write, the decode kernels (split-K rows, grouped-query, combine), the
 * prefill flash kernel and the probability capture. With the f32 cache the rope kernel writes
 * K and V into the cache and the attention kernels read it as they are; with the int8 cache
 * the rope kernel writes this forward's K and V rows to scratch (kNew, vNew), kvQuant packs
 * them into the cache, and the attention kernels are their int8 variants (ops/kvquant:
 * withKvDtype), which read the packed words and the scales. The prefill kernel is
 * GpuTuning.flashPrefill's (ops/attention/attention-flash.wgsl.ts: flashPrefill).
 */
import { attnCombineWgsl, attnDecodeGqaWgsl, attnDecodeWgsl, attnRowsWgsl } from '../ops/attention/attention-decode.wgsl';
import { flashPrefill } from '../ops/attention/attention-flash.wgsl';
import { attnProbsWgsl } from '../ops/attention/attention.wgsl';
import { kvQuantWgsl, withKvDtype } from '../ops/kvquant/kvquant.wgsl';
import { ROPE_STYLE, ropeQkvWgsl } from '../ops/rope/rope.wgsl';
import type { KernelSource } from '../wgsl/kernel-source';
import { Dispatch } from './kernel';
import type { Act, LayerOps } from './forward-types';
import type { ModelCore } from './lifecycle';
import type { StepInputs } from './step-inputs';
import type { LayerWeights } from './weights';

type MakeDispatch = (k: KernelSource, values: Record<string, number>, buffers: Record<string, GPUBuffer>) => Dispatch;

/** The attention kernels' static params for layer L. */
function attnVals(core: ModelCore, L: LayerWeights): Record<string, number> {
  const c = core.config;
  return { H: c.numHeads, Kv: c.numKvHeads, hd: c.headDim, window: L.window, scale: 1 / Math.sqrt(c.headDim) };
}

/** The cache buffers an attention kernel reads: K and V, and with the int8 cache their scales. */
function cacheBuffers(L: LayerWeights, withV = true): Record<string, GPUBuffer> {
  const b: Record<string, GPUBuffer> = { kc: L.kc };
  if (withV) b.vc = L.vc;
  if (L.kScale) b.kScale = L.kScale;
  if (L.vScale && withV) b.vScale = L.vScale;
  return b;
}

/** Layer L's rope (+ KV write), int8 quantisation, decode and prefill attention dispatches. */
export function attentionOps(
  core: ModelCore,
  inputs: StepInputs,
  dispatch: MakeDispatch,
  a: Act,
  L: LayerWeights,
): Pick<LayerOps, 'rope' | 'kvQuant' | 'rows' | 'rowsGqa' | 'combine' | 'flash' | 'flashGrid'> {
  const c = core.config;
  const H = c.numHeads;
  const Kv = c.numKvHeads;
  const hd = c.headDim;
  const kv = core.kvDtype;
  const int8 = kv === 'int8';
  const vals = attnVals(core, L);
  const cache = cacheBuffers(L);
  const rows = { q: a.q, ...cache, o: a.att, part: a.part };
  const fp = flashPrefill(core.tuning.flashPrefill ?? 'rows', hd, H, Kv);
  return {
    rope: dispatch(
      ropeQkvWgsl(int8 ? 'row' : 'slot'),
      {
        H,
        Kv,
        hd,
        qkvStride: (H + 2 * Kv) * hd,
        style: c.positions === 'rope' ? ROPE_STYLE[c.rope!.style] : ROPE_STYLE.none,
        qkNorm: c.qkNorm ? 1 : 0,
        eps: c.norm.eps,
      },
      { qkv: a.qkv, cs: a.cs, qn: L.qNorm ?? core.dummy, kn: L.kNorm ?? core.dummy, q: a.q, kc: int8 ? a.kNew : L.kc, vc: int8 ? a.vNew : L.vc },
    ),
    kvQuant: int8 ? dispatch(kvQuantWgsl(), { Kv, hd }, { kx: a.kNew, vx: a.vNew, kq: L.kc, vq: L.vc, ks: L.kScale!, vs: L.vScale! }) : undefined,
    rows: dispatch(withKvDtype(inputs.vecAttn ? attnDecodeWgsl(hd, core.subgroups) : attnRowsWgsl(), kv), vals, rows),
    rowsGqa: inputs.gqaAttn ? dispatch(withKvDtype(attnDecodeGqaWgsl(hd, H / Kv, core.subgroups), kv), vals, rows) : undefined,
    combine: dispatch(attnCombineWgsl(hd), vals, { part: a.part, o: a.att }),
    flash: dispatch(withKvDtype(fp.k, kv), vals, { q: a.q, ...cache, o: a.att }),
    flashGrid: fp.grid,
  };
}

/** The attention-probability capture of layer L (built per forward that asks for it; the caller frees its params). */
export function attnProbsDispatch(core: ModelCore, a: Act, L: LayerWeights, probs: GPUBuffer): Dispatch {
  return new Dispatch(core.device, core.cache, withKvDtype(attnProbsWgsl(), core.kvDtype), core.step, attnVals(core, L), { q: a.q, ...cacheBuffers(L, false), probs });
}

/** Where this forward's keys are after rope, for the q/k capture: the cache at slot `start` (f32), or the int8 cache's scratch rows (before quantisation). */
export function forwardKeys(core: ModelCore, a: Act, L: LayerWeights, start: number): { src: GPUBuffer; offset: number } {
  const row = core.config.numKvHeads * core.config.headDim * 4;
  return core.kvDtype === 'int8' ? { src: a.kNew, offset: 0 } : { src: L.kc, offset: start * row };
}
