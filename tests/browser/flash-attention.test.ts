/**
 * The prefill attention kernels (GpuTuning.flashPrefill: 'rows', the default, and 'tile16')
 * in Node's Dawn (on a machine without a GPU, SwiftShader):
 *   - each kernel against the CPU reference (attention.ts) over the f32 cache and the int8
 *     cache (withKvDtype; attentionInt8), within 1e-5 as the tile kernel has always been
 *     tested (tests/browser/entries/gpu.entry.ts), on odd shapes: T = 1…5, T not a multiple of
 *     any tile, T past 300, start > 0 (after cached tokens), 1, 2, 3, 4 and 8 query heads per
 *     KV head, sliding windows, head widths 8 to 256;
 *   - whole-model prefill of fixture models with each kernel (one forward, and the same tokens
 *     in chunks after cached ones): logits within 1e-4 of the CPU reference and within 1e-5 of
 *     each other, and the forward runs the kernel asked for.
 * Skipped where no WebGPU device opens.
 */
import { describe, expect, it } from 'vitest';
import { openModel } from '../../engine/formats/load-node';
import { GpuModel } from '../../engine/gpu/gpu-model';
import { createStorage, Dispatch, PipelineCache } from '../../engine/gpu/kernel';
import { attention, attentionInt8 } from '../../engine/ops/attention/attention';
import { flashPrefill, flashRowsTile, type FlashKernel } from '../../engine/ops/attention/attention-flash.wgsl';
import { quantizeInt8Rows } from '../../engine/ops/kvquant/kvquant';
import { withKvDtype } from '../../engine/ops/kvquant/kvquant.wgsl';
import { Model } from '../../engine/model/model';
import { packParams, STEP_FIELDS } from '../../engine/wgsl/kernel-source';
import { maxAbsDiff } from '../max-abs-diff';
import { fixturePath } from '../unit/fixtures';
import { useNodeGpu } from './node-gpu.test-util';

