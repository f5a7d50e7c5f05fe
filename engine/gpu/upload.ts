/**
 * Streams weights from lazy tensors (model/types.ts: LazyTensor, read by row ranges from their
 * file) into GPU buffers in the layout the kernels read (kernel.ts: packRows): a bounded chunk
 * of rows at a time through one reused staging array, written with queue.writeBuffer. f16
 * weights stored as f16 are copied as their half bits, unconverted; everything else is read as
 * f32 (dequantised per chunk) and packed as packRows packs it, so a tensor uploads the same
 * bits whether it comes from memory (lazyView) or from its file. An f16 weight with the MLP norm
 * folded into its columns (weights.ts: mlpNormIn) goes up as its half bits too, and a compute
 * pass then folds it on the GPU (ops/normfold: the bits the host fold gives); from f32 it is
 * folded on the host. Every so many bytes the queue is flushed and the previous flush awaited,
 * so what the driver stages for the copies stays bounded too. Progress counts the bytes read
 * from the file(s); a cancel is seen between chunks; `split` says where the host's time went.
 */
import { f32BitsToF16 } from '../formats/quant';
import { rowCount, rowLength } from '../model/lazy';
import type { LazyTensor, LazyWeightMap } from '../model/types';
import { foldColumns } from '../ops/normfold/normfold';
import { normFoldWgsl } from '../ops/normfold/normfold.wgsl';
import { rowStrideWords, type WeightDtype } from '../wgsl/weight-read';
import { createStorage, Dispatch, grid2 } from './kernel';
import { GpuError, type ModelCore } from './lifecycle';
import type { GpuWeight } from './weights';

/**
 * Steps of a load as they are reached: 'device' the device opened (the caller that opens it
 * says so), 'pipelines' every kernel compiled, 'upload' the last weight on the GPU (with the
 * host's split of the upload), 'first-submit' the model's first forward submitted.
 */
export type LoadPhase = 'device' | 'pipelines' | 'upload' | 'first-submit';

/** Where the host's time went in an upload, ms (each a sum over the chunks; reads overlap packing, so `readMs` is the time spent waiting for them). */
export interface UploadSplit {
  /** Waiting for rows read from the file(s) (and decoded to f32 where they are). */
  readMs: number;
  /** Packing rows into the staging array and converting f32 to f16. */
  packMs: number;
  /** queue.writeBuffer. */
  writeMs: number;
  /** The MLP norm fold: on the host, the scaling and its rounding to f16; on the GPU, encoding and submitting its passes. */
  foldMs: number;
  /** Waiting for the queue's flushes (the copies to the device, and the GPU folds). */
  flushMs: number;
  /** Weights folded on the GPU and on the host. */
  gpuFolds: number;
  hostFolds: number;
}

/** Load progress, phases and cancel, from the caller through to the upload. */
export interface LoadControl {
  /** Bytes of the model's tensors read so far, of `bytesTotal`; called after each chunk. */
  onProgress?(bytesDone: number, bytesTotal: number): void;
  /** A step of the load reached (LoadPhase); 'upload' comes with the host's split of it. */
  onPhase?(phase: LoadPhase, split?: UploadSplit): void;
  /** Set `aborted` (an AbortSignal, or the CLI's Ctrl-C flag) to stop the load between chunks: it rejects with GpuError('cancelled'), every buffer freed. */
  signal?: { readonly aborted: boolean };
}

/** Most bytes of rows packed per chunk (the one staging array). */
export const STAGING_BYTES = 8 << 20;
/** Bytes written between queue flushes (at most two flushes' worth are in flight). */
const FLUSH_BYTES = 32 << 20;

/** Rows [s0, s1) of the stacked weight as read from segment `s`: half bits, or f32. */
interface Read {
  s: Segment;
  s0: number;
  s1: number;
  data: Uint16Array | Float32Array;
  half: boolean;
}

/** Rows of one lazy tensor inside a weight made of several stacked along rows (q | k | v). */
interface Segment {
  t: LazyTensor;
  row0: number; // first row of the weight it fills
  rows: number;
}

export class WeightUploader {
  private staging = new Uint32Array(0);
  private scratch = new Float32Array(0);
  private pending = 0;
  private inFlight?: Promise<unknown>;
  private done = 0;
  private readonly whole = new Set<string>();
  private readonly jobs: (() => Promise<void>)[] = [];
  /** Where the host's time went so far (UploadSplit). */
  readonly split: UploadSplit = { readMs: 0, packMs: 0, writeMs: 0, foldMs: 0, flushMs: 0, gpuFolds: 0, hostFolds: 0 };
  private foldPipeline?: Promise<unknown>;

  constructor(
    private readonly core: ModelCore,
    private readonly lazy: LazyWeightMap,
    private readonly total: number,
    private readonly control: LoadControl = {},
  ) {}

  has(name: string): boolean {
    return this.lazy.has(name);
  }

  private get(name: string): LazyTensor {
    const t = this.lazy.get(name);
    if (!t) throw new RangeError(`GpuModel: the weights have no ${name}`);
    return t;
  }

