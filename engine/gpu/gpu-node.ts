/**
 * Node only: WebGPU through the `webgpu` package (Dawn). Keeps the GPU instance
 * referenced for the life of the process: when it is garbage-collected, Dawn tears
 * the instance down under the live device and the process aborts.
 * On a machine without a GPU, run with
 *   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json   (SwiftShader).
 */
import { checkSubgroupMatrix } from './prefill-matmul';
import { openGpu, type EngineEnv, type GpuHandle } from './probe';

const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;

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
  // `allow_unsafe_apis` shows `chromium-experimental-subgroup-matrix` (tensor cores) where the
  // hardware has it; the prefill uses it only after checkSubgroupMatrix passes on this device.
  // LLMP_SUBGROUP_MATRIX=0 leaves the toggle off.
  // LLMP_DAWN_TOGGLES: more Dawn toggles to enable, comma-separated (benchmarks; e.g. skip_validation)
  const extra = (process.env.LLMP_DAWN_TOGGLES ?? '').split(',').filter(Boolean);
  const sgm = process.env.LLMP_SUBGROUP_MATRIX !== '0';
  const gpu = mod.create([`enable-dawn-features=${['vulkan_enable_f16_on_nvidia', ...(sgm ? ['allow_unsafe_apis'] : []), ...extra].join(',')}`]);
  pinned.push(gpu);
  const h = await openGpu(gpu, sgm ? [SUBGROUP_MATRIX] : []);
  if ('device' in h) {
    pinned.push(h.adapter, h.device);
    if (h.device.features.has(SUBGROUP_MATRIX)) {
      const info = h.adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: readonly object[]; subgroupMaxSize?: number };
      const check = await checkSubgroupMatrix(h.device, info.subgroupMatrixConfigs ?? [], info.subgroupMaxSize ?? 32).catch((e: unknown) => ({
        ok: false,
        maxRelDiff: NaN,
        why: e instanceof Error ? e.message : String(e),
        config: undefined,
        dialect: undefined,
      }));
      const cfg = check.config ? `${check.config.M}×${check.config.N}×${check.config.K}` : undefined;
      h.env.subgroupMatrix = {
        config: cfg,
        ok: check.ok,
        maxRelDiff: check.maxRelDiff,
        why: check.why,
        dialect: check.dialect && `${check.dialect.syntax}/${check.dialect.index}`,
      };
      if (!check.ok) console.warn(`WebGPU: subgroup matrices not used for the prefill (${check.why}); the tiled kernel runs instead`);
    }
  }
  return h;
}
