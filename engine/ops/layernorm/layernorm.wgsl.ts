/**
 * LayerNorm over rows as WGSL (GPT-2), CPU reference `layernorm.ts` beside this file:
 * y = (x − mean) / sqrt(var + eps) · w + b, biased variance, two passes over the row
 * (mean, then squared deviations), one workgroup of 128 per row. Same parameters
 * as the RMSNorm rows kernel (`NORM_FIELDS`).
 */
import { M_WGSL, paramsWgsl, STEP_WGSL, type KernelSource } from '../../gpu/kernel';
import { NORM_FIELDS } from '../rmsnorm/rmsnorm.wgsl';

export function layernormRowsWgsl(): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(NORM_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> x: array<f32>;       // [T, D]
@group(0) @binding(3) var<storage, read> weight: array<f32>;  // [D]
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // [D]
@group(0) @binding(5) var<storage, read_write> y: array<f32>; // [rows, D]
const WG: u32 = 128u;
var<workgroup> red: array<f32, WG>;

fn total(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st = st >> 1u) {
    if (lid < st) { red[lid] += red[lid + st]; }
    workgroupBarrier();
  }
  let t = red[0];
  workgroupBarrier();
  return t;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.x;
  if (r >= rowsOf(p.mSel, p.mFixed)) { return; }
  var src = r;
  if (p.srcFromHead != 0u) { src += s.headFirst; }
  let xb = src * p.D;
  var sum = 0.0;
  for (var i = lid; i < p.D; i += WG) { sum += x[xb + i]; }
  let mean = total(sum, lid) / f32(p.D);
  var ss = 0.0;
  for (var i = lid; i < p.D; i += WG) { let d = x[xb + i] - mean; ss += d * d; }
  let inv = 1.0 / sqrt(total(ss, lid) / f32(p.D) + bitcast<f32>(p.eps));
  let yb = r * p.D;
  for (var i = lid; i < p.D; i += WG) {
    var o = (x[xb + i] - mean) * inv * weight[i];
    if (p.hasBias != 0u) { o += bias[i]; }
    y[yb + i] = o;
  }
}
`;
  return { label: 'layernorm-rows', code, bindings: ['x', 'weight', 'bias', 'y'], fields: NORM_FIELDS, floats: ['eps'] };
}
