/**
 * Host memory of the streaming load (upload.ts), in a child process through Dawn (SwiftShader
 * on a machine without a GPU): a generated f16 GGUF of ~200 MB (engine/model/random.ts; its
 * f32 copy would be ~400 MB) uploads with a peak RSS growth of at most its bytes on the device
 * (SwiftShader keeps device memory in host memory) plus 160 MiB, and the upload itself (beyond
 * the buffers it fills: two chunks being read, the staging array, Dawn's copies in flight) adds
 * at most 160 MiB: no f32 copy of the model, no whole-tensor copy.
 * Skipped where no WebGPU device opens.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { llamaParamCount, randomLlamaGguf } from '../model/random';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const root = path.resolve(__dirname, '../..');
const MiB = 2 ** 20;
const SHAPE = {
  vocabSize: 8192,
  hiddenSize: 1024,
  intermediateSize: 2816,
  numLayers: 8,
  numHeads: 16,
  numKvHeads: 4,
  maxPositions: 256,
  ropeTheta: 1e4,
  rmsEps: 1e-5,
  tieEmbeddings: true,
};

let tmp = '';
let model = '';
let child = '';

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'llmp-load-rss-'));
  const V = SHAPE.vocabSize;
  const vocab = { tokens: Array.from({ length: V }, (_, i) => `t${i}`), scores: new Array(V).fill(0), types: new Array(V).fill(1) };
  model = path.join(tmp, 'random-f16.gguf');
  writeFileSync(model, randomLlamaGguf(SHAPE, vocab, 11, 'F16'));
  child = path.join(tmp, 'child.js');
  await build({
    entryPoints: [path.join(__dirname, 'load-rss-child-node.ts')],
    outfile: child,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['webgpu'],
    logLevel: 'warning',
  });
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('a ~200 MB f16 GGUF streams to the device with host memory bounded by its device bytes + 160 MiB (its f32 copy: ~400 MB)', () => {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_PATH: path.join(root, 'node_modules') };
  if (!env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) env.VK_ICD_FILENAMES = SWIFTSHADER;
  const r = spawnSync(process.execPath, [child, model], { env, encoding: 'utf8', timeout: 240_000 });
  expect(r.status, r.stderr).toBe(0);
  const line = r.stdout.trim().split('\n').pop()!;
  const m = JSON.parse(line) as { skipped?: string; before: number; allocated: number; peak: number; weights: number; fileBytes: number };
  if (m.skipped) return console.warn(`skipped: ${m.skipped}`);
  const f32Bytes = llamaParamCount(SHAPE) * 4;
  console.log(
    `load RSS: file ${(m.fileBytes / MiB).toFixed(0)} MiB (f32 ${(f32Bytes / MiB).toFixed(0)} MiB), device weights ${(m.weights / MiB).toFixed(0)} MiB; ` +
      `growth ${((m.peak - m.before) / MiB).toFixed(0)} MiB, upload beyond the buffers ${((m.peak - m.allocated) / MiB).toFixed(0)} MiB`,
  );
  expect(m.fileBytes).toBeGreaterThan(180 * MiB);
  expect(m.peak - m.allocated).toBeLessThan(160 * MiB);
  expect(m.peak - m.before).toBeLessThan(m.weights + 160 * MiB);
  expect(m.weights + 160 * MiB).toBeLessThan(f32Bytes);
}, 300_000);
