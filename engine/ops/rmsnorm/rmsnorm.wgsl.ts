/**
 * RMSNorm over rows as WGSL (the engine's final norm, and the norms of forwards the
 * decode matvec does not fuse): one workgroup per row, the row held in registers, a tree
 * reduction of the sum of squares in workgroup memory. CPU reference: `rmsnorm.ts`.
 */
import { M_WGSL, paramsWgsl, STEP_WGSL, treeReduceWgsl, type KernelSource } from '../../wgsl/kernel-source';

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
 * weight) into registers with all loads in flight at once (a loop over p.D would make
 * each load wait for the one before: engine/gpu/BENCH.md, "Norm rows held in registers").
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
