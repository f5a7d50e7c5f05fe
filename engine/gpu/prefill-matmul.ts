/**
 * The prefill matmul kernels on a device: `runMatmul` runs one of them once on host arrays
 * (tests, the subgroup-matrix check, the bench), and `checkSubgroupMatrix` is the check a
 * Node device gets when it opens with `chromium-experimental-subgroup-matrix`: the
 * subgroup-matrix kernel against the plain tiled one on odd shapes, with and without the
 * SwiGLU epilogue. Only a device that passes is recorded (`subgroupMatrixOf`); a model on
 * any other device keeps the tiled kernel, so a wrong tensor-core kernel never gives answers.
 */
import { f16ToF32, f32ToF16 } from '../formats/quant';
import {
  matmulSgWgsl,
  matmulTiledWgsl,
  SG_DEFAULT,
  SG_SMALL,
  sgBytes,
  SG_DIALECTS,
  sgTile,
  tiledGroups,
  TILED_SMALL,
  type MatmulEpilogue,
  type SgDialect,
  type SgMatrixConfig,
  type SgShape,
} from '../ops/matmul/matmul-tiled.wgsl';
import { randomFill } from '../model/random';
import { M_FROM_T, packParams, STEP_FIELDS, type KernelSource, type StepValues } from '../wgsl/kernel-source';
import { rowStrideWords, type WeightDtype } from '../wgsl/weight-read';
import { createStorage, Dispatch, packRows, PipelineCache } from './kernel';

/** One product for runMatmul: x [M, xRowStride] (K used), w [N, K] f32 (packed as `dtype`), y [M, yRowStride] at yOffset. */
export interface MatmulCase {
  M: number;
  N: number;
  K: number;
  dtype: WeightDtype;
  x: Float32Array;
  w: Float32Array;
  bias?: Float32Array;
  alpha?: number;
  xRowStride?: number;
  yRowStride?: number;
  yOffset?: number;
  /** y's contents before the product (accumulate: y += result). */
  y0?: Float32Array;
  accumulate?: boolean;
  /** 'act': w is gate|up [2I, K], y [M, I]. */
  epi?: MatmulEpilogue;
}

/** The LINEAR_FIELDS values of a case (the prefill kernels read no more). */
function linearValues(c: MatmulCase): Record<string, number> {
  return {
    mSel: M_FROM_T,
    mFixed: 0,
    N: c.N,
    K: c.K,
    rowStride: rowStrideWords(c.K, c.dtype),
    wOffset: 0,
    xOffset: 0,
    xRowStride: c.xRowStride ?? c.K,
    yOffset: c.yOffset ?? 0,
    yRowStride: c.yRowStride ?? (c.epi ? c.N / 2 : c.N),
    hasBias: c.bias ? 1 : 0,
    accumulate: c.accumulate ? 1 : 0,
    alpha: c.alpha ?? 1,
    expertStride: 0,
    nGroupsX: 0,
    eps: 0,
    xHead: 0,
    half: c.epi ? c.N / 2 : 0,
    H: 0,
    Kv: 0,
    hd: 0,
    ropeStyle: 0,
  };
}

