/**
 * `forward --logit-lens` and `--router` against the internals references
 * (refs/<model>.internals.shared.json, made with transformers).
 */
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { decodeArray, fixturePath, loadRef, maxAbsDiff, type EncodedArray } from '../../tests/unit/fixtures';
import { runCli } from './run-cli.test-util';

const run = runCli;

interface InternalsCase {
  input_ids: number[];
  logit_lens: EncodedArray;
  router_logits?: EncodedArray;
  router_topk_experts?: number[][][];
}

const MODELS = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];

describe('forward --logit-lens', () => {
  test.each(MODELS)('%s: logit_lens [L, T, V] equals the reference (1e-4); the last layer equals the logits', async (name) => {
    const c = loadRef<{ cases: InternalsCase[] }>(`${name}.internals.shared`).cases[0];
    const r = await run('forward', '--model', fixturePath('models', name), '--ids', c.input_ids.join(','), '--logit-lens', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    const want = decodeArray(c.logit_lens);
    const got = decodeArray(j.logit_lens);
    expect(got.shape).toEqual(want.shape);
    expect(maxAbsDiff(got.data, want.data)).toBeLessThan(1e-4);
    const logits = decodeArray(j.logits).data;
    const last = got.data.subarray(got.data.length - logits.length);
    expect(maxAbsDiff(last, logits)).toBeLessThan(1e-4);
  });
});

describe('forward --router', () => {
  test('tiny-mixtral-moe: router_logits (1e-5) and router_topk_experts (exactly) equal the reference', async () => {
    for (const c of loadRef<{ cases: InternalsCase[] }>('tiny-mixtral-moe.internals.shared').cases) {
      const r = await run('forward', '--model', fixturePath('models/tiny-mixtral-moe'), '--ids', c.input_ids.join(','), '--router', '--json');
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out);
      const want = decodeArray(c.router_logits!);
      const got = decodeArray(j.router_logits);
      expect(got.shape).toEqual(want.shape);
      expect(maxAbsDiff(got.data, want.data)).toBeLessThan(1e-5);
      expect(j.router_topk_experts).toEqual(c.router_topk_experts);
    }
  });

  test('a model without experts is refused by name', async () => {
    const r = await run('forward', '--model', fixturePath('models/tiny-llama'), '--ids', '1,2', '--router', '--json');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/not a mixture-of-experts model/);
  });
});

// The WebGPU backend through Dawn; without a GPU, on SwiftShader (Debian's chromium package).
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
describe.skipIf(!process.env.VK_ICD_FILENAMES && !existsSync(SWIFTSHADER))('forward --backend webgpu', () => {
  test.each(['tiny-qwen3', 'tiny-gpt2', 'tiny-mixtral-moe'])(
    '%s: logit_lens (1e-4) and, for MoE, router_logits (1e-5) and experts (exactly)',
    async (name) => {
      process.env.VK_ICD_FILENAMES ??= SWIFTSHADER;
      const c = loadRef<{ cases: InternalsCase[] }>(`${name}.internals.shared`).cases[0];
      const args = ['forward', '--model', fixturePath('models', name), '--ids', c.input_ids.join(','), '--logit-lens', '--backend', 'webgpu', '--json'];
      const r = await run(...args, ...(c.router_logits ? ['--router'] : []));
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out);
      expect(maxAbsDiff(decodeArray(j.logit_lens).data, decodeArray(c.logit_lens).data)).toBeLessThan(1e-4);
      if (c.router_logits) {
        expect(maxAbsDiff(decodeArray(j.router_logits).data, decodeArray(c.router_logits).data)).toBeLessThan(1e-5);
        expect(j.router_topk_experts).toEqual(c.router_topk_experts);
      }
    },
    120_000,
  );
});
