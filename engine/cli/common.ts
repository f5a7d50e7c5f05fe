/** What the CLI's commands share: argument parsing, id lists, the array format of --json, opening a backend. */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Backend, BackendId, WeightPrecision } from '../backend/contract';
import { backendIds, backendKind, ONNX_BACKEND, type BackendWeights } from '../backend/registry';
import { setupOrt } from '../backend/ort-env';
import { GpuError } from '../gpu/lifecycle';
import type { LoadControl } from '../gpu/upload';
import { openNodeGpu } from '../gpu/gpu-node';
import type { KvCacheDtype } from '../model/kv/layout';
import type { LoadedModel } from '../model/types';
import type { WasmAttention } from '../ops/attention/attention.wasm';
import type { WasmMatmul } from '../ops/matmul/matmul.wasm';
import { UsageError } from './errors';
import { Interrupted } from './interrupt';
import { KernelThreads } from './threads';

/** --backend webgpu asked for, but no adapter or device (exit code 1: the environment, not the usage). */
export class GpuUnavailableError extends Error {}

export const COMMON: ParseArgsConfig['options'] = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };

export function parse(argv: string[], options: ParseArgsConfig['options']) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function parseIds(s: string | undefined, what: string): number[] {
  if (s === undefined || s.trim() === '') throw new UsageError(`${what} needs a comma-separated list of token ids, e.g. 1,2,3`);
  return s.split(',').map((x) => {
    if (x.trim() === '') throw new UsageError(`${what}: an empty entry in "${s.length > 40 ? `${s.slice(0, 40)}…` : s}" (ids are separated by single commas)`);
    const n = Number(x.trim());
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${what}: "${x}" is not a token id (a non-negative integer)`);
    return n;
  });
}

export function intOpt(s: string | undefined, name: string, dflt: number, min = 0): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${s}"`);
  return n;
}

export function floatOpt(s: string | undefined, name: string, dflt: number): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number ≥ 0, got "${s}"`);
  return n;
}

export function checkIds(ids: number[], vocab: number, what: string): void {
  const bad = ids.find((i) => i >= vocab);
  if (bad !== undefined) throw new UsageError(`${what}: token id ${bad} is outside the vocabulary (0..${vocab - 1})`);
}

/** {"dtype","shape","b64"}: the fixtures' array format (little-endian f32, row-major). */
export function encodeArray(data: Float32Array, shape: number[]): { dtype: 'float32'; shape: number[]; b64: string } {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { dtype: 'float32', shape, b64: bytes.toString('base64') };
}

export type Out = (s: string) => void;

/** --backend: a registered id; without it, cpu (ort for an ONNX model, the only backend that runs one). */
export function backendOpt(s: string | undefined, loaded?: LoadedModel): BackendId {
  if (s === undefined) return loaded?.onnx ? ONNX_BACKEND : 'cpu';
  try {
    return backendKind(s).id;
  } catch {
    throw new UsageError(`--backend must be ${backendIds().join(' or ')}, got "${s}"`);
  }
}

/** --kv-dtype: the engine's KV cache, f32 (the default) or int8 (per token and head scales), on either backend. */
export function kvDtypeOpt(s: string | undefined): KvCacheDtype {
  if (s === undefined || s === 'f32' || s === 'int8') return s ?? 'f32';
  throw new UsageError(`--kv-dtype must be f32 or int8, got "${s}"`);
}

/** After a device backend has uploaded the weights, the host's f32 copies are not needed: drop them. */
export function releaseHostWeights(loaded: LoadedModel): void {
  loaded.weights.clear();
}

/** --weights: f32 or f16 on a device backend; auto (the default) keeps 16-bit or quantised files at f16. */
export function weightsOpt(s: string | undefined, loaded: Pick<LoadedModel, 'source'>): WeightPrecision {
  if (s === 'f32' || s === 'f16') return s;
  if (s !== undefined && s !== 'auto') throw new UsageError(`--weights must be auto, f32 or f16, got "${s}"`);
  return loaded.source.dtypes.some((d) => !/^F(32|64)$/i.test(d)) ? 'f16' : 'f32';
}

/**
 * onnxruntime-web in the CLI: its node_modules copy finds its wasm files itself; the bundled
 * CLI (dist/cli.js) has them in dist/ort (scripts/build.mjs). One wasm thread.
 */
function cliOrtSetup(): { wasmPaths?: string; numThreads: number } {
  const bundled = path.join(__dirname, 'ort');
  return { numThreads: 1, ...(existsSync(path.join(bundled, 'ort-wasm-simd-threaded.wasm')) ? { wasmPaths: `${pathToFileURL(bundled).href}/` } : {}) };
}

/**
 * A backend from the registry; a device backend runs on the first WebGPU adapter (the
 * webgpu package, Dawn), with read-backs awaited without Dawn's per-turn polling. `loaded`
 * may be a LazyModel (weights read from the file as they are uploaded; the caller closes it);
 * `control` follows the upload, and a cancel through it ends in Interrupted.
 */
export async function openBackend(
  id: BackendId,
  loaded: BackendWeights,
  contextLength: number,
  weights?: WeightPrecision,
  kvDtype?: KvCacheDtype,
  control: LoadControl = {},
  threads = 1,
): Promise<Backend> {
  const kind = backendKind(id);
  const onnx = 'onnx' in loaded && Boolean(loaded.onnx);
  if (kind.runsOnnx !== onnx) throw new UsageError(onnx ? `--backend ${id}: an ONNX model runs on --backend ${ONNX_BACKEND}` : `--backend ${id} runs .onnx models only`);
  if (kind.runsOnnx) {
    if (kvDtype === 'int8') throw new UsageError(`--kv-dtype int8: the ${id} backend keeps the graph's own KV cache (its present tensors)`);
    setupOrt(cliOrtSetup());
  }
  let device: GPUDevice | undefined;
  if (kind.needsGpuDevice) {
    const g = await openNodeGpu();
    if (!('device' in g)) {
      const why = (g.env.reason ?? 'no WebGPU adapter').replace(/;? ?the CPU path will be used\.?$/, '');
      const hint =
        process.platform === 'linux' && !process.env.VK_ICD_FILENAMES
          ? ' Without a GPU, Dawn can run on SwiftShader: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (Debian package chromium).'
          : '';
      throw new GpuUnavailableError(`--backend ${id}: ${why}. Use --backend cpu.${hint}`);
    }
    device = g.device;
    control.onPhase?.('device');
  }
  const cpuThreads = threads > 1 ? { count: threads, start: (mm: WasmMatmul, attention?: WasmAttention) => new KernelThreads(mm, threads, attention) } : undefined;
  try {
    return await kind.create(loaded, { contextLength, device, weights, throttleMapWait: true, kvDtype, cpuThreads, ...control });
  } catch (e) {
    if (e instanceof GpuError && e.kind === 'cancelled') throw new Interrupted('interrupted while loading the weights');
    throw e;
  }
}

/**
 * --threads N: threads for the CPU backend's linear layers (default 1: one process, one core,
 * as the tests and benchmarks compare; the CLI's runs in parallel would otherwise crowd each other).
 */
export function threadsOpt(s: string | undefined, backend: BackendId): number {
  const n = intOpt(s, 'threads', 1, 1);
  const max = availableParallelism();
  if (n > max) throw new UsageError(`--threads ${n} is more than this machine's ${max} hardware threads`);
  if (n > 1 && backend !== 'cpu') throw new UsageError(`--threads is for --backend cpu (the ${backend} backend runs on its device)`);
  return n;
}
