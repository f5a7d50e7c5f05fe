/**
 * Runs inside the test page (headless chromium, WebGPU on SwiftShader):
 *   runGpuKernelChecks() — every WGSL kernel of the engine against its CPU reference on
 *                          random shapes (odd sizes, T = 1, T larger than one tile);
 *   runGpuModelChecks(names) — GpuModel on the fixtures (tests/browser/gpu-checks.ts),
 *                          reading files the test server serves under /fx/.
 */
import { activate, swiglu, type ActivationName } from '../../../engine/ops/activations/activations';
import { ACT_ID, activationWgsl } from '../../../engine/ops/activations/activations.wgsl';
import { attention } from '../../../engine/ops/attention/attention';
import { ATTN_GQA_MAX_GROUP, ATTN_GQA_SPLIT_MAX, attnCombineWgsl, attnDecodeGqaWgsl, attnDecodeWgsl, attnRowsWgsl } from '../../../engine/ops/attention/attention-decode.wgsl';
import { attnFlashWgsl, attnProbsWgsl, flashTile } from '../../../engine/ops/attention/attention.wgsl';
import { flashPrefill } from '../../../engine/ops/attention/attention-flash.wgsl';
import { embedding } from '../../../engine/ops/embedding/embedding';
import { embeddingWgsl } from '../../../engine/ops/embedding/embedding.wgsl';
import { layernorm } from '../../../engine/ops/layernorm/layernorm';
import { layernormRowsWgsl } from '../../../engine/ops/layernorm/layernorm.wgsl';
import { matmul } from '../../../engine/ops/matmul/matmul';
import { matmulWgsl, matvecRows, matvecShape as matvecShapeDefault, matvecSlots, matvecWgsl, MATMUL_TILE, type MatvecShape } from '../../../engine/ops/matmul/matmul.wgsl';
import { routeTopK } from '../../../engine/ops/moe/moe';
import { moeCombineWgsl, moeRouteWgsl } from '../../../engine/ops/moe/moe.wgsl';
import { rmsnorm } from '../../../engine/ops/rmsnorm/rmsnorm';
import { rmsnormRowsWgsl } from '../../../engine/ops/rmsnorm/rmsnorm.wgsl';
import { applyRope, defaultInvFreq, ropeCosSin } from '../../../engine/ops/rope/rope';
import { ROPE_STYLE, ropeQkvWgsl } from '../../../engine/ops/rope/rope.wgsl';
import { topK } from '../../../engine/ops/topk/topk';
import { TOPK_CHUNK, topkFinalWgsl, topkPartialWgsl } from '../../../engine/ops/topk/topk.wgsl';
import { f16ToF32, f32ToF16 } from '../../../engine/formats/quant';
import { createStorage, Dispatch, grid2, packRows, PipelineCache } from '../../../engine/gpu/kernel';
import { M_FROM_T, M_STATIC, packParams, STEP_FIELDS, type KernelSource, type StepValues } from '../../../engine/wgsl/kernel-source';
import { rowStrideWords, type WeightDtype } from '../../../engine/wgsl/weight-read';
import { openGpu } from '../../../engine/gpu/probe';
import { checkSameSeed, checkStories, checkTinyModel, type ModelCheck, type StoriesCheck } from '../gpu-checks';
import { maxAbsDiff as diff } from '../../max-abs-diff';