  /** A small tensor (norm, bias) read whole as f32: kept on the host or uploaded as it is (progress counts it once). */
  async f32(name: string): Promise<Float32Array> {
    const t = this.get(name);
    const t0 = performance.now();
    const data = await t.rowsF32(0, rowCount(t.shape));
    this.split.readMs += performance.now() - t0;
    if (!this.whole.has(name)) this.count(t.byteSize);
    this.whole.add(name);
    return data;
  }

  /** Tensors concatenated as one f32 storage buffer (norms, biases). */
  async vector(names: string[], label: string): Promise<GPUBuffer> {
    const parts = [];
    for (const n of names) parts.push(await this.f32(n));
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return this.core.own(createStorage(this.core.device, out, label));
  }

  /**
   * Tensors stacked along rows as one [rows, cols] weight stored as `dtype` (split by rows where
   * one binding cannot hold it, as uploadWeight splits), with column j scaled by fold[j] when
   * given (ops/normfold: on the GPU after a raw upload where every tensor of an f16 weight
   * reads as half bits, else on the host). The buffers are made now and filled by run(), so
   * that the model can build its dispatches (and compile their pipelines) before the upload.
   */
  weight(names: string[], cols: number, dtype: WeightDtype, label: string, fold?: Float32Array): GpuWeight {
    const segs: Segment[] = [];
    let rows = 0;
    for (const n of names) {
      const t = this.get(n);
      if (rowLength(t.shape) !== cols) throw new RangeError(`GpuModel: ${n} has rows of ${rowLength(t.shape)} values, expected ${cols}`);
      segs.push({ t, row0: rows, rows: rowCount(t.shape) });
      rows += rowCount(t.shape);
    }
    const stride = rowStrideWords(cols, dtype);
    const rowBytes = stride * 4;
    let per = Math.max(1, Math.floor(this.core.maxBinding / rowBytes));
    if (per < rows) per = Math.max(1, per - (per % 8));
    const parts: GpuWeight['parts'] = [];
    for (let r0 = 0; r0 < rows; r0 += per) {
      const r1 = Math.min(rows, r0 + per);
      parts.push({ buffer: this.core.own(createStorage(this.core.device, (r1 - r0) * rowBytes, `${label}[${r0}:${r1}]`)), rowStart: r0, rows: r1 - r0 });
    }
    const chunkRows = Math.max(1, Math.floor((this.core.uploadChunkBytes ?? STAGING_BYTES) / rowBytes));
    const chunks: { buffer: GPUBuffer; a: number; b: number; at: number }[] = [];
    for (const { buffer, rowStart: r0, rows: n } of parts) {
      for (let a = r0; a < r0 + n; a += chunkRows) chunks.push({ buffer, a, b: Math.min(r0 + n, a + chunkRows), at: (a - r0) * rowBytes });
    }
    const gpuFold = fold !== undefined && dtype === 'f16' && segs.every((s) => s.t.rowsF16 !== undefined);
    const hostFold = gpuFold ? undefined : fold;
    if (gpuFold && !this.foldPipeline) {
      this.foldPipeline = this.core.cache.getAsync(normFoldWgsl());
      this.foldPipeline.catch(() => {}); // awaited before the first fold; a failure is thrown there
    }
    const half = (s: Segment) => dtype === 'f16' && !hostFold && s.t.rowsF16 !== undefined;
    const w: GpuWeight = { rows, cols, dtype, rowStride: stride, parts };
    this.jobs.push(async () => {
      // the next chunk is read while this one is packed and written
      let next = this.read(segs, chunks[0], half);
      for (let i = 0; i < chunks.length; i++) {
        const t0 = performance.now();
        const got = await next;
        this.split.readMs += performance.now() - t0;
        if (i + 1 < chunks.length) {
          next = this.read(segs, chunks[i + 1], half);
          next.catch(() => {}); // awaited next turn; a failure there is thrown there
        }
        const { buffer, a, b, at } = chunks[i];
        this.pack(got, a, b, cols, stride, dtype, hostFold, buffer, at);
        await this.flush();
      }
      if (gpuFold) await this.foldOnGpu(w, fold);
      else if (fold) this.split.hostFolds++;
    });
    return w;
  }

  /** Fills every weight made by weight(), in order, and waits until the GPU has the last write. */
  async run(): Promise<void> {
    for (const job of this.jobs) await job();
    this.jobs.length = 0;
    await this.flush(true);
    const t0 = performance.now();
    await this.inFlight;
    this.split.flushMs += performance.now() - t0;
    this.inFlight = undefined;
  }

  /** Reads rows [a, b) of the stacked weight: each overlapping segment's rows, as half bits where `half` says, else as f32. */
  private read(segs: Segment[], c: { a: number; b: number }, half: (s: Segment) => boolean): Promise<Read[]> {
    if (this.control.signal?.aborted) return Promise.reject(new GpuError('GpuModel: the load was cancelled', 'cancelled'));
    const parts = [];
    for (const s of segs) {
      const s0 = Math.max(c.a, s.row0);
      const s1 = Math.min(c.b, s.row0 + s.rows);
      if (s0 >= s1) continue;
      const h = half(s);
      const r0 = s0 - s.row0;
      const r1 = s1 - s.row0;
      parts.push((h ? s.t.rowsF16!(r0, r1) : s.t.rowsF32(r0, r1)).then((data) => ({ s, s0, s1, data, half: h })));
    }
    return Promise.all(parts);
  }

