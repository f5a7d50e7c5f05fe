/**
 * Prefill linear layers y = α·(x·Wᵀ) (+ bias) for many rows, as WGSL (CPU reference
 * `matmul.ts` beside this file; parameters: LINEAR_FIELDS, shared with the decode matvec).
 *
 *   tiled    — a BM×BN output tile per workgroup, K in steps of BK: x and W both go through
 *              workgroup memory as f32 (f16 weights unpacked once, when the tile is loaded,
 *              from 16-byte vectors of packed halves), each thread keeps a TM×TN register
 *              tile and reads its operands from workgroup memory as vec4s; f32 accumulate.
 *              Both kernels load the next K step's x and W into registers while the current
 *              step multiplies (pipelinedLoadsWgsl).
 *   sgmatrix — the same tiling on subgroup matrices (`chromium_experimental_subgroup_matrix`:
 *              tensor cores): x rounded to f16 and W as f16 in workgroup memory, each
 *              subgroup multiplies FM×FN fragments of the device's f16 → f32 configuration
 *              and writes them out one fragment at a time through workgroup memory.
 *
 * Epilogues (both kernels): α, bias, accumulate (y += result, the residual add), and 'act'
 * — W is gate|up [2I, K] and y[m, i] = act(gate_i)·up_i (SwiGLU fused; `half` = I): a tile
 * holds BN/2 gate rows and the matching BN/2 up rows (in groups of SPAN rows: gate half, up
 * half), and writes BN/2 outputs.
 */