export interface GpuKernelCheck {
  op: string;
  shape: number[];
  maxAbsDiff: number;
  /** allowed max |diff| for this check */
  tol: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const r = rng(7);
const rand = (n: number, scale = 1) => new Float32Array(n).map(() => r() * 2 * scale);
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

class Harness {
  readonly cache: PipelineCache;
  readonly step: GPUBuffer;
  private readonly live: GPUBuffer[] = [];
  constructor(readonly device: GPUDevice) {
    this.cache = new PipelineCache(device);
    this.step = device.createBuffer({ size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }
  buf(data: ArrayBufferView | number): GPUBuffer {
    const b = createStorage(this.device, typeof data === 'number' ? data * 4 : data);
    this.live.push(b);
    return b;
  }
  setStep(v: Partial<StepValues>): void {
    const full: StepValues = { T: 1, start: 0, Tk: 1, headFirst: 0, headRows: 1, nSplit: 1, splitLen: 256, pad0: 0, ...v };
    this.device.queue.writeBuffer(this.step, 0, packParams(STEP_FIELDS, full));
  }
  /** Runs dispatches in order (one pass), then reads `out` back as f32 (or u32). */
  async run(
    steps: { k: KernelSource; values: Record<string, number>; bufs: Record<string, GPUBuffer>; grid: number[] }[],
    out: GPUBuffer,
    n: number,
    asU32 = false,
  ): Promise<Float32Array | Uint32Array> {
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    const ds = steps.map((s) => new Dispatch(this.device, this.cache, s.k, this.step, s.values, s.bufs));
    steps.forEach((s, i) => ds[i].encode(pass, s.grid[0], s.grid[1] ?? 1, s.grid[2] ?? 1));
    pass.end();
    const size = Math.max(16, Math.ceil((n * 4) / 16) * 16);
    const st = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(out, 0, st, 0, size);
    this.device.queue.submit([enc.finish()]);
    await st.mapAsync(GPUMapMode.READ);
    const res = asU32 ? new Uint32Array(st.getMappedRange().slice(0, n * 4)) : new Float32Array(st.getMappedRange().slice(0, n * 4));
    st.unmap();
    st.destroy();
    for (const d of ds) d.destroy();
    return res;
  }
  free(): void {
    for (const b of this.live.splice(0)) b.destroy();
  }
}

const f16round = (x: Float32Array) => x.map((v) => f16ToF32(f32ToF16(v)));
/** Subgroup size bound for the matvec's subgroup path (SwiftShader / Chromium report theirs; 128 is always safe). */
let sgMax = 128;
/** The default launch shapes (plain and SwiGLU epilogue) and a wide one (R = 8, TPR = 4), so every row mapping is covered. */
const shapesFor = (K: number, dtype: WeightDtype): MatvecShape[] => [matvecShapeDefault(K, dtype), matvecShapeDefault(K, dtype, { kind: 'act', act: 0 }), { WG: 64, TPR: 4, R: 8 }];

async function linearChecks(h: Harness, out: GpuKernelCheck[], subgroups: boolean): Promise<void> {
  // [M, K, N]: odd sizes, one row, K spanning many vectors, M larger than one 64-row tile
  const shapes = [
    [1, 7, 5],
    [1, 64, 33],
    [2, 1000, 17],
    [3, 4099, 9],
    [1, 260, 300],
    [70, 67, 130],
    [65, 33, 64],
    [4, 3, 2],
  ];
  for (const dtype of ['f32', 'f16'] as WeightDtype[]) {
    for (const [M, K, N] of shapes) {
      const x = rand(M * K); // [M, K]
      const w = rand(N * K, 1 / Math.sqrt(K)); // [N, K]
      const b = rand(N); // [N]
      const y0 = rand(M * (N + 3)); // [M, N + 3] (a column slice of a wider row)
      const wRef = dtype === 'f16' ? f16round(w) : w;
      const mm = new Float32Array(M * N); // [M, N]
      matmul(mm, x, wRef, M, K, N, b);
      const want = y0.slice();
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) want[m * (N + 3) + 2 + n] += 0.5 * (mm[m * N + n] - b[n]) + b[n];
      const values = {
        mSel: M_FROM_T,
        mFixed: 0,
        N,
        K,
        rowStride: rowStrideWords(K, dtype),
        wOffset: 0,
        xOffset: 0,
        xRowStride: K,
        yOffset: 2,
        yRowStride: N + 3,
        hasBias: 1,
        accumulate: 1,
        alpha: 0.5,
        expertStride: 0,
        nGroupsX: 0,
        eps: 0,
        xHead: 0,
        half: 0,
        H: 0,
        Kv: 0,
        hd: 0,
        ropeStyle: 0,
      };
      const groups = Math.ceil(N / matvecRows(K, dtype));
      const [gx, gy] = grid2(groups);
      const bufs = () => ({ x: h.buf(x), w: h.buf(packRows(w, K, 0, N, dtype)), b: h.buf(b), y: h.buf(y0), ids: h.buf(4) });
      h.setStep({ T: M });
      const tol = 2e-5 * Math.max(1, maxAbs(want)) * Math.max(1, Math.sqrt(K) / 8);
      if (M <= 4) {
        const bv = bufs();
        const got = await h.run(
          [{ k: matvecWgsl(dtype, subgroups, K, { subgroupMaxSize: sgMax }), values: { ...values, nGroupsX: gx }, bufs: bv, grid: [gx, gy, M] }],
          bv.y,
          y0.length,
        );
        out.push({ op: `matvec-${dtype}${subgroups ? '-sg' : ''}`, shape: [M, K, N], maxAbsDiff: diff(got, want), tol });
        // fused prologues (decode): RMSNorm of x into the matvec, and act(gate)·up of a gate|up row
        const sg = subgroups ? '-sg' : '';
        const xs = rand(M * K, 2);
        const nw = rand(K).map((v) => 1 + v);
        const xn = new Float32Array(M * K);
        rmsnorm(xn, xs, nw, K, 1e-5);
        const wantRms = y0.slice();
        matmul(mm, xn, wRef, M, K, N, b);
        for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) wantRms[m * (N + 3) + 2 + n] += 0.5 * (mm[m * N + n] - b[n]) + b[n];
        const br = { ...bufs(), x: h.buf(xs), nw: h.buf(nw) };
        const gotRms = await h.run(
          [{ k: matvecWgsl(dtype, subgroups, K, { pro: { kind: 'rms' }, subgroupMaxSize: sgMax }), values: { ...values, nGroupsX: gx, eps: 1e-5 }, bufs: br, grid: [gx, gy, M] }],
          br.y,
          y0.length,
        );
        out.push({ op: `matvec-${dtype}-rms${sg}`, shape: [M, K, N], maxAbsDiff: diff(gotRms, wantRms), tol: 2e-5 * Math.max(1, maxAbs(wantRms)) * Math.max(1, Math.sqrt(K) / 8) });
        // the same without a norm weight (GpuModel folds it into W): RMSNorm with weight 1
        rmsnorm(xn, xs, new Float32Array(K).fill(1), K, 1e-5);
        const wantU = y0.slice();
        matmul(mm, xn, wRef, M, K, N, b);
        for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) wantU[m * (N + 3) + 2 + n] += 0.5 * (mm[m * N + n] - b[n]) + b[n];
        const bu = { ...bufs(), x: h.buf(xs) };
        const gotU = await h.run(
          [
            {
              k: matvecWgsl(dtype, subgroups, K, { pro: { kind: 'rms', weighted: false }, subgroupMaxSize: sgMax }),
              values: { ...values, nGroupsX: gx, eps: 1e-5 },
              bufs: bu,
              grid: [gx, gy, M],
            },
          ],
          bu.y,
          y0.length,
        );
        out.push({ op: `matvec-${dtype}-rmsu${sg}`, shape: [M, K, N], maxAbsDiff: diff(gotU, wantU), tol: 2e-5 * Math.max(1, maxAbs(wantU)) * Math.max(1, Math.sqrt(K) / 8) });
        rmsnorm(xn, xs, nw, K, 1e-5); // xn is the weighted norm again below
        // SwiGLU epilogue: W = gate | up [2·Nh, K], y[m, i] += act(gate_i)·up_i (with the RMSNorm prologue too)
        const Nh = Math.ceil(N / 2);
        const wgu = rand(2 * Nh * K, 1 / Math.sqrt(K)); // [2Nh, K]
        const bgu = rand(2 * Nh); // [2Nh]
        const wguRef = dtype === 'f16' ? f16round(wgu) : wgu;
        const mg = new Float32Array(M * 2 * Nh); // [M, 2Nh]
        for (const [name, withRms] of [
          ['silu', false],
          ['gelu_new', true],
        ] as [ActivationName, boolean][]) {
          matmul(mg, withRms ? xn : xs, wguRef, M, K, 2 * Nh, bgu);
          const g = new Float32Array(M * Nh);
          const u = new Float32Array(M * Nh);
          for (let m = 0; m < M; m++) {
            for (let i = 0; i < Nh; i++) {
              g[m * Nh + i] = 0.5 * (mg[m * 2 * Nh + i] - bgu[i]) + bgu[i];
              u[m * Nh + i] = 0.5 * (mg[m * 2 * Nh + Nh + i] - bgu[Nh + i]) + bgu[Nh + i];
            }
          }
          swiglu(g, u, M * Nh, name);
          const yg = rand(M * (Nh + 3)); // [M, Nh + 3]
          const wantG = yg.slice();
          for (let m = 0; m < M; m++) for (let i = 0; i < Nh; i++) wantG[m * (Nh + 3) + 2 + i] += g[m * Nh + i];
          const bg = { x: h.buf(xs), w: h.buf(packRows(wgu, K, 0, 2 * Nh, dtype)), b: h.buf(bgu), y: h.buf(yg), ids: h.buf(4), nw: h.buf(nw) };
          for (const shape of shapesFor(K, dtype)) {
            const gg = grid2(Math.ceil(matvecSlots(2 * Nh, { kind: 'act', act: 0 }) / matvecRows(K, dtype, shape)));
            const k = matvecWgsl(dtype, subgroups, K, { pro: withRms ? { kind: 'rms' } : undefined, epi: { kind: 'act', act: ACT_ID[name] }, subgroupMaxSize: sgMax, shape });
            const vals = { ...values, N: 2 * Nh, nGroupsX: gg[0], eps: 1e-5, yRowStride: Nh + 3, half: Nh };
            const yb = h.buf(yg);
            const gotG = await h.run([{ k, values: vals, bufs: { ...bg, y: yb }, grid: [gg[0], gg[1], M] }], yb, yg.length);
            out.push({
              op: `matvec-${dtype}-${withRms ? 'rms-' : ''}${name}${sg}-${shape.TPR}r${shape.R}`,
              shape: [M, K, Nh],
              maxAbsDiff: diff(gotG, wantG),
              tol: 2e-5 * Math.max(1, maxAbs(wantG)) * Math.max(1, Math.sqrt(K) / 8),
            });
          }
        }
      }
      const bm = bufs();
      const got = await h.run([{ k: matmulWgsl(dtype), values, bufs: bm, grid: [Math.ceil(N / MATMUL_TILE), Math.ceil(M / MATMUL_TILE)] }], bm.y, y0.length);
      out.push({ op: `matmul-${dtype}`, shape: [M, K, N], maxAbsDiff: diff(got, want), tol });
      h.free();
    }
  }
}

