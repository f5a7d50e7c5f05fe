/**
 * Prefill attention with one thread per query row, as WGSL (CPU reference attention.ts; the
 * shared pieces and the earlier tile kernel are in attention.wgsl.ts).
 *
 *   attnFlashRows — a workgroup holds BQ query rows × GW query heads that share one KV head
 *                   (GW divides H / Kv), one thread per (row, head). Each thread keeps its q
 *                   row and its output accumulator in registers: hd/4 vec4 variables each,
 *                   every loop over them written out by the generator (a private array
 *                   indexed in a loop can be placed in memory). The visible keys are walked
 *                   in tiles of BK: the workgroup stages the K and V rows of a tile as vec4 in
 *                   workgroup memory (two barriers per tile; every thread reads the same
 *                   element at a time, a broadcast); each thread scores the tile's BK keys,
 *                   masks them (causal, sliding window), does one online-softmax update
 *                   (new max, rescale of acc and l), then adds p·V. A thread skips the
 *                   tiles it sees nothing of. Grid (⌈T/BQ⌉, H/GW); the first workgroups take
 *                   the last query rows (the most keys).
 *
 * flashPrefill picks the kernel and its launch for a model (GpuTuning.flashPrefill): 'rows'
 * (this kernel, where the head width is a multiple of 4 and at most FLASH_ROWS_MAX_HD) or
 * 'tile16' (attnFlash, every head width).
 */
import { ATTN_COMMON, ATTN_FIELDS, ATTN_NEG, attnFlashWgsl, flashTile } from './attention.wgsl';
import type { KernelSource } from '../../wgsl/kernel-source';

/** The prefill attention kernels: one thread per query row (default), or the 16-row tile kernel. */
export type FlashKernel = 'rows' | 'tile16';

/** Widest head attnFlashRows takes (its q and acc rows live in registers). */
export const FLASH_ROWS_MAX_HD = 256;

/** Threads per attnFlashRows workgroup that BQ is chosen to reach (BQ · GW ≈ this). */
const ROWS_THREADS = 64;
/** Most query heads of one KV head in one workgroup. */
const ROWS_MAX_GW = 8;
/** Most keys per tile. */
const ROWS_MAX_BK = 32;

/** attnFlashRows' tile for head width hd and G = H / Kv query heads per KV head. */
export function flashRowsTile(hd: number, G: number): { BQ: number; BK: number; GW: number } {
  if (!Number.isInteger(G) || G < 1) throw new RangeError(`attnFlashRows: ${G} query heads per KV head must be a positive integer`);
  let GW = Math.min(G, ROWS_MAX_GW);
  while (G % GW) GW--;
  const BQ = Math.max(1, Math.floor(ROWS_THREADS / GW));
  // K and V tiles of BK rows, f32: 2 · BK · hd · 4 bytes ≤ 16 KiB (WebGPU's default limit)
  const BK = Math.max(1, Math.min(ROWS_MAX_BK, Math.floor(2048 / hd)));
  return { BQ, BK, GW };
}

