/**
 * RMSNorm as a WGSL compute kernel: one workgroup per row, a tree reduction of
 * the sum of squares in workgroup memory. CPU reference: `rmsnorm.ts`.
 */
export const RMSNORM_WORKGROUP = 64;

export const rmsnormWgsl = /* wgsl */ `
struct Params { dim: u32, rows: u32, eps: f32, _pad: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [rows, dim]
@group(0) @binding(2) var<storage, read> weight: array<f32>;  // [dim]
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [rows, dim]

const WG: u32 = ${RMSNORM_WORKGROUP}u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wg.x;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var ss = 0.0;
  for (var i = lid.x; i < p.dim; i += WG) {
    let v = x[base + i];
    ss += v * v;
  }
  partial[lid.x] = ss;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid.x < stride) { partial[lid.x] += partial[lid.x + stride]; }
    workgroupBarrier();
  }
  let scale = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var i = lid.x; i < p.dim; i += WG) {
    y[base + i] = x[base + i] * scale * weight[i];
  }
}
`;