import { actFnWgsl } from '../activations/activations.wgsl';
import { M_WGSL, paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';
import type { WeightDtype } from '../../wgsl/weight-read';
import { LINEAR_FIELDS } from './matmul.wgsl';

/** What a prefill matmul does after the dot products (see the file comment). */
export type MatmulEpilogue = { kind: 'act'; act: number };

/** Register-tiled launch shape: BM×BN outputs per workgroup, TM×TN per thread, K steps of BK. */
export interface TiledShape {
  BM: number;
  BN: number;
  TM: number;
  TN: number;
  BK: number;
}

/** The default tiles: 128×128 (8×8 per thread) for large products, 64×64 (4×8, 128 threads) where that leaves too few workgroups. */
export const TILED_LARGE: TiledShape = { BM: 128, BN: 128, TM: 8, TN: 8, BK: 16 };
export const TILED_SMALL: TiledShape = { BM: 64, BN: 64, TM: 4, TN: 8, BK: 16 };

/** Workgroup memory bytes of the tiled kernel with `s` (x and W tiles, each row padded by one vec4). */
export function tiledBytes(s: TiledShape): number {
  return s.BK * (s.BM + 4) * 4 + s.BK * (s.BN + 4) * 4;
}

/** Workgroups a product of M rows and N weight rows needs with `shape` (with 'act', N counts gate and up rows). */
export function tiledGroups(M: number, N: number, shape: { BM: number; BN: number }): [number, number] {
  return [Math.ceil(N / shape.BN), Math.ceil(M / shape.BM)];
}

function checkShape(s: TiledShape, epi?: MatmulEpilogue): void {
  const ints = [s.BM, s.BN, s.TM, s.TN, s.BK].every((v) => Number.isInteger(v) && v > 0);
  const wg = (s.BM / s.TM) * (s.BN / s.TN);
  if (!ints || s.TM % 4 || s.TN % 4 || s.BM % s.TM || s.BN % s.TN || s.BK % 8 || wg > 1024 || (epi && s.TN % 8))
    throw new RangeError(
      `matmulTiled: shape ${JSON.stringify(s)} is not supported (TM, TN multiples of 4 dividing BM, BN; TN a multiple of 8 with an epilogue; BK of 8; at most 1024 threads)`,
    );
}

/** WGSL shared by both kernels: bindings, α / bias / accumulate and the SwiGLU pair. */
function commonWgsl(epi?: MatmulEpilogue): string {
  return `${STEP_WGSL}
${paramsWgsl(LINEAR_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> x: array<f32>;        // [M, ≥K] rows at xOffset + m·xRowStride
@group(0) @binding(3) var<storage, read> w: array<vec4<u32>>;  // [N, rowStride u32 words] as 16-byte vectors
@group(0) @binding(4) var<storage, read> b: array<f32>;        // [N]
@group(0) @binding(5) var<storage, read_write> y: array<f32>;  // [M, ≥N] rows at yOffset + m·yRowStride

fn value(n: u32, v: f32) -> f32 {
  var o = v * bitcast<f32>(p.alpha);
  if (p.hasBias != 0u) { o += b[n]; }
  return o;
}

fn store(m: u32, n: u32, o: f32) {
  let idx = p.yOffset + m * p.yRowStride + n;
  if (p.accumulate != 0u) { y[idx] = y[idx] + o; } else { y[idx] = o; }
}
${epi ? actFnWgsl(epi.act) : ''}
// x[m, k], 0 past K (the weights' row padding is 0 too, but x past K may be anything)
fn xAt(m: u32, k: u32) -> f32 {
  if (k >= p.K) { return 0.0; }
  var xr = m;
  if (p.xHead != 0u) { xr += s.headFirst; }
  return x[p.xOffset + xr * p.xRowStride + k];
}

// the first u32 word of weight row n (per-row expert dispatch, expertStride, is the matvec's alone)
fn wRowWord(n: u32) -> u32 { return p.wOffset + n * p.rowStride; }

// the tile's local weight row r → the weight row: n0 + r, or with 'act' rows in groups of SPAN
// (SPAN = BN in the tiled kernel, a subgroup's columns in the subgroup-matrix one), each group's
// first half gate rows and its second half the matching up rows: output outOf(tile, r)
fn outOf(tile: u32, r: u32) -> u32 { return tile * (BN / 2u) + (r / SPAN) * (SPAN / 2u) + (r % SPAN) % (SPAN / 2u); }

fn wRow(tile: u32, r: u32) -> u32 {${
    epi
      ? `
  let o = outOf(tile, r);
  if (r % SPAN < SPAN / 2u) { return o; }
  return p.half + o;`
      : `
  return tile * BN + r;`
  }
}

// is local weight row r a real row (inside N, or inside the gate / up half)?
fn wRowOk(tile: u32, r: u32) -> bool {${
    epi
      ? `
  return outOf(tile, r) < p.half;`
      : `
  return tile * BN + r < p.N;`
  }
}
`;
}

/** WGSL `wUnpack(v)`: a 16-byte vector of weights as f32 values (4 f32, or 8 halves). */
function wUnpackWgsl(dtype: WeightDtype): string {
  return dtype === 'f32'
    ? `fn wUnpack(v: vec4<u32>) -> array<f32, 4> { let f = bitcast<vec4<f32>>(v); return array<f32, 4>(f.x, f.y, f.z, f.w); }`
    : `fn wUnpack(v: vec4<u32>) -> array<f32, 8> {
  let a = unpack2x16float(v.x);
  let b2 = unpack2x16float(v.y);
  let c = unpack2x16float(v.z);
  let d = unpack2x16float(v.w);
  return array<f32, 8>(a.x, a.y, b2.x, b2.y, c.x, c.y, d.x, d.y);
}`;
}

/**
 * WGSL `loadX` / `loadW`: one block of the K step at k0 into registers — x: 4 rows × 4 values as
 * 4 vec4 (v[j] = value k + j of the 4 rows); W: one 16-byte vector (EPV values) of each of 4
 * rows, as stored — 0 past M, the weight rows or K. Each kernel stores them into its own tiles.
 */
function loadersWgsl(XB: number, WB: number): string {
  const e4 = [0, 1, 2, 3];
  return `const XB: u32 = ${XB}u; // x blocks per K step
const WB: u32 = ${WB}u; // weight blocks per K step

fn loadX(idx: u32, k0: u32, m0: u32, M: u32) -> array<vec4<f32>, 4> {
  var v: array<vec4<f32>, 4>;
  if (idx < XB) {
    let rb = idx / (BK / 4u);
    let k = k0 + (idx % (BK / 4u)) * 4u;
${e4.map((i) => `    let r${i} = min(m0 + rb * 4u + ${i}u, M - 1u);`).join('\n')}
${e4.map((j) => `    v[${j}] = vec4<f32>(${e4.map((i) => `xAt(r${i}, k + ${j}u)`).join(', ')});`).join('\n')}
  }
  return v;
}

fn loadW(idx: u32, k0: u32, tile: u32) -> array<vec4<u32>, 4> {
  var v: array<vec4<u32>, 4>;
  if (idx < WB) {
    let rb = idx / (BK / EPV);
    let k = k0 + (idx % (BK / EPV)) * EPV;
${e4.map((i) => `    if (k < p.K && wRowOk(tile, rb * 4u + ${i}u)) { v[${i}] = w[(wRowWord(wRow(tile, rb * 4u + ${i}u)) + k * 4u / EPV) / 4u]; }`).join('\n')}
  }
  return v;
}
`;
}

/**
 * The K loop's operand traffic: `init` loads the first step's blocks into registers; `step`
 * (at the top of each step) stores them into the tiles, waits at the barrier, and loads the
 * next step's blocks, whose latency the step's multiplies then hide.
 */
function pipelinedLoadsWgsl(nx: number, nw: number, WG: number): { init: string; step: string } {
  const xb = [...Array(nx).keys()];
  const wb = [...Array(nw).keys()];
  return {
    init: `${xb.map((b) => `  var px${b} = loadX(li + ${b * WG}u, 0u, m0, M);`).join('\n')}
${wb.map((b) => `  var pw${b} = loadW(li + ${b * WG}u, 0u, wg.x);`).join('\n')}`,
    step: `${xb.map((b) => `    storeX(li + ${b * WG}u, px${b});`).join('\n')}
${wb.map((b) => `    storeW(li + ${b * WG}u, pw${b});`).join('\n')}
    workgroupBarrier();
    if (k0 + BK < p.K) {
${xb.map((b) => `      px${b} = loadX(li + ${b * WG}u, k0 + BK, m0, M);`).join('\n')}
${wb.map((b) => `      pw${b} = loadW(li + ${b * WG}u, k0 + BK, wg.x);`).join('\n')}
    }`,
  };
}

/**
 * The register-tiled prefill matmul (see the file comment). Rows M from the Step uniform;
 * dispatch tiledGroups(M, N, shape) workgroups ([N tiles, M tiles]). Tiles are loaded in
 * blocks of 4 rows, so every workgroup-memory write is a whole vec4 along m or n.
 */
export function matmulTiledWgsl(dtype: WeightDtype, shape: TiledShape = TILED_LARGE, epi?: MatmulEpilogue): KernelSource {
  checkShape(shape, epi);
  const { BM, BN, TM, TN, BK } = shape;
  const WG = (BM / TM) * (BN / TN);
  const TX = BN / TN; // threads along n
  const EPV = dtype === 'f32' ? 4 : 8; // weight values per 16-byte vector
  const SM = (BM + 4) / 4; // vec4 per row of xs (padded by one)
  const SN = (BN + 4) / 4;
  const qm = TM / 4;
  const qn = TN / 4;
  const ii = [...Array(TM).keys()];
  const jq = [...Array(qn).keys()];
  const e4 = [0, 1, 2, 3];
  const acc = (i: number, q: number) => `acc${i}_${q}`;
  const XB = (BM / 4) * (BK / 4); // x blocks per K step
  const WBn = (BN / 4) * (BK / EPV); // weight blocks per K step
  const pipe = pipelinedLoadsWgsl(Math.ceil(XB / WG), Math.ceil(WBn / WG), WG);
  // vec4 column of the thread's q, interleaved so that neighbouring threads read (and write)
  // neighbouring vec4s: q·TX + tx, or with 'act' gate columns q·TX + tx for the first half of
  // q and the matching up columns BN/8 + … for the second
  const colOf = (q: number) => (epi && q >= qn / 2 ? `${BN / 8 + (q - qn / 2) * TX}u + tx` : `${q * TX}u + tx`);
  const store = epi
    ? ii
        .map((i) =>
          [...Array(qn / 2).keys()]
            .map((q) =>
              e4
                .map(
                  (c) =>
                    `    { let o = o0 + ${q * TX * 4 + c}u; if (mr${i} < M && o < p.half) { store(mr${i}, o, actFn(value(o, ${acc(i, q)}[${c}])) * value(p.half + o, ${acc(i, q + qn / 2)}[${c}])); } }`,
                )
                .join('\n'),
            )
            .join('\n'),
        )
        .join('\n')
    : ii
        .map((i) =>
          jq
            .map((q) => e4.map((c) => `    { let n = nb + ${q * TX * 4 + c}u; if (mr${i} < M && n < p.N) { store(mr${i}, n, value(n, ${acc(i, q)}[${c}])); } }`).join('\n'))
            .join('\n'),
        )
        .join('\n');
  const code = /* wgsl */ `${commonWgsl(epi)}
const BM: u32 = ${BM}u;
const BN: u32 = ${BN}u;
const BK: u32 = ${BK}u;
const EPV: u32 = ${EPV}u;
const SPAN: u32 = BN;
var<workgroup> xs: array<vec4<f32>, ${BK * SM}>; // [BK][BM/4 + 1] vec4 along m: x tile, transposed
var<workgroup> ws: array<vec4<f32>, ${BK * SN}>; // [BK][BN/4 + 1] vec4 along n: weight tile, transposed, as f32
${wUnpackWgsl(dtype)}
${loadersWgsl(XB, WBn)}
fn storeX(idx: u32, v: array<vec4<f32>, 4>) {
  if (idx >= XB) { return; }
  let rb = idx / (BK / 4u);
  let kq = (idx % (BK / 4u)) * 4u;
${e4.map((j) => `  xs[(kq + ${j}u) * ${SM}u + rb] = v[${j}];`).join('\n')}
}

// unpacked once here, into 4-row vec4 columns of the transposed tile
fn storeW(idx: u32, v: array<vec4<u32>, 4>) {
  if (idx >= WB) { return; }
  let rb = idx / (BK / EPV);
  let kq = (idx % (BK / EPV)) * EPV;
${e4.map((i) => `  let u${i} = wUnpack(v[${i}]);`).join('\n')}
  for (var j = 0u; j < EPV; j++) { ws[(kq + j) * ${SN}u + rb] = vec4<f32>(u0[j], u1[j], u2[j], u3[j]); }
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = rowsOf(p.mSel, p.mFixed);
  let m0 = wg.y * BM;
  if (m0 >= M) { return; }
  let tx = li % ${TX}u;
  let ty = li / ${TX}u;
${ii.map((i) => jq.map((q) => `  var ${acc(i, q)} = vec4<f32>(0.0);`).join('\n')).join('\n')}
  // the first K step's operands into registers; each step stores them and loads the next step's
${pipe.init}
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
${pipe.step}
    for (var kk = 0u; kk < BK; kk++) {
${[...Array(qm).keys()].map((q) => `      let a${q} = xs[kk * ${SM}u + ty * ${qm}u + ${q}u];`).join('\n')}
${jq.map((q) => `      let b${q} = ws[kk * ${SN}u + ${colOf(q)}];`).join('\n')}
${ii.map((i) => jq.map((q) => `      ${acc(i, q)} += a${i >> 2}[${i & 3}] * b${q};`).join('\n')).join('\n')}
    }
    workgroupBarrier();
  }
${ii.map((i) => `  let mr${i} = m0 + ty * ${TM}u + ${i}u;`).join('\n')}
${epi ? `  let o0 = wg.x * (BN / 2u) + tx * 4u; // outputs: gate in the first half of the thread's vec4s, up in the second` : `  let nb = wg.x * BN + tx * 4u;`}
${store}
}
`;
  return {
    label: `matmul-tiled-${dtype}-${BM}x${BN}t${TM}x${TN}k${BK}${epi ? '-act' : ''}`,
    code,
    bindings: ['x', 'w', 'b', 'y'],
    fields: LINEAR_FIELDS,
    floats: ['alpha', 'eps'],
  };
}

/** A subgroup-matrix configuration of the device (GPUSubgroupMatrixConfig): f16 operands, f32 result. */
export interface SgMatrixConfig {
  M: number;
  N: number;
  K: number;
}

/** Subgroup-matrix launch shape: SGM×SGN subgroups per workgroup, each FM×FN fragments of the config; BK a multiple of its K. */
export interface SgShape {
  SGM: number;
  SGN: number;
  FM: number;
  FN: number;
  BK: number;
}

/**
 * The default shapes: 4×2 subgroups of 4×4 fragments (256×128 with 16×16×16, K steps of 32) for
 * wide outputs, and 2×4 subgroups of 2×2 fragments with K steps of 64 (64×128) where the large tile
 * leaves too few workgroups (GpuTuning.sgLargeMinGroups). LinearOp leaves out a shape that needs
 * more workgroup memory than the device has. How they were chosen: engine/gpu/BENCH.md.
 */
export const SG_DEFAULT: SgShape = { SGM: 4, SGN: 2, FM: 4, FN: 4, BK: 32 };
export const SG_SMALL: SgShape = { SGM: 2, SGN: 4, FM: 2, FN: 2, BK: 64 };

/**
 * How the load / store builtins name the memory layout: 'layout' — a template argument
 * (`subgroupMatrixLoad<T, row_major>(p, offset, stride)`, Dawn's current spelling); 'bool' — the
 * earlier `col_major` argument (`subgroupMatrixLoad<T>(p, offset, false, stride)`), which older
 * Dawn builds take and newer ones warn about. checkSubgroupMatrix finds the one the device takes.
 */
export type SgSyntax = 'layout' | 'bool';

/**
 * Which subgroup an invocation is in: the `subgroup_id` builtin, or local_invocation_index /
 * the subgroup size (the same where subgroups are full and laid out in order, as on NVIDIA;
 * for Dawn builds without `subgroup_id`). checkSubgroupMatrix finds the one that works.
 */
export type SgIndex = 'id' | 'li';

/**
 * The spelling a device takes (see SgSyntax, SgIndex). `emulate` (tests only): the same kernel
 * with every fragment held whole by each invocation in plain arrays, f16 values as f32 rounded
 * to f16 (pack2x16float), and the load / store / multiply builtins written out in WGSL, so a
 * device without subgroup matrices or shader-f16 (SwiftShader) checks the kernel's tiling,
 * staging and epilogues; the builtins' own semantics are what the device check covers.
 */
export interface SgDialect {
  syntax: SgSyntax;
  index: SgIndex;
  emulate?: boolean;
}

export const SG_DIALECTS: readonly SgDialect[] = [
  { syntax: 'layout', index: 'id' },
  { syntax: 'bool', index: 'id' },
  { syntax: 'layout', index: 'li' },
  { syntax: 'bool', index: 'li' },
];

function sgLoad(syntax: SgSyntax, T: string, ptr: string, offset: string, colMajor: boolean, stride: string): string {
  return syntax === 'layout'
    ? `subgroupMatrixLoad<${T}, ${colMajor ? 'col_major' : 'row_major'}>(${ptr}, ${offset}, ${stride})`
    : `subgroupMatrixLoad<${T}>(${ptr}, ${offset}, ${colMajor}, ${stride})`;
}

function sgStore(syntax: SgSyntax, ptr: string, offset: string, value: string, stride: string): string {
  return syntax === 'layout' ? `subgroupMatrixStore<row_major>(${ptr}, ${offset}, ${value}, ${stride})` : `subgroupMatrixStore(${ptr}, ${offset}, ${value}, false, ${stride})`;
}

/** Workgroup memory bytes of the subgroup-matrix kernel with `s` (f16 x and W tiles — f32 when emulated — and each subgroup's result scratch). */
export function sgBytes(cfg: SgMatrixConfig, s: SgShape, epi?: MatmulEpilogue, emulate = false): number {
  const { BM, BN } = sgTile(cfg, s);
  return (BM + BN) * (s.BK + 8) * (emulate ? 4 : 2) + s.SGM * s.SGN * cfg.M * cfg.N * (epi ? 2 : 1) * 4;
}

/** The output tile of a subgroup-matrix shape. */
export function sgTile(cfg: SgMatrixConfig, s: SgShape): { BM: number; BN: number } {
  return { BM: s.SGM * s.FM * cfg.M, BN: s.SGN * s.FN * cfg.N };
}

/**
 * The subgroup-matrix prefill matmul (see the file comment). `sgSize`: the device's largest
 * subgroup size (the workgroup is SGM·SGN subgroups of it; the WGSL extension asks for a
 * workgroup x size that is a multiple of it). Needs the features `shader-f16`, `subgroups` and
 * `chromium-experimental-subgroup-matrix`; only for f16 weights. Each subgroup writes its
 * results one fragment at a time through a fragment of workgroup memory (with 'act', a gate
 * fragment and its up fragment: a subgroup's FN·N weight rows are FN/2 fragments of gate rows,
 * then the matching up rows). Dispatch tiledGroups(M, N, sgTile(cfg, shape)) workgroups.
 */
export function matmulSgWgsl(cfg: SgMatrixConfig, sgSize: number, shape: SgShape = SG_DEFAULT, epi?: MatmulEpilogue, dialect: SgDialect = SG_DIALECTS[0]): KernelSource {
  const { syntax, index, emulate } = dialect;
  const { SGM, SGN, FM, FN, BK } = shape;
  const { BM, BN } = sgTile(cfg, shape);
  const NSG = SGM * SGN;
  const WG = NSG * sgSize;
  if (BK % cfg.K || BK % 8 || WG > 1024 || (epi && FN % 2))
    throw new RangeError(
      `matmulSg: shape ${JSON.stringify(shape)} does not fit the ${cfg.M}×${cfg.N}×${cfg.K} configuration (BK a multiple of K and of 8, FN even with an epilogue)`,
    );
  const SK = BK + 8; // padded row of the operand tiles (halves; rows stay 16-byte aligned)
  const SCN = epi ? 2 * cfg.N : cfg.N; // row of a subgroup's result scratch: a fragment, or gate | up
  const FRAG = cfg.M * SCN; // floats of scratch per subgroup
  const L = emulate ? `array<f32, ${cfg.M * cfg.K}>` : `subgroup_matrix_left<f16, ${cfg.K}, ${cfg.M}>`;
  const R = emulate ? `array<f32, ${cfg.K * cfg.N}>` : `subgroup_matrix_right<f16, ${cfg.N}, ${cfg.K}>`;
  const C = emulate ? `array<f32, ${cfg.M * cfg.N}>` : `subgroup_matrix_result<f32, ${cfg.N}, ${cfg.M}>`;
  const H = emulate ? 'f32' : 'f16';
  const load = (T: string, arr: string, offset: string, colMajor: boolean) =>
    emulate ? `${arr === '&xs' ? 'emuLeft' : 'emuRight'}(${offset})` : sgLoad(syntax, T, arr, offset, colMajor, 'SK');
  const storeFrag = (offset: string, value: string) => (emulate ? `emuStore(${offset}, ${value})` : sgStore(syntax, '&cs', offset, value, `${SCN}u`));
  const mma = (a: string, b: string, c: string) => (emulate ? `emuMma(${a}, ${b}, ${c})` : `subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${c})`);
  const fm = [...Array(FM).keys()];
  const fn = [...Array(FN).keys()];
  const out = [...Array(epi ? FN / 2 : FN).keys()];
  const e4 = [0, 1, 2, 3];
  const XB = (BM / 4) * (BK / 4); // x blocks per K step
  const WB = (BN / 4) * (BK / 8); // weight blocks per K step
  const pipe = pipelinedLoadsWgsl(Math.ceil(XB / WG), Math.ceil(WB / WG), WG);
  // one fragment (pair) out: into this subgroup's scratch, then each lane writes its values
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
  // the operands' addresses depend on the subgroup index, which WGSL's (workgroup) uniformity
  // analysis cannot prove subgroup-uniform: that diagnostic is off (every call is in uniform control flow)
  const emulation = `
