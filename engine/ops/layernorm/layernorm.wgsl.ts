/**
 * LayerNorm over rows as WGSL (GPT-2), CPU reference `layernorm.ts` beside this file:
 * y = (x − mean) / sqrt(var + eps) · w + b, biased variance, two passes over the row
 * (mean, then squared deviations), one workgroup of 128 per row. Same parameters
 * as the RMSNorm rows kernel (`NORM_FIELDS`).
 */
import type { KernelSource } from '../../gpu/kernel';
import { NORM_FIELDS, NORM_ROWS_WGSL } from '../rmsnorm/rmsnorm.wgsl';

export function layernormRowsWgsl(): KernelSource {
  const code = /* wgsl */ `${NORM_ROWS_WGSL}
@group(0) @binding(2) var<storage, read> x: array<f32>;       // [T, D]
@group(0) @binding(3) var<storage, read> weight: array<f32>;  // [D]
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // [D]
@group(0) @binding(5) var<storage, read_write> y: array<f32>; // [rows, D]
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.x;
  if (r >= rowsOf(p.mSel, p.mFixed)) { return; }
  let xb = srcBase(r);
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
