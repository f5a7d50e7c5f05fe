/**
 * Node only: WebGPU through the `webgpu` package (Dawn). Keeps the GPU instance
 * referenced for the life of the process: when it is garbage-collected, Dawn tears
 * the instance down under the live device and the process aborts.
 * On a machine without a GPU, run with
 *   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json   (SwiftShader).
 */
import { openGpu, type EngineEnv, type GpuHandle } from './probe';

const pinned: unknown[] = [];

export async function openNodeGpu(): Promise<GpuHandle | { env: EngineEnv }> {
  let mod: { create: (opts: string[]) => GPU; globals: Record<string, unknown> };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('webgpu');
  } catch (e) {
    return { env: { backend: 'cpu', reason: `the webgpu package could not be loaded: ${e instanceof Error ? e.message : String(e)}` } };
  }
  Object.assign(globalThis, mod.globals);
  // Dawn hides `shader-f16` on NVIDIA's Vulkan driver unless this adapter toggle is on
  // (a guard for f16 arithmetic conformance); the engine only loads f16 and converts it to
  // f32, and the fixture checks give the same logits as the packed path with it on
  // (engine/gpu/BENCH.md, "shader-f16 on NVIDIA").
  // LLMP_DAWN_TOGGLES: more Dawn toggles to enable, comma-separated (benchmarks; e.g. skip_validation)
  const extra = (process.env.LLMP_DAWN_TOGGLES ?? '').split(',').filter(Boolean);
  const gpu = mod.create([`enable-dawn-features=${['vulkan_enable_f16_on_nvidia', ...extra].join(',')}`]);
  pinned.push(gpu);
  const h = await openGpu(gpu);
  if ('device' in h) pinned.push(h.adapter, h.device);
  return h;
}
