/**
 * A WebGPU device for a Node test file (the `webgpu` package; SwiftShader where no other
 * Vulkan driver is named): opened before the file's tests, destroyed after. `gpu.device` is
 * undefined where none opens, and `gpu.why` says why (tests skip on it).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { openNodeGpu } from '../../engine/gpu/gpu-node';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

export function useNodeGpu(): { device: GPUDevice | undefined; why: string } {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  const gpu: { device: GPUDevice | undefined; why: string } = { device: undefined, why: '' };
  beforeAll(async () => {
    const g = await openNodeGpu();
    if ('device' in g) gpu.device = g.device;
    else gpu.why = g.env.reason ?? 'no adapter';
  }, 60_000);
  afterAll(() => gpu.device?.destroy());
  return gpu;
}