// emulated subgroup matrices (tests): row-major left [M][K] from xs, right [K][N] from ws (column-major there)
fn emuLeft(o: u32) -> ${L} {
  var a: ${L};
  for (var r = 0u; r < ${cfg.M}u; r++) { for (var c = 0u; c < ${cfg.K}u; c++) { a[r * ${cfg.K}u + c] = xs[o + r * SK + c]; } }
  return a;
}
fn emuRight(o: u32) -> ${R} {
  var b: ${R};
  for (var r = 0u; r < ${cfg.K}u; r++) { for (var c = 0u; c < ${cfg.N}u; c++) { b[r * ${cfg.N}u + c] = ws[o + c * SK + r]; } }
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
fn toH(v: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(v, 0.0))).x; }
`;
  const code = /* wgsl */ `${
    emulate
      ? ''
      : `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
`
  }${commonWgsl(epi)}
const BM: u32 = ${BM}u;
const BN: u32 = ${BN}u;
const BK: u32 = ${BK}u;
const SK: u32 = ${SK}u;
const EPV: u32 = 8u; // halves per 16-byte weight vector
const SPAN: u32 = ${FN * cfg.N}u; // a subgroup's weight rows (with 'act': gate | up)
const FRAG: u32 = ${FRAG}u;
var<workgroup> xs: array<${H}, ${BM * SK}>; // [BM][BK + 8]: x tile as f16, row-major (left operand)
var<workgroup> ws: array<${H}, ${BN * SK}>; // [BN][BK + 8]: weight rows as f16 (Wᵀ column-major: right operand)
var<workgroup> cs: array<f32, ${NSG * FRAG}>; // per subgroup [${cfg.M}][${SCN}]: a result fragment${epi ? ' | its up fragment' : ''}
${emulate ? emulation : ''}${loadersWgsl(XB, WB)}
// x block → the row-major f16 tile: rows rb·4 + i, values kq + j
fn storeX(idx: u32, v: array<vec4<f32>, 4>) {
  if (idx >= XB) { return; }
  let o = (idx / (BK / 4u)) * 4u * SK + (idx % (BK / 4u)) * 4u;
${e4.map((i) => e4.map((j) => `  xs[o + ${i}u * SK + ${j}u] = ${emulate ? 'toH' : 'f16'}(v[${j}][${i}]);`).join('\n')).join('\n')}
}