const gpu = useNodeGpu();

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** Runs one prefill attention kernel over q [T, H, hd] and the cache buffers; returns o [T, H, hd]. */
async function runFlash(
  dev: GPUDevice,
  kind: FlashKernel,
  int8: boolean,
  shape: { T: number; start: number; H: number; Kv: number; hd: number; window: number },
  q: Float32Array,
  cache: Record<string, ArrayBufferView>,
): Promise<{ o: Float32Array; label: string }> {
  const { T, start, H, Kv, hd, window } = shape;
  const fp = flashPrefill(kind, hd, H, Kv);
  const k = withKvDtype(fp.k, int8 ? 'int8' : 'f32');
  const made: GPUBuffer[] = [];
  const buf = (d: ArrayBufferView | number) => {
    const b = createStorage(dev, typeof d === 'number' ? d : d, 'flash-test');
    made.push(b);
    return b;
  };
  const step = dev.createBuffer({ size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  made.push(step);
  dev.queue.writeBuffer(step, 0, packParams(STEP_FIELDS, { T, start, Tk: start + T, headFirst: 0, headRows: T, nSplit: 1, splitLen: 256, pad0: 0 }));
  const o = buf(T * H * hd * 4);
  const bufs: Record<string, GPUBuffer> = { q: buf(q), o };
  for (const [name, data] of Object.entries(cache)) bufs[name] = buf(data);
  const d = new Dispatch(dev, PipelineCache.of(dev), k, step, { H, Kv, hd, window, scale: 1 / Math.sqrt(hd) }, bufs);
  const st = dev.createBuffer({ size: T * H * hd * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  made.push(st);
  dev.pushErrorScope('validation');
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  d.encode(pass, ...fp.grid(T));
  pass.end();
  enc.copyBufferToBuffer(o, 0, st, 0, T * H * hd * 4);
  dev.queue.submit([enc.finish()]);
  const err = await dev.popErrorScope();
  if (err) throw new Error(`${k.label}: ${err.message}`);
  await st.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(st.getMappedRange().slice(0));
  st.unmap();
  d.destroy();
  for (const b of made) b.destroy();
  return { o: out, label: k.label };
}

// [T, start, H, Kv, hd, window]
const CASES: [number, number, number, number, number, number][] = [
  [1, 0, 4, 2, 64, 0],
  [2, 0, 8, 8, 8, 0],
  [3, 5, 6, 3, 16, 0],
  [4, 0, 8, 1, 32, 0],
  [5, 17, 8, 2, 64, 4],
  [37, 0, 4, 2, 8, 0],
  [50, 13, 2, 2, 128, 0],
  [65, 0, 16, 2, 64, 0],
  [70, 40, 8, 4, 48, 0],
  [33, 100, 4, 4, 80, 0],
  [45, 20, 12, 3, 96, 7],
  [20, 60, 8, 1, 256, 0],
  [19, 3, 4, 1, 8, 30],
  [130, 200, 4, 1, 16, 50],
  [301, 0, 8, 2, 64, 0],
  [317, 29, 4, 4, 128, 0],
];

describe('prefill attention kernels against the CPU reference', () => {
  it('each kernel, f32 and int8 cache, every case within 1e-5', async () => {
    const device = gpu.device;
    if (!device) return console.warn(`skipped: ${gpu.why}`);
    const r = rng(11);
    const rand = (n: number) => new Float32Array(n).map(() => r() * 2);
    const fails: string[] = [];
    let worst = 0;
    for (const [T, start, H, Kv, hd, window] of CASES) {
      const shape = { T, start, H, Kv, hd, window };
      const Tk = start + T;
      const q = rand(T * H * hd); // [T, H, hd]
      const kc = rand(Tk * Kv * hd); // [Tk, Kv, hd]
      const vc = rand(Tk * Kv * hd);
      const common = {
        T,
        start,
        nHeads: H,
        nKvHeads: Kv,
        headDim: hd,
        scale: 1 / Math.sqrt(hd),
        window: window || undefined,
        scores: new Float64Array(Tk),
        acc: new Float64Array(hd),
      };
      const want = new Float32Array(T * H * hd);
      attention({ ...common, out: want, q, kCache: kc, vCache: vc });
      const kq = new Int8Array(Tk * Kv * hd);
      const vq = new Int8Array(Tk * Kv * hd);
      const ks = new Float32Array(Tk * Kv);
      const vs = new Float32Array(Tk * Kv);
      quantizeInt8Rows(kc, 0, Tk * Kv, hd, kq, ks);
      quantizeInt8Rows(vc, 0, Tk * Kv, hd, vq, vs);
      const want8 = new Float32Array(T * H * hd);
      attentionInt8({ ...common, out: want8, q, kCache: kq, vCache: vq, kScale: ks, vScale: vs });
      for (const kind of ['rows', 'tile16'] as FlashKernel[]) {
        const f32 = await runFlash(device, kind, false, shape, q, { kc, vc });
        const i8 = await runFlash(device, kind, true, shape, q, { kc: kq, vc: vq, kScale: ks, vScale: vs });
        if (kind === 'rows' && !f32.label.startsWith('attn-flash-rows')) fails.push(`[${shape}]: rows ran ${f32.label}`);
        for (const [got, ref, label] of [
          [f32.o, want, f32.label],
          [i8.o, want8, i8.label],
        ] as const) {
          const d = maxAbsDiff(got, ref);
          worst = Math.max(worst, d);
          if (!(d <= 1e-5)) fails.push(`${label} [T ${T}, start ${start}, H ${H}, Kv ${Kv}, hd ${hd}, window ${window}]: |Δ| ${d}`);
        }
      }
    }
    console.log(`prefill attention: ${CASES.length} cases × 2 kernels × f32|int8, worst |Δ| ${worst.toExponential(2)}`);
    expect(fails).toEqual([]);
  }, 600_000);

  it('flashRowsTile: heads of one KV head per workgroup divide the group; tiles fit 16 KiB', () => {
    for (const G of [1, 2, 3, 4, 7, 8, 12, 16]) {
      for (const hd of [8, 48, 64, 80, 96, 128, 256]) {
        const { BQ, BK, GW } = flashRowsTile(hd, G);
        expect(G % GW).toBe(0);
        expect(BQ * GW).toBeLessThanOrEqual(256);
        expect(2 * BK * hd * 4).toBeLessThanOrEqual(16384);
      }
    }
    expect(flashPrefill('rows', 6, 4, 2).kind).toBe('tile16'); // head width not a multiple of 4
    expect(flashPrefill('rows', 512, 4, 2).kind).toBe('tile16');
    expect(() => flashPrefill('fast' as FlashKernel, 64, 4, 2)).toThrow("flashPrefill: unknown kernel 'fast' (rows or tile16)");
  });
});

describe('GpuModel prefill with each attention kernel', () => {
  it.each(['tiny-llama', 'tiny-mistral-swa', 'tiny-qwen3'])(
    '%s: logits match the CPU reference, in one forward and in chunks after cached tokens',
    async (name) => {
      const device = gpu.device;
      if (!device) return console.warn(`skipped: ${gpu.why}`);
      const { loaded } = await openModel(fixturePath('models', name));
      const V = loaded.config.vocabSize;
      const ids = Array.from({ length: 45 }, (_, i) => (i * 37 + 5) % V); // [T]: past the window and several tiles
      const cpu = new Model(loaded, { contextLength: 64 }).forward(ids).logits; // [T, V]
      const got: Partial<Record<FlashKernel, Float32Array>> = {};
      for (const flashPrefill of ['rows', 'tile16'] as FlashKernel[]) {
        for (const kvDtype of ['f32', 'int8'] as const) {
          const m = await GpuModel.create(device, loaded, { contextLength: 64, kvDtype, tuning: { flashPrefill } });
          Dispatch.trace = [];
          const whole = (await m.forward(ids)).logits;
          const labels = [...new Set(Dispatch.trace.map((t) => t.d.kernel.label))].filter((l) => l.startsWith('attn-flash'));
          Dispatch.trace = undefined;
          m.reset();
          // the same tokens as 7, then 20 after 7 cached, then 18 after 27
          const parts: Float32Array[] = [];
          for (const [a, b] of [
            [0, 7],
            [7, 27],
            [27, 45],
          ])
            parts.push((await m.forward(ids.slice(a, b))).logits);
          m.destroy();
          const chunked = new Float32Array(whole.length);
          let at = 0;
          for (const p of parts) {
            chunked.set(p, at);
            at += p.length;
          }
          expect(labels.length, `${name} ${flashPrefill} ${kvDtype}: ${labels}`).toBeGreaterThan(0);
          for (const l of labels)
            expect(l.startsWith(flashPrefill === 'rows' ? 'attn-flash-rows' : 'attn-flash-') && (flashPrefill === 'rows') === l.includes('rows'), l).toBe(true);
          if (kvDtype === 'f32') {
            expect(maxAbsDiff(whole, cpu), `${name} ${flashPrefill}`).toBeLessThan(1e-4);
            expect(maxAbsDiff(chunked, cpu), `${name} ${flashPrefill} chunked`).toBeLessThan(1e-4);
            got[flashPrefill] = whole;
          } else {
            expect(maxAbsDiff(chunked, whole), `${name} ${flashPrefill} int8 chunked`).toBeLessThan(1e-4);
          }
        }
      }
      expect(maxAbsDiff(got.rows!, got.tile16!)).toBeLessThan(1e-5);
    },
    300_000,
  );
});
