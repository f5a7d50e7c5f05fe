/**
 * The streaming load (upload.ts) through Dawn in Node (on a machine without a GPU,
 * SwiftShader): every fixture model, opened lazily and uploaded from its file by row ranges,
 * gives the same logits, bit for bit, as the same model loaded whole into memory and uploaded
 * from there (same device, same precision), with chunks smaller than a tensor and tensors
 * split over bindings; f16 GGUFs (rows padded and not) keep their half bits; progress counts
 * every byte; a cancel mid-load rejects with GpuError('cancelled') and frees every buffer.
 * f16 files with the MLP norm folded into gate|up (tiny-llama and stories260K exported as f16,
 * random norm weights) fold it on the GPU after a raw upload, and the logits equal those of the
 * host fold (the same model from memory) bit for bit; onPhase reports the upload's split.
 * Skipped where no WebGPU device opens.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportGguf } from '../export/gguf-export';
import { exportSafetensors } from '../export/hf-export';
import { openExportSource } from '../export/source-node';
import { writeExport } from '../export/write-node';
import { openModel, openModelLazily } from '../formats/load-node';
import { randomLlamaGguf, type LlamaShape } from '../model/random';
import { openNodeGpu } from './gpu-node';
import { GpuError, GpuModel } from './gpu-model';
import type { LoadPhase, UploadSplit } from './upload';
import { accountedDevice, BufferLedger } from './ledger';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');
const MODELS = ['tiny-llama', 'tiny-gpt2', 'tiny-llama3-rope', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-qwen2', 'tiny-qwen3'].map((m) => path.join(FIXTURES, 'models', m));

let device: GPUDevice | undefined;
let why = '';
let tmp = '';
const generated: Record<string, string> = {};

/** A random Llama GGUF stored as F16 (norms F32), written to the temp folder. */
function f16Gguf(name: string, s: Partial<LlamaShape>): string {
  const shape: LlamaShape = {
    vocabSize: 40,
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    maxPositions: 64,
    ropeTheta: 1e4,
    rmsEps: 1e-5,
    tieEmbeddings: false,
    ...s,
  };
  const vocab = { tokens: Array.from({ length: shape.vocabSize }, (_, i) => `t${i}`), scores: new Array(shape.vocabSize).fill(0), types: new Array(shape.vocabSize).fill(1) };
  const p = path.join(tmp, name);
  writeFileSync(p, randomLlamaGguf(shape, vocab, 5, 'F16'));
  return p;
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'llmp-load-'));
  generated.dense = f16Gguf('f16-dense.gguf', {}); // rows of 32 and 64 halves: the file's bytes go up as they are
  generated.padded = f16Gguf('f16-padded.gguf', { hiddenSize: 36, numHeads: 2, numKvHeads: 1, intermediateSize: 52, tieEmbeddings: true }); // rows padded to 8 halves
  // real models with random norm weights, stored as f16: the MLP norm fold has something to do
  const llama = await openExportSource(path.join(FIXTURES, 'models', 'tiny-llama'));
  generated.llamaSt = path.join(tmp, 'tiny-llama-f16');
  await writeExport(exportSafetensors(llama, { dtype: 'f16' }), generated.llamaSt);
  generated.storiesGguf = path.join(tmp, 'stories260K-f16.gguf');
  await writeExport(exportGguf(await openExportSource(path.join(FIXTURES, 'llama2c/stories260K.bin')), { dtype: 'f16' }), generated.storiesGguf);
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
}, 60_000);
afterAll(() => {
  device?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

const IDS = [1, 5, 9, 3, 2];

async function logits(m: GpuModel): Promise<Float32Array> {
  try {
    return (await m.forward(IDS)).logits;
  } finally {
    m.destroy();
  }
}

const CASES: { name: string; path: () => string; gpuFolds?: number }[] = [
  ...MODELS.map((p) => ({ name: path.basename(p), path: () => p })),
  { name: 'stories260K.gguf', path: () => path.join(FIXTURES, 'gguf/stories260K.gguf') },
  { name: 'stories260K.bin', path: () => path.join(FIXTURES, 'llama2c/stories260K.bin') },
  { name: 'f16-dense.gguf', path: () => generated.dense },
  { name: 'f16-padded.gguf', path: () => generated.padded },
  { name: 'tiny-llama, f16 safetensors', path: () => generated.llamaSt, gpuFolds: 2 },
  { name: 'stories260K, f16 GGUF', path: () => generated.storiesGguf, gpuFolds: 5 },
];

describe('streaming load', () => {
  it.each(CASES)(
    '$name: logits from the file by ranges equal those from memory, bit for bit (f32 and f16 weights)',
    async (c0) => {
      if (!device) return console.warn(`skipped: ${why}`);
      {
        const c = { name: c0.name, path: c0.path() };
        const eager = await openModel(c.path);
        for (const weights of ['f32', 'f16'] as const) {
          const opts = { contextLength: 8, weights, maxBindingBytes: 2048 };
          const want = await logits(await GpuModel.create(device, eager.loaded, opts));
          const lazy = await openModelLazily(c.path);
          let done = 0;
          let total = 0;
          const phases: LoadPhase[] = [];
          let split: UploadSplit | undefined;
          try {
            const m = await GpuModel.create(device, lazy.lazy, {
              ...opts,
              uploadChunkBytes: 200,
              onProgress: (d, t) => ((done = d), (total = t)),
              onPhase: (p, s) => (phases.push(p), (split ??= s)),
            });
            expect(await logits(m), `${c.name}, ${weights}`).toEqual(want);
          } finally {
            await lazy.lazy.close();
          }
          expect(total, c.name).toBe(lazy.lazy.totalBytes);
          expect(done, c.name).toBe(total);
          expect([...phases].sort(), c.name).toEqual(['first-submit', 'pipelines', 'upload']);
          expect(phases.at(-1)).toBe('first-submit');
          if (weights === 'f16' && c0.gpuFolds) expect(split, c.name).toMatchObject({ gpuFolds: c0.gpuFolds, hostFolds: 0 });
        }
      }
    },
    120_000,
  );

  it('a cancel mid-load rejects with GpuError("cancelled") and frees every buffer it made', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    const ledger = new BufferLedger();
    const d = accountedDevice(device, ledger);
    const lazy = await openModelLazily(generated.dense);
    const signal = { aborted: false };
    let seen = 0;
    try {
      const p = GpuModel.create(d, lazy.lazy, {
        contextLength: 8,
        weights: 'f16',
        uploadChunkBytes: 64,
        signal,
        onProgress: (done, total) => {
          seen = done;
          if (done > total / 3) signal.aborted = true;
        },
      });
      const e = await p.then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(GpuError);
      expect((e as GpuError).kind).toBe('cancelled');
    } finally {
      await lazy.lazy.close();
    }
    expect(seen).toBeLessThan(lazy.lazy.totalBytes);
    expect(ledger.created).toBeGreaterThan(0);
    expect(ledger.report()).toMatchObject({ weights: 0, kvCache: 0, scratch: 0, buffers: 0 });
  }, 60_000);
});
