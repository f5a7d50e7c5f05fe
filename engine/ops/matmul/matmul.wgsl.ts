/**
 * Linear layer y = α·(x·Wᵀ) (+ bias) as WGSL, CPU reference `matmul.ts` beside this file.
 *
 *   matvec  — decode (few rows): one workgroup of 256 threads per R weight rows; each
 *             thread streams 16-byte vectors of W (4 f32, or 8 f16 packed in u32 and
 *             unpacked with unpack2x16float), partial sums reduced in workgroup
 *             memory (or with subgroupAdd when the device has `subgroups`).
 *   matmul  — prefill: 64×64 output tiles, K in steps of 16 through workgroup
 *             memory, 4×4 outputs per thread.
 *
 * Both share one parameter block:
 *   rows M from the Step uniform (T, or the head's rows) or fixed; W [N, K] packed with
 *   `rowStride` u32 words per row starting at word `wOffset` (+ ids[m]·expertStride for
 *   MoE expert dispatch: row m of x runs through expert ids[m]); x row m at
 *   xOffset + m·xRowStride; y row m at yOffset + m·yRowStride (a column slice of a wider
 *   row, for fused QKV / LoRA); accumulate: y += result (residual add, LoRA's B).
 */
import { actFnWgsl } from '../activations/activations.wgsl';
import { M_WGSL, paramsWgsl, STEP_WGSL, weightScalarWgsl, type KernelSource, type WeightDtype } from '../../gpu/kernel';

export const LINEAR_FIELDS = [
  'mSel',
  'mFixed',
  'N',
  'K',
  'rowStride',
  'wOffset',
  'xOffset',
  'xRowStride',
  'yOffset',
  'yRowStride',
  'hasBias',
  'accumulate',
  'alpha',
  'expertStride',
  'nGroupsX',
  'eps',
  'upOffset',
] as const;

/**
 * What the decode matvec does to x before the dot product (fusions that save a dispatch):
 *   rms   — x is the residual row: each workgroup computes its RMS (over K) and reads
 *           x[k]·nw[k], scaling the dot product by 1/sqrt(mean(x²) + eps) (RMSNorm fused);
 *   gated — x is the gate|up row: x[k] = act(x[k]) · x[upOffset + k] (SwiGLU fused).
 */
export type MatvecPrologue = { kind: 'rms' } | { kind: 'gated'; act: number };

export const MATVEC_WG = 256;
/** Weight rows per thread group of the matvec (unrolled accumulators). */
export const MATVEC_R = 4;

/** 16-byte vectors per packed weight row. */
function vectorsPerRow(K: number, dtype: WeightDtype): number {
  return Math.ceil(K / (dtype === 'f32' ? 4 : 8));
}

/** Threads per weight row: the power of two ≥ the row's 16-byte vectors, 4 … 256. */
export function matvecThreadsPerRow(K: number, dtype: WeightDtype): number {
  const nv = vectorsPerRow(K, dtype);
  let t = 4;
  while (t < nv && t < MATVEC_WG) t *= 2;
  return t;
}

/** Weight rows per matvec workgroup for rows of K values. */
export function matvecRows(K: number, dtype: WeightDtype): number {
  return (MATVEC_WG / matvecThreadsPerRow(K, dtype)) * MATVEC_R;
}

/**
 * The decode matvec for rows of K values: TPR = matvecThreadsPerRow(K) threads share a
 * group of R rows, streaming 16-byte vectors; lanes reduce in workgroup memory (a tree
 * of log2(TPR) steps), or with subgroupAdd when TPR ≥ 128 and the device has subgroups.
 */
