/**
 * Causal attention over the KV cache as WGSL, CPU reference `attention.ts` beside this
 * file (grouped-query: head h reads KV head ⌊h / (H / Kv)⌋; sliding window: query at
 * slot i sees slots (i − window, i]). Scores are q·k · scale, as the CPU computes them.
 *
 * This file: what every attention kernel shares (params, the window, the split range, a
 * max reduction) and the prefill kernels:
 *   attnFlash  — prefill: flash-style online softmax; a workgroup holds BQ query rows of
 *                one head and walks the visible keys in tiles of BK (K then V through
 *                workgroup memory). Grid (⌈T/BQ⌉, H).
 *   attnProbs  — the attention-probability capture [H, T, Tk] (zeros outside the mask),
 *                dispatched only when asked for. Grid (T, H).
 * The decode kernels (few query rows, split-K) are in attention-decode.wgsl.ts.
 */
import { paramsWgsl, STEP_WGSL, treeReduceWgsl, type KernelSource } from '../../wgsl/kernel-source';

export const ATTN_FIELDS = ['H', 'Kv', 'hd', 'window', 'scale'] as const;
/** WGSL: the score every masked key gets (below any real score). */
export const ATTN_NEG = '-3.0e38';

/** WGSL every attention kernel starts with: Step, params P, the window's first slot, a split's key range. */
export const ATTN_COMMON = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(ATTN_FIELDS)}
fn lowSlot(slot: u32) -> u32 {
  if (p.window != 0u && slot + 1u > p.window) { return slot + 1u - p.window; }
  return 0u;
}
// (first key, key count) of split sp that the query at cache slot \`slot\` sees
fn splitRange(slot: u32, sp: u32) -> vec2<u32> {
  let a = max(lowSlot(slot), sp * s.splitLen);
  let e = min(slot + 1u, (sp + 1u) * s.splitLen);
  return vec2<u32>(a, select(0u, e - a, e > a));
}
`;

/** WGSL: m = the workgroup's largest `mx` (a tree over red[WG]; every thread gets it). */
export const ATTN_MAX_REDUCE = treeReduceWgsl('mx', 'max', 'm');

/** Query rows and key rows per flash tile for a head width (fits 16 KiB of workgroup memory). */
export function flashTile(hd: number): { BQ: number; BK: number } {
  return hd <= 64 ? { BQ: 16, BK: 16 } : hd <= 128 ? { BQ: 8, BK: 16 } : { BQ: 4, BK: 8 };
}

export function attnFlashWgsl(hd: number): KernelSource {
  const { BQ, BK } = flashTile(hd);
  const code = /* wgsl */ `${ATTN_COMMON}
