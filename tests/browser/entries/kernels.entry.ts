/**
 * Runs inside the test page: the engine's RMSNorm rows kernel against its CPU reference on
 * random shapes, dispatched through the engine's own helpers (engine/gpu/kernel.ts), a quick
 * check that WebGPU works in the browser (tests/browser/gpu.test.ts checks every kernel).
 * Exposed as window.runKernelChecks for the Playwright test.
 */
import { rmsnorm } from '../../../engine/ops/rmsnorm/rmsnorm';
import { rmsnormRowsWgsl } from '../../../engine/ops/rmsnorm/rmsnorm.wgsl';
import { createStorage, Dispatch, PipelineCache } from '../../../engine/gpu/kernel';
import { openGpu } from '../../../engine/gpu/probe';
import { M_FROM_T, packParams, STEP_FIELDS } from '../../../engine/wgsl/kernel-source';

/** RMSNorm of the rows of x [rows, dim] with `weight` [dim] on the GPU (the kernel GpuModel runs). */
async function rmsnormGpu(device: GPUDevice, cache: PipelineCache, x: Float32Array, weight: Float32Array, dim: number, eps: number): Promise<Float32Array> {
  const rows = x.length / dim;
  const step = device.createBuffer({ size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(step, 0, packParams(STEP_FIELDS, { T: rows, start: 0, Tk: rows, headFirst: 0, headRows: rows, nSplit: 1, splitLen: 1, pad0: 0 }));
  const bufs = { x: createStorage(device, x), weight: createStorage(device, weight), y: createStorage(device, x.byteLength) };
  const d = new Dispatch(device, cache, rmsnormRowsWgsl(dim), step, { D: dim, mSel: M_FROM_T, mFixed: 0, srcFromHead: 0, eps, hasBias: 0 }, bufs);
  const staging = device.createBuffer({ size: bufs.y.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  d.encode(pass, rows);
  pass.end();
  enc.copyBufferToBuffer(bufs.y, 0, staging, 0, bufs.y.size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0, x.byteLength));
  staging.unmap();
  for (const b of [step, staging, ...Object.values(bufs)]) b.destroy();
  d.destroy();
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

export interface KernelCheck {
  op: string;
  shape: number[];
  maxAbsDiff: number;
  maxRef: number;
}

async function runKernelChecks(): Promise<{ adapter: string; checks: KernelCheck[] } | { error: string }> {
  const opened = await openGpu(navigator.gpu);
  if (!('device' in opened)) return { error: opened.env.reason ?? 'no device' };
  const { device, env } = opened;
  const checks: KernelCheck[] = [];
  const cache = new PipelineCache(device);
  const r = rng(42);
  // Odd sizes, a single row, a row shorter than the workgroup and rows longer than it.
  for (const [rows, dim] of [
    [1, 1],
    [1, 7],
    [3, 64],
    [5, 96],
    [2, 1000],
    [1, 4097],
    [17, 33],
  ]) {
    const x = new Float32Array(rows * dim).map(() => r() * 4);
    const w = new Float32Array(dim).map(() => 1 + r());
    const want = new Float32Array(x.length);
    rmsnorm(want, x, w, dim, 1e-5);
    const got = await rmsnormGpu(device, cache, x, w, dim, 1e-5);
    let maxAbsDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < want.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(want[i] - got[i]));
      maxRef = Math.max(maxRef, Math.abs(want[i]));
    }
    checks.push({ op: 'rmsnorm', shape: [rows, dim], maxAbsDiff, maxRef });
  }
  device.destroy();
  return { adapter: `${env.adapter?.vendor} ${env.adapter?.architecture}`, checks };
}

(globalThis as unknown as { runKernelChecks: typeof runKernelChecks }).runKernelChecks = runKernelChecks;
