/**
 * Runs inside the test page: each WGSL kernel against its CPU reference on
 * random shapes. Exposed as window.runKernelChecks for the Playwright test.
 */
import { rmsnorm } from '../../../engine/ops/rmsnorm/rmsnorm';
import { rmsnormGpu } from '../../../engine/gpu/run-rmsnorm';
import { openGpu } from '../../../engine/gpu/probe';

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
  const r = rng(42);
  // Odd sizes, a single row, a row shorter than the workgroup and rows longer than it.
  for (const [rows, dim] of [[1, 1], [1, 7], [3, 64], [5, 96], [2, 1000], [1, 4097], [17, 33]]) {
    const x = new Float32Array(rows * dim).map(() => r() * 4);
    const w = new Float32Array(dim).map(() => 1 + r());
    const want = new Float32Array(x.length);
    rmsnorm(want, x, w, dim, 1e-5);
    const got = await rmsnormGpu(device, x, w, dim, 1e-5);
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
