/**
 * Decode attention over the KV cache as WGSL (few query rows: T ≤ 4), split-K; the shared
 * pieces and the prefill kernels are in attention.wgsl.ts, the CPU reference in attention.ts.
 *
 *   attnRows   — grid (H, T, nSplit); each workgroup takes one query row and a range of
 *                `splitLen` keys, scores them into workgroup memory, softmaxes and sums V.
 *                With one split it writes the output; otherwise (max, sum, unnormalised
 *                acc) partials for attnCombine.
 *   attnDecode — the same for head widths that are multiples of 4, vectorised (vec4 q/K/V,
 *                coalesced V rows): what the GpuModel runs.
 *   attnDecodeGqa — the same with the query heads of one KV head in one workgroup (grid
 *                (Kv, T, nSplit)): each K and V row read once per group.
 *   attnCombine— merges the partials of each row: grid (H, T), one workgroup per row.
 */
import { treeReduceWgsl, type KernelSource } from '../../wgsl/kernel-source';
import { ATTN_COMMON as common, ATTN_FIELDS, ATTN_MAX_REDUCE as MAX_REDUCE, ATTN_NEG as NEG } from './attention.wgsl';

/** Keys per split of attnRows (its score buffer). */
export const ATTN_SPLIT_MAX = 256;

/** WGSL: a split-K decode workgroup's query row t, split sp and key range [a, a + n) (grid (·, T, nSplit)). */
const SPLIT_START = /* wgsl */ `let t = wg.y;
  let sp = wg.z;
  if (t >= s.T) { return; }
  let slot = s.start + t;
  let range = splitRange(slot, sp);
  let a = range.x;
  let n = range.y;`;

/**
 * WGSL: the start of a split-K decode workgroup (grid (H, T, nSplit)) — its query row,
 * key range [a, a + n) and KV head, q copied into qv[W] — and the scoring loop, one key
 * per thread: sc[jj] = q·k · scale, the thread's largest in `mx`. `W` is the row width in
 * the arrays' elements (hd, or hd/4 vec4s); `dot` sets `dt` from qv and the key row at kc[kb…].
 */
function scoreSplitRow(W: string, dot: string): string {
  return /* wgsl */ `let h = wg.x;
  ${SPLIT_START}
  let kvh = h / (p.H / p.Kv);
  let qb = (t * p.H + h) * ${W};
  for (var d = lid; d < ${W}; d += WG) { qv[d] = q[qb + d]; }
  workgroupBarrier();
  let scale = bitcast<f32>(p.scale);
  var mx = ${NEG};
  for (var jj = lid; jj < n; jj += WG) {
    let kb = ((a + jj) * p.Kv + kvh) * ${W};
    ${dot}
    let sv = dt * scale;
    sc[jj] = sv;
    mx = max(mx, sv);
  }`;
}

export function attnRowsWgsl(): KernelSource {
  const code = /* wgsl */ `${common}
@group(0) @binding(2) var<storage, read> q: array<f32>;           // [T, H, hd]
@group(0) @binding(3) var<storage, read> kc: array<f32>;          // [ctx, Kv, hd]
@group(0) @binding(4) var<storage, read> vc: array<f32>;          // [ctx, Kv, hd]
@group(0) @binding(5) var<storage, read_write> o: array<f32>;     // [T, H, hd]
@group(0) @binding(6) var<storage, read_write> part: array<f32>;  // [T, H, nSplit, hd + 2]: m, l, acc
const WG: u32 = 64u;
var<workgroup> sc: array<f32, ${ATTN_SPLIT_MAX}>;
var<workgroup> qv: array<f32, 512>;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${scoreSplitRow('p.hd', 'var dt = 0.0;\n    for (var d = 0u; d < p.hd; d++) { dt += qv[d] * kc[kb + d]; }')}
  let hd = p.hd;
  ${MAX_REDUCE}
  workgroupBarrier();
  var sum = 0.0;
  for (var jj = lid; jj < n; jj += WG) {
    let ev = exp(sc[jj] - m);
    sc[jj] = ev;
    sum += ev;
  }
  ${treeReduceWgsl('sum', 'sum', 'l')}
  let pb = ((t * p.H + h) * s.nSplit + sp) * (hd + 2u);
  for (var d = lid; d < hd; d += WG) {
    var acc = 0.0;
    for (var jj = 0u; jj < n; jj++) { acc += sc[jj] * vc[((a + jj) * p.Kv + kvh) * hd + d]; }
    if (s.nSplit == 1u) { o[qb + d] = acc * (1.0 / l); } else { part[pb + 2u + d] = acc; }
  }
  if (lid == 0u && s.nSplit > 1u) {
    part[pb] = m;
    part[pb + 1u] = l;
  }
}
`;
  return { label: 'attn-rows', code, bindings: ['q', 'kc', 'vc', 'o', 'part'], fields: ATTN_FIELDS, floats: ['scale'] };
}

