/**
 * kvQuant (WGSL) against quantizeInt8Rows (CPU) through Dawn in Node (the webgpu package; on a
 * machine without a GPU, SwiftShader): the scales equal the CPU's bit for bit and, on
 * SwiftShader, the packed int8 values too (elsewhere within one step, on at most 1 % of them),
 * at cache slots from `start`, with a zero row and values on exact halves. Skipped where no
 * WebGPU device opens.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage, Dispatch, PipelineCache } from '../../gpu/kernel';
import { openNodeGpu } from '../../gpu/gpu-node';
import { packParams, STEP_FIELDS, type StepValues } from '../../wgsl/kernel-source';
import { quantizeInt8Rows } from './kvquant';
import { kvQuantWgsl } from './kvquant.wgsl';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

let device: GPUDevice | undefined;
let adapter = '';
let why = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  adapter = JSON.stringify(g.env.adapter ?? '');
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
}, 60_000);
afterAll(() => device?.destroy());

async function read(d: GPUDevice, src: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const st = d.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = d.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, st, 0, bytes);
  d.queue.submit([enc.finish()]);
  await st.mapAsync(GPUMapMode.READ);
  const out = st.getMappedRange().slice(0);
  st.destroy();
  return out;
}

describe('kvQuant WGSL kernel', () => {
  it.each([
    { T: 1, start: 5, Kv: 2, hd: 8 },
    { T: 7, start: 0, Kv: 4, hd: 16 },
    { T: 3, start: 9, Kv: 1, hd: 64 },
  ])('equals quantizeInt8Rows bit for bit (T=$T, start=$start, Kv=$Kv, hd=$hd)', async ({ T, start, Kv, hd }) => {
    if (!device) return console.warn(`skipped: ${why}`);
    const d = device;
    const ctx = start + T;
    let seed = 7 + hd;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 3;
    const kx = Float32Array.from({ length: T * Kv * hd }, rnd); // [T, Kv, hd]
    const vx = Float32Array.from({ length: T * Kv * hd }, rnd);
    kx.fill(0, 0, hd); // a zero row
    vx.set([127, 2.5, -2.5, -0.5], 0); // x / s on exact halves (s = 1 when the row's max is 127)
    vx.fill(0.25, 4, hd);
    const want = (x: Float32Array) => {
      const q = new Int8Array(ctx * Kv * hd);
      const s = new Float32Array(ctx * Kv);
      quantizeInt8Rows(x, 0, T * Kv, hd, q, s, start * Kv);
      return { words: new Uint32Array(q.buffer), s };
    };
    const step: StepValues = { T, start, Tk: ctx, headFirst: 0, headRows: 1, nSplit: 1, splitLen: 256, pad0: 0 };
    const stepBuf = d.createBuffer({ size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    d.queue.writeBuffer(stepBuf, 0, packParams(STEP_FIELDS, step));
    const bufs = {
      kx: createStorage(d, kx),
      vx: createStorage(d, vx),
      kq: createStorage(d, ctx * Kv * hd),
      vq: createStorage(d, ctx * Kv * hd),
      ks: createStorage(d, ctx * Kv * 4),
      vs: createStorage(d, ctx * Kv * 4),
    };
    const k = new Dispatch(d, new PipelineCache(d), kvQuantWgsl(), stepBuf, { Kv, hd }, bufs);
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    k.encode(pass, Math.ceil((T * 2 * Kv) / 64));
    pass.end();
    d.queue.submit([enc.finish()]);
    for (const [x, q, s] of [
      [kx, bufs.kq, bufs.ks],
      [vx, bufs.vq, bufs.vs],
    ] as const) {
      const w = want(x);
      const gotWords = new Uint32Array(await read(d, q, ctx * Kv * hd)).slice(start * Kv * (hd / 4));
      const gotS = new Float32Array(await read(d, s, ctx * Kv * 4)).slice(start * Kv);
      // scales: an f32 max and one f32 multiply, the same on every device
      expect([...gotS]).toEqual([...w.s.slice(start * Kv)]);
      // values: x / s is an f32 division, which WGSL lets a device compute within 2.5 ulp: a
      // value on a rounding boundary may land one step away (none do on SwiftShader)
      const gotQ = new Int8Array(gotWords.buffer);
      const wantQ = new Int8Array(w.words.buffer).slice(start * Kv * hd);
      let off = 0;
      for (let i = 0; i < wantQ.length; i++) {
        expect(Math.abs(gotQ[i] - wantQ[i])).toBeLessThanOrEqual(1);
        if (gotQ[i] !== wantQ[i]) off++;
      }
      if (/swiftshader/i.test(adapter)) expect(off).toBe(0);
      else expect(off).toBeLessThanOrEqual(Math.ceil(wantQ.length / 100));
    }
    k.destroy();
    stepBuf.destroy();
    for (const b of Object.values(bufs)) b.destroy();
  });
});
