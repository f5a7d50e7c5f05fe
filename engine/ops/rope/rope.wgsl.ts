/**
 * Rotary embeddings as WGSL, fused with what surrounds them in the attention block:
 * the fused QKV projection's output row [q heads | k heads | v heads] is split, Qwen3's
 * per-head q/k RMSNorm applied, q and k rotated ('half' or 'interleaved' pairs, or
 * none for learned positions), q written to [T, H, hd] and k, v written into the static
 * KV cache at slots start + t. CPU references: `rope.ts` (applyRope, and the cos/sin
 * tables, which the host computes with ropeCosSin exactly as the CPU path does and
 * uploads as cs [T, hd] = [cos(hd/2) | sin(hd/2)] per row) and rmsnorm.ts for q/k norm.
 * Grid: (H + 2·Kv, T), one workgroup per head row.
 */
import { paramsWgsl, STEP_WGSL, type KernelSource } from '../../gpu/kernel';

export const ROPE_FIELDS = ['H', 'Kv', 'hd', 'qkvStride', 'style', 'qkNorm', 'eps'] as const;
export const ROPE_STYLE = { half: 0, interleaved: 1, none: 2 } as const;

export function ropeQkvWgsl(): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(ROPE_FIELDS)}
@group(0) @binding(2) var<storage, read> qkv: array<f32>;        // [T, (H + 2·Kv)·hd]
@group(0) @binding(3) var<storage, read> cs: array<f32>;         // [T, hd]: cos [hd/2] | sin [hd/2]
@group(0) @binding(4) var<storage, read> qn: array<f32>;         // [hd] q_norm weight
@group(0) @binding(5) var<storage, read> kn: array<f32>;         // [hd] k_norm weight
@group(0) @binding(6) var<storage, read_write> q: array<f32>;    // [T, H, hd]
@group(0) @binding(7) var<storage, read_write> kc: array<f32>;   // [ctx, Kv, hd]
@group(0) @binding(8) var<storage, read_write> vc: array<f32>;   // [ctx, Kv, hd]
const WG: u32 = 64u;
var<workgroup> v: array<f32, 512>;
var<workgroup> red: array<f32, WG>;

fn put(j: u32, t: u32, i: u32, val: f32) {
  let hd = p.hd;
  if (j < p.H) { q[(t * p.H + j) * hd + i] = val; return; }
  let slot = s.start + t;
  if (j < p.H + p.Kv) { kc[(slot * p.Kv + (j - p.H)) * hd + i] = val; return; }
  vc[(slot * p.Kv + (j - p.H - p.Kv)) * hd + i] = val;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = wg.x;
  let t = wg.y;
  if (t >= s.T) { return; }
  let hd = p.hd;
  let src = t * p.qkvStride + j * hd;
  for (var i = lid; i < hd; i += WG) { v[i] = qkv[src + i]; }
  workgroupBarrier();
  let isQK = j < p.H + p.Kv;
  if (isQK && p.qkNorm != 0u) {
    var ss = 0.0;
    for (var i = lid; i < hd; i += WG) { ss += v[i] * v[i]; }
    red[lid] = ss;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st = st >> 1u) {
      if (lid < st) { red[lid] += red[lid + st]; }
      workgroupBarrier();
    }
    let scale = 1.0 / sqrt(red[0] / f32(hd) + bitcast<f32>(p.eps));
    workgroupBarrier();
    for (var i = lid; i < hd; i += WG) {
      var w = kn[i];
      if (j < p.H) { w = qn[i]; }
      v[i] = v[i] * scale * w;
    }
    workgroupBarrier();
  }
  if (!isQK || p.style == 2u) {
    for (var i = lid; i < hd; i += WG) { put(j, t, i, v[i]); }
    return;
  }
  let half = hd / 2u;
  for (var i = lid; i < half; i += WG) {
    let c = cs[t * hd + i];
    let sn = cs[t * hd + half + i];
    var ia = i;
    var ib = i + half;
    if (p.style == 1u) { ia = 2u * i; ib = 2u * i + 1u; }
    let a = v[ia];
    let b = v[ib];
    put(j, t, ia, a * c - b * sn);
    put(j, t, ib, b * c + a * sn);
  }
}
`;
  return { label: 'rope-qkv', code, bindings: ['qkv', 'cs', 'qn', 'kn', 'q', 'kc', 'vc'], fields: ROPE_FIELDS, floats: ['eps'] };
}