/** WGSL: the bindings of the vectorised decode kernels (attnDecode, attnDecodeGqa). */
const DECODE_BINDINGS = /* wgsl */ `@group(0) @binding(2) var<storage, read> q: array<vec4<f32>>;           // [T, H, hd/4]
@group(0) @binding(3) var<storage, read> kc: array<vec4<f32>>;          // [ctx, Kv, hd/4]
@group(0) @binding(4) var<storage, read> vc: array<vec4<f32>>;          // [ctx, Kv, hd/4]
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>;     // [T, H, hd/4]
@group(0) @binding(6) var<storage, read_write> part: array<f32>;        // [T, H, nSplit, hd + 2]: m, l, acc`;

/** WGSL: the key row at kc[kb…] loaded as HD4 vec4s, all in flight at once (k0 … k{HD4−1}). */
function keyRowLoads(HD4: number): string {
  return Array.from({ length: HD4 }, (_, d) => `let k${d} = kc[kb + ${d}u];`).join('\n    ');
}

/**
 * WGSL for the decode kernels' first reads, issued before q is staged so they overlap: this
 * thread's key row (key `lid` of the split, into var k0 … k{HD4−1}) and the V rows of its
 * first PRE keys as the V pass tiles them (key group kg, dims d4; into u0 … u{PRE−1}, 0
 * past the split). `guard` further limits the threads that load V.
 */
function earlyLoadsWgsl(HD4: number, PRE: number, guard = ''): string {
  const keys = Array.from({ length: HD4 }, (_, d) => d);
  return `${keys.map((d) => `var k${d}: vec4<f32>;`).join('\n  ')}
  if (lid < n) {
    let kb = ((a + lid) * p.Kv + kvh) * HD4;
    ${keys.map((d) => `k${d} = kc[kb + ${d}u];`).join('\n    ')}
  }
  ${Array.from({ length: PRE }, (_, i) => `var u${i} = vec4<f32>(0.0);\n  if (${guard}${preKey(i)} < n) { u${i} = vc[vb + (${preKey(i)}) * vs]; }`).join('\n  ')}`;
}

/** WGSL: the i-th preloaded key of this thread's key group. */
const preKey = (i: number) => (i ? `kg + ${i}u * KG` : 'kg');

/**
 * The workgroup max of the scores through subgroups: subgroupMax, then one atomicMax per
 * subgroup on order-preserving u32 keys in wmax[lane] (set to 0, below every key, by
 * `init` before the kernel's first barrier: workgroup memory starts at zero unless a Dawn
 * toggle turns that off). `lanes`: the vec4 lanes of `value` (one per head), or none for
 * an f32. Gives `m`, of value's type.
 */
function subgroupMaxWgsl(value: string, lanes: string[] = []): { decl: string; init: string; reduce: string } {
  const n = Math.max(1, lanes.length);
  const one = (g: number) => (lanes.length ? `smax.${lanes[g]}` : 'smax');
  const all = Array.from({ length: n }, (_, g) => g);
  return {
    decl: `var<workgroup> wmax: array<atomic<u32>, ${n}>; // per head: the largest score's order key (0: below any)
fn orderKey(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn keyOrder(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}`,
    init: `if (lid < ${n}u) { atomicStore(&wmax[lid], 0u); }`,
    reduce: `let smax = subgroupMax(${value});
  if (sgid == 0u) {
    ${all.map((g) => `atomicMax(&wmax[${g}], orderKey(${one(g)}));`).join('\n    ')}
  }
  workgroupBarrier();
  ${lanes.length ? `var m = vec4<f32>(${NEG});\n  ${all.map((g) => `m.${lanes[g]} = keyOrder(atomicLoad(&wmax[${g}]));`).join('\n  ')}` : 'let m = keyOrder(atomicLoad(&wmax[0]));'}`,
  };
}