export function attnFlashRowsWgsl(hd: number, G: number): KernelSource {
  if (hd % 4 || hd > FLASH_ROWS_MAX_HD) throw new RangeError(`attnFlashRows: head dim ${hd} must be a multiple of 4, ≤ ${FLASH_ROWS_MAX_HD}`);
  const { BQ, BK, GW } = flashRowsTile(hd, G);
  const V = hd / 4; // vec4 per head row
  const idx = Array.from({ length: V }, (_, d) => d);
  // The row's q and accumulator are separate vec4 variables (q0…, a0…), every loop over them
  // written out: no private array holds them, so nothing of them leaves the registers. The loop
  // over a tile's keys stays a loop: written out, the shader is too large for SwiftShader's
  // compiler.
  const code = /* wgsl */ `${ATTN_COMMON}
@group(0) @binding(2) var<storage, read> q: array<vec4<f32>>;        // [T, H, hd/4]
@group(0) @binding(3) var<storage, read> kc: array<vec4<f32>>;       // [ctx, Kv, hd/4]
@group(0) @binding(4) var<storage, read> vc: array<vec4<f32>>;       // [ctx, Kv, hd/4]
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>;  // [T, H, hd/4]
const HDV: u32 = ${V}u;  // vec4 per head row
const BQ: u32 = ${BQ}u;       // query rows per workgroup
const GW: u32 = ${GW}u;       // query heads per workgroup (of one KV head)
const BK: u32 = ${BK}u;       // keys per tile
const WG: u32 = ${BQ * GW}u;
var<workgroup> kTile: array<vec4<f32>, ${BK * V}>;  // [BK, hd/4]
var<workgroup> vTile: array<vec4<f32>, ${BK * V}>;  // [BK, hd/4]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let qb = (nwg.x - 1u - wg.x) * BQ;  // the last rows (the most keys) first
  if (qb >= s.T) { return; }
  let nq = min(BQ, s.T - qb);
  let r = lid / GW;
  let h = wg.y * GW + lid % GW;
  let kvh = (wg.y * GW) / (p.H / p.Kv);
  let t = qb + r;
  let live = r < nq;
  let slot = s.start + t;
  let lo = lowSlot(slot);
  let scale = bitcast<f32>(p.scale);
  let qo = (min(t, s.T - 1u) * p.H + h) * HDV;
  // this thread's query row [hd/4] and Σ p·v scaled to the running max [hd/4]
${idx.map((d) => `  let q${d} = q[qo + ${d}u];\n  var a${d} = vec4<f32>(0.0);`).join('\n')}
  var m = ${ATTN_NEG};  // running max of the scores
  var l = 0.0;          // running Σ exp(score − m)
  let first = s.start + qb;
  let kLo = lowSlot(first);
  let kHi = first + nq;
  for (var kt = kLo; kt < kHi; kt += BK) {
    let nk = min(BK, kHi - kt);
    for (var i = lid; i < BK * HDV; i += WG) {
      let jj = i / HDV;
      var kv = vec4<f32>(0.0);
      var vv = vec4<f32>(0.0);
      if (jj < nk) {
        let g = ((kt + jj) * p.Kv + kvh) * HDV + i % HDV;
        kv = kc[g];
        vv = vc[g];
      }
      kTile[i] = kv;
      vTile[i] = vv;
    }
    workgroupBarrier();
    // a tile this row sees a key of: it starts at or before the row's slot and ends after its window's first slot
    if (live && kt <= slot && kt + BK > lo) {
      // the tile's BK scores (masked: causal, sliding window), one online-softmax update, then p·v
      var sc: array<f32, BK>;  // [BK] scores
      var mt = m;
      for (var jj = 0u; jj < BK; jj++) {
        let b = jj * HDV;
        var sv = dot(q0, kTile[b]);
${idx
  .slice(1)
  .map((d) => `        sv += dot(q${d}, kTile[b + ${d}u]);`)
  .join('\n')}
        let j = kt + jj;
        sv = select(${ATTN_NEG}, sv * scale, j <= slot && j >= lo);
        sc[jj] = sv;
        mt = max(mt, sv);
      }
      // mt is a real score (the tile holds a visible key), so masked keys give exp(−3e38 − mt) = 0
      let c = exp(m - mt);
${idx.map((d) => `      a${d} = a${d} * c;`).join('\n')}
      var ps = 0.0;
      for (var jj = 0u; jj < BK; jj++) {
        let pv = exp(sc[jj] - mt);
        ps += pv;
        let b = jj * HDV;
${idx.map((d) => `        a${d} += pv * vTile[b + ${d}u];`).join('\n')}
      }
      l = l * c + ps;
      m = mt;
    }
    workgroupBarrier();
  }
  if (live) {
    let oo = (t * p.H + h) * HDV;
    let inv = 1.0 / l;
${idx.map((d) => `    o[oo + ${d}u] = a${d} * inv;`).join('\n')}
  }
}
`;
  return { label: `attn-flash-rows-${hd}-g${GW}`, code, bindings: ['q', 'kc', 'vc', 'o'], fields: ATTN_FIELDS, floats: ['scale'] };
}

/** The prefill kernel that runs `want` for a model (tile16 where rows cannot), and its grid for T rows. */
export interface FlashPrefill {
  kind: FlashKernel;
  k: KernelSource;
  grid(T: number): [number, number];
}

export function flashPrefill(want: FlashKernel, hd: number, H: number, Kv: number): FlashPrefill {
  if (want !== 'rows' && want !== 'tile16') throw new RangeError(`flashPrefill: unknown kernel '${String(want)}' (rows or tile16)`);
  if (want === 'rows' && hd % 4 === 0 && hd <= FLASH_ROWS_MAX_HD) {
    const { BQ, GW } = flashRowsTile(hd, H / Kv);
    return { kind: 'rows', k: attnFlashRowsWgsl(hd, H / Kv), grid: (T) => [Math.ceil(T / BQ), H / GW] };
  }
  const { BQ } = flashTile(hd);
  return { kind: 'tile16', k: attnFlashWgsl(hd), grid: (T) => [Math.ceil(T / BQ), H] };
}
