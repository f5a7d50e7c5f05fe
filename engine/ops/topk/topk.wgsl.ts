/**
 * Top-k / argmax of one logits row on the GPU, CPU reference `topk.ts` beside this
 * file, so a decode step reads back only k (value, id) pairs. Order: larger value
 * first, lower id first among equals. Each round picks the best candidate that comes
 * after the previous round's pick in that order, so no exclusion lists are needed.
 *   topkPartial — grid G: workgroup g takes elements [g·chunk, (g+1)·chunk) of the row
 *                 (the head's last row when lastRow = 1) and writes its k best pairs.
 *   topkFinal   — one workgroup over the G·k partial pairs: writes res [k] pairs
 *                 (value bits, id) and next[0] = the best id (the next step's token).
 */
import { paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';

export const TOPK_FIELDS = ['n', 'chunk', 'k', 'lastRow'] as const;
export const TOPK_CHUNK = 4096;

const pick = /* wgsl */ `
const WG: u32 = 256u;
var<workgroup> rv: array<f32, WG>;
var<workgroup> ri: array<u32, WG>;
var<workgroup> prev: vec2<u32>;
fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool { return av > bv || (av == bv && ai < bi); }
fn reduce(lid: u32, v: f32, i: u32) {
  rv[lid] = v;
  ri[lid] = i;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st = st >> 1u) {
    if (lid < st && better(rv[lid + st], ri[lid + st], rv[lid], ri[lid])) {
      rv[lid] = rv[lid + st];
      ri[lid] = ri[lid + st];
    }
    workgroupBarrier();
  }
}
`;

export function topkPartialWgsl(): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(TOPK_FIELDS)}
@group(0) @binding(2) var<storage, read> src: array<f32>;         // [rows, n]
@group(0) @binding(3) var<storage, read_write> cand: array<u32>;  // [G, k, 2]
${pick}
const PER: u32 = ${TOPK_CHUNK}u / WG; // elements per thread (p.chunk ≤ TOPK_CHUNK)
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var base = 0u;
  if (p.lastRow != 0u) { base = (s.headRows - 1u) * p.n; }
  let a = wg.x * p.chunk;
  let e = min(p.n, a + p.chunk);
  // the thread's elements a + lid + j·WG, loaded once with all loads in flight (a loop
  // over p.chunk made each load wait for the one before), then scanned in every round
  var vals: array<f32, PER>;
  for (var j = 0u; j < PER; j++) { vals[j] = src[base + min(a + lid + j * WG, e - 1u)]; }
  var pv = 0.0;
  var pi = 0u;
  for (var r = 0u; r < p.k; r++) {
    var bv = -3.4e38;
    var bi = 0xffffffffu;
    for (var j = 0u; j < PER; j++) {
      let i = a + lid + j * WG;
      let v = vals[j];
      if (i < e && (r == 0u || better(pv, pi, v, i)) && better(v, i, bv, bi)) { bv = v; bi = i; }
    }
    reduce(lid, bv, bi);
    pv = rv[0];
    pi = ri[0];
    if (lid == 0u) {
      let o = (wg.x * p.k + r) * 2u;
      cand[o] = bitcast<u32>(pv);
      cand[o + 1u] = pi;
    }
    workgroupBarrier();
  }
}
`;
  return { label: 'topk-partial', code, bindings: ['src', 'cand'], fields: TOPK_FIELDS };
}

export function topkFinalWgsl(): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(TOPK_FIELDS)}
@group(0) @binding(2) var<storage, read> cand: array<u32>;        // [G·k, 2]
@group(0) @binding(3) var<storage, read_write> res: array<u32>;   // [k, 2]
@group(0) @binding(4) var<storage, read_write> next: array<u32>;  // [≥1] the next step's token
${pick}
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let nc = p.n;
  var pv = 0.0;
  var pi = 0u;
  for (var r = 0u; r < p.k; r++) {
    var bv = -3.4e38;
    var bi = 0xffffffffu;
    for (var c = lid; c < nc; c += WG) {
      let v = bitcast<f32>(cand[c * 2u]);
      let i = cand[c * 2u + 1u];
      if (i != 0xffffffffu && (r == 0u || better(pv, pi, v, i)) && better(v, i, bv, bi)) { bv = v; bi = i; }
    }
    reduce(lid, bv, bi);
    pv = rv[0];
    pi = ri[0];
    if (lid == 0u) {
      res[r * 2u] = bitcast<u32>(pv);
      res[r * 2u + 1u] = pi;
      if (r == 0u) { next[0] = pi; }
    }
    workgroupBarrier();
  }
}
`;
  return { label: 'topk-final', code, bindings: ['cand', 'res', 'next'], fields: TOPK_FIELDS };
}
