/**
 * Pipelined greedy decoding on the GPU (GpuModel.decodeGreedy): the GPU argmax of each
 * step writes the id the next step's embedding reads, so the host submits steps ahead of
 * the GPU and reads the ids back a block of steps at a time. Each decode step's inputs
 * (Step uniform, position, cos|sin) are copied from a per-slot table on the device, so a
 * step makes no queue write.
 */
import type { GreedyDecodeEnd, GreedyDecodeOptions } from '../backend/contract';
import type { ForwardPlan } from './forward-plan';
import { createStorage, Dispatch } from './kernel';
import type { ModelCore } from './lifecycle';
import type { ReadBack } from './readback';
import type { StepInputs } from './step-inputs';
import type { ModelWeights } from './weights';

/** Decode slots whose input records are written at once (encodeDecodeInputs), each chunk once per model. */
const DECODE_BLOCK = 1024;
/** Most greedy decode steps whose ids are read back together. */
const DECODE_READ_BLOCK = 16;
/** GPU time a read-back block grows to, in ms: about a frame. */
const DECODE_BLOCK_MS = 16;
/**
 * Blocks a greedy decode keeps submitted past the last one read: when a block is read,
 * two more (≈ 32 ms of GPU work) are still queued while the host encodes the next, so a
 * host pause of 10–20 ms (Node's major collections) is less likely to run the queue dry
 * (engine/gpu/BENCH.md, "Reading ids back in blocks").
 */
const DECODE_AHEAD_BLOCKS = 3;

/** Staging buffers a decode reads ids back into: unread blocks hold at most `ahead` steps (one or more each), plus the open one. */
function stagingRingSize(maxK: number, ahead?: number): number {
  return Math.max(maxK, Math.floor(ahead ?? Math.max(DECODE_READ_BLOCK, DECODE_AHEAD_BLOCKS * maxK))) + 2;
}

interface DecodeBlock {
  n: number;
  staging: GPUBuffer;
  /** when its last step was submitted */
  submittedAt: number;
}

export class DecodeScheduler {
  /** Decode-step input records for every slot, and which DECODE_BLOCK chunks are written (encodeDecodeInputs). */
  private decodeTable?: { buffer: GPUBuffer; written: Set<number> };
  /** GPU ms per decode step measured by the last greedy decode (0: none yet); sizes the next one's first run-ahead. */
  private lastStepMs = 0;

  constructor(
    private readonly core: ModelCore,
    private readonly w: ModelWeights,
    private readonly inputs: StepInputs,
    private readonly plan: ForwardPlan,
    private readonly readback: ReadBack,
  ) {}

  /** Creates the `ringSize` staging buffers of `maxK` ids a decode reads back into (those not made yet). */
  private reserveStaging(maxK: number, ringSize: number): void {
    for (let i = 0; i < ringSize; i++) this.readback.buffer(maxK * 8, i);
  }

