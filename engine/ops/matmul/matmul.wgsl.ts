/**
 * Linear layer y = α·(x·Wᵀ) (+ bias) as WGSL, CPU reference `matmul.ts` beside this file.
 *
 *   matvec  — decode (few rows): one workgroup of 256 threads per R weight rows; each
 *             thread streams 16-byte vectors of W (4 f32, or 8 f16: packed in u32 and
 *             unpacked with unpack2x16float, or read as mat2x4<f16> with `shader-f16`),
 *             partial sums reduced in workgroup memory (or with subgroupAdd when the
 *             device has `subgroups`).
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
import { M_WGSL, paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';
import { enableF16, weightScalarType, weightScalarWgsl, type WeightRead } from '../../wgsl/weight-read';

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
  'xHead',
  'half',
  'H',
  'Kv',
  'hd',
  'ropeStyle',
] as const;

/**
 * What the decode matvec does around the dot products (fusions that save dispatches):
 *   pro rms  — x is the residual row: the kernel reads x[k]·nw[k], sums x² in the same
 *              loop and scales each dot product by 1/sqrt(mean(x²) + eps) (RMSNorm fused);
 *              with `weighted: false` it reads x[k] alone (the caller folded nw into W's
 *              columns, which the fused gate|up does: engine/gpu/BENCH.md, "MLP norm
 *              folded into gate|up");
 *   epi act  — W is gate|up [2I, K]: a row group computes gate row i and up row I + i and
 *              writes y[i] = act(gate)·up (SwiGLU fused; `half` = I);
 *   epi rope — W is q|k|v [(H + 2Kv)·hd, K]: a row group computes both rows of a rotated
 *              pair, rotates q and k with cs [T, hd] = cos | sin, writes q [T, H, hd] and
 *              k, v into the KV cache at slot start + m (RoPE and the cache write fused;
 *              `half` = hd/2 for 'half' pairs, 1 for 'interleaved').
 * With an epilogue, four consecutive slots of a row group are two pairs:
 * slot 4g + 2·second + o → pair 2g + o, first or second row of it.
 */
export type MatvecPrologue = { kind: 'rms'; weighted?: boolean };
export type MatvecEpilogue = { kind: 'act'; act: number } | { kind: 'rope' };
export interface MatvecOptions {
  pro?: MatvecPrologue;
  epi?: MatvecEpilogue;
  /** Largest subgroup size of the device (subgroup reductions need TPR ≥ it). */
  subgroupMaxSize?: number;
  /** Override the launch shape (benchmarks). */
  shape?: MatvecShape;
}

/** Launch shape: WG threads, TPR threads per row group (power of two), R rows per thread (multiple of 4). */
export interface MatvecShape {
  WG: number;
  TPR: number;
  R: number;
}

/** 16-byte vectors per packed weight row. */
function vectorsPerRow(K: number, dtype: WeightRead): number {
  return Math.ceil(K / (dtype === 'f32' ? 4 : 8));
}

/**
 * The launch shape for rows of K values, 4 rows per thread: 256 threads and TPR the power
 * of two ≥ the row's 16-byte vectors, up to 256; for the fused gate|up (SwiGLU epilogue)
 * 128 threads and TPR up to 64, several vectors per thread. Small matrices (q|k|v, o, down)
 * are latency-bound and want the most workgroups; large ones stream alike with any TPR from
 * 32 (engine/gpu/BENCH.md, "Matvec launch shapes").
 */
export function matvecShape(K: number, dtype: WeightRead, epi?: MatvecEpilogue): MatvecShape {
  const nv = vectorsPerRow(K, dtype);
  const act = epi?.kind === 'act';
  let TPR = 4;
  while (TPR < nv && TPR < (act ? 64 : 256)) TPR *= 2;
  return { WG: act ? 128 : 256, TPR, R: 4 };
}

/** Weight rows (slots) per matvec workgroup. */
export function matvecRows(K: number, dtype: WeightRead, shape = matvecShape(K, dtype)): number {
  return (shape.WG / shape.TPR) * shape.R;
}

/** Slots a matvec over N rows covers: N, or whole pair groups with an epilogue. */
export function matvecSlots(N: number, epi?: MatvecEpilogue): number {
  return epi ? Math.ceil(N / 4) * 4 : N;
}