/** Runs `kernel` (a prefill matmul) once over `c` on `groups` workgroups; returns y (its whole buffer). */
export async function runMatmul(device: GPUDevice, kernel: KernelSource, groups: [number, number], c: MatmulCase, cache = PipelineCache.of(device)): Promise<Float32Array> {
  const ySize = c.y0?.length ?? (c.yOffset ?? 0) + c.M * (c.yRowStride ?? (c.epi ? c.N / 2 : c.N));
  const made: GPUBuffer[] = [];
  const buf = (data: ArrayBufferView | number) => {
    const g = createStorage(device, typeof data === 'number' ? data * 4 : data, 'matmul-run');
    made.push(g);
    return g;
  };
  const step: StepValues = { T: c.M, start: 0, Tk: c.M, headFirst: 0, headRows: c.M, nSplit: 1, splitLen: 256, pad0: 0 };
  const stepBuf = device.createBuffer({ label: 'matmul-run step', size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(stepBuf, 0, packParams(STEP_FIELDS, step));
  const y = buf(c.y0 ?? ySize);
  const d = new Dispatch(device, cache, kernel, stepBuf, linearValues(c), {
    x: buf(c.x),
    w: buf(packRows(c.w, c.K, 0, c.N, c.dtype)),
    b: buf(c.bias ?? 4),
    y,
  });
  const st = device.createBuffer({ label: 'matmul-run read', size: ySize * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    d.encode(pass, groups[0], groups[1]);
    pass.end();
    enc.copyBufferToBuffer(y, 0, st, 0, ySize * 4);
    device.queue.submit([enc.finish()]);
    await st.mapAsync(GPUMapMode.READ);
    return new Float32Array(st.getMappedRange().slice(0));
  } finally {
    st.destroy();
    for (const g of made) g.destroy();
    d.destroy();
    stepBuf.destroy();
  }
}

/** What checkSubgroupMatrix found. */
export interface SgMatrixCheck {
  config?: SgMatrixConfig;
  ok: boolean;
  /** Largest |sgmatrix − tiled| relative to the largest |tiled| value. */
  maxRelDiff: number;
  /** Why it was not used (no f16 → f32 configuration, a compile or validation error, a mismatch). */
  why?: string;
  /** The spelling the device compiled. */
  dialect?: SgDialect;
}

/** What a device passed checkSubgroupMatrix with: the kernel's configuration, subgroup size and spelling. */
export interface SgMatrixUse {
  config: SgMatrixConfig;
  sgSize: number;
  dialect: SgDialect;
}

const checked = new WeakMap<GPUDevice, SgMatrixUse>();

/**
 * Records (or with undefined clears) how `device` runs subgroup matrices without the check:
 * tests only, with the emulated dialect, to run whole models through the subgroup-matrix
 * path on a device without the feature.
 */
export function recordSubgroupMatrix(device: GPUDevice, use: SgMatrixUse | undefined): void {
  if (use) checked.set(device, use);
  else checked.delete(device);
}

/** How `device` passed checkSubgroupMatrix (undefined: use the tiled kernel). */
export function subgroupMatrixOf(device: GPUDevice): SgMatrixUse | undefined {
  return checked.get(device);
}

interface ConfigLike {
  componentType?: string;
  resultComponentType?: string;
  M?: number;
  N?: number;
  K?: number;
}

/** The device's f16 × f16 → f32 configuration, 16×16×16 when it has one, else the largest. */
export function pickSgConfig(configs: readonly ConfigLike[]): SgMatrixConfig | undefined {
  const ok = configs
    .filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M && c.N && c.K)
    .map((c) => ({ M: c.M!, N: c.N!, K: c.K! }))
    .filter((c) => c.K % 8 === 0 || 32 % c.K === 0);
  return ok.find((c) => c.M === 16 && c.N === 16 && c.K === 16) ?? ok.sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K)[0];
}

/**
 * Checks the subgroup-matrix kernel on `device` (opened with the feature, `shader-f16` and
 * `subgroups`) against the plain tiled kernel on the same f16 weights and f16-rounded x:
 * odd M, N, K with bias, α and accumulate, and the SwiGLU epilogue. Records the device
 * for subgroupMatrixOf when every product agrees.
 */
export async function checkSubgroupMatrix(device: GPUDevice, configs: readonly ConfigLike[], sgSize: number): Promise<SgMatrixCheck> {
  const config = pickSgConfig(configs);
  if (!config) return { ok: false, maxRelDiff: NaN, why: 'no f16 × f16 → f32 subgroup-matrix configuration' };
  const errors: string[] = [];
  for (const dialect of SG_DIALECTS) {
    const r = await checkDialect(device, config, sgSize, dialect);
    if (r.compiled === false) {
      errors.push(`${dialect.syntax}/${dialect.index}: ${r.why}`);
      continue; // this Dawn spells it otherwise: try the next
    }
    if (r.ok) checked.set(device, { config, sgSize, dialect });
    return { config, ok: r.ok, maxRelDiff: r.maxRelDiff, dialect, why: r.ok ? undefined : (r.why ?? `differs from the tiled kernel by ${r.maxRelDiff} (relative)`) };
  }
  return { config, ok: false, maxRelDiff: NaN, why: `no spelling compiled (${errors.join('; ')})` };
}

/** One spelling of the kernel against the tiled one; compiled: false when the device rejected the WGSL. */
async function checkDialect(
  device: GPUDevice,
  config: SgMatrixConfig,
  sgSize: number,
  dialect: SgDialect,
): Promise<{ compiled: boolean; ok: boolean; maxRelDiff: number; why?: string }> {
  let maxRelDiff = 0;
  let ran = 0;
  // both launch shapes the engine uses, each with and without the SwiGLU epilogue
  for (const [M, N, K, epi, shape] of [
    [37, 70, 100, undefined, SG_DEFAULT],
    [70, 2 * 45, 72, { kind: 'act', act: 0 }, SG_DEFAULT],
    [37, 70, 100, undefined, SG_SMALL],
    [70, 2 * 45, 136, { kind: 'act', act: 0 }, SG_SMALL],
  ] as [number, number, number, MatmulEpilogue | undefined, SgShape][]) {
    if (sgBytes(config, shape, epi, dialect.emulate) > device.limits.maxComputeWorkgroupStorageSize) continue; // LinearOp does not use a shape that does not fit
    ran++;
    const x = randomFill(M * K, 11 + M, 1).map((v) => f16ToF32(f32ToF16(v))); // [M, K], exact in f16
    const w = randomFill(N * K, 12 + N, 1 / Math.sqrt(K)); // [N, K]
    const bias = randomFill(N, 13, 0.1);
    const yRowStride = (epi ? N / 2 : N) + 3;
    const y0 = randomFill(M * yRowStride + 5, 14, 1);
    const c: MatmulCase = { M, N, K, dtype: 'f16', x, w, bias, alpha: 0.75, yRowStride, yOffset: 5, y0, accumulate: !epi, epi };
    let got: Float32Array;
    device.pushErrorScope('validation');
    try {
      got = await runMatmul(device, matmulSgWgsl(config, sgSize, shape, epi, dialect), tiledGroups(M, N, sgTile(config, shape)), c, new PipelineCache(device));
    } catch (e) {
      await device.popErrorScope();
      return { compiled: false, ok: false, maxRelDiff: NaN, why: e instanceof Error ? e.message : String(e) };
    }
    const err = await device.popErrorScope();
    if (err) return { compiled: false, ok: false, maxRelDiff: NaN, why: err.message };
    const want = await runMatmul(device, matmulTiledWgsl('f16', TILED_SMALL, epi), tiledGroups(M, N, TILED_SMALL), c);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      diff = Math.max(diff, Number.isFinite(got[i]) ? Math.abs(got[i] - want[i]) : Infinity);
    }
    maxRelDiff = Math.max(maxRelDiff, diff / Math.max(scale, 1e-30));
  }
  // the same f16 products summed in another order, in f32: a wrong kernel misses by ≫ 1e-3
  // a device on which no launch shape fits passes nothing: it keeps the tiled kernel
  if (ran === 0)
    return { compiled: true, ok: false, maxRelDiff: NaN, why: `no launch shape fits the device's ${device.limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory` };
  return { compiled: true, ok: maxRelDiff <= 1e-3, maxRelDiff };
}