/** WGSL: q·k over the loaded key row, q's vec4 d at qv[qAt + d], summed in 4 independent chains. */
function keyRowDot(HD4: number, qAt: number): string {
  const chain = (j: number) =>
    Array.from({ length: HD4 }, (_, d) => d)
      .filter((d) => d % 4 === j)
      .map((d) => `dot(qv[${qAt + d}], k${d})`)
      .join(' + ') || '0.0';
  return `(${chain(0)}) + (${chain(1)}) + (${chain(2)}) + (${chain(3)})`;
}

/**
 * WGSL: writes one head's result at vec4 `d`: o[oAt + d] = acc / l with one split, else the
 * split's partial (max m, sum l, acc) at part[pb…] for attnCombine.
 */
function decodeOut(d: string, oAt: string, acc: string, m: string, l: string): string {
  return /* wgsl */ `if (s.nSplit == 1u) {
      o[${oAt} + ${d}] = ${acc} * (1.0 / ${l});
    } else {
      part[pb + 2u + 4u * ${d}] = ${acc}.x;
      part[pb + 3u + 4u * ${d}] = ${acc}.y;
      part[pb + 4u + 4u * ${d}] = ${acc}.z;
      part[pb + 5u + 4u * ${d}] = ${acc}.w;
      if (${d} == 0u) {
        part[pb] = ${m};
        part[pb + 1u] = ${l};
      }
    }`;
}

/** WGSL: the V rows of keys jj + i·KG (i < 4) of the split, loaded together (v0 … v3). */
const V_ROWS4 = /* wgsl */ `let v0 = vc[vb + jj * vs];
    let v1 = vc[vb + (jj + KG) * vs];
    let v2 = vc[vb + (jj + 2u * KG) * vs];
    let v3 = vc[vb + (jj + 3u * KG) * vs];`;

/** Keys per split of the vectorised decode kernel (its score buffer). */
export const ATTN_DECODE_SPLIT_MAX = 1024;

/**
 * attnDecode — decode attention for heads whose width is a multiple of 4 (grid (H, T,
 * nSplit), like attnRows): q, K and V read as vec4. Each thread scores whole keys (one
 * key row per thread, its max kept as it goes); one max reduction; then the threads
 * tile (key group, 4 dims) and accumulate exp(score − max)·V and the sum of the
 * weights with coalesced V rows; the key groups are summed at the end. Writes o, or
 * (max, sum, acc) partials for attnCombine. Up to hd 128 each thread issues its first key
 * row's loads and the V rows of its first PRE keys before q is staged, so those reads
 * overlap instead of following each other, and with `subgroups` (the device has them) the
 * max is one subgroupMax and one atomicMax per subgroup on order-preserving u32 keys
 * instead of a tree (the same scheme as attnDecodeGqa).
 */
