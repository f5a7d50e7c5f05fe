/**
 * The Export Model command's worker thread (export-worker.ts): it writes the export with progress,
 * reports an existing file instead of replacing it, and a cancel leaves no file behind.
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../tests/unit/fixtures';
import type { ExportJob, ExportReply } from './export-job';

let dir = '';
let workerFile = '';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'export-worker-'));
  workerFile = path.join(dir, 'export-worker.js');
  await build({
    entryPoints: [path.resolve(__dirname, 'export-worker.ts')],
    outfile: workerFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
}, 60_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a job to its end; `cancelAfter`: post cancel once this many messages came (0: at once). */
function run(job: ExportJob, cancelAfter?: number): Promise<ExportReply[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerFile, { workerData: job });
    const replies: ExportReply[] = [];
    if (cancelAfter === 0) w.postMessage({ op: 'cancel' });
    w.on('message', (m: ExportReply) => {
      replies.push(m);
      if (replies.length === cancelAfter) w.postMessage({ op: 'cancel' });
      if (m.type !== 'progress') void w.terminate().then(() => resolve(replies));
    });
    w.on('error', reject);
  });
}

describe('export worker', () => {
  const model = fixturePath('llama2c', 'stories260K.bin');

  it('exports with progress up to the whole size, and will not replace a file without force', async () => {
    const out = path.join(dir, 's.gguf');
    const replies = await run({ model, format: 'gguf', dtype: 'f16', out, force: false });
    const last = replies.at(-1)!;
    expect(last).toMatchObject({ type: 'done', files: [out] });
    const progress = replies.filter((r) => r.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ done: fs.statSync(out).size, total: fs.statSync(out).size });
    const again = await run({ model, format: 'gguf', dtype: 'f32', out, force: false });
    expect(again.at(-1)).toMatchObject({ type: 'error', cancelled: false, message: expect.stringMatching(/already exists/) });
  });

  it('a cancel leaves nothing behind', async () => {
    const out = path.join(dir, 'cancelled');
    const replies = await run({ model, format: 'safetensors', dtype: 'f32', out, force: false }, 0);
    expect(replies.at(-1)).toMatchObject({ type: 'error', cancelled: true });
    expect(fs.existsSync(out)).toBe(false);
  });

  it('writes an ONNX folder: the graph, its config and the tokenizer', async () => {
    const out = path.join(dir, 'onnx');
    const replies = await run({ model, format: 'onnx', dtype: 'f32', out, force: false });
    expect(replies.at(-1)).toMatchObject({ type: 'done' });
    expect(fs.readdirSync(out).sort()).toEqual(['config.json', 'generation_config.json', 'model.onnx', 'tokenizer.json']);
  });
});
