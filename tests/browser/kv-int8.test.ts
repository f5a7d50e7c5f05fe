/**
 * The GPU model's int8 KV cache against the CPU Model's (kv-int8-checks.ts says what and why
 * the limits) through Dawn in Node (the webgpu package; on a machine without a GPU,
 * SwiftShader). Skipped where no WebGPU device opens.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNodeGpu } from '../../engine/gpu/gpu-node';
import { fixturePath } from '../unit/fixtures';
import { checkInt8Stories, checkInt8Tiny, INT8_LIMITS, type Int8KvCheck } from './kv-int8-checks';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

const TINY = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];
const read = async (rel: string) => new Uint8Array(await readFile(fixturePath(rel)));

let device: GPUDevice | undefined;
let why = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
});
afterAll(() => device?.destroy());

const measured: Record<string, string> = {};
function expectClose(r: Int8KvCheck): void {
  measured[r.model] = `max |Δ logits| ${r.logits.toExponential(2)} (max |logit| ${r.maxLogit.toFixed(2)}), attention probabilities ${r.probs.toExponential(2)}`;
  expect(r.logits).toBeLessThanOrEqual(INT8_LIMITS.logitsOfScale * r.maxLogit);
  expect(r.probs).toBeLessThanOrEqual(INT8_LIMITS.probs);
}

describe('GpuModel with the int8 KV cache against the CPU Model with it', () => {
  it.each(TINY)('%s: logits within 1e-2 of their scale (prefill, decode, grouped-query decode), probabilities within 1e-3', async (name) => {
    if (!device) return console.warn(`skipped: ${why}`);
    expectClose(await checkInt8Tiny(device, read, name));
  });

  it('stories260K: the same over the 129 ids of its first greedy reference (decode also with split keys)', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    expectClose(await checkInt8Stories(device, read));
    console.log(JSON.stringify(measured, null, 1));
  }, 600_000);
});