export function attnDecodeWgsl(hd: number, subgroups = false): KernelSource {
  if (hd % 4 || hd > 512) throw new RangeError(`attnDecode: head dim ${hd} must be a multiple of 4, ≤ 512`);
  const HD4 = hd / 4;
  const WG = 256;
  const KG = Math.max(1, Math.floor(WG / HD4));
  const early = HD4 <= 32;
  const sg = subgroups && early;
  // V rows per thread loaded up front: the first 256 keys where 16 rows cover them (8 for
  // heads over 64 wide, whose key row already holds 32+ vec4 registers)
  const PRE = early ? Math.min(HD4 > 16 ? 8 : 16, Math.ceil(WG / KG)) : 0;
  const pre = Array.from({ length: PRE }, (_, i) => i);
  const smax = subgroupMaxWgsl('mx');
  // q·k: the key row's vec4 loads written out (all in flight at once) up to hd 128
  const qk =
    HD4 <= 32
      ? `${keyRowLoads(HD4)}\n    let dt = ${keyRowDot(HD4, 0)};`
      : `var dt = 0.0;
    for (var d = 0u; d < HD4; d++) { dt += dot(qv[d], kc[kb + d]); }`;
  const maxOf = sg ? smax.reduce : MAX_REDUCE;
  const scoring = early
    ? /* wgsl */ `let h = wg.x;
  ${SPLIT_START}
  let kvh = h / (p.H / p.Kv);
  let qb = (t * p.H + h) * HD4;
  let d4 = lid % HD4;
  let kg = lid / HD4;
  let vs = p.Kv * HD4; // vec4s per cache slot
  let vb = (a * p.Kv + kvh) * HD4 + d4;
  // in flight together: this thread's first key row, the V rows of its first PRE keys, q
  ${earlyLoadsWgsl(HD4, PRE, 'kg < KG && ')}
  for (var d = lid; d < HD4; d += WG) { qv[d] = q[qb + d]; }${sg ? `\n  ${smax.init}` : ''}
  workgroupBarrier();
  let scale = bitcast<f32>(p.scale);
  var mx = ${NEG};
  if (lid < n) {
    let sv = (${keyRowDot(HD4, 0)}) * scale;
    sc[lid] = sv;
    mx = sv;
  }
  for (var jj = lid + WG; jj < n; jj += WG) {
    let kb = ((a + jj) * p.Kv + kvh) * HD4;
    ${qk}
    let sv = dt * scale;
    sc[jj] = sv;
    mx = max(mx, sv);
  }`
    : `${scoreSplitRow('HD4', qk)}
  let d4 = lid % HD4;
  let kg = lid / HD4;
  let vs = p.Kv * HD4; // vec4s per cache slot
  let vb = (a * p.Kv + kvh) * HD4 + d4;`;
  const preSum = pre.length
    ? `${pre.map((i) => `let e${i} = scw(${preKey(i)}, n, m);`).join('\n    ')}
    l += ${pre.map((i) => `e${i}`).join(' + ')};
    ${pre.map((i) => `${i % 2 ? 'acc2' : 'acc'} += e${i} * u${i};`).join('\n    ')}`
    : '';
  const code = /* wgsl */ `${sg ? 'enable subgroups;\n' : ''}${common}
${DECODE_BINDINGS}
const WG: u32 = ${WG}u;
const HD4: u32 = ${HD4}u;
const KG: u32 = ${KG}u; // key groups in the V pass
const PRE: u32 = ${PRE}u; // V rows per thread loaded up front
var<workgroup> sc: array<f32, ${ATTN_DECODE_SPLIT_MAX}>;
var<workgroup> qv: array<vec4<f32>, HD4>;
${sg ? smax.decl : 'var<workgroup> red: array<f32, WG>;'}
var<workgroup> av: array<vec4<f32>, ${KG * HD4}>;
var<workgroup> lv: array<f32, KG>;
// the weight of key j: exp(score − max), 0 past the split's keys
fn scw(j: u32, n: u32, m: f32) -> f32 { return select(0.0, exp(sc[min(j, ${ATTN_DECODE_SPLIT_MAX - 1}u)] - m), j < n); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32${sg ? ', @builtin(subgroup_invocation_id) sgid: u32' : ''}) {
  ${scoring}
  ${maxOf}
  if (kg < KG) {
    // four keys per step, their V loads in flight together
    var acc = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var l = 0.0;
    ${preSum}
    var jj = kg + PRE * KG;
    for (; jj + 3u * KG < n; jj += 4u * KG) {
      ${V_ROWS4}
      let e0 = exp(sc[jj] - m);
      let e1 = exp(sc[jj + KG] - m);
      let e2 = exp(sc[jj + 2u * KG] - m);
      let e3 = exp(sc[jj + 3u * KG] - m);
      l += (e0 + e1) + (e2 + e3);
      acc += e0 * v0 + e1 * v1;
      acc2 += e2 * v2 + e3 * v3;
    }
    for (; jj < n; jj += KG) {
      let ev = exp(sc[jj] - m);
      l += ev;
      acc += ev * vc[vb + jj * vs];
    }
    acc += acc2;
    av[kg * HD4 + d4] = acc;
    if (d4 == 0u) { lv[kg] = l; }
  }
  workgroupBarrier();
  let pb = ((t * p.H + h) * s.nSplit + sp) * (4u * HD4 + 2u);
  for (var d = lid; d < HD4; d += WG) {
    var acc = vec4<f32>(0.0);
    var l = 0.0;
    for (var g = 0u; g < KG; g++) { acc += av[g * HD4 + d]; l += lv[g]; }
    ${decodeOut('d', 'qb', 'acc', 'm', 'l')}
  }
}
`;
  return { label: `attn-decode-hd${hd}${sg ? '-sg' : ''}`, code, bindings: ['q', 'kc', 'vc', 'o', 'part'], fields: ATTN_FIELDS, floats: ['scale'] };
}

