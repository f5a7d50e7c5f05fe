/**
 * The start-up self-test (EngineEnv.selfTest): the first kernel of every decode layer as
 * the engine runs it, on this device, against the CPU references — the fused q|k|v
 * matvec (RMSNorm of x, x·Wᵀ + b, RoPE on q and k, k and v written into the KV cache at
 * the token's slot), built and dispatched the way GpuModel builds it (LinearOp's values,
 * the default launch shape, subgroup reductions where the device has them).
 *
 * One kernel, because start-up waits for it: on SwiftShader a kernel this size compiles
 * in about half a second, and a whole GpuModel (every kernel of a model) takes seconds.
 */
import { matmul } from '../ops/matmul/matmul';
import { matvecRows, matvecShape, matvecSlots, matvecWgsl } from '../ops/matmul/matmul.wgsl';
import { rmsnorm } from '../ops/rmsnorm/rmsnorm';
import { applyRope, defaultInvFreq, ropeCosSin } from '../ops/rope/rope';
import { ROPE_STYLE } from '../ops/rope/rope.wgsl';
import { randomFill } from '../model/random';
import { M_FROM_T, packParams, STEP_FIELDS, type StepValues } from '../wgsl/kernel-source';
import { rowStrideWords } from '../wgsl/weight-read';
import { createStorage, Dispatch, grid2, packRows, PipelineCache } from './kernel';

export interface SelfTestResult {
  /** What ran, for people. */
  op: string;
  /** Largest |GPU − CPU| over q and the KV-cache rows. */
  maxAbsDiff: number;
  ok: boolean;
}

