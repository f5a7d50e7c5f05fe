/**
 * The backend registry: one record per backend, picked by id by the worker, the CLI and
 * the tests. A backend that runs on a GPU device is handed the device by the caller (the
 * worker's probed device, or Dawn's in Node), so this file imports no platform code.
 */
import { GpuModel } from '../gpu/gpu-model';
import type { KvCacheDtype } from '../model/kv/layout';
import type { LoadControl } from '../gpu/upload';
import { materialise } from '../model/lazy';
import type { LazyModel, LoadedModel, ModelConfig, WeightMap } from '../model/types';
import { UnsupportedError } from '../errors';
import { CpuBackend, type CpuThreads } from './cpu';
import type { Backend, BackendId, WeightPrecision } from './contract';
import { OrtBackend, type OrtExecutionProvider } from './ort';

/** What a backend is created from: weights in memory, or a LazyModel (weights read from the file as they are uploaded). */
export type BackendWeights = LoadedModel | LazyModel | { config: ModelConfig; weights: WeightMap };

export interface BackendCreateOptions extends LoadControl {
  /** KV cache capacity in tokens. */
  contextLength: number;
  /** The KV cache's element type (default f32; int8: per token and head scales, ops/kvquant). */
  kvDtype?: KvCacheDtype;
  /** Device backends: how weights live on the device (default f32). */
  weights?: WeightPrecision;
  /** Device backends: the GPU device to run on. */
  device?: GPUDevice;
  /** WebGPU in Node: wait on read-backs without Dawn's per-turn polling (engine/gpu/map-wait.ts). */
  throttleMapWait?: boolean;
  /** The ort backend: onnxruntime-web's execution provider (default wasm; webgpu in a browser). */
  ortProvider?: OrtExecutionProvider;
  /** The CPU backend: run the linear layers over threads (the CLI's --threads). */
  cpuThreads?: CpuThreads;
}

export interface BackendKind {
  id: BackendId;
  /** For people: "CPU", "WebGPU". */
  label: string;
  /** create() needs opts.device. */
  needsGpuDevice: boolean;
  /** Runs ONNX graphs (LoadedModel.onnx) and nothing else; the other backends run the engine's own weights. */
  runsOnnx: boolean;
  /** LoadControl (progress, phases, cancel) follows a device upload; a LazyModel is not closed here. */
  create(loaded: BackendWeights, opts: BackendCreateOptions): Promise<Backend>;
}

const kinds = new Map<BackendId, BackendKind>();

/** Adds (or replaces) a backend kind. */
export function registerBackend(kind: BackendKind): void {
  kinds.set(kind.id, kind);
}

registerBackend({
  id: 'cpu',
  label: 'CPU',
  needsGpuDevice: false,
  runsOnnx: false,
  create: async (loaded, opts) =>
    new CpuBackend('lazy' in loaded ? { config: loaded.config, weights: await materialise(loaded.lazy) } : loaded, {
      contextLength: opts.contextLength,
      kvQuant: opts.kvDtype,
      threads: opts.cpuThreads,
    }),
});

registerBackend({
  id: 'webgpu',
  label: 'WebGPU',
  needsGpuDevice: true,
  runsOnnx: false,
  create: async (loaded, opts) => {
    if (!opts.device) throw new RangeError('the webgpu backend needs a GPU device (BackendCreateOptions.device)');
    return GpuModel.create(opts.device, loaded, {
      contextLength: opts.contextLength,
      weights: opts.weights,
      throttleMapWait: opts.throttleMapWait,
      kvDtype: opts.kvDtype,
      onProgress: opts.onProgress,
      onPhase: opts.onPhase,
      signal: opts.signal,
    });
  },
});

registerBackend({
  id: 'ort',
  label: 'ONNX Runtime Web',
  needsGpuDevice: false,
  runsOnnx: true,
  create: async (loaded, opts) => {
    if ('lazy' in loaded) throw new RangeError('the ort backend runs an ONNX graph loaded whole, not a lazily opened model');
    return OrtBackend.create(loaded, { contextLength: opts.contextLength, executionProvider: opts.ortProvider });
  },
});

/** The backend an ONNX model runs on; the others run the engine's own weights. */
export const ONNX_BACKEND: BackendId = 'ort';

/** Every registered backend id, in registration order. */
export function backendIds(): BackendId[] {
  return [...kinds.keys()];
}

/** The backend kind with this id; a RangeError naming the known ids otherwise. */
export function backendKind(id: string): BackendKind {
  const k = kinds.get(id as BackendId);
  if (!k) throw new RangeError(`unknown backend "${id}" (expected ${backendIds().join(' or ')})`);
  return k;
}

/** Creates a backend by id. */
export async function createBackend(id: string, loaded: BackendWeights, opts: BackendCreateOptions): Promise<Backend> {
  const kind = backendKind(id);
  const onnx = 'onnx' in loaded ? loaded.onnx : undefined;
  if (onnx && !kind.runsOnnx) throw new UnsupportedError(`an ONNX model runs on the ${ONNX_BACKEND} backend, not ${id}`, { file: onnx.file, expected: `backend ${ONNX_BACKEND}` });
  if (!onnx && kind.runsOnnx)
    throw new UnsupportedError(`the ${id} backend runs ONNX models only`, { file: 'source' in loaded ? loaded.source.files.join(', ') : 'model', expected: 'a .onnx decoder' });
  return kind.create(loaded, opts);
}