  /**
   * Greedy decoding from a fresh cache (the contract's decodeGreedy): prefill, then one
   * token at a time. The GPU argmax writes each id where the next step's embedding reads
   * it, so the host runs ahead of the GPU: it submits each step as soon as it is encoded,
   * keeps up to `ahead` steps past the last id it has read, and reads the ids back a block
   * of steps at a time (one mapped buffer per block). The first steps are queued right
   * behind the prefill, before its id is read. When the consumer stops (return()), the
   * steps queued past its last id are dropped from the cache.
   *
   * Why blocks: a host pause (in Node, a garbage collection of 10–25 ms) empties a queue
   * two steps deep (engine/gpu/BENCH.md, "Reading ids back in blocks"). By default the
   * block grows, once the step time is known, to about DECODE_BLOCK_MS of GPU work (at most
   * DECODE_READ_BLOCK steps), with DECODE_AHEAD_BLOCKS blocks queued: ids still reach the
   * consumer within a few frames.
   */
  async *decodeGreedy(promptIds: number[], opts: GreedyDecodeOptions): AsyncGenerator<number, GreedyDecodeEnd, void> {
    const maxNew = opts.maxNew;
    if (!Number.isSafeInteger(maxNew) || maxNew < 1) throw new RangeError(`decodeGreedy: maxNew must be a positive integer, got ${maxNew}`);
    this.core.claim();
    this.core.len = 0;
    const maxK = Math.max(1, Math.floor(opts.block ?? DECODE_READ_BLOCK));
    let K = opts.block === undefined ? 1 : maxK; // steps per block (grows with the measured step time unless set)
    // steps submitted past the last block read: DECODE_AHEAD_BLOCKS blocks once this run's step time is known; before,
    // about two blocks' time at the last run's step time (2…DECODE_READ_BLOCK steps; 4 on a model's first run), so
    // a stop right after the prefill leaves little speculative work queued on a slow device
    const first = this.lastStepMs > 0 ? Math.min(DECODE_READ_BLOCK, Math.max(2, Math.floor((2 * DECODE_BLOCK_MS) / this.lastStepMs))) : 4;
    const ahead = () => Math.max(K, Math.floor(opts.ahead ?? (stepMs > 0 ? DECODE_AHEAD_BLOCKS * K : first)));
    const ringSize = stagingRingSize(maxK, opts.ahead);
    const base = promptIds.length; // the prefill fills slots [0, base)
    const limit = Math.min(this.core.contextLength, base + maxNew - 1); // slots that may be submitted: [base, limit)
    let cached = 0; // slots whose tokens are final (the prefill's once it has run)
    let submitted = base; // next slot to submit
    let ring = 0;
    const ready: number[] = []; // ids read back, not yet handed out
    const blocks: DecodeBlock[] = []; // submitted, not yet read
    let open: DecodeBlock | undefined; // being filled
    let stepMs = 0; // GPU ms per step, measured between back-to-back blocks (0: unknown)
    let lastDone = 0; // when the last block read was found done
    const submitAhead = () => {
      while (submitted < limit && submitted - cached < ahead()) {
        if (!open) open = { n: 0, staging: this.readback.buffer(maxK * 8, ring++ % ringSize), submittedAt: 0 };
        this.submitDecodeStep(submitted++, open.staging, open.n++ * 8);
        open.submittedAt = performance.now();
        if (submitted === base + 1) this.core.stats.firstSubmitAt = open.submittedAt;
        if (open.n >= K) {
          blocks.push(open);
          open = undefined;
        }
      }
      if (open && (submitted === limit || submitted - cached >= ahead())) {
        blocks.push(open);
        open = undefined;
      }
    };
    const readBlock = async () => {
      const b = blocks.shift()!;
      const queuedBefore = lastDone > 0 && b.submittedAt < lastDone; // the GPU went from the last block straight on to this one
      const w0 = performance.now();
      try {
        await this.readback.mapped(b.staging.mapAsync(GPUMapMode.READ, 0, b.n * 8));
      } catch (e) {
        throw this.core.failure(e);
      }
      const now = performance.now();
      this.core.stats.waitMs += now - w0;
      this.core.stats.lastReadAt = now;
      const words = new Uint32Array(b.staging.getMappedRange(0, b.n * 8)); // [n]: (value, id)
      for (let i = 0; i < b.n; i++) ready.push(words[2 * i + 1]);
      b.staging.unmap();
      if (queuedBefore) {
        const ms = (now - lastDone) / b.n;
        stepMs = stepMs > 0 ? 0.7 * stepMs + 0.3 * ms : ms;
        if (opts.block === undefined) K = Math.max(1, Math.min(maxK, Math.floor(DECODE_BLOCK_MS / stepMs)));
      }
      lastDone = now;
    };
    try {
      // the prefill's argmax feeds the first decode step on the GPU: queue steps behind it before reading its id
      // (the GPU goes from the prefill into decode with no host round trip; a host stall there is covered)
      const prefill = await this.plan.run(promptIds, undefined, { lastOnly: true, topK: 1, logits: false }, () => {
        cached = base;
        // the whole staging ring, made while the GPU runs the prefill, so no decode step creates a buffer
        // (engine/gpu/BENCH.md, "Staging ring made during the prefill")
        this.reserveStaging(maxK, ringSize);
        submitAhead();
      });
      let id = prefill.top!.ids[0];
      let n = 0;
      for (;;) {
        yield id;
        n++;
        if (n >= maxNew) return 'length';
        if (cached >= this.core.contextLength) return 'context';
        if (!ready.length) {
          submitAhead();
          await readBlock();
          submitAhead();
        }
        id = ready.shift()!;
        cached++;
      }
    } finally {
      this.core.len = cached;
      if (stepMs > 0) this.lastStepMs = stepMs;
      this.core.busy = false;
    }
  }