/** Keys per split of the grouped-query decode kernel (one key per thread). */
export const ATTN_GQA_SPLIT_MAX = 256;
/** Query heads per KV head the grouped-query decode kernel handles (a vec4 of scores per key). */
export const ATTN_GQA_MAX_GROUP = 4;

/**
 * attnDecodeGqa — decode attention with the G = H / Kv query heads of one KV head in one
 * workgroup (grid (Kv, T, nSplit); head widths a multiple of 4 up to 128, G ≤ 4, ≤ 256 keys
 * per split), so each K and V row is read once for the G heads instead of G times. Built
 * for few dependent steps: each thread issues its key row's loads (one key per thread) and
 * the V rows of its first eight keys (as the V pass tiles them: key group, 4 dims) before
 * q is staged, so the three reads overlap; the G scores of a key are a vec4 (one lane per
 * head); their max is one atomicMax per subgroup and head on order-preserving u32 keys
 * (set to 0, below every key, before the q barrier; a tree without subgroups); each
 * thread turns its key's scores into exp(score − max); the V pass accumulates the G heads
 * with 4 V rows in flight; the key groups' sums are halved once through workgroup memory
 * and summed by G·hd/4 threads. Writes o, or the same (max, sum, acc) partials as
 * attnDecode for attnCombine.
 */
