/**
 * Big inputs in the CLI: `forward --attentions --out` writes the attentions to a binary file
 * equal to the JSON ones; a prompt of 20,000 ids runs in chunks with progress on stderr and
 * stops at Ctrl-C (SIGINT to a child process) with exit code 130 and one line, no stack trace.
 */
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, ftruncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeArray, fixturePath, loadRef } from '../../tests/unit/fixtures';
import { removeCliBundle, runCliChild } from './child-cli.test-util';
import { checkForwardOutput } from './main';
import { runCli } from './run-cli.test-util';

const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-long-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  removeCliBundle();
});

/** The float32 data of a .npy or .safetensors file written by --out, with its shape. */
function readAttentionFile(file: string): { shape: number[]; data: Float32Array } {
  const b = readFileSync(file);
  if (file.endsWith('.npy')) {
    expect([...b.subarray(0, 8)]).toEqual([0x93, ...Buffer.from('NUMPY'), 1, 0]);
    const len = b.readUInt16LE(8);
    const header = b.subarray(10, 10 + len).toString('latin1');
    expect((10 + len) % 64).toBe(0);
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \([\d, ]+\), \} *\n$/);
    const shape = /'shape': \(([^)]*)\)/
      .exec(header)![1]
      .split(',')
      .filter((x) => x.trim())
      .map(Number);
    const data = b.subarray(10 + len);
    return { shape, data: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
  }
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as { attentions: { dtype: string; shape: number[]; data_offsets: [number, number] } };
  expect(h.attentions.dtype).toBe('F32');
  const [s, e] = h.attentions.data_offsets;
  expect(8 + n + e).toBe(b.length);
  const data = b.subarray(8 + n + s, 8 + n + e);
  return { shape: h.attentions.shape, data: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

describe('forward --attentions --out', () => {
  const ref = loadRef('tiny-llama.shared') as { cases: { input_ids: number[]; attentions: never }[] };
  const c = ref.cases[0];
  const model = fixturePath('models/tiny-llama');

  test.each(['npy', 'safetensors'])('.%s: reads back equal to the JSON attentions (and to HF)', async (ext) => {
    const json = await runCli('forward', '--model', model, '--ids', c.input_ids.join(','), '--attentions', '--json');
    expect(json.code, json.err).toBe(0);
    const want = decodeArray(JSON.parse(json.out).attentions);
    const file = path.join(tmp, `att.${ext}`);
    const r = await runCli('forward', '--model', model, '--ids', c.input_ids.join(','), '--attentions', '--out', file, '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.attentions).toBeUndefined();
    expect(j.attentions_file).toEqual({ path: file, format: ext, dtype: 'float32', shape: want.shape, bytes: statSync(file).size });
    const got = readAttentionFile(file);
    expect(got.shape).toEqual(want.shape);
    expect(got.data).toEqual(want.data);
    const hf = decodeArray(c.attentions);
    let d = 0;
    for (let i = 0; i < hf.data.length; i++) d = Math.max(d, Math.abs(hf.data[i] - got.data[i]));
    expect(d).toBeLessThan(1e-5);
  });

  test('--out needs --attentions and a .npy or .safetensors name', async () => {
    expect((await runCli('forward', '--model', model, '--ids', '1,2', '--out', path.join(tmp, 'a.npy'))).err).toMatch(/--out writes the attentions: give --attentions too/);
    expect((await runCli('forward', '--model', model, '--ids', '1,2', '--attentions', '--out', path.join(tmp, 'a.bin'))).err).toMatch(/written as \.npy or \.safetensors/);
  });

  test('with --out the JSON limit no longer applies to the attentions; the memory of the capture does', () => {
    const c1 = { vocabSize: 32000, numLayers: 16, numHeads: 32 } as Parameters<typeof checkForwardOutput>[0];
    expect(() => checkForwardOutput(c1, 500, { attentions: true, residuals: false })).toThrow(/or write the attentions to a file with --out/);
    expect(() => checkForwardOutput(c1, 500, { attentions: true, residuals: false, toFile: true })).not.toThrow();
    expect(() => checkForwardOutput(c1, 1500, { attentions: true, residuals: false, toFile: true })).toThrow(
      /the attentions 16×32×1500×1500 would take 4395 MiB of memory while the pass runs; the limit is 1024 MiB/,
    );
  });
});

/** stories260K with seq_len 32768 in its header (the unused freq_cis block grown to match), beside tok512.bin. */
function longStories(): string {
  const dir = path.join(tmp, 'long');
  mkdirSync(dir, { recursive: true });
  const p = path.join(dir, 'stories-long.bin');
  const b = Buffer.from(readFileSync(fixturePath('llama2c/stories260K.bin')));
  const headSize = b.readInt32LE(0) / b.readInt32LE(12);
  const seq = b.readInt32LE(24);
  b.writeInt32LE(32768, 24);
  writeFileSync(p, b);
  const fd = openSync(p, 'r+');
  ftruncateSync(fd, b.length + (32768 - seq) * headSize * 4); // freq_cis real + imag: [seq, head/2] each
  closeSync(fd);
  copyFileSync(fixturePath('llama2c/tok512.bin'), path.join(dir, 'tok512.bin'));
  return p;
}

describe('a prompt of 20,000 ids: progress on stderr, Ctrl-C stops within a chunk', () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => 1 + (i % 500)).join(',');
  test.each([
    ['forward', ['forward', '--ids', ids]],
    ['generate', ['generate', '--ids', ids, '--max-tokens', '4', '--context', '20010']],
  ])('%s', async (_what, argv) => {
    const model = longStories();
    let sentAt = 0;
    const r = await runCliChild([...argv, '--model', model], {
      timeoutMs: 120_000,
      onStart(child, err) {
        const poll = setInterval(() => {
          if (/prefill [\d,]+\/20,000 tokens/.test(err())) {
            clearInterval(poll);
            sentAt = performance.now();
            child.kill('SIGINT');
          }
        }, 20);
        child.on('close', () => clearInterval(poll));
      },
    });
    const stoppedIn = performance.now() - sentAt;
    expect(sentAt).toBeGreaterThan(0);
    expect(r.code, r.err).toBe(130);
    expect(r.err).toMatch(/llm-playground: prefill [\d,]+\/20,000 tokens \([\d.]+ s\)/);
    expect(r.err).toMatch(/llm-playground: stopped by Ctrl-C (after [\d,]+ of 20,000 ids|during the prefill of 20,000 prompt tokens)\n$/);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    // within one chunk: the first progress line came after ≥ 1 s of chunks; stopping takes at most about one more
    expect(stoppedIn).toBeLessThan(10_000);
  });
});