export function matvecWgsl(dtype: WeightDtype, subgroups: boolean, K: number, pro?: MatvecPrologue): KernelSource {
  const R = MATVEC_R;
  const WG = MATVEC_WG;
  const TPR = matvecThreadsPerRow(K, dtype);
  const sg = subgroups && TPR >= 128;
  const accs = Array.from({ length: R }, (_, r) => r);
  const body =
    dtype === 'f32'
      ? `let xv = vec4<f32>(xAt(xb, k), xAt(xb, k + 1u), xAt(xb, k + 2u), xAt(xb, k + 3u));
${accs.map((r) => `      acc${r} += dot(w[row${r} + i], xv);`).join('\n')}`
      : `let xa = vec4<f32>(xAt(xb, k), xAt(xb, k + 1u), xAt(xb, k + 2u), xAt(xb, k + 3u));
      let xc = vec4<f32>(xAt(xb, k + 4u), xAt(xb, k + 5u), xAt(xb, k + 6u), xAt(xb, k + 7u));
${accs
  .map(
    (r) => `      let w${r} = w[row${r} + i];
      acc${r} += dot(vec4<f32>(unpack2x16float(w${r}.x), unpack2x16float(w${r}.y)), xa) + dot(vec4<f32>(unpack2x16float(w${r}.z), unpack2x16float(w${r}.w)), xc);`,
  )
  .join('\n')}`;
  // red: [WG/TPR groups][R rows][TPR lanes] (tree) or [R][WG/sgsize] partials (subgroups)
  const reduce = sg
    ? `${accs.map((r) => `  let t${r} = subgroupAdd(acc${r});`).join('\n')}
  let nsg = TPR / sgsize;
  if (sgid == 0u) {
${accs.map((r) => `    red[(g * R + ${r}u) * 64u + lane / sgsize] = t${r};`).join('\n')}
  }
  workgroupBarrier();
  if (lane < R) {
    var v = 0.0;
    for (var j = 0u; j < nsg; j++) { v += red[(g * R + lane) * 64u + j]; }
    finish(lane, v, m, nb);
  }`
    : `${accs.map((r) => `  red[(g * R + ${r}u) * TPR + lane] = acc${r};`).join('\n')}
  workgroupBarrier();
  for (var st = TPR / 2u; st > 0u; st = st >> 1u) {
    if (lane < st) {
${accs.map((r) => `      red[(g * R + ${r}u) * TPR + lane] += red[(g * R + ${r}u) * TPR + lane + st];`).join('\n')}
    }
    workgroupBarrier();
  }
  if (lane < R) { finish(lane, red[(g * R + lane) * TPR], m, nb); }`;
  const code = /* wgsl */ `${sg ? 'enable subgroups;\n' : ''}
${STEP_WGSL}
${paramsWgsl(LINEAR_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> x: array<f32>;                 // [M, ≥K] rows at xOffset + m·xRowStride
@group(0) @binding(3) var<storage, read> w: array<vec4<${dtype === 'f32' ? 'f32' : 'u32'}>>; // [N, rowStride words]
@group(0) @binding(4) var<storage, read> b: array<f32>;                 // [N]
@group(0) @binding(5) var<storage, read_write> y: array<f32>;           // [M, ≥N] rows at yOffset + m·yRowStride
@group(0) @binding(6) var<storage, read> ids: array<u32>;               // [M] expert per row (expertStride ≠ 0)

const WG: u32 = ${WG}u;
const TPR: u32 = ${TPR}u;
const R: u32 = ${R}u;
const EPV: u32 = ${dtype === 'f32' ? 4 : 8}u;
var<workgroup> red: array<f32, ${sg ? (WG / TPR) * R * 64 : WG * R}>;

${
    pro?.kind === 'rms'
      ? `@group(0) @binding(7) var<storage, read> nw: array<f32>;             // [K] RMSNorm weight
var<workgroup> nred: array<f32, ${WG}>;
var<private> rs: f32 = 1.0;
fn xAt(base: u32, k: u32) -> f32 {
  if (k < p.K) { return x[base + k] * nw[k]; }
  return 0.0;
}`
      : pro?.kind === 'gated'
        ? `${actFnWgsl(pro.act)}
fn xAt(base: u32, k: u32) -> f32 {
  if (k < p.K) { return actFn(x[base + k]) * x[base + p.upOffset + k]; }
  return 0.0;
}`
        : `fn xAt(base: u32, k: u32) -> f32 {
  if (k < p.K) { return x[base + k]; }
  return 0.0;
}`
  }

fn finish(r: u32, v: f32, m: u32, n0: u32) {
  let n = n0 + r;
  if (n >= p.N) { return; }
  var o = v * ${pro?.kind === 'rms' ? 'rs * ' : ''}bitcast<f32>(p.alpha);
  if (p.hasBias != 0u) { o += b[n]; }
  let idx = p.yOffset + m * p.yRowStride + n;
  if (p.accumulate != 0u) { y[idx] = y[idx] + o; } else { y[idx] = o; }
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32${
    sg ? ', @builtin(subgroup_size) sgsize: u32, @builtin(subgroup_invocation_id) sgid: u32' : ''
  }) {
  let m = wg.z;
  if (m >= rowsOf(p.mSel, p.mFixed)) { return; }
  let n0 = (wg.y * p.nGroupsX + wg.x) * (WG / TPR) * R;
  if (n0 >= p.N) { return; }
  let g = lid / TPR;
  let lane = lid % TPR;
  let nb = n0 + g * R;
  var wbase = p.wOffset;
  if (p.expertStride != 0u) { wbase += ids[m] * p.expertStride; }
  let xb = p.xOffset + m * p.xRowStride;
  let nv = p.rowStride / 4u;${
    pro?.kind === 'rms'
      ? `
  var ss = 0.0;
  for (var k = lid; k < p.K; k += WG) { let v = x[xb + k]; ss += v * v; }
  nred[lid] = ss;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st = st >> 1u) {
    if (lid < st) { nred[lid] += nred[lid + st]; }
    workgroupBarrier();
  }
  rs = 1.0 / sqrt(nred[0] / f32(p.K) + bitcast<f32>(p.eps));`
      : ''
  }
${accs.map((r) => `  let row${r} = wbase / 4u + min(nb + ${r}u, p.N - 1u) * nv;`).join('\n')}
${accs.map((r) => `  var acc${r} = 0.0;`).join('\n')}
  for (var i = lane; i < nv; i += TPR) {
    let k = i * EPV;
    ${body}
  }
${reduce}
}
`;
  const proLabel = pro ? (pro.kind === 'rms' ? '-rms' : `-gated${pro.act}`) : '';
  const bindings = pro?.kind === 'rms' ? ['x', 'w', 'b', 'y', 'ids', 'nw'] : ['x', 'w', 'b', 'y', 'ids'];
  return { label: `matvec-${dtype}-tpr${TPR}${sg ? '-sg' : ''}${proLabel}`, code, bindings, fields: LINEAR_FIELDS, floats: ['alpha', 'eps'] };
}

