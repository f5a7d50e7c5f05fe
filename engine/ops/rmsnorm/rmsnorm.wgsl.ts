/**
 * RMSNorm as a WGSL compute kernel: one workgroup per row, a tree reduction of
 * the sum of squares in workgroup memory. CPU reference: `rmsnorm.ts`.
 */
import { M_WGSL, paramsWgsl, STEP_WGSL, treeReduceWgsl, type KernelSource } from '../../wgsl/kernel-source';

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

/**
 * The engine's RMSNorm over rows of the residual stream (GpuModel): one workgroup of
 * 256 per row, rows from the Step uniform; the source row may start at the head's
 * first row (final norm with lastOnly). y[r] = x[src + r] / sqrt(mean(x²) + eps) · w.
 */
export const NORM_FIELDS = ['D', 'mSel', 'mFixed', 'srcFromHead', 'eps', 'hasBias'] as const;

/**
 * WGSL shared by the norm-over-rows kernels (this one and LayerNorm's), built for rows of
 * D values: the workgroup size, a sum over the workgroup, where output row r's source row
 * starts, and `loadRow`, which reads a thread's PER values of the row (and of the norm
 * weight) into registers with all loads in flight at once. (A loop over p.D made each
 * load wait for the one before: 10 µs for one 2048-wide row on the H200.)
 */
export function normRowsWgsl(D: number): string {
  const WG = 256;
  return /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(NORM_FIELDS)}
${M_WGSL}
const WG: u32 = ${WG}u;
const D: u32 = ${D}u;
const PER: u32 = ${Math.max(1, Math.ceil(D / WG))}u; // row values per thread: lid + j·WG
var<workgroup> red: array<f32, WG>;

// the workgroup's total of v (every thread gets it)
fn total(v: f32, lid: u32) -> f32 {
  ${treeReduceWgsl('v', 'sum', 't')}
  workgroupBarrier();
  return t;
}

// x offset of output row r's source row (the head's rows when srcFromHead)
fn srcBase(r: u32) -> u32 {
  var src = r;
  if (p.srcFromHead != 0u) { src += s.headFirst; }
  return src * D;
}

// values lid + j·WG of the row at x[xb…] and of the norm weight (0 past the row's end)
struct Row { x: array<f32, PER>, w: array<f32, PER> };
fn loadRow(xb: u32, lid: u32) -> Row {
  var r: Row;
  for (var j = 0u; j < PER; j++) {
    let i = lid + j * WG;
    let ok = i < D;
    let ic = select(D - 1u, i, ok);
    r.x[j] = select(0.0, x[xb + ic], ok);
    r.w[j] = select(0.0, weight[ic], ok);
  }
  return r;
}
`;
}

export function rmsnormRowsWgsl(D: number): KernelSource {
  const code = /* wgsl */ `${normRowsWgsl(D)}
@group(0) @binding(2) var<storage, read> x: array<f32>;       // [T, D]
@group(0) @binding(3) var<storage, read> weight: array<f32>;  // [D]
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // [rows, D]
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.x;
  if (r >= rowsOf(p.mSel, p.mFixed)) { return; }
  let row = loadRow(srcBase(r), lid);
  var ss = 0.0;
  for (var j = 0u; j < PER; j++) { ss += row.x[j] * row.x[j]; }
  let scale = 1.0 / sqrt(total(ss, lid) / f32(D) + bitcast<f32>(p.eps));
  let yb = r * D;
  for (var j = 0u; j < PER; j++) {
    let i = lid + j * WG;
    if (i < D) { y[yb + i] = row.x[j] * scale * row.w[j]; }
  }
}
`;
  return { label: 'rmsnorm-rows', code, bindings: ['x', 'weight', 'y'], fields: NORM_FIELDS, floats: ['eps'] };
}
