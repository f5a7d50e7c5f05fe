/**
 * LayerNorm over rows as WGSL (GPT-2), CPU reference `layernorm.ts` beside this file:
 * y = (x − mean) / sqrt(var + eps) · w + b, biased variance, two passes over the row
 * (mean, then squared deviations), one workgroup of 256 per row, the row held in
 * registers. Same parameters as the RMSNorm rows kernel (`NORM_FIELDS`).
 */
import type { KernelSource } from '../../wgsl/kernel-source';
import { NORM_FIELDS, normRowsWgsl } from '../rmsnorm/rmsnorm.wgsl';

export function layernormRowsWgsl(D: number): KernelSource {
  const code = /* wgsl */ `${normRowsWgsl(D)}
@group(0) @binding(2) var<storage, read> x: array<f32>;       // [T, D]
@group(0) @binding(3) var<storage, read> weight: array<f32>;  // [D]
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // [D]
@group(0) @binding(5) var<storage, read_write> y: array<f32>; // [rows, D]
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.x;
  if (r >= rowsOf(p.mSel, p.mFixed)) { return; }
  let row = loadRow(srcBase(r), lid);
  var sum = 0.0;
  for (var j = 0u; j < PER; j++) { sum += row.x[j]; }
  let mean = total(sum, lid) / f32(D);
  var ss = 0.0;
  for (var j = 0u; j < PER; j++) {
    if (lid + j * WG < D) { let d = row.x[j] - mean; ss += d * d; }
  }
  let inv = 1.0 / sqrt(total(ss, lid) / f32(D) + bitcast<f32>(p.eps));
  let yb = r * D;
  for (var j = 0u; j < PER; j++) {
    let i = lid + j * WG;
    if (i < D) {
      var o = (row.x[j] - mean) * inv * row.w[j];
      if (p.hasBias != 0u) { o += bias[i]; }
      y[yb + i] = o;
    }
  }
}
`;
  return { label: 'layernorm-rows', code, bindings: ['x', 'weight', 'bias', 'y'], fields: NORM_FIELDS, floats: ['eps'] };
}
