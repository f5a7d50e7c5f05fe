/**
 * generate --trace-load: the load's steps on stderr, one line each, in the order they happen
 * (not their times). On WebGPU (SwiftShader without a GPU) a random f16 Llama GGUF gives every
 * step, its MLP norm folded on the GPU; the CPU backend gives the file and the first token; no
 * line without the flag.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomLlamaGguf } from '../model/random';
import { runCli } from './run-cli.test-util';

let tmp = '';
let model = '';
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'llmp-trace-load-'));
  model = path.join(tmp, 'f16.gguf');
  const shape = {
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
  };
  const vocab = { tokens: Array.from({ length: 40 }, (_, i) => `t${i}`), scores: new Array(40).fill(0), types: new Array(40).fill(1) };
  writeFileSync(model, randomLlamaGguf(shape, vocab, 5, 'F16'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The trace lines: [ms, what] in the order printed. */
function traceLines(err: string): [number, string][] {
  return [...err.matchAll(/^trace-load: (\d+\.\d) ms (.+)$/gm)].map((m) => [Number(m[1]), m[2]]);
}

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
describe.skipIf(!process.env.VK_ICD_FILENAMES && !existsSync(SWIFTSHADER))('generate --trace-load, --backend webgpu', () => {
  test('every step of the load, in order, times since the process started that never go back', async () => {
    process.env.VK_ICD_FILENAMES ??= SWIFTSHADER;
    const r = await runCli('generate', '--model', model, '--ids', '1,2,3', '--max-tokens', '2', '--backend', 'webgpu', '--weights', 'f16', '--trace-load');
    expect(r.code, r.err).toBe(0);
    const lines = traceLines(r.err);
    const steps = lines.map(([, w]) => w.replace(/ \(.*$/, ''));
    expect(steps).toHaveLength(6);
    // the pipelines compile while the weights upload: either may end first
    expect([steps.slice(0, 2), [...steps.slice(2, 4)].sort(), steps.slice(4)]).toEqual([
      ['file opened and parsed', 'device opened'],
      ['pipelines compiled', 'upload done'],
      ['first prefill submitted', 'first token'],
    ]);
    const ms = lines.map(([t]) => t);
    expect(ms).toEqual([...ms].sort((a, b) => a - b));
    expect(ms[0]).toBeGreaterThan(0);
    const upload = lines.find(([, w]) => w.startsWith('upload done'))![1];
    expect(upload).toMatch(
      /^upload done \(host: read \d+\.\d ms, pack\/convert \d+\.\d ms, write \d+\.\d ms, fold \d+\.\d ms \(2 on the GPU, 0 on the host\), flush wait \d+\.\d ms\)$/,
    );
  }, 120_000);
});

describe('generate --trace-load, --backend cpu', () => {
  test('the file and the first token; nothing without the flag', async () => {
    const r = await runCli('generate', '--model', model, '--ids', '1,2,3', '--max-tokens', '2', '--backend', 'cpu', '--trace-load');
    expect(r.code, r.err).toBe(0);
    expect(traceLines(r.err).map(([, w]) => w)).toEqual(['file opened and parsed', 'first token']);
    const quiet = await runCli('generate', '--model', model, '--ids', '1,2,3', '--max-tokens', '2', '--backend', 'cpu');
    expect(quiet.code, quiet.err).toBe(0);
    expect(quiet.err).not.toMatch(/trace-load/);
  });
});