@group(0) @binding(2) var<storage, read> q: array<f32>;        // [T, H, hd]
@group(0) @binding(3) var<storage, read> kc: array<f32>;       // [ctx, Kv, hd]
@group(0) @binding(4) var<storage, read> vc: array<f32>;       // [ctx, Kv, hd]
@group(0) @binding(5) var<storage, read_write> o: array<f32>;  // [T, H, hd]
const WG: u32 = 64u;
const HD: u32 = ${hd}u;
const BQ: u32 = ${BQ}u;
const BK: u32 = ${BK}u;
var<workgroup> kv: array<f32, ${BK * hd}>;   // [BK, hd]: K tile, then V tile
var<workgroup> S: array<f32, ${BQ * BK}>;     // [BQ, BK] scores, then probabilities
var<workgroup> acc: array<f32, ${BQ * hd}>;   // [BQ, hd]
var<workgroup> mrow: array<f32, ${BQ}>;
var<workgroup> lrow: array<f32, ${BQ}>;
var<workgroup> corr: array<f32, ${BQ}>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let qb = wg.x * BQ;
  let h = wg.y;
  if (qb >= s.T) { return; }
  let nq = min(BQ, s.T - qb);
  let kvh = h / (p.H / p.Kv);
  let scale = bitcast<f32>(p.scale);
  for (var i = lid; i < BQ * HD; i += WG) { acc[i] = 0.0; }
  if (lid < BQ) { mrow[lid] = ${ATTN_NEG}; lrow[lid] = 0.0; }
  let first = s.start + qb;
  let kLo = lowSlot(first);
  let kHi = first + nq;
  for (var kt = kLo; kt < kHi; kt += BK) {
    let nk = min(BK, kHi - kt);
    for (var i = lid; i < BK * HD; i += WG) {
      let jj = i / HD;
      var val = 0.0;
      if (jj < nk) { val = kc[((kt + jj) * p.Kv + kvh) * HD + (i % HD)]; }
      kv[i] = val;
    }
    workgroupBarrier();
    for (var i = lid; i < BQ * BK; i += WG) {
      let qi = i / BK;
      let jj = i % BK;
      let slot = first + qi;
      let j = kt + jj;
      var sv = ${ATTN_NEG};
      if (qi < nq && jj < nk && j <= slot && j >= lowSlot(slot)) {
        let qo = ((qb + qi) * p.H + h) * HD;
        var dot = 0.0;
        for (var d = 0u; d < HD; d++) { dot += q[qo + d] * kv[jj * HD + d]; }
        sv = dot * scale;
      }
      S[i] = sv;
    }
    workgroupBarrier();
    if (lid < BQ) {
      let qi = lid;
      var mt = mrow[qi];
      for (var jj = 0u; jj < BK; jj++) { mt = max(mt, S[qi * BK + jj]); }
      var ps = 0.0;
      for (var jj = 0u; jj < BK; jj++) {
        let sv = S[qi * BK + jj];
        var pv = 0.0;
        if (sv > -1.0e38) { pv = exp(sv - mt); }
        S[qi * BK + jj] = pv;
        ps += pv;
      }
      let c = exp(mrow[qi] - mt);
      corr[qi] = c;
      lrow[qi] = lrow[qi] * c + ps;
      mrow[qi] = mt;
    }
    workgroupBarrier();
    for (var i = lid; i < BK * HD; i += WG) {
      let jj = i / HD;
      var val = 0.0;
      if (jj < nk) { val = vc[((kt + jj) * p.Kv + kvh) * HD + (i % HD)]; }
      kv[i] = val;
    }
    workgroupBarrier();
    for (var i = lid; i < BQ * HD; i += WG) {
      let qi = i / HD;
      let d = i % HD;
      var a = acc[i] * corr[qi];
      for (var jj = 0u; jj < BK; jj++) { a += S[qi * BK + jj] * kv[jj * HD + d]; }
      acc[i] = a;
    }
    workgroupBarrier();
  }
  for (var i = lid; i < nq * HD; i += WG) {
    let qi = i / HD;
    o[((qb + qi) * p.H + h) * HD + (i % HD)] = acc[i] * (1.0 / lrow[qi]);
  }
}
`;
  return { label: `attn-flash-${hd}`, code, bindings: ['q', 'kc', 'vc', 'o'], fields: ATTN_FIELDS, floats: ['scale'] };
}

export function attnProbsWgsl(): KernelSource {
  const code = /* wgsl */ `${ATTN_COMMON}
@group(0) @binding(2) var<storage, read> q: array<f32>;            // [T, H, hd]
@group(0) @binding(3) var<storage, read> kc: array<f32>;           // [ctx, Kv, hd]
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;  // [H, T, Tk]
const WG: u32 = 64u;
var<workgroup> red: array<f32, WG>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wg.x;
  let h = wg.y;
  if (t >= s.T) { return; }
  let hd = p.hd;
  let slot = s.start + t;
  let lo = lowSlot(slot);
  let kvh = h / (p.H / p.Kv);
  let qo = (t * p.H + h) * hd;
  let pb = (h * s.T + t) * s.Tk;
  let scale = bitcast<f32>(p.scale);
  var mx = ${ATTN_NEG};
  for (var j = lid; j < s.Tk; j += WG) {
    var sv = 0.0;
    if (j >= lo && j <= slot) {
      var dot = 0.0;
      for (var d = 0u; d < hd; d++) { dot += q[qo + d] * kc[(j * p.Kv + kvh) * hd + d]; }
      sv = dot * scale;
      mx = max(mx, sv);
    }
    probs[pb + j] = sv;
  }
  ${ATTN_MAX_REDUCE}
  workgroupBarrier();
  var sum = 0.0;
  for (var j = lid; j < s.Tk; j += WG) {
    var e = 0.0;
    if (j >= lo && j <= slot) { e = exp(probs[pb + j] - m); }
    probs[pb + j] = e;
    sum += e;
  }
  ${treeReduceWgsl('sum', 'sum', 'total')}
  let inv = 1.0 / total;
  for (var j = lid; j < s.Tk; j += WG) { probs[pb + j] = probs[pb + j] * inv; }
}
`;
  return { label: 'attn-probs', code, bindings: ['q', 'kc', 'probs'], fields: ATTN_FIELDS, floats: ['scale'] };
}