async function normChecks(h: Harness, out: GpuKernelCheck[]): Promise<void> {
  for (const [rows, D] of [
    [1, 1],
    [1, 7],
    [3, 64],
    [5, 96],
    [2, 1000],
    [17, 33],
  ]) {
    const x = rand(rows * D, 2);
    const w = rand(D).map((v) => 1 + v);
    const bias = rand(D);
    h.setStep({ T: rows });
    const vals = { D, mSel: M_FROM_T, mFixed: 0, srcFromHead: 0, eps: 1e-5, hasBias: 1 };
    const want = new Float32Array(rows * D);
    rmsnorm(want, x, w, D, 1e-5);
    let y = h.buf(rows * D);
    let got = await h.run([{ k: rmsnormRowsWgsl(D), values: vals, bufs: { x: h.buf(x), weight: h.buf(w), y }, grid: [rows] }], y, rows * D);
    out.push({ op: 'rmsnorm-rows', shape: [rows, D], maxAbsDiff: diff(got, want), tol: 1e-5 * Math.max(1, maxAbs(want)) });
    layernorm(want, x, w, bias, D, 1e-5);
    y = h.buf(rows * D);
    got = await h.run([{ k: layernormRowsWgsl(D), values: vals, bufs: { x: h.buf(x), weight: h.buf(w), bias: h.buf(bias), y }, grid: [rows] }], y, rows * D);
    out.push({ op: 'layernorm-rows', shape: [rows, D], maxAbsDiff: diff(got, want), tol: 1e-5 * Math.max(1, maxAbs(want)) });
    h.free();
  }
}