  /**
   * Encodes and submits the decode step at slot `slot` (its token already in ids[0],
   * written by the previous argmax); its argmax (value, id) is copied to `staging` at `at`.
   */
  private submitDecodeStep(slot: number, staging: GPUBuffer, at: number): void {
    this.core.alive();
    const t0 = performance.now();
    const n0 = Dispatch.encoded;
    const enc = this.core.device.createCommandEncoder();
    this.encodeDecodeStep(enc, slot);
    enc.copyBufferToBuffer(this.plan.act!.res, 0, staging, at, 8);
    this.core.device.queue.submit([enc.finish()]);
    this.core.stats.encodeMs += performance.now() - t0;
    this.core.stats.steps++;
    this.core.stats.dispatchesPerStep = Dispatch.encoded - n0;
  }

  /**
   * Encodes the inputs of the decode step at `slot` as copies from a table of per-slot
   * records (Step uniform | position | cos|sin) over the whole context, written a chunk of
   * DECODE_BLOCK slots at a time when a chunk is first needed and never rewritten, so a
   * decode step makes no queue.writeBuffer call (per-step writes slow decoding down:
   * engine/gpu/BENCH.md, "Decode inputs from a table").
   */
  encodeDecodeInputs(enc: GPUCommandEncoder, slot: number): void {
    const hd = this.core.config.headDim;
    const rec = 36 + (this.inputs.ropeParams ? hd * 4 : 0); // bytes: step (32) | pos (4) | cos|sin [hd]
    const t = (this.decodeTable ??= { buffer: this.core.own(createStorage(this.core.device, rec * this.core.contextLength, 'decode-inputs')), written: new Set<number>() });
    const chunk = Math.floor(slot / DECODE_BLOCK);
    if (!t.written.has(chunk)) {
      const first = chunk * DECODE_BLOCK;
      const n = Math.min(DECODE_BLOCK, this.core.contextLength - first);
      const data = new ArrayBuffer(rec * n);
      for (let i = 0; i < n; i++) {
        const at = first + i;
        new Uint8Array(data, i * rec, 32).set(new Uint8Array(this.inputs.stepRecord(1, at, 1)));
        new Uint32Array(data, i * rec + 32, 1)[0] = at;
        if (this.inputs.ropeParams) new Float32Array(data, i * rec + 36, hd).set(this.inputs.cosSin([at]));
      }
      this.core.device.queue.writeBuffer(t.buffer, first * rec, data);
      t.written.add(chunk);
    }
    const off = slot * rec;
    enc.copyBufferToBuffer(t.buffer, off, this.core.step, 0, 32);
    if (this.w.posEmbed) enc.copyBufferToBuffer(t.buffer, off + 32, this.plan.act!.pos, 0, 4);
    if (this.inputs.ropeParams) enc.copyBufferToBuffer(t.buffer, off + 36, this.plan.act!.cs, 0, hd * 4);
  }

  /** One greedy decode step at `slot` (its token already in ids[0]): inputs, forward, argmax into ids[0]. */
  encodeDecodeStep(enc: GPUCommandEncoder, slot: number): void {
    this.encodeDecodeInputs(enc, slot);
    this.plan.encodeForward(enc, 1, slot, 1, {}, []);
    this.plan.encodeTopK(enc, 1);
  }
}