export function attnDecodeGqaWgsl(hd: number, G: number, sg = false): KernelSource {
  if (hd % 4 || hd > 128) throw new RangeError(`attnDecodeGqa: head dim ${hd} must be a multiple of 4, ≤ 128`);
  if (G < 1 || G > ATTN_GQA_MAX_GROUP) throw new RangeError(`attnDecodeGqa: ${G} query heads per KV head, expected 1…${ATTN_GQA_MAX_GROUP}`);
  const HD4 = hd / 4;
  const WG = 256;
  if (WG % (2 * HD4)) throw new RangeError(`attnDecodeGqa: head dim ${hd}: hd/2 must divide ${WG}`);
  const KG = WG / HD4; // key groups in the V pass (even: the halving below)
  const lanes = ['x', 'y', 'z', 'w'].slice(0, G);
  const dots = lanes.map((c, g) => `sv.${c} = (${keyRowDot(HD4, g * HD4)}) * scale;`).join('\n    ');
  const accDecl = lanes.map((_, g) => `var acc${g} = vec4<f32>(0.0);`).join('\n  ');
  const step4 = lanes.map((c, g) => `acc${g} += (p0.${c} * v0 + p1.${c} * v1) + (p2.${c} * v2 + p3.${c} * v3);`).join('\n    ');
  const step1 = lanes.map((c, g) => `acc${g} += p0.${c} * v0;`).join('\n    ');
  // V rows of each thread's first PRE keys, loaded with its key row (PRE·KG ≥ 128 keys at hd ≤ 64)
  const PRE = 8;
  const preSum = [0, 4]
    .map(
      (b) => `{
    let v0 = u${b};
    let v1 = u${b + 1};
    let v2 = u${b + 2};
    let v3 = u${b + 3};
    let p0 = scAt(${preKey(b)});
    let p1 = scAt(${preKey(b + 1)});
    let p2 = scAt(${preKey(b + 2)});
    let p3 = scAt(${preKey(b + 3)});
    l += (p0 + p1) + (p2 + p3);
    ${step4}
  }`,
    )
    .join('\n  ');
  // red: the max tree (WG vec4s, without subgroups), then the upper key groups' sums [KG/2, G, HD4]
  const RED = Math.max(sg ? 0 : WG, (KG / 2) * G * HD4);
  const smax = subgroupMaxWgsl('sv', lanes);
  const maxOf = sg ? smax.reduce : treeReduceWgsl('sv', 'max', 'm');
  const halve = lanes.map((_, g) => `red[((kg - KG / 2u) * G + ${g}u) * HD4 + d4] = acc${g};`).join('\n    ');
  const addHalf = lanes.map((_, g) => `acc${g} += red[(kg * G + ${g}u) * HD4 + d4];`).join('\n    ');
  const store = lanes.map((_, g) => `red[(kg * G + ${g}u) * HD4 + d4] = acc${g};`).join('\n    ');
  const code = /* wgsl */ `${sg ? 'enable subgroups;\n' : ''}${common}
${DECODE_BINDINGS}
const WG: u32 = ${WG}u;
const HD4: u32 = ${HD4}u;
const G: u32 = ${G}u;
const KG: u32 = ${KG}u; // key groups in the V pass
const PRE: u32 = ${PRE}u; // V rows per thread loaded up front
var<workgroup> qv: array<vec4<f32>, ${G * HD4}>;   // [G, hd/4]: the group's queries
var<workgroup> sc: array<vec4<f32>, WG>;           // [key]: exp(score − max), one lane per head
var<workgroup> red: array<vec4<f32>, ${RED}>;
var<workgroup> lv: array<vec4<f32>, KG>;           // [KG]: weight sums, one lane per head
// the weights of key j (0 past the workgroup: PRE·KG > WG for heads under 32 wide)
fn scAt(j: u32) -> vec4<f32> { return select(vec4<f32>(0.0), sc[min(j, WG - 1u)], j < WG); }
${sg ? smax.decl : ''}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32${sg ? ', @builtin(subgroup_invocation_id) sgid: u32' : ''}) {
  let kvh = wg.x;
  ${SPLIT_START}
  let h0 = kvh * G;
  let d4 = lid % HD4;
  let kg = lid / HD4;
  let vs = p.Kv * HD4; // vec4s per cache slot
  let vb = (a * p.Kv + kvh) * HD4 + d4;
  // in flight together: this thread's key row, the V rows of its first PRE keys, q
  ${earlyLoadsWgsl(HD4, PRE)}
  let qb = (t * p.H + h0) * HD4;
  for (var d = lid; d < G * HD4; d += WG) { qv[d] = q[qb + d]; }${sg ? `\n  ${smax.init}` : ''}
  workgroupBarrier();
  let scale = bitcast<f32>(p.scale);
  var sv = vec4<f32>(${NEG});
  if (lid < n) {
    ${dots}
  }
  ${maxOf}
  sc[lid] = select(vec4<f32>(0.0), exp(sv - m), lid < n);
  workgroupBarrier();
  ${accDecl}
  // the first PRE keys of this key group (preloaded; weights past n are 0)
  var l = vec4<f32>(0.0);
  ${preSum}
  var jj = kg + PRE * KG;
  for (; jj + 3u * KG < n; jj += 4u * KG) {
    ${V_ROWS4}
    let p0 = sc[jj];
    let p1 = sc[jj + KG];
    let p2 = sc[jj + 2u * KG];
    let p3 = sc[jj + 3u * KG];
    l += (p0 + p1) + (p2 + p3);
    ${step4}
  }
  for (; jj < n; jj += KG) {
    let v0 = vc[vb + jj * vs];
    let p0 = sc[jj];
    l += p0;
    ${step1}
  }
  if (d4 == 0u) { lv[kg] = l; }
  // the key groups' sums: the upper half added into the lower, then summed per (head, dims)
  if (kg >= KG / 2u) {
    ${halve}
  }
  workgroupBarrier();
  if (kg < KG / 2u) {
    ${addHalf}
  }
  workgroupBarrier();
  if (kg < KG / 2u) {
    ${store}
  }
  workgroupBarrier();
  if (lid < G * HD4) {
    let g = lid / HD4;
    let d = lid % HD4;
    var A = vec4<f32>(0.0);
    for (var k = 0u; k < KG / 2u; k++) { A += red[(k * G + g) * HD4 + d]; }
    var L = vec4<f32>(0.0);
    for (var k = 0u; k < KG; k++) { L += lv[k]; }
    let hh = t * p.H + h0 + g;
    let pb = (hh * s.nSplit + sp) * (4u * HD4 + 2u);
    ${decodeOut('d', 'hh * HD4', 'A', 'm[g]', 'L[g]')}
  }
}
`;
  return { label: `attn-decode-gqa${G}-hd${hd}${sg ? '-sg' : ''}`, code, bindings: ['q', 'kc', 'vc', 'o', 'part'], fields: ATTN_FIELDS, floats: ['scale'] };
}