async function embeddingChecks(h: Harness, out: GpuKernelCheck[]): Promise<void> {
  const V = 37;
  for (const dtype of ['f32', 'f16'] as WeightDtype[]) {
    for (const [T, D] of [
      [1, 19],
      [9, 64],
      [70, 3],
    ]) {
      const table = rand(V * D);
      const ids = Array.from({ length: T }, () => Math.floor((r() + 0.5) * V));
      const want = new Float32Array(T * D);
      embedding(want, dtype === 'f16' ? f16round(table) : table, ids, D);
      h.setStep({ T });
      const x = h.buf(T * D);
      const idb = h.buf(new Uint32Array(ids));
      // the table split over two buffers, as for vocabularies larger than one binding
      const parts = [
        [0, 13],
        [13, V],
      ].map(([a, b]) => ({
        k: embeddingWgsl(dtype),
        values: { D, rowStride: rowStrideWords(D, dtype), rowStart: a, rowCount: b - a, add: 0 },
        bufs: { ids: idb, table: h.buf(packRows(table, D, a, b, dtype)), x },
        grid: [Math.ceil(D / 64), T],
      }));
      const got = await h.run(parts, x, T * D);
      out.push({ op: `embedding-${dtype}-split`, shape: [T, D], maxAbsDiff: diff(got, want), tol: 0 });
      h.free();
    }
  }
}

async function ropeChecks(h: Harness, out: GpuKernelCheck[]): Promise<void> {
  const H = 4;
  const Kv = 2;
  for (const hd of [8, 10, 64]) {
    for (const style of ['half', 'interleaved', 'none'] as const) {
      for (const qkNorm of [false, true]) {
        for (const [T, start] of [
          [1, 6],
          [5, 0],
        ]) {
          const QKV = (H + 2 * Kv) * hd;
          const qkv = rand(T * QKV, 2); // [T, (H+2Kv)·hd]
          const qn = rand(hd).map((v) => 1 + v);
          const kn = rand(hd).map((v) => 1 + v);
          const pos = Array.from({ length: T }, (_, t) => start + t + 3);
          const half = hd >> 1;
          const cos = new Float32Array(T * half);
          const sin = new Float32Array(T * half);
          ropeCosSin(cos, sin, defaultInvFreq(10000, hd), pos);
          const cs = new Float32Array(T * hd);
          for (let t = 0; t < T; t++) {
            cs.set(cos.subarray(t * half, t * half + half), t * hd);
            cs.set(sin.subarray(t * half, t * half + half), t * hd + half);
          }
          const q = new Float32Array(T * H * hd); // [T, H, hd]
          const k = new Float32Array(T * Kv * hd); // [T, Kv, hd]
          for (let t = 0; t < T; t++) {
            q.set(qkv.subarray(t * QKV, t * QKV + H * hd), t * H * hd);
            k.set(qkv.subarray(t * QKV + H * hd, t * QKV + (H + Kv) * hd), t * Kv * hd);
          }
          if (qkNorm) {
            rmsnorm(q, q, qn, hd, 1e-6);
            rmsnorm(k, k, kn, hd, 1e-6);
          }
          if (style !== 'none') {
            applyRope(q, cos, sin, T, H, hd, hd, style);
            applyRope(k, cos, sin, T, Kv, hd, hd, style);
          }
          const ctx = start + T;
          h.setStep({ T, start, Tk: ctx });
          const qb = h.buf(T * H * hd);
          const kc = h.buf(ctx * Kv * hd);
          const vc = h.buf(ctx * Kv * hd);
          const step = {
            k: ropeQkvWgsl(),
            values: { H, Kv, hd, qkvStride: QKV, style: ROPE_STYLE[style], qkNorm: qkNorm ? 1 : 0, eps: 1e-6 },
            bufs: { qkv: h.buf(qkv), cs: h.buf(cs), qn: h.buf(qn), kn: h.buf(kn), q: qb, kc, vc },
            grid: [Math.ceil(((H + 2 * Kv) * hd) / 2 / 64), T],
          };
          const gq = await h.run([step], qb, T * H * hd);
          const gk = (await h.run([], kc, ctx * Kv * hd)).subarray(start * Kv * hd);
          const gv = (await h.run([], vc, ctx * Kv * hd)).subarray(start * Kv * hd);
          const v = new Float32Array(T * Kv * hd);
          for (let t = 0; t < T; t++) v.set(qkv.subarray(t * QKV + (H + Kv) * hd, (t + 1) * QKV), t * Kv * hd);
          const d = Math.max(diff(gq, q), diff(gk, k), diff(gv, v));
          out.push({ op: `rope-${style}${qkNorm ? '-qknorm' : ''}`, shape: [T, H, Kv, hd], maxAbsDiff: d, tol: 2e-6 * Math.max(1, maxAbs(q), maxAbs(k)) });
          h.free();
        }
      }
    }
  }
}