export const MATMUL_TILE = 64;

export function matmulWgsl(dtype: WeightDtype): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(LINEAR_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> x: array<f32>;                // [M, ≥K]
@group(0) @binding(3) var<storage, read> w: array<${dtype === 'f32' ? 'f32' : 'u32'}>; // [N, rowStride words]
@group(0) @binding(4) var<storage, read> b: array<f32>;                // [N]
@group(0) @binding(5) var<storage, read_write> y: array<f32>;          // [M, ≥N]
${weightScalarWgsl(dtype)}
const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
var<workgroup> xs: array<f32, 1024>; // [BK, BM]
var<workgroup> ws: array<f32, 1024>; // [BK, BN]

fn store(m: u32, n: u32, v: f32) {
  if (n >= p.N) { return; }
  var o = v * bitcast<f32>(p.alpha);
  if (p.hasBias != 0u) { o += b[n]; }
  let idx = p.yOffset + m * p.yRowStride + n;
  if (p.accumulate != 0u) { y[idx] = y[idx] + o; } else { y[idx] = o; }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = rowsOf(p.mSel, p.mFixed);
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  if (m0 >= M) { return; }
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var q = 0u; q < 4u; q++) {
      let idx = li + q * 256u;
      let r = idx / BK;
      let kk = idx % BK;
      let k = k0 + kk;
      var xv = 0.0;
      if (m0 + r < M && k < p.K) { xv = x[p.xOffset + (m0 + r) * p.xRowStride + k]; }
      xs[kk * BM + r] = xv;
      var wv = 0.0;
      if (n0 + r < p.N && k < p.K) { wv = wAt(p.wOffset + (n0 + r) * p.rowStride, k); }
      ws[kk * BN + r] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let xo = kk * BM + l.y * 4u;
      let wo = kk * BN + l.x * 4u;
      let xv = vec4<f32>(xs[xo], xs[xo + 1u], xs[xo + 2u], xs[xo + 3u]);
      let wv = vec4<f32>(ws[wo], ws[wo + 1u], ws[wo + 2u], ws[wo + 3u]);
      a0 += xv.x * wv;
      a1 += xv.y * wv;
      a2 += xv.z * wv;
      a3 += xv.w * wv;
    }
    workgroupBarrier();
  }
  let mr = m0 + l.y * 4u;
  let nc = n0 + l.x * 4u;
  let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
  for (var i = 0u; i < 4u; i++) {
    if (mr + i < M) {
      let v = acc[i];
      store(mr + i, nc, v.x);
      store(mr + i, nc + 1u, v.y);
      store(mr + i, nc + 2u, v.z);
      store(mr + i, nc + 3u, v.w);
    }
  }
}
`;
  return { label: `matmul-${dtype}`, code, bindings: ['x', 'w', 'b', 'y'], fields: LINEAR_FIELDS, floats: ['alpha', 'eps'] };
}