/**
 * The decode matvec for rows of K values (one x row per wg.z): TPR threads share a
 * group of R rows, streaming 16-byte vectors of W; partial sums are reduced in
 * workgroup memory (a tree of log2(TPR) steps), or with subgroupAdd when the device
 * has subgroups no wider than TPR.
 */
export function matvecWgsl(dtype: WeightRead, subgroups: boolean, K: number, opts: MatvecOptions = {}): KernelSource {
  const { pro, epi } = opts;
  const { WG, TPR, R } = opts.shape ?? matvecShape(K, dtype);
  if (epi && R % 4) throw new RangeError('matvec: an epilogue needs R a multiple of 4');
  const sg = subgroups && TPR >= (opts.subgroupMaxSize ?? 128);
  const EPV = dtype === 'f32' ? 4 : 8;
  const NV = vectorsPerRow(K, dtype);
  const rms = pro?.kind === 'rms';
  const nwt = rms && pro?.weighted !== false; // reads the norm weight nw
  const RR = R + (rms ? 1 : 0); // reduced values per row group: R dot products (+ Σx²)
  const G = WG / TPR;
  const vecX = K % EPV === 0; // x read as vec4 (no tail to mask)
  const accs = Array.from({ length: R }, (_, r) => r);
  const red = Array.from({ length: RR }, (_, r) => r);
  const xLoad = (k: string) => (vecX ? `xv(xb, ${k})` : `vec4<f32>(xs(xb, ${k}), xs(xb, ${k} + 1u), xs(xb, ${k} + 2u), xs(xb, ${k} + 3u))`);
  const nwLoad = (k: string) => (vecX ? `nw[(${k}) / 4u]` : `vec4<f32>(nw[${k}], nw[${k} + 1u], nw[${k} + 2u], nw[${k} + 3u])`);
  const xs = dtype === 'f32' ? ['xa'] : ['xa', 'xc'];
  const body = `${xs.map((v, j) => `var ${v} = ${xLoad(j ? 'k + 4u' : 'k')};`).join('\n      ')}${
    rms ? `\n      ${xs.map((v, j) => `ss += dot(${v}, ${v});${nwt ? ` ${v} = ${v} * ${nwLoad(j ? 'k + 4u' : 'k')};` : ''}`).join('\n      ')}` : ''
  }
${
  dtype === 'f32'
    ? accs.map((r) => `      acc${r} += dot(w[row${r} + i], xa);`).join('\n')
    : dtype === 'f16h'
      ? accs.map((r) => `      let w${r} = w[row${r} + i];\n      acc${r} += dot(vec4<f32>(w${r}[0]), xa) + dot(vec4<f32>(w${r}[1]), xc);`).join('\n')
      : accs
          .map(
            (r) => `      let w${r} = w[row${r} + i];
      acc${r} += dot(vec4<f32>(unpack2x16float(w${r}.x), unpack2x16float(w${r}.y)), xa) + dot(vec4<f32>(unpack2x16float(w${r}.z), unpack2x16float(w${r}.w)), xc);`,
          )
          .join('\n')
}`;
  const vals = red.map((r) => (r < R ? `acc${r}` : 'ss'));
  // red: [G groups][RR values][TPR lanes] (tree) or [G][RR][TPR / 4] subgroup partials
  const reduce = sg
    ? `${red.map((r) => `  let t${r} = subgroupAdd(${vals[r]});`).join('\n')}
  let nsg = TPR / sgsize;
  if (sgid == 0u) {
${red.map((r) => `    red[(g * RR + ${r}u) * (TPR / 4u) + lane / sgsize] = t${r};`).join('\n')}
  }
  workgroupBarrier();`
    : `${red.map((r) => `  red[(g * RR + ${r}u) * TPR + lane] = ${vals[r]};`).join('\n')}
  workgroupBarrier();
  for (var st = TPR / 2u; st > 0u; st = st >> 1u) {
    if (lane < st) {
${red.map((r) => `      red[(g * RR + ${r}u) * TPR + lane] += red[(g * RR + ${r}u) * TPR + lane + st];`).join('\n')}
    }
    workgroupBarrier();
  }`;
  const rowSum = sg
    ? `fn rowSum(g: u32, r: u32, nsg: u32) -> f32 {
  var v = 0.0;
  for (var j = 0u; j < nsg; j++) { v += red[(g * RR + r) * (TPR / 4u) + j]; }
  return v;
}`
    : `fn rowSum(g: u32, r: u32, nsg: u32) -> f32 { return red[(g * RR + r) * TPR]; }`;
  const nsgArg = sg ? 'nsg' : '1u';
  const epilogue = !epi
    ? `  if (lane < R) {
    let n = sb + lane;
    if (n < p.N) { store(m, n, value(n, rowSum(g, lane, ${nsgArg}), rs)); }
  }`
    : `  if (lane < R / 2u) {
    let o = lane % 2u;
    let ra = (lane / 2u) * 4u + o; // this pair's first row in the group; its second is ra + 2
    let pr = (sb + ra - o) / 2u + o;
    if (pr < p.N / 2u) {
      let na = rowOf(sb + ra);
      let nb = na + p.half;
      pair(m, pr, na, nb, value(na, rowSum(g, ra, ${nsgArg}), rs), value(nb, rowSum(g, ra + 2u, ${nsgArg}), rs));
    }
  }`;
  const pairFn =
    epi?.kind === 'act'
      ? `${actFnWgsl(epi.act)}
// gate row na = pr, up row nb = I + pr: y[m, pr] = act(gate)·up
fn pair(m: u32, pr: u32, na: u32, nb: u32, a: f32, b: f32) { store(m, pr, actFn(a) * b); }`
      : epi?.kind === 'rope'
        ? `@group(0) @binding(7) var<storage, read> cs: array<f32>;        // [T, hd]: cos [hd/2] | sin [hd/2]
@group(0) @binding(8) var<storage, read_write> q: array<f32>;    // [T, H, hd]
@group(0) @binding(9) var<storage, read_write> kc: array<f32>;   // [ctx, Kv, hd]
@group(0) @binding(10) var<storage, read_write> vc: array<f32>;  // [ctx, Kv, hd]
fn put(j: u32, m: u32, i: u32, val: f32) {
  if (j < p.H) { q[(m * p.H + j) * p.hd + i] = val; return; }
  let slot = s.start + m;
  if (j < p.H + p.Kv) { kc[(slot * p.Kv + (j - p.H)) * p.hd + i] = val; return; }
  vc[(slot * p.Kv + (j - p.H - p.Kv)) * p.hd + i] = val;
}
// rows na, nb of q|k|v are one rotated pair of head j (v: copied as they are)
fn pair(m: u32, pr: u32, na: u32, nb: u32, a: f32, b: f32) {
  let j = na / p.hd;
  let ia = na % p.hd;
  let ib = nb % p.hd;
  if (j >= p.H + p.Kv) { put(j, m, ia, a); put(j, m, ib, b); return; }
  var i = ia;
  if (p.ropeStyle == 1u) { i = ia / 2u; }
  let c = cs[m * p.hd + i];
  let sn = cs[m * p.hd + p.hd / 2u + i];
  put(j, m, ia, a * c - b * sn);
  put(j, m, ib, b * c + a * sn);
}`
        : '';
  const code = /* wgsl */ `${sg ? 'enable subgroups;\n' : ''}${enableF16(dtype)}
${STEP_WGSL}
${paramsWgsl(LINEAR_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> x: array<${vecX ? 'vec4<f32>' : 'f32'}>; // [M, ≥K] rows at xOffset + m·xRowStride
@group(0) @binding(3) var<storage, read> w: array<${dtype === 'f32' ? 'vec4<f32>' : dtype === 'f16' ? 'vec4<u32>' : 'mat2x4<f16>'}>; // [N, rowStride u32 words] as 16-byte vectors
@group(0) @binding(4) var<storage, read> b: array<f32>;                 // [N]
@group(0) @binding(5) var<storage, read_write> y: array<f32>;           // [M, ≥N] rows at yOffset + m·yRowStride
@group(0) @binding(6) var<storage, read> ids: array<u32>;               // [M] expert per row (expertStride ≠ 0)
${nwt ? `@group(0) @binding(11) var<storage, read> nw: array<${vecX ? 'vec4<f32>' : 'f32'}>; // [K] RMSNorm weight` : ''}

const WG: u32 = ${WG}u;
const TPR: u32 = ${TPR}u;
const R: u32 = ${R}u;
const RR: u32 = ${RR}u;
const EPV: u32 = ${EPV}u;
const NV: u32 = ${NV}u; // 16-byte vectors per weight row
const ITERS: u32 = ${Math.ceil(NV / TPR)}u; // main-loop steps per thread (a constant: the compiler can unroll)
var<workgroup> red: array<f32, ${sg ? G * RR * (TPR / 4) : G * RR * TPR}>;

${
  vecX
    ? `fn xv(base: u32, k: u32) -> vec4<f32> { return x[(base + k) / 4u]; }`
    : `fn xs(base: u32, k: u32) -> f32 {
  if (k < p.K) { return x[base + k]; }
  return 0.0;
}`
}
${rowSum}

// slot → weight row: identity, or (with an epilogue) the rows of two pairs per four slots
fn rowOf(slot: u32) -> u32 {${
    epi
      ? `
  let pr = (slot / 4u) * 2u + (slot & 1u);
  return (pr / p.half) * 2u * p.half + pr % p.half + ((slot >> 1u) & 1u) * p.half;`
      : `
  return slot;`
  }
}

fn value(n: u32, v: f32, rs: f32) -> f32 {
  var o = v * rs * bitcast<f32>(p.alpha);
  if (p.hasBias != 0u) { o += b[n]; }
  return o;
}

fn store(m: u32, n: u32, o: f32) {
  let idx = p.yOffset + m * p.yRowStride + n;
  if (p.accumulate != 0u) { y[idx] = y[idx] + o; } else { y[idx] = o; }
}
${pairFn}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32${
    sg ? ', @builtin(subgroup_size) sgsize: u32, @builtin(subgroup_invocation_id) sgid: u32' : ''
  }) {
  let m = wg.z;
  if (m >= rowsOf(p.mSel, p.mFixed)) { return; }
  let s0 = (wg.y * p.nGroupsX + wg.x) * (WG / TPR) * R;
  if (s0 >= ${epi ? '((p.N + 3u) / 4u) * 4u' : 'p.N'}) { return; }
  let g = lid / TPR;
  let lane = lid % TPR;
  let sb = s0 + g * R;
  var wbase = p.wOffset;
  if (p.expertStride != 0u) { wbase += ids[m] * p.expertStride; }
  var xr = m;
  if (p.xHead != 0u) { xr += s.headFirst; }
  let xb = p.xOffset + xr * p.xRowStride;
  let nv = p.rowStride / 4u;
${accs.map((r) => `  let row${r} = wbase / 4u + min(rowOf(sb + ${r}u), p.N - 1u) * nv;`).join('\n')}
${accs.map((r) => `  var acc${r} = 0.0;`).join('\n')}${rms ? '\n  var ss = 0.0;' : ''}
  for (var it = 0u; it < ITERS; it++) {
    let i = lane + it * TPR;${
      NV % TPR
        ? `
    if (i >= NV) { break; }`
        : ''
    }
    let k = i * EPV;
      ${body}
  }
${reduce}
  var rs = 1.0;${rms ? `\n  rs = 1.0 / sqrt(rowSum(g, R, ${nsgArg}) / f32(p.K) + bitcast<f32>(p.eps));` : ''}
${epilogue}
}
`;
  const label = `matvec-${dtype}-${WG}x${TPR}r${R}${sg ? '-sg' : ''}${rms ? (nwt ? '-rms' : '-rmsu') : ''}${epi ? `-${epi.kind}` : ''}`;
  const bindings = ['x', 'w', 'b', ...(epi?.kind === 'rope' ? [] : ['y']), 'ids'];
  if (epi?.kind === 'rope') bindings.push('cs', 'q', 'kc', 'vc');
  if (nwt) bindings.push('nw');
  return { label, code, bindings, fields: LINEAR_FIELDS, floats: ['alpha', 'eps'], bindingNumbers: bindingNumbers(bindings) };
}

/** The matvec's fixed binding slots (the optional ones keep their numbers). */
function bindingNumbers(names: string[]): number[] {
  const at: Record<string, number> = { x: 2, w: 3, b: 4, y: 5, ids: 6, cs: 7, q: 8, kc: 9, vc: 10, nw: 11 };
  return names.map((n) => at[n]);
}

export const MATMUL_TILE = 64;

export function matmulWgsl(dtype: WeightRead): KernelSource {
  const code = /* wgsl */ `${enableF16(dtype)}
${STEP_WGSL}
${paramsWgsl(LINEAR_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> x: array<f32>;                // [M, ≥K]
@group(0) @binding(3) var<storage, read> w: array<${weightScalarType(dtype)}>; // [N, rowStride u32 words]
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