/** The decode q|k|v matvec with RMSNorm before and RoPE + the KV-cache write after (qkvF in GpuModel). */
async function ropeMatvecChecks(h: Harness, out: GpuKernelCheck[], subgroups: boolean): Promise<void> {
  const H = 4;
  const Kv = 2;
  for (const dtype of ['f32', 'f16'] as WeightDtype[]) {
    for (const [K, hd, M] of [
      [7, 8, 1],
      [64, 64, 3],
      [260, 10, 2],
    ]) {
      for (const style of ['half', 'interleaved'] as const) {
        const QKV = (H + 2 * Kv) * hd;
        const start = 5;
        const x = rand(M * K, 2); // [M, K]
        const nw = rand(K).map((v) => 1 + v);
        const w = rand(QKV * K, 1 / Math.sqrt(K)); // [QKV, K]
        const b = rand(QKV);
        const xn = new Float32Array(M * K);
        rmsnorm(xn, x, nw, K, 1e-5);
        const qkv = new Float32Array(M * QKV); // [M, QKV]
        matmul(qkv, xn, dtype === 'f16' ? f16round(w) : w, M, K, QKV, b);
        const half = hd >> 1;
        const cos = new Float32Array(M * half);
        const sin = new Float32Array(M * half);
        ropeCosSin(
          cos,
          sin,
          defaultInvFreq(10000, hd),
          Array.from({ length: M }, (_, t) => start + t),
        );
        const cs = new Float32Array(M * hd); // [M, hd]: cos | sin
        for (let t = 0; t < M; t++) {
          cs.set(cos.subarray(t * half, t * half + half), t * hd);
          cs.set(sin.subarray(t * half, t * half + half), t * hd + half);
        }
        const q = new Float32Array(M * H * hd); // [M, H, hd]
        const k = new Float32Array(M * Kv * hd); // [M, Kv, hd]
        const v = new Float32Array(M * Kv * hd); // [M, Kv, hd]
        for (let t = 0; t < M; t++) {
          q.set(qkv.subarray(t * QKV, t * QKV + H * hd), t * H * hd);
          k.set(qkv.subarray(t * QKV + H * hd, t * QKV + (H + Kv) * hd), t * Kv * hd);
          v.set(qkv.subarray(t * QKV + (H + Kv) * hd, (t + 1) * QKV), t * Kv * hd);
        }
        applyRope(q, cos, sin, M, H, hd, hd, style);
        applyRope(k, cos, sin, M, Kv, hd, hd, style);
        h.setStep({ T: M, start, Tk: start + M });
        for (const shape of shapesFor(K, dtype)) {
          const ctx = start + M;
          const qb = h.buf(M * H * hd);
          const kc = h.buf(ctx * Kv * hd);
          const vc = h.buf(ctx * Kv * hd);
          const [gx, gy] = grid2(Math.ceil(matvecSlots(QKV, { kind: 'rope' }) / matvecRows(K, dtype, shape)));
          const values = {
            mSel: M_FROM_T,
            mFixed: 0,
            N: QKV,
            K,
            rowStride: rowStrideWords(K, dtype),
            wOffset: 0,
            xOffset: 0,
            xRowStride: K,
            yOffset: 0,
            yRowStride: QKV,
            hasBias: 1,
            accumulate: 0,
            alpha: 1,
            expertStride: 0,
            nGroupsX: gx,
            eps: 1e-5,
            xHead: 0,
            half: style === 'half' ? half : 1,
            H,
            Kv,
            hd,
            ropeStyle: ROPE_STYLE[style],
          };
          const kern = matvecWgsl(dtype, subgroups, K, { pro: { kind: 'rms' }, epi: { kind: 'rope' }, subgroupMaxSize: sgMax, shape });
          const bufs = { x: h.buf(x), w: h.buf(packRows(w, K, 0, QKV, dtype)), b: h.buf(b), ids: h.buf(4), nw: h.buf(nw), cs: h.buf(cs), q: qb, kc, vc };
          const gq = await h.run([{ k: kern, values, bufs, grid: [gx, gy, M] }], qb, M * H * hd);
          const gk = (await h.run([], kc, ctx * Kv * hd)).subarray(start * Kv * hd);
          const gv = (await h.run([], vc, ctx * Kv * hd)).subarray(start * Kv * hd);
          const d = Math.max(diff(gq, q), diff(gk, k), diff(gv, v));
          out.push({
            op: `matvec-${dtype}-rms-rope-${style}${subgroups ? '-sg' : ''}-${shape.TPR}r${shape.R}`,
            shape: [M, K, H, Kv, hd],
            maxAbsDiff: d,
            tol: 2e-5 * Math.max(1, maxAbs(q), maxAbs(k), maxAbs(v)) * Math.max(1, Math.sqrt(K) / 8),
          });
        }
        h.free();
      }
    }
  }
}