/** Runs the kernel on `device` and compares its outputs with the CPU references. */
export async function selfTest(device: GPUDevice): Promise<SelfTestResult> {
  const [H, Kv, hd, D] = [4, 2, 16, 64];
  const QKV = (H + 2 * Kv) * hd;
  const start = 11; // the new token's cache slot; slots before it hold earlier tokens
  const ctx = start + 1;
  const eps = 1e-5;
  const subgroups = device.features.has('subgroups');
  const subgroupMaxSize = (device as GPUDevice & { adapterInfo?: { subgroupMaxSize?: number } }).adapterInfo?.subgroupMaxSize ?? 128;

  const x = randomFill(D, 1, 2); // [1, D] the residual row
  const nw = randomFill(D, 2, 0.2).map((v) => 1 + v); // [D]
  const w = randomFill(QKV * D, 3, 1 / Math.sqrt(D)); // [QKV, D]
  const b = randomFill(QKV, 4, 0.1); // [QKV]
  const kc = randomFill(ctx * Kv * hd, 5, 1); // [ctx, Kv, hd]: earlier tokens' keys
  const vc = randomFill(ctx * Kv * hd, 6, 1); // [ctx, Kv, hd]

  // CPU: RMSNorm, q|k|v, RoPE at position `start`, the cache write
  const xn = new Float32Array(D); // [1, D]
  rmsnorm(xn, x, nw, D, eps);
  const qkv = new Float32Array(QKV); // [1, QKV]
  matmul(qkv, xn, w, 1, D, QKV, b);
  const q = qkv.slice(0, H * hd); // [1, H, hd]
  const k = qkv.slice(H * hd, (H + Kv) * hd); // [1, Kv, hd]
  const v = qkv.slice((H + Kv) * hd); // [1, Kv, hd]
  const half = hd >> 1;
  const cos = new Float32Array(half); // [1, hd/2]
  const sin = new Float32Array(half); // [1, hd/2]
  ropeCosSin(cos, sin, defaultInvFreq(10000, hd), [start]);
  applyRope(q, cos, sin, 1, H, hd, hd, 'half');
  applyRope(k, cos, sin, 1, Kv, hd, hd, 'half');
  const wantK = kc.slice(); // [ctx, Kv, hd]
  const wantV = vc.slice(); // [ctx, Kv, hd]
  wantK.set(k, start * Kv * hd);
  wantV.set(v, start * Kv * hd);

  // GPU: the same through the engine's kernel, one submission
  const cs = new Float32Array(hd); // [1, hd]: cos | sin
  cs.set(cos);
  cs.set(sin, half);
  const made: GPUBuffer[] = [];
  const buf = (data: ArrayBufferView | number) => {
    const g = createStorage(device, typeof data === 'number' ? data * 4 : data, 'self-test');
    made.push(g);
    return g;
  };
  const step: StepValues = { T: 1, start, Tk: ctx, headFirst: 0, headRows: 1, nSplit: 1, splitLen: 256, pad0: 0 };
  const stepBuf = device.createBuffer({ label: 'self-test step', size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(stepBuf, 0, packParams(STEP_FIELDS, step));
  const gq = buf(H * hd); // [1, H, hd]
  const gk = buf(kc); // [ctx, Kv, hd]
  const gv = buf(vc); // [ctx, Kv, hd]
  const epi = { kind: 'rope' } as const;
  const shape = matvecShape(D, 'f32', epi);
  const groups = Math.ceil(matvecSlots(QKV, epi) / matvecRows(D, 'f32', shape));
  const [gx, gy] = grid2(groups);
  const cache = new PipelineCache(device);
  const kernel = matvecWgsl('f32', subgroups, D, { pro: { kind: 'rms' }, epi, subgroupMaxSize, shape });
  const matvec = new Dispatch(
    device,
    cache,
    kernel,
    stepBuf,
    {
      mSel: M_FROM_T,
      mFixed: 0,
      N: QKV,
      K: D,
      rowStride: rowStrideWords(D, 'f32'),
      wOffset: 0,
      xOffset: 0,
      xRowStride: D,
      yOffset: 0,
      yRowStride: QKV,
      hasBias: 1,
      accumulate: 0,
      alpha: 1,
      expertStride: 0,
      nGroupsX: gx,
      eps,
      xHead: 0,
      half,
      H,
      Kv,
      hd,
      ropeStyle: ROPE_STYLE.half,
    },
    { x: buf(x), w: buf(packRows(w, D, 0, QKV, 'f32')), b: buf(b), ids: buf(4), nw: buf(nw), cs: buf(cs), q: gq, kc: gk, vc: gv },
  );
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  matvec.encode(pass, gx, gy, 1);
  pass.end();
  const reads = [gq, gk, gv];
  const sizes = [H * hd, ctx * Kv * hd, ctx * Kv * hd].map((n) => n * 4);
  const staging = reads.map((_, i) => device.createBuffer({ label: 'self-test read', size: sizes[i], usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
  reads.forEach((r, i) => enc.copyBufferToBuffer(r, 0, staging[i], 0, sizes[i]));
  device.queue.submit([enc.finish()]);
  let got: Float32Array[];
  try {
    await Promise.all(staging.map((s) => s.mapAsync(GPUMapMode.READ)));
    got = staging.map((s) => new Float32Array(s.getMappedRange().slice(0)));
  } finally {
    for (const s of staging) s.destroy();
    for (const g of made) g.destroy();
    matvec.destroy();
    stepBuf.destroy();
  }

  let maxAbsDiff = 0;
  let maxRef = 0;
  for (const [wantA, gotA] of [
    [q, got[0]],
    [wantK, got[1]],
    [wantV, got[2]],
  ]) {
    for (let i = 0; i < wantA.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(wantA[i] - gotA[i]));
      maxRef = Math.max(maxRef, Math.abs(wantA[i]));
    }
  }
  return {
    op: `decode q|k|v matvec with RMSNorm, RoPE and the KV-cache write (${kernel.label})`,
    maxAbsDiff,
    // f32 on both sides, summed in different orders, the norm through the GPU's inverseSqrt:
    // 1e-4 of the values' scale leaves room for any conforming device (a wrong kernel misses by ≫ 1e-3)
    ok: maxAbsDiff <= 1e-4 * Math.max(1, maxRef),
  };
}
