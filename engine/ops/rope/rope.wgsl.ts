/**
 * Rotary embeddings as WGSL, fused with what surrounds them in the attention block:
 * the fused QKV projection's output row [q heads | k heads | v heads] is split, Qwen3's
 * per-head q/k RMSNorm applied, q and k rotated ('half' or 'interleaved' pairs, or
 * none for learned positions), q written to [T, H, hd] and k, v written into the static
 * KV cache at slots start + t. CPU references: `rope.ts` (applyRope, and the cos/sin
 * tables, which the host computes with ropeCosSin exactly as the CPU path does and
 * uploads as cs [T, hd] = [cos(hd/2) | sin(hd/2)] per row) and rmsnorm.ts for q/k norm.
 * Grid: (⌈(H + 2·Kv)·hd/2 / 64⌉, T), one thread per rotated pair.
 */
import { paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';

export const ROPE_FIELDS = ['H', 'Kv', 'hd', 'qkvStride', 'style', 'qkNorm', 'eps'] as const;
export const ROPE_STYLE = { half: 0, interleaved: 1, none: 2 } as const;

/**
 * `kvAt`: 'slot' writes k and v into the cache at slots start + t; 'row' writes them to rows t
 * of [T, Kv, hd] buffers instead (the int8 cache quantises them from there: ops/kvquant).
 */
export function ropeQkvWgsl(kvAt: 'slot' | 'row' = 'slot'): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(ROPE_FIELDS)}
@group(0) @binding(2) var<storage, read> qkv: array<f32>;        // [T, (H + 2·Kv)·hd]
@group(0) @binding(3) var<storage, read> cs: array<f32>;         // [T, hd]: cos [hd/2] | sin [hd/2]
@group(0) @binding(4) var<storage, read> qn: array<f32>;         // [hd] q_norm weight
@group(0) @binding(5) var<storage, read> kn: array<f32>;         // [hd] k_norm weight
@group(0) @binding(6) var<storage, read_write> q: array<f32>;    // [T, H, hd]
@group(0) @binding(7) var<storage, read_write> kc: array<f32>;   // ${kvAt === 'slot' ? '[ctx, Kv, hd]' : '[T, Kv, hd]'}
@group(0) @binding(8) var<storage, read_write> vc: array<f32>;   // ${kvAt === 'slot' ? '[ctx, Kv, hd]' : '[T, Kv, hd]'}

fn put(j: u32, t: u32, i: u32, val: f32) {
  let hd = p.hd;
  if (j < p.H) { q[(t * p.H + j) * hd + i] = val; return; }
  let slot = ${kvAt === 'slot' ? 's.start + t' : 't'};
  if (j < p.H + p.Kv) { kc[(slot * p.Kv + (j - p.H)) * hd + i] = val; return; }
  vc[(slot * p.Kv + (j - p.H - p.Kv)) * hd + i] = val;
}

// One thread per rotated pair: grid (⌈(H + 2·Kv)·hd/2 / 64⌉, T). No workgroup memory:
// with q/k norm each thread sums the squares of its own head (hd reads, cached).
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y;
  let hd = p.hd;
  let half = hd / 2u;
  let j = gid.x / half;
  let i = gid.x % half;
  if (t >= s.T || j >= p.H + 2u * p.Kv) { return; }
  let src = t * p.qkvStride + j * hd;
  var ia = i;
  var ib = i + half;
  if (p.style == 1u) { ia = 2u * i; ib = 2u * i + 1u; }
  var a = qkv[src + ia];
  var b = qkv[src + ib];
  let isQK = j < p.H + p.Kv;
  if (!isQK) {
    put(j, t, ia, a);
    put(j, t, ib, b);
    return;
  }
  if (p.qkNorm != 0u) {
    var ss = 0.0;
    for (var d = 0u; d < hd; d++) { let v = qkv[src + d]; ss += v * v; }
    let scale = 1.0 / sqrt(ss / f32(hd) + bitcast<f32>(p.eps));
    if (j < p.H) { a = a * scale * qn[ia]; b = b * scale * qn[ib]; } else { a = a * scale * kn[ia]; b = b * scale * kn[ib]; }
  }
  if (p.style == 2u) {
    put(j, t, ia, a);
    put(j, t, ib, b);
    return;
  }
  let c = cs[t * hd + i];
  let sn = cs[t * hd + half + i];
  put(j, t, ia, a * c - b * sn);
  put(j, t, ib, b * c + a * sn);
}
`;
  return { label: kvAt === 'slot' ? 'rope-qkv' : 'rope-qkv-rows', code, bindings: ['qkv', 'cs', 'qn', 'kn', 'q', 'kc', 'vc'], fields: ROPE_FIELDS, floats: ['eps'] };
}