async function attentionChecks(h: Harness, out: GpuKernelCheck[], subgroups: boolean): Promise<void> {
  // [T, start, H, Kv, hd, window]
  const cases = [
    [1, 0, 4, 2, 16, 0],
    [1, 300, 4, 2, 16, 0],
    [1, 70, 6, 3, 80, 9],
    [3, 40, 2, 2, 8, 0],
    [37, 5, 4, 2, 16, 0],
    [20, 0, 4, 1, 80, 6],
    [9, 11, 3, 3, 128, 0],
    [2, 500, 8, 2, 64, 100],
    [1, 600, 12, 3, 128, 0],
    [4, 97, 6, 2, 32, 0],
    [1, 30, 8, 2, 32, 0],
    [70, 3, 8, 1, 64, 0],
    [41, 9, 6, 3, 8, 5],
  ];
  for (const [T, start, H, Kv, hd, window] of cases) {
    const Tk = start + T;
    const q = rand(T * H * hd); // [T, H, hd]
    const kc = rand(Tk * Kv * hd); // [Tk, Kv, hd]
    const vc = rand(Tk * Kv * hd);
    const want = new Float32Array(T * H * hd);
    const probs = new Float32Array(H * T * Tk); // [H, T, Tk]
    const scale = 1 / Math.sqrt(hd);
    attention({
      out: want,
      q,
      kCache: kc,
      vCache: vc,
      T,
      start,
      nHeads: H,
      nKvHeads: Kv,
      headDim: hd,
      scale,
      window: window || undefined,
      probs,
      scores: new Float64Array(Tk),
      acc: new Float64Array(hd),
    });
    const vals = { H, Kv, hd, window, scale };
    const bq = h.buf(q);
    const bk = h.buf(kc);
    const bv = h.buf(vc);
    // split-K rows kernel: one split, and several (with the combine)
    for (const splitLen of [256, 32, 1024, 64]) {
      if (T > 4) break;
      const nSplit = Math.ceil(Tk / splitLen);
      h.setStep({ T, start, Tk, nSplit, splitLen });
      const o = h.buf(T * H * hd);
      const part = h.buf(T * H * nSplit * (hd + 2));
      // the scalar rows kernel holds ≤ 256 keys per split; the vectorised one ≤ 1024
      // kernels: the scalar rows kernel, the vectorised one (with subgroup atomics where the device has them)
      const kernels: [string, KernelSource][] = [['rows', attnRowsWgsl()]].filter(() => splitLen <= 256) as [string, KernelSource][];
      if (hd % 4 === 0) for (const sg of subgroups ? [false, true] : [false]) kernels.push([sg ? 'decode-sg' : 'decode', attnDecodeWgsl(hd, sg)]);
      for (const [name, k] of kernels) {
        const steps: { k: KernelSource; values: Record<string, number>; bufs: Record<string, GPUBuffer>; grid: number[] }[] = [
          { k, values: vals, bufs: { q: bq, kc: bk, vc: bv, o, part }, grid: [H, T, nSplit] },
        ];
        if (nSplit > 1) steps.push({ k: attnCombineWgsl(hd), values: vals, bufs: { part, o }, grid: [H, T] });
        const got = await h.run(steps, o, T * H * hd);
        out.push({ op: `attention-${name}-split${nSplit}`, shape: [T, start, H, Kv, hd, window], maxAbsDiff: diff(got, want), tol: 1e-5 });
      }
      // the grouped-query decode kernel: ≤ 4 query heads per KV head, ≤ 256 keys per split
      const G = H / Kv;
      if (hd % 4 === 0 && hd <= 128 && 256 % (hd / 4) === 0 && Number.isInteger(G) && G <= ATTN_GQA_MAX_GROUP && splitLen <= ATTN_GQA_SPLIT_MAX) {
        for (const sg of subgroups ? [false, true] : [false]) {
          const steps: { k: KernelSource; values: Record<string, number>; bufs: Record<string, GPUBuffer>; grid: number[] }[] = [
            { k: attnDecodeGqaWgsl(hd, G, sg), values: vals, bufs: { q: bq, kc: bk, vc: bv, o, part }, grid: [Kv, T, nSplit] },
          ];
          if (nSplit > 1) steps.push({ k: attnCombineWgsl(hd), values: vals, bufs: { part, o }, grid: [H, T] });
          const got = await h.run(steps, o, T * H * hd);
          out.push({ op: `attention-decode-gqa${G}${sg ? '-sg' : ''}-split${nSplit}`, shape: [T, start, H, Kv, hd, window], maxAbsDiff: diff(got, want), tol: 1e-5 });
        }
      }
    }
    h.setStep({ T, start, Tk });
    const o = h.buf(T * H * hd);
    const got = await h.run([{ k: attnFlashWgsl(hd), values: vals, bufs: { q: bq, kc: bk, vc: bv, o }, grid: [Math.ceil(T / flashTile(hd).BQ), H] }], o, T * H * hd);
    out.push({ op: 'attention-flash', shape: [T, start, H, Kv, hd, window], maxAbsDiff: diff(got, want), tol: 1e-5 });
    // the one-thread-per-row prefill kernel (GpuTuning.flashPrefill 'rows', the default) where it runs
    const rowsK = flashPrefill('rows', hd, H, Kv);
    if (rowsK.kind === 'rows') {
      const or = h.buf(T * H * hd);
      const gr = await h.run([{ k: rowsK.k, values: vals, bufs: { q: bq, kc: bk, vc: bv, o: or }, grid: rowsK.grid(T) }], or, T * H * hd);
      out.push({ op: 'attention-flash-rows', shape: [T, start, H, Kv, hd, window], maxAbsDiff: diff(gr, want), tol: 1e-5 });
    }
    const pb = h.buf(H * T * Tk);
    const gp = await h.run([{ k: attnProbsWgsl(), values: vals, bufs: { q: bq, kc: bk, probs: pb }, grid: [T, H] }], pb, H * T * Tk);
    out.push({ op: 'attention-probs', shape: [T, start, H, Kv, hd, window], maxAbsDiff: diff(gp, probs), tol: 1e-6 });
    h.free();
  }
}

