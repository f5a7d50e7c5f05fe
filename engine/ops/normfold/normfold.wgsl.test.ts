/**
 * normFold (WGSL) against the host fold (foldColumns, then f32BitsToF16, as upload.ts packs a
 * folded f16 weight) through Dawn in Node (the webgpu package; on a machine without a GPU,
 * SwiftShader): the folded buffer equals the host's packing bit for bit, for every half against
 * edge weights (±0, f32 subnormals, products that round to f16 subnormals, to ±0, to ∞, ties,
 * ∞ and NaN), for random halves and weights, at odd and padded column counts, over several
 * parts and a grid past 65535 workgroups. Skipped where no WebGPU device opens.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f16ToF32, f32BitsToF16 } from '../../formats/quant';
import { createStorage, Dispatch, grid2, PipelineCache } from '../../gpu/kernel';
import { openNodeGpu } from '../../gpu/gpu-node';
import { rowStrideWords } from '../../wgsl/weight-read';
import { foldColumns } from './normfold';
import { normFoldWgsl } from './normfold.wgsl';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

let device: GPUDevice | undefined;
let why = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
}, 60_000);
afterAll(() => device?.destroy());

async function read(d: GPUDevice, src: GPUBuffer, bytes: number): Promise<Uint32Array> {
  const st = d.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = d.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, st, 0, bytes);
  d.queue.submit([enc.finish()]);
  await st.mapAsync(GPUMapMode.READ);
  const out = new Uint32Array(st.getMappedRange().slice(0));
  st.destroy();
  return out;
}

const bitsOf = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];

/** Half bits [rows, cols] packed as the upload packs them: two per u32, rows padded to 8 halves with zeros. */
function packHalves(h: Uint16Array, rows: number, cols: number): Uint32Array {
  const stride = rowStrideWords(cols, 'f16');
  const out = new Uint32Array(rows * stride);
  const o16 = new Uint16Array(out.buffer);
  for (let r = 0; r < rows; r++) o16.set(h.subarray(r * cols, (r + 1) * cols), r * stride * 2);
  return out;
}

/** The host fold of the same weight, packed: the halves read as f32, foldColumns, f32BitsToF16 (upload.ts). */
function hostFold(h: Uint16Array, rows: number, cols: number, w: Float32Array): Uint32Array {
  const stride = rowStrideWords(cols, 'f16');
  const x = foldColumns(Float32Array.from(h, f16ToF32), cols, w);
  const bits = new Uint32Array(x.buffer);
  const out = new Uint32Array(rows * stride);
  const o16 = new Uint16Array(out.buffer);
  for (let r = 0; r < rows; r++) f32BitsToF16(bits, r * cols, o16, r * stride * 2, cols);
  return out;
}

/** Runs the kernel over the packed weight split into parts at `cuts` (row indices), each its own buffer; returns the parts joined. */
async function gpuFold(d: GPUDevice, packed: Uint32Array, rows: number, cols: number, w: Float32Array, cuts: number[]): Promise<Uint32Array> {
  const stride = rowStrideWords(cols, 'f16');
  const cache = PipelineCache.of(d);
  const k = normFoldWgsl();
  await cache.getAsync(k);
  const step = d.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM });
  const nw = createStorage(d, w);
  const bounds = [0, ...cuts, rows];
  const parts = [];
  const enc = d.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let i = 0; i + 1 < bounds.length; i++) {
    const words = (bounds[i + 1] - bounds[i]) * stride;
    const buf = createStorage(d, packed.subarray(bounds[i] * stride, bounds[i + 1] * stride));
    const [nx, ny] = grid2(Math.ceil(words / 64));
    const disp = new Dispatch(d, cache, k, step, { words, stride, cols, nx }, { wt: buf, nw });
    disp.encode(pass, nx, ny);
    parts.push({ buf, words, disp });
  }
  pass.end();
  d.queue.submit([enc.finish()]);
  const out = new Uint32Array(rows * stride);
  let o = 0;
  for (const p of parts) {
    out.set(await read(d, p.buf, p.words * 4), o);
    o += p.words;
    p.buf.destroy();
    p.disp.destroy();
  }
  nw.destroy();
  step.destroy();
  return out;
}

