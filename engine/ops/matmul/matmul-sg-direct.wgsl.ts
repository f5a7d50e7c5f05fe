/**
 * The prefill matmul on subgroup matrices with both operands read straight from storage: no
 * operand tile in workgroup memory and no barrier in the K loop. x comes as f16 rows (the
 * cast kernel below writes them from the f32 activations), W as the f16 weight rows it is
 * stored as; each subgroup loads its FM left and FN right fragments per K step of the
 * configuration and multiplies FM×FN of them (`prefetch`: the next step's fragments are
 * loaded before this step's multiplies). Results leave through workgroup memory one fragment
 * at a time, with the epilogues of the staged kernel (matmul-tiled.wgsl.ts: α, bias,
 * accumulate, SwiGLU).
 *
 * It reads whole fragments: the weight rows of every tile must exist (N a multiple of the
 * tile's BN; with 'act' the gate half of BN/2) and K a multiple of the configuration's K, and
 * the f16 x rows are padded (sgDirectRows, a row stride of sgDirectStride halves, zeros past K).
 */
import { LINEAR_FIELDS } from './matmul.wgsl';
import { commonWgsl, sgLoad, sgStore, sgTile, type MatmulEpilogue, type SgDialect, type SgMatrixConfig } from './matmul-tiled.wgsl';
import { M_WGSL, paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';

/** Launch shape: SGM×SGN subgroups per workgroup, each FM×FN fragments of the configuration. */
export interface SgDirectShape {
  SGM: number;
  SGN: number;
  FM: number;
  FN: number;
  prefetch?: boolean;
}

export const SG_DIRECT_DEFAULT: SgDirectShape = { SGM: 2, SGN: 2, FM: 2, FN: 4, prefetch: true };
export const SG_DIRECT_SMALL: SgDirectShape = { SGM: 2, SGN: 2, FM: 2, FN: 2, prefetch: true };

/** The f16 x row stride (halves) for K values: K rounded up to 64 (128-byte rows). */
export function sgDirectStride(K: number): number {
  return Math.ceil(K / 64) * 64;
}

/** The largest tile height LinearOp launches the direct kernel with (sizes the f16 x rows). */
export const SG_DIRECT_MAX_BM = 256;

/** Rows of the f16 x buffer for M rows: M rounded up to `BM` (the largest tile), so every fragment read is inside it. */
export function sgDirectRows(M: number, BM = SG_DIRECT_MAX_BM): number {
  return Math.ceil(M / BM) * BM;
}

/** Can the direct kernel with `shape` run a product of N weight rows (2I with 'act') and K values? */
export function sgDirectFits(cfg: SgMatrixConfig, shape: SgDirectShape, N: number, K: number, epi?: MatmulEpilogue): boolean {
  const { BN } = sgTile(cfg, { ...shape, BK: cfg.K });
  return K % cfg.K === 0 && (epi ? (N / 2) % (BN / 2) === 0 : N % BN === 0) && (!epi || shape.FN % 2 === 0);
}

/** Workgroup memory bytes of the direct kernel with `s` (each subgroup's result scratch). */
export function sgDirectBytes(cfg: SgMatrixConfig, s: SgDirectShape, epi?: MatmulEpilogue): number {
  return s.SGM * s.SGN * cfg.M * cfg.N * (epi ? 2 : 1) * 4;
}

export function matmulSgDirectWgsl(
  cfg: SgMatrixConfig,
  sgSize: number,
  shape: SgDirectShape = SG_DIRECT_DEFAULT,
  epi?: MatmulEpilogue,
  dialect: SgDialect = { syntax: 'layout', index: 'id' },
): KernelSource {
  const { syntax, index, emulate } = dialect;
  const { SGM, SGN, FM, FN, prefetch } = shape;
  const { BM, BN } = sgTile(cfg, { ...shape, BK: cfg.K });
  const NSG = SGM * SGN;
  const WG = NSG * sgSize;
  if (WG > 1024 || (epi && FN % 2)) throw new RangeError(`matmulSgDirect: shape ${JSON.stringify(shape)} is not supported (at most 1024 threads, FN even with an epilogue)`);
  const SCN = epi ? 2 * cfg.N : cfg.N;
  const FRAG = cfg.M * SCN;
  const L = emulate ? `array<f32, ${cfg.M * cfg.K}>` : `subgroup_matrix_left<f16, ${cfg.K}, ${cfg.M}>`;
  const R = emulate ? `array<f32, ${cfg.K * cfg.N}>` : `subgroup_matrix_right<f16, ${cfg.N}, ${cfg.K}>`;
  const C = emulate ? `array<f32, ${cfg.M * cfg.N}>` : `subgroup_matrix_result<f32, ${cfg.N}, ${cfg.M}>`;
  const loadA = (offset: string) => (emulate ? `emuLeft(${offset})` : sgLoad(syntax, L, '&xh', offset, false, 'XS'));
  const loadB = (offset: string) => (emulate ? `emuRight(${offset})` : sgLoad(syntax, R, '&wh', offset, true, 'WS'));
  const storeFrag = (offset: string, value: string) => (emulate ? `emuStore(${offset}, ${value})` : sgStore(syntax, '&cs', offset, value, `${SCN}u`));
  const mma = (a: string, b: string, c: string) => (emulate ? `emuMma(${a}, ${b}, ${c})` : `subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${c})`);
  const fm = [...Array(FM).keys()];
  const fn = [...Array(FN).keys()];
  const out = [...Array(epi ? FN / 2 : FN).keys()];
  const emit = (i: number, j: number) => `  ${storeFrag('sg * FRAG', `c${i}_${j}`)};${epi ? `\n  ${storeFrag(`sg * FRAG + ${cfg.N}u`, `c${i}_${j + FN / 2}`)};` : ''}
  workgroupBarrier();
  for (var e = lane; e < ${cfg.M * cfg.N}u; e += ${sgSize}u) {
    let r = e / ${cfg.N}u;
    let c = e % ${cfg.N}u;
    let m = m0 + sm + ${i * cfg.M}u + r;
    let v = cs[sg * FRAG + r * ${SCN}u + c];${
      epi
        ? `
    let o = wg.x * (BN / 2u) + (sg % ${SGN}u) * (SPAN / 2u) + ${j * cfg.N}u + c;
    if (m < M && o < p.half) { store(m, o, actFn(value(o, v)) * value(p.half + o, cs[sg * FRAG + r * ${SCN}u + ${cfg.N}u + c])); }`
        : `
    let n = wg.x * BN + sn + ${j * cfg.N}u + c;
    if (m < M && n < p.N) { store(m, n, value(n, v)); }`
    }
  }
  workgroupBarrier();`;
  const emulation = `
fn xhAt(i: u32) -> f32 { return unpack2x16float(xh[i / 2u])[i % 2u]; }
fn whAt(i: u32) -> f32 { return unpack2x16float(wh[i / 2u])[i % 2u]; }
// emulated subgroup matrices (tests): row-major left [M][K] from xh, right [K][N] from wh (weight rows: column-major)
fn emuLeft(o: u32) -> ${L} {
  var a: ${L};
  for (var r = 0u; r < ${cfg.M}u; r++) { for (var c = 0u; c < ${cfg.K}u; c++) { a[r * ${cfg.K}u + c] = xhAt(o + r * p.xRowStride + c); } }
  return a;
}
fn emuRight(o: u32) -> ${R} {
  var b: ${R};
  for (var r = 0u; r < ${cfg.K}u; r++) { for (var c = 0u; c < ${cfg.N}u; c++) { b[r * ${cfg.N}u + c] = whAt(o + c * p.rowStride * 2u + r); } }
  return b;
}
fn emuMma(a: ${L}, b: ${R}, c0: ${C}) -> ${C} {
  var c = c0;
  for (var r = 0u; r < ${cfg.M}u; r++) { for (var n = 0u; n < ${cfg.N}u; n++) {
    var t = c[r * ${cfg.N}u + n];
    for (var k = 0u; k < ${cfg.K}u; k++) { t += a[r * ${cfg.K}u + k] * b[k * ${cfg.N}u + n]; }
    c[r * ${cfg.N}u + n] = t;
  } }
  return c;
}
fn emuStore(o: u32, v: ${C}) {
  for (var r = 0u; r < ${cfg.M}u; r++) { for (var c = 0u; c < ${cfg.N}u; c++) { cs[o + r * ${SCN}u + c] = v[r * ${cfg.N}u + c]; } }
}
`;
  const H = emulate ? 'u32' : 'f16';
  const xw = `@group(0) @binding(2) var<storage, read> xh: array<${H}>; // [sgDirectRows(M), xRowStride] x as f16${emulate ? ' (pairs)' : ''}
@group(0) @binding(3) var<storage, read> wh: array<${H}>; // [N, rowStride·2] weight rows as f16${emulate ? ' (pairs)' : ''}`;
  const loads = (k: string, pre: string) => [
    ...fm.map((i) => `${pre}a${i} = ${loadA(`xb + ${i * cfg.M}u * XS + ${k}`)};`),
    ...fn.map((j) => `${pre}b${j} = ${loadB(`wb${j} + ${k}`)};`),
  ];
  const mmas = fm.map((i) => fn.map((j) => `    c${i}_${j} = ${mma(`a${i}`, `b${j}`, `c${i}_${j}`)};`).join('\n')).join('\n');
  const loop = prefetch
    ? `${loads('0u', 'var ')
        .map((l) => `  ${l}`)
        .join('\n')}
  for (var k = 0u; k < p.K; k += ${cfg.K}u) {
${mmas}
    if (k + ${cfg.K}u < p.K) {
${loads(`k + ${cfg.K}u`, '')
  .map((l) => `      ${l}`)
  .join('\n')}
    }
  }`
    : `  for (var k = 0u; k < p.K; k += ${cfg.K}u) {
${loads('k', 'let ')
  .map((l) => `    ${l}`)
  .join('\n')}
${mmas}
  }`;
  const code = /* wgsl */ `${
    emulate
      ? ''
      : `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
`
  }${commonWgsl(epi, xw)}
const BM: u32 = ${BM}u;
const BN: u32 = ${BN}u;
const SPAN: u32 = ${FN * cfg.N}u; // a subgroup's weight rows (with 'act': gate | up)
const FRAG: u32 = ${FRAG}u;
var<workgroup> cs: array<f32, ${NSG * FRAG}>; // per subgroup [${cfg.M}][${SCN}]: a result fragment${epi ? ' | its up fragment' : ''}
${emulate ? emulation : ''}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32${
    index === 'id' && !emulate ? ', @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32' : ''
  }) {
  let M = rowsOf(p.mSel, p.mFixed);
  let m0 = wg.y * BM;
  if (m0 >= M) { return; }${index === 'li' || emulate ? `\n  let sg = li / ${sgSize}u;\n  let lane = li % ${sgSize}u;` : ''}
  let sm = (sg / ${SGN}u) * ${FM * cfg.M}u; // the subgroup's first row in the tile
  let sn = (sg % ${SGN}u) * SPAN; // its first weight row in the tile
  let XS = p.xRowStride; // halves
  let WS = p.rowStride * 2u; // halves
  let xb = (m0 + sm) * XS;
${fn.map((j) => `  let wb${j} = (p.wOffset + wRow(wg.x, sn + ${j * cfg.N}u) * p.rowStride) * 2u;`).join('\n')}
${fm.map((i) => fn.map((j) => `  var c${i}_${j} = ${C}();`).join('\n')).join('\n')}
${loop}
${fm.map((i) => out.map((j) => emit(i, j)).join('\n')).join('\n')}
}
`;
  return {
    label: `matmul-sgdirect-f16-${cfg.M}x${cfg.N}x${cfg.K}-${SGM}x${SGN}f${FM}x${FN}${prefetch ? 'p' : ''}${epi ? '-act' : ''}-${emulate ? 'emulated' : `${syntax}-${index}`}`,
    code,
    bindings: ['xh', 'wh', 'b', 'y'],
    fields: LINEAR_FIELDS,
    floats: ['alpha', 'eps'],
  };
}

/**
 * x (f32 rows, as the staged kernels read them: xOffset, xRowStride, xHead) → xh, f16 rows of
 * `yRowStride` halves (sgDirectStride(K)) for sgDirectRows(M) rows: zeros past K and past M.
 * One thread per 4 values; dispatch [yRowStride / 256, sgDirectRows(M)] workgroups.
 */
export function castHalfWgsl(): KernelSource {
  const code = /* wgsl */ `${STEP_WGSL}
${paramsWgsl(LINEAR_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> x: array<f32>;          // [M, ≥K] rows at xOffset + m·xRowStride
@group(0) @binding(3) var<storage, read_write> xh: array<vec2<u32>>; // [rows, yRowStride] halves, 4 per element

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = rowsOf(p.mSel, p.mFixed);
  let m = wg.y;
  let k = (wg.x * 64u + li) * 4u;
  if (k >= p.yRowStride) { return; }
  var v = vec4<f32>(0.0);
  if (m < M) {
    var xr = m;
    if (p.xHead != 0u) { xr += s.headFirst; }
    let o = p.xOffset + xr * p.xRowStride + k;
    for (var j = 0u; j < 4u; j++) { if (k + j < p.K) { v[j] = x[o + j]; } }
  }
  xh[(m * p.yRowStride + k) / 4u] = vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw));
}
`;
  return { label: 'cast-half', code, bindings: ['x', 'xh'], fields: LINEAR_FIELDS, floats: ['alpha', 'eps'] };
}