async function activationChecks(h: Harness, out: GpuKernelCheck[]): Promise<void> {
  for (const name of ['silu', 'gelu_new', 'gelu'] as ActivationName[]) {
    for (const gated of [true, false]) {
      for (const [rows, I] of [
        [1, 5],
        [3, 300],
      ]) {
        const gu = rand(rows * (gated ? 2 * I : I), 6); // [rows, 2I] or [rows, I]
        const want = new Float32Array(rows * I);
        if (gated) {
          const g = new Float32Array(rows * I);
          const u = new Float32Array(rows * I);
          for (let t = 0; t < rows; t++) {
            g.set(gu.subarray(t * 2 * I, t * 2 * I + I), t * I);
            u.set(gu.subarray(t * 2 * I + I, (t + 1) * 2 * I), t * I);
          }
          swiglu(g, u, rows * I, name);
          want.set(g);
        } else {
          want.set(gu);
          activate(want, rows * I, name);
        }
        h.setStep({ T: rows });
        const o = h.buf(rows * I);
        const got = await h.run(
          [
            {
              k: activationWgsl(),
              values: { I, mSel: M_FROM_T, mFixed: 0, inStride: gated ? 2 * I : I, gated: gated ? 1 : 0, act: ACT_ID[name] },
              bufs: { gu: h.buf(gu), o },
              grid: [Math.ceil(I / 256), rows],
            },
          ],
          o,
          rows * I,
        );
        out.push({ op: `activation-${name}${gated ? '-gated' : ''}`, shape: [rows, I], maxAbsDiff: diff(got, want), tol: 2e-6 * Math.max(1, maxAbs(want)) });
        h.free();
      }
    }
  }
}

async function moeChecks(h: Harness, out: GpuKernelCheck[]): Promise<void> {
  for (const [T, E, k, norm] of [
    [1, 4, 2, 1],
    [7, 8, 2, 0],
    [5, 5, 3, 1],
  ]) {
    const logits = rand(T * E, 3); // [T, E]
    const ids = new Int32Array(T * k);
    const wts = new Float32Array(T * k);
    routeTopK(ids, wts, logits, T, E, k, norm === 1);
    h.setStep({ T });
    const bi = h.buf(T * k);
    const bw = h.buf(T * k);
    const wd = h.buf(T * E);
    const route = { k: moeRouteWgsl(), values: { E, k, normalize: norm }, bufs: { logits: h.buf(logits), ids: bi, wk: bw, wd, probs: h.buf(T * E) }, grid: [Math.ceil(T / 64)] };
    const gi = await h.run([route], bi, T * k, true);
    const gw = await h.run([], bw, T * k);
    out.push({ op: 'moe-route-ids', shape: [T, E, k], maxAbsDiff: diff(gi, ids), tol: 0 });
    out.push({ op: 'moe-route-weights', shape: [T, E, k], maxAbsDiff: diff(gw, wts), tol: 1e-6 });
    // combine: x += Σ_e wd[t, e] · Y[e, t, :]
    const D = 19;
    const Y = rand(E * T * D); // [E, T, D]
    const x0 = rand(T * D);
    const want = x0.slice();
    for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) for (let d = 0; d < D; d++) want[t * D + d] += wts[t * k + j] * Y[(ids[t * k + j] * T + t) * D + d];
    const x = h.buf(x0);
    const got = await h.run(
      [{ k: moeCombineWgsl(), values: { D, nE: E, eStride: T * D, wStride: E, mSel: M_FROM_T, mFixed: 0 }, bufs: { Y: h.buf(Y), wts: wd, x }, grid: [Math.ceil(D / 64), T] }],
      x,
      T * D,
    );
    out.push({ op: 'moe-combine', shape: [T, E, D], maxAbsDiff: diff(got, want), tol: 1e-5 });
    h.free();
  }
  void M_STATIC;
}

