/**
 * Finds a WebGPU adapter and device and reports what they offer; `selfTest` (self-test.ts)
 * then runs the engine's decode kernels against their CPU references so a broken driver
 * shows at once. Works with `navigator.gpu` in a browser worker and with the `webgpu`
 * package in Node.
 */
export { selfTest } from './self-test';

/** Where the engine runs and what the GPU offers, as the worker found it (the protocol carries it to the host). */
export interface EngineEnv {
  backend: 'webgpu' | 'cpu';
  /** Why the CPU path is used (no navigator.gpu, no adapter, device failed…). */
  reason?: string;
  adapter?: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter: boolean;
  };
  limits?: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxStorageBuffersPerShaderStage: number;
  };
  features?: string[];
  /**
   * Node with `chromium-experimental-subgroup-matrix`: the prefill's subgroup-matrix kernel
   * checked against the tiled one at device open (engine/gpu/prefill-matmul.ts); used only when ok.
   */
  subgroupMatrix?: { config?: string; ok: boolean; maxRelDiff: number; why?: string; dialect?: string };
  /** Result of an engine kernel run at start-up against its CPU reference (engine/gpu/self-test.ts). */
  selfTest?: { op: string; maxAbsDiff: number; ok: boolean };
  userAgent?: string;
}

export interface GpuHandle {
  adapter: GPUAdapter;
  device: GPUDevice;
  env: EngineEnv;
}

const LIMIT_KEYS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
] as const;

/** Opens a device with the adapter's real limits, or says why it cannot; `more`: features to ask for beside the engine's own, where the adapter has them. */
export async function openGpu(gpu: GPU | undefined, more: GPUFeatureName[] = []): Promise<GpuHandle | { env: EngineEnv }> {
  if (!gpu) {
    return { env: { backend: 'cpu', reason: 'WebGPU is not available here (navigator.gpu is missing); the CPU path will be used.' } };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { env: { backend: 'cpu', reason: `requestAdapter failed: ${errorText(e)}; the CPU path will be used.` } };
  }
  if (!adapter) {
    return { env: { backend: 'cpu', reason: 'WebGPU is present but no adapter was found (no GPU, or it is blocklisted); the CPU path will be used.' } };
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_KEYS) requiredLimits[k] = adapter.limits[k];
  const wanted: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query', ...more];
  const requiredFeatures = wanted.filter((f) => adapter!.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    return { env: { backend: 'cpu', reason: `requestDevice failed: ${errorText(e)}; the CPU path will be used.` } };
  }
  const info = adapter.info;
  const limits = Object.fromEntries(LIMIT_KEYS.map((k) => [k, device.limits[k]])) as EngineEnv['limits'];
  const env: EngineEnv = {
    backend: 'webgpu',
    adapter: {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
    },
    limits,
    features: [...device.features].map(String).sort(),
  };
  return { adapter, device, env };
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