/** Compares bit for bit; where a half and its weight are both NaN, the NaN's sign is the host CPU's choice, so only that is let through. */
function expectSameBits(got: Uint32Array, want: Uint32Array, h: Uint16Array, rows: number, cols: number, w: Float32Array): void {
  const stride = rowStrideWords(cols, 'f16');
  const g16 = new Uint16Array(got.buffer);
  const w16 = new Uint16Array(want.buffer);
  const bad: string[] = [];
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < stride * 2; j++) {
      const i = r * stride * 2 + j;
      if (g16[i] === w16[i]) continue;
      const hh = j < cols ? h[r * cols + j] : 0;
      if (j < cols && (hh & 0x7fff) > 0x7c00 && Number.isNaN(w[j]) && (g16[i] & 0x7fff) === (w16[i] & 0x7fff)) continue;
      if (bad.length < 10) bad.push(`row ${r} col ${j}: half 0x${hh.toString(16)} × ${j < cols ? w[j] : 'pad'} → got 0x${g16[i].toString(16)}, host 0x${w16[i].toString(16)}`);
      else break;
    }
  expect(bad).toEqual([]);
}

// Weights that meet every half: signed zeros, f32 subnormals, powers of two down to f16's
// subnormals and below (ties there), ×1.5 and ×(1 ± 2^-11) (ties in the normal range),
// 2 − 2^-11 (32768 × it = 65520: the tie that rounds to ∞), huge (f16 and f32 overflow), ∞, NaN.
const EDGE_W = Float32Array.from([
  1,
  -1,
  0,
  -0,
  1.5,
  -1.5,
  0.75,
  1 + 2 ** -11,
  1 - 2 ** -11,
  2 - 2 ** -11,
  1 + 2 ** -12,
  0.5,
  2 ** -10,
  3 * 2 ** -20,
  2 ** -24,
  -(2 ** -25),
  2 ** -30,
  1e-30,
  1e-40,
  -1e-42,
  2 ** 100,
  2 ** 112,
  -(2 ** 126),
  3e38,
  Infinity,
  -Infinity,
  NaN,
  bitsOf(0xffc00001),
  bitsOf(0x7f800001),
  1.0003,
  0.333333,
  -2.71828,
  65504,
  2 ** -14,
  2 ** 14,
  2 ** 16,
  7,
]);

describe('normFold WGSL kernel', () => {
  it('equals the host fold bit for bit: every half against edge weights', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    const cols = EDGE_W.length; // odd: rows padded
    expect(cols % 2).toBe(1);
    const rows = 65536;
    const h = new Uint16Array(rows * cols);
    for (let r = 0; r < rows; r++) h.fill(r, r * cols, (r + 1) * cols);
    const got = await gpuFold(device, packHalves(h, rows, cols), rows, cols, EDGE_W, [24_000, 40_008]);
    expectSameBits(got, hostFold(h, rows, cols, EDGE_W), h, rows, cols, EDGE_W);
  }, 120_000);

  it.each([
    { rows: 29, cols: 37, cuts: [8, 16] },
    { rows: 40, cols: 64, cuts: [16] },
    { rows: 33, cols: 40, cuts: [] },
    { rows: 8200, cols: 1024, cuts: [] }, // 4.2 M words: a grid of more than 65535 workgroups
  ])(
    'equals the host fold bit for bit: random halves and weights ($rows × $cols, parts at $cuts)',
    async ({ rows, cols, cuts }) => {
      if (!device) return console.warn(`skipped: ${why}`);
      let seed = 11 + cols;
      const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
      // norm-like weights around 1, and some of any exponent
      const w = Float32Array.from({ length: cols }, () => (rnd() < 0.8 ? (rnd() - 0.2) * 3 : (rnd() < 0.5 ? -1 : 1) * 2 ** Math.floor(rnd() * 60 - 40) * (1 + rnd())));
      w[0] = EDGE_W[cols % EDGE_W.length];
      // halves of any bit pattern (a tenth), else of a weight's usual range
      const h = Uint16Array.from({ length: rows * cols }, () => (rnd() < 0.1 ? Math.floor(rnd() * 65536) : (Math.floor(rnd() * 0x3000) + 0x1c00) | (rnd() < 0.5 ? 0x8000 : 0)));
      const got = await gpuFold(device, packHalves(h, rows, cols), rows, cols, w, cuts);
      expectSameBits(got, hostFold(h, rows, cols, w), h, rows, cols, w);
    },
    120_000,
  );
});