async function topkChecks(h: Harness, out: GpuKernelCheck[]): Promise<void> {
  for (const [n, k] of [
    [1, 1],
    [1000, 1],
    [1000, 5],
    [9000, 40],
    [9000, 1],
  ]) {
    const x = rand(2 * n); // [2, n]: the last row is used
    for (let i = 0; i < n / 10; i++) x[n + Math.floor((r() + 0.5) * n)] = 0.49; // ties
    const want = topK(x.subarray(n), k);
    const G = Math.ceil(n / TOPK_CHUNK);
    h.setStep({ headRows: 2 });
    const cand = h.buf(G * k * 2);
    const res = h.buf(k * 2);
    const got = (await h.run(
      [
        { k: topkPartialWgsl(), values: { n, chunk: TOPK_CHUNK, k, lastRow: 1 }, bufs: { src: h.buf(x), cand }, grid: [G] },
        { k: topkFinalWgsl(), values: { n: G * k, chunk: 0, k, lastRow: 0 }, bufs: { cand, res, next: h.buf(4) }, grid: [1] },
      ],
      res,
      k * 2,
      true,
    )) as Uint32Array;
    const gotIds = Array.from({ length: k }, (_, i) => got[2 * i + 1]);
    out.push({ op: 'topk', shape: [n, k], maxAbsDiff: gotIds.every((id, i) => id === want.ids[i]) ? 0 : 1, tol: 0 });
    h.free();
  }
}

async function runGpuKernelChecks(): Promise<{ adapter: string; checks: GpuKernelCheck[] } | { error: string }> {
  const opened = await openGpu(navigator.gpu);
  if (!('device' in opened)) return { error: opened.env.reason ?? 'no device' };
  const { device, env } = opened;
  const h = new Harness(device);
  const checks: GpuKernelCheck[] = [];
  try {
    sgMax = (device as GPUDevice & { adapterInfo?: { subgroupMaxSize?: number } }).adapterInfo?.subgroupMaxSize ?? 128;
    await linearChecks(h, checks, false);
    await ropeMatvecChecks(h, checks, false);
    if (device.features.has('subgroups')) {
      const sgShapes = checks.length;
      await linearChecks(h, checks, true);
      await ropeMatvecChecks(h, checks, true);
      checks.splice(sgShapes, checks.length - sgShapes, ...checks.slice(sgShapes).filter((c) => c.op.endsWith('-sg')));
    }
    await normChecks(h, checks);
    await embeddingChecks(h, checks);
    await ropeChecks(h, checks);
    await attentionChecks(h, checks, device.features.has('subgroups'));
    await activationChecks(h, checks);
    await moeChecks(h, checks);
    await topkChecks(h, checks);
  } catch (e) {
    return { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  } finally {
    device.destroy();
  }
  return { adapter: `${env.adapter?.vendor} ${env.adapter?.architecture}`, checks };
}

async function runGpuModelChecks(names: string[], stories: boolean): Promise<{ models: ModelCheck[]; stories: StoriesCheck[] } | { error: string }> {
  const opened = await openGpu(navigator.gpu);
  if (!('device' in opened)) return { error: opened.env.reason ?? 'no device' };
  const read = async (rel: string) => {
    const res = await fetch(`/fx/${rel}`);
    if (!res.ok) throw new Error(`fetch /fx/${rel}: ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  try {
    const models: ModelCheck[] = [];
    for (const n of names) models.push(await checkTinyModel(opened.device, read, n));
    return { models, stories: stories ? await checkStories(opened.device, read) : [] };
  } catch (e) {
    return { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  } finally {
    opened.device.destroy();
  }
}

/** Same seed, same ids on the GPU model and the CPU backend (checkSameSeed in gpu-checks.ts). */
async function runSameSeed(n: number): Promise<{ gpu: number[]; cpu: number[] } | { error: string }> {
  const opened = await openGpu(navigator.gpu);
  if (!('device' in opened)) return { error: opened.env.reason ?? 'no device' };
  const read = async (rel: string) => new Uint8Array(await (await fetch(`/fx/${rel}`)).arrayBuffer());
  try {
    return await checkSameSeed(opened.device, read, n);
  } catch (e) {
    return { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  } finally {
    opened.device.destroy();
  }
}

Object.assign(globalThis as object, { runGpuKernelChecks, runGpuModelChecks, runSameSeed });
