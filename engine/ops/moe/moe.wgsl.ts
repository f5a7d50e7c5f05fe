/**
 * Sparse MoE as WGSL, CPU reference `moe.ts` beside this file.
 *   moeRoute   — per token: softmax over the router logits, top-k (larger probability
 *                first, lower expert id on ties), weights renormalised over the k when
 *                asked; also the dense [T, E] weights (0 for experts not chosen) and the
 *                full softmax (router capture). Grid: ⌈T/64⌉.
 *   moeCombine — x[t, :] += Σ_e wts[t, e] · Y[e, t, :] (the residual add fused in).
 * Expert dispatch itself runs through the linear kernels (matmul.wgsl.ts): at decode the
 * matvec reads expert ids[m] (expertStride), so only the k chosen experts' weights are
 * read; a prefill runs every expert over all rows and mixes with the dense weights.
 */
import { M_WGSL, paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';

export const ROUTE_FIELDS = ['E', 'k', 'normalize'] as const;

export function moeRouteWgsl(): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(ROUTE_FIELDS)}
@group(0) @binding(2) var<storage, read> logits: array<f32>;        // [T, E]
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;     // [T, k]
@group(0) @binding(4) var<storage, read_write> wk: array<f32>;      // [T, k]
@group(0) @binding(5) var<storage, read_write> wd: array<f32>;      // [T, E]
@group(0) @binding(6) var<storage, read_write> probs: array<f32>;   // [T, E]
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let t = g.x;
  if (t >= s.T) { return; }
  let E = p.E;
  let o = t * E;
  var mx = -3.0e38;
  for (var e = 0u; e < E; e++) { mx = max(mx, logits[o + e]); }
  var sum = 0.0;
  for (var e = 0u; e < E; e++) { sum += exp(logits[o + e] - mx); }
  for (var e = 0u; e < E; e++) {
    probs[o + e] = exp(logits[o + e] - mx) / sum;
    wd[o + e] = 0.0;
  }
  var pv = 3.0e38;
  var pi = 0u;
  var kept = 0.0;
  for (var r = 0u; r < p.k; r++) {
    var bv = -3.0e38;
    var bi = 0xffffffffu;
    for (var e = 0u; e < E; e++) {
      let v = probs[o + e];
      let after = r == 0u || v < pv || (v == pv && e > pi);
      if (after && (v > bv || (v == bv && e < bi))) { bv = v; bi = e; }
    }
    ids[t * p.k + r] = bi;
    wk[t * p.k + r] = bv;
    kept += bv;
    pv = bv;
    pi = bi;
  }
  for (var r = 0u; r < p.k; r++) {
    var w = wk[t * p.k + r];
    if (p.normalize != 0u) { w = w / kept; }
    wk[t * p.k + r] = w;
    wd[o + ids[t * p.k + r]] = w;
  }
}
`;
  return { label: 'moe-route', code, bindings: ['logits', 'ids', 'wk', 'wd', 'probs'], fields: ROUTE_FIELDS };
}

export const COMBINE_FIELDS = ['D', 'nE', 'eStride', 'wStride', 'mSel', 'mFixed'] as const;

export function moeCombineWgsl(): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(COMBINE_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> Y: array<f32>;          // [nE, rows, D] (block e at e·eStride)
@group(0) @binding(3) var<storage, read> wts: array<f32>;        // [rows, wStride]
@group(0) @binding(4) var<storage, read_write> x: array<f32>;    // [rows, D]
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let d = g.x;
  let t = g.y;
  if (d >= p.D || t >= rowsOf(p.mSel, p.mFixed)) { return; }
  var acc = 0.0;
  for (var e = 0u; e < p.nE; e++) {
    let w = wts[t * p.wStride + e];
    if (w != 0.0) { acc += w * Y[e * p.eStride + t * p.D + d]; }
  }
  x[t * p.D + d] = x[t * p.D + d] + acc;
}
`;
  return { label: 'moe-combine', code, bindings: ['Y', 'wts', 'x'], fields: COMBINE_FIELDS };
}