  /** Packs what read() gave for rows [a, b) and writes it at byte `at` of `buffer`. */
  private pack(got: Read[], a: number, b: number, cols: number, stride: number, dtype: WeightDtype, fold: Float32Array | undefined, buffer: GPUBuffer, at: number): void {
    if (this.control.signal?.aborted) throw new GpuError('GpuModel: the load was cancelled', 'cancelled');
    const t0 = performance.now();
    let folding = 0; // ms of it spent folding
    const dense = dtype === 'f32' ? stride === cols : stride * 2 === cols; // rows need no padding
    const only = got.length === 1 && got[0].s0 === a && got[0].s1 === b ? got[0] : undefined;
    // The file's bytes are already what the kernels read: write them as they are.
    if (only && dense && !fold && (only.half || (dtype === 'f32' && only.s.t.dtype === 'F32'))) {
      this.split.packMs += performance.now() - t0;
      this.write(buffer, at, only.data);
      this.count((only.s.t.byteSize * (b - a)) / only.s.rows);
      return;
    }
    const words = (b - a) * stride;
    if (this.staging.length < words) this.staging = new Uint32Array(words);
    const out = this.staging.subarray(0, words);
    if (!dense) out.fill(0);
    const o16 = new Uint16Array(out.buffer, out.byteOffset, out.length * 2);
    for (const { s, s0, s1, data, half } of got) {
      const o = (s0 - a) * stride; // first word of these rows in the chunk
      if (half) {
        for (let r = 0; r < s1 - s0; r++) o16.set(data.subarray(r * cols, (r + 1) * cols) as Uint16Array, (o + r * stride) * 2);
      } else {
        const f0 = performance.now();
        const x = fold ? this.folded(data as Float32Array, cols, fold) : (data as Float32Array);
        if (dtype === 'f32') {
          const f = new Float32Array(out.buffer, out.byteOffset, out.length);
          for (let r = 0; r < s1 - s0; r++) f.set(x.subarray(r * cols, (r + 1) * cols), o + r * stride);
        } else {
          const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
          for (let r = 0; r < s1 - s0; r++) f32BitsToF16(bits, r * cols, o16, (o + r * stride) * 2, cols);
        }
        if (fold) folding += performance.now() - f0;
      }
      this.count((s.t.byteSize * (s1 - s0)) / s.rows);
    }
    this.split.packMs += performance.now() - t0 - folding;
    this.split.foldMs += folding;
    this.write(buffer, at, out);
  }

  /**
   * Folds `fold` into the columns of f16 weight `w`, uploaded as its half bits: one normfold
   * pass per part, submitted after the part's writes (the queue runs them in order).
   */
  private async foldOnGpu(w: GpuWeight, fold: Float32Array): Promise<void> {
    await this.foldPipeline; // compiled in the cache meanwhile: the Dispatches below bind at once
    const t0 = performance.now();
    const device = this.core.device;
    const k = normFoldWgsl();
    const nw = createStorage(device, fold, 'normfold weight');
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    const ds: Dispatch[] = [];
    for (const { buffer, rows } of w.parts) {
      const words = rows * w.rowStride;
      const [nx, ny] = grid2(Math.ceil(words / 64));
      const d = new Dispatch(device, this.core.cache, k, this.core.step, { words, stride: w.rowStride, cols: w.cols, nx }, { wt: buffer, nw });
      d.encode(pass, nx, ny);
      ds.push(d);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
    // buffers destroyed after a submit stay alive for the work already submitted
    for (const d of ds) d.destroy();
    nw.destroy();
    this.split.gpuFolds++;
    this.split.foldMs += performance.now() - t0;
  }

  /** `x` with column j scaled by w[j] (ops/normfold: foldColumns), in the scratch array (x may be the caller's own memory). */
  private folded(x: Float32Array, cols: number, w: Float32Array): Float32Array {
    if (this.scratch.length < x.length) this.scratch = new Float32Array(x.length);
    return foldColumns(x, cols, w, this.scratch);
  }

  private write(buffer: GPUBuffer, at: number, data: ArrayBufferView): void {
    const t0 = performance.now();
    this.core.device.queue.writeBuffer(buffer, at, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    this.pending += data.byteLength;
    this.split.writeMs += performance.now() - t0;
  }

  private count(bytes: number): void {
    this.done += bytes;
    this.control.onProgress?.(Math.round(this.done), this.total);
  }

  /** Past FLUSH_BYTES since the last flush: submits the queued writes and waits for the flush before. */
  private async flush(force = false): Promise<void> {
    if (this.pending < FLUSH_BYTES && !force) return;
    this.pending = 0;
    const q = this.core.device.queue;
    q.submit([]);
    const prev = this.inFlight;
    this.inFlight = q.onSubmittedWorkDone();
    const t0 = performance.now();
    await prev;
    this.split.flushMs += performance.now() - t0;
  }
}