/**
 * attnCombine — merges the split partials of each row (grid (H, T), 256 threads). The
 * threads tile (split lane j, head dims): lane j walks splits j, j + J, … two at a time,
 * merging them as it goes (a running max, its sum and acc rescaled when the max grows), so
 * no pass waits for the overall max; the J lanes are then merged through workgroup memory
 * (one barrier).
 */
export function attnCombineWgsl(hd: number): KernelSource {
  const WG = 256;
  let DT = 1; // threads across the head dims: a power of two ≤ hd
  while (DT * 2 <= Math.min(hd, WG)) DT *= 2;
  const J = WG / DT; // split lanes
  const ND = Math.ceil(hd / DT); // head dims per thread
  const dims = Array.from({ length: ND }, (_, k) => k);
  const code = /* wgsl */ `${common}
@group(0) @binding(2) var<storage, read> part: array<f32>;     // [T, H, nSplit, hd + 2]: m, l, acc
@group(0) @binding(3) var<storage, read_write> o: array<f32>;  // [T, H, hd]
const WG: u32 = ${WG}u;
const HD: u32 = ${hd}u;
const DT: u32 = ${DT}u;
const J: u32 = ${J}u;
var<workgroup> accs: array<f32, ${J * hd}>; // [J, hd]: each lane's acc, scaled to its max
var<workgroup> ms: array<f32, J>;           // [J]: each lane's max
var<workgroup> ls: array<f32, J>;           // [J]: each lane's sum, scaled to its max

// split sp's max, sum and the value at head dim d (max ${NEG}, sum and value 0 past the splits or the head)
fn mOf(base: u32, sp: u32) -> f32 { return select(${NEG}, part[base + min(sp, s.nSplit - 1u) * (HD + 2u)], sp < s.nSplit); }
fn lOf(base: u32, sp: u32) -> f32 { return select(0.0, part[base + min(sp, s.nSplit - 1u) * (HD + 2u) + 1u], sp < s.nSplit); }
fn aOf(base: u32, sp: u32, d: u32) -> f32 { return select(0.0, part[base + min(sp, s.nSplit - 1u) * (HD + 2u) + 2u + min(d, HD - 1u)], sp < s.nSplit && d < HD); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wg.x;
  let t = wg.y;
  if (t >= s.T) { return; }
  let base = (t * p.H + h) * s.nSplit * (HD + 2u);
  let j = lid / DT;
  let dl = lid % DT;
  var mx = ${NEG};
  var l = 0.0;
${dims.map((k) => `  var a${k} = 0.0;`).join('\n')}
  for (var sp = j; sp < s.nSplit; sp += 2u * J) {
    // two splits' loads in flight together
    let m0 = mOf(base, sp);
    let m1 = mOf(base, sp + J);
    let l0 = lOf(base, sp);
    let l1 = lOf(base, sp + J);
${dims.map((k) => `    let x${k} = aOf(base, sp, dl + ${k * DT}u);\n    let y${k} = aOf(base, sp + J, dl + ${k * DT}u);`).join('\n')}
    let mn = max(mx, max(m0, m1));
    let c = exp(mx - mn);
    let e0 = exp(m0 - mn);
    let e1 = exp(m1 - mn);
    l = l * c + l0 * e0 + l1 * e1;
${dims.map((k) => `    a${k} = a${k} * c + x${k} * e0 + y${k} * e1;`).join('\n')}
    mx = mn;
  }
${dims.map((k) => `  if (dl + ${k * DT}u < HD) { accs[j * HD + dl + ${k * DT}u] = a${k}; }`).join('\n')}
  if (dl == 0u) {
    ms[j] = mx;
    ls[j] = l;
  }
  workgroupBarrier();
  var M = ${NEG};
  for (var jj = 0u; jj < J; jj++) { M = max(M, ms[jj]); }
  var L = 0.0;
  for (var jj = 0u; jj < J; jj++) { L += ls[jj] * exp(ms[jj] - M); }
  for (var d = lid; d < HD; d += WG) {
    var acc = 0.0;
    for (var jj = 0u; jj < J; jj++) { acc += accs[jj * HD + d] * exp(ms[jj] - M); }
    o[(t * p.H + h) * HD + d] = acc * (1.0 / L);
  }
}
`;
  return { label: `attn-combine-hd${hd}`, code, bindings: ['part', 'o'], fields: ATTN_FIELDS, floats: ['scale'] };
}