// weight block → the f16 tile, the halves as they are: rows rb·4 + i, values kq…kq + 7
fn storeW(idx: u32, v: array<vec4<u32>, 4>) {
  if (idx >= WB) { return; }
  let o = (idx / (BK / 8u)) * 4u * SK + (idx % (BK / 8u)) * 8u;
  for (var i = 0u; i < 4u; i++) {
    for (var q = 0u; q < 4u; q++) {
      let h = ${emulate ? 'unpack2x16float(v[i][q])' : 'bitcast<vec2<f16>>(v[i][q])'};
      ws[o + i * SK + 2u * q] = h.x;
      ws[o + i * SK + 2u * q + 1u] = h.y;
    }
  }
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32${
    index === 'id' && !emulate ? ', @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32' : ''
  }) {
  let M = rowsOf(p.mSel, p.mFixed);
  let m0 = wg.y * BM;
  if (m0 >= M) { return; }${index === 'li' || emulate ? `\n  let sg = li / ${sgSize}u;\n  let lane = li % ${sgSize}u;` : ''}
  let sm = (sg / ${SGN}u) * ${FM * cfg.M}u; // the subgroup's first row in the tile
  let sn = (sg % ${SGN}u) * SPAN; // its first weight row
${fm.map((i) => fn.map((j) => `  var c${i}_${j} = ${C}();`).join('\n')).join('\n')}
  // the first K step's operands into registers; each step stores them and loads the next step's
${pipe.init}
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
${pipe.step}
    for (var kk = 0u; kk < BK; kk += ${cfg.K}u) {
${fm.map((i) => `      let a${i} = ${load(L, '&xs', `(sm + ${i * cfg.M}u) * SK + kk`, false)};`).join('\n')}
${fn.map((j) => `      let b${j} = ${load(R, '&ws', `(sn + ${j * cfg.N}u) * SK + kk`, true)};`).join('\n')}
${fm.map((i) => fn.map((j) => `      c${i}_${j} = ${mma(`a${i}`, `b${j}`, `c${i}_${j}`)};`).join('\n')).join('\n')}
    }
    workgroupBarrier();
  }
${fm.map((i) => out.map((j) => emit(i, j)).join('\n')).join('\n')}
}
`;
  return {
    label: `matmul-sg-f16-${cfg.M}x${cfg.N}x${cfg.K}-${SGM}x${SGN}f${FM}x${FN}k${BK}${epi ? '-act' : ''}-${emulate ? 'emulated' : `${syntax}-${index}`}`,
    code,
    bindings: ['x', 'w', 'b', 'y'],
    fields: LINEAR_FIELDS,
    floats: ['alpha', 'eps'],
  };
}
