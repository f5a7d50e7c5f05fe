/**
 * --threads N for the CPU backend in Node: N − 1 worker threads run the WebAssembly kernels
 * on the model's shared memory (a SharedArrayBuffer: weights, KV cache, inputs and outputs are
 * read and written in place, nothing is copied). A matmul is split by rows of W, attention by
 * query heads; the calling thread runs the first slice. Every output is computed by the same
 * kernel in the same order whatever the slicing, so the logits are the same bits with any
 * thread count.
 *
 * A call is handed out and collected through one Int32Array on a SharedArrayBuffer: the caller
 * writes each worker's arguments, bumps a generation counter and notifies; each worker runs its
 * slice, adds one to a done counter and notifies; the caller waits until the counter reaches
 * the worker count. Decode makes ~70 calls a token, so both sides spin briefly before they
 * sleep in Atomics.wait (a wake-up from sleep costs tens of µs); an idle worker sleeps.
 */
import { Worker } from 'node:worker_threads';
import type { AttentionCall, AttentionRunner, WasmAttention } from '../ops/attention/attention.wasm';
import { WASM_SHARED_BASE64 as ATTENTION_WASM } from '../ops/attention/attention.wasm.gen';
import { matmulModule, type MatmulRunner, type WasmMatmul } from '../ops/matmul/matmul.wasm';
import { WASM_SHARED_BASE64 as MATMUL_WASM } from '../ops/matmul/matmul.wasm.gen';

// The control block: a header, then one slot of arguments per worker.
const GEN = 0; // bumped once per call
const DONE = 1; // workers finished with the current call
const FAIL = 2; // the index of a worker whose kernel threw
const STOP = 3; // 1: workers exit
const HEADER = 4;
const SLOT = 18; // Int32s per worker: op, the kernel's i32 arguments (up to 14), then an f64 (attention's scale) at Int32s 16–17
const OP_NONE = 0;
const OP_MATMUL = 1;
const OP_ATTENTION = 2;

/** How long either side spins before it sleeps, in ms. */
const SPIN_MS = 0.5;
/** Rows of W per slice are a multiple of this (whole cache lines of out). */
const ROW_ALIGN = 16;
/**
 * Calls of fewer multiply-adds (T·K·N for a matmul, T·H·keys·headDim for attention) run on the
 * calling thread alone: handing out a call and collecting it costs a few µs at best, as much as
 * ~64K multiply-adds take (stories260K's layers are all below this).
 */
export const MIN_WORK = 1 << 16;

/** The worker: binds the kernels to the shared memory, then runs its slice of each call. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, matmulWasm, attentionWasm, ctrl, index } = workerData;
const inst = (b64, imports) => new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b64, 'base64')), { env: { memory, ...imports } }).exports;
const matmul = inst(matmulWasm).matmul;
const attention = attentionWasm ? inst(attentionWasm).attention : undefined;
const c = new Int32Array(ctrl);
const o = ${HEADER} + (index - 1) * ${SLOT};
const f = new Float64Array(ctrl, (o + ${SLOT} - 2) * 4, 1);
let seen = 0;
for (;;) {
  let gen = Atomics.load(c, ${GEN});
  if (gen === seen) {
    const t0 = performance.now();
    for (let i = 0; (gen = Atomics.load(c, ${GEN})) === seen; i++) {
      if ((i & 1023) === 1023 && performance.now() - t0 > ${SPIN_MS}) Atomics.wait(c, ${GEN}, seen);
    }
  }
  seen = gen;
  if (Atomics.load(c, ${STOP})) break;
  try {
    const op = c[o];
    if (op === ${OP_MATMUL}) matmul(c[o + 1], c[o + 2], c[o + 3], c[o + 4], c[o + 5], c[o + 6], c[o + 7]);
    else if (op === ${OP_ATTENTION}) attention(c[o + 1], c[o + 2], c[o + 3], c[o + 4], c[o + 5], c[o + 6], c[o + 7], c[o + 8], c[o + 9], c[o + 10], c[o + 11], c[o + 12], c[o + 13], f[0], c[o + 14]);
  } catch (e) {
    Atomics.store(c, ${FAIL}, index);
  }
  Atomics.add(c, ${DONE}, 1);
  Atomics.notify(c, ${DONE});
}
`;

export class KernelThreads implements MatmulRunner, AttentionRunner {
  private readonly ctrl: Int32Array;
  private readonly scale: Float64Array[] = [];
  private readonly workers: Worker[] = [];
  private closed = false;

  /**
   * `threads` in all: this one and threads − 1 workers on `mm`'s shared memory (and on
   * `attention`'s, which must have a scratch set per thread); calls under `minWork`
   * multiply-adds stay on this thread.
   */
  constructor(
    private readonly mm: WasmMatmul,
    readonly threads: number,
    private readonly attn?: WasmAttention,
    private readonly minWork = MIN_WORK,
  ) {
    if (!mm.arena.shared) throw new RangeError('KernelThreads: the model was not made for threads (ModelOptions.threads), its memory is not shared');
    if (!Number.isInteger(threads) || threads < 2) throw new RangeError(`KernelThreads: threads must be an integer ≥ 2, got ${threads}`);
    if (!matmulModule(true)) throw new RangeError('KernelThreads: this runtime cannot run the shared-memory kernels');
    if (attn && attn.scratchSets < threads) throw new RangeError(`KernelThreads: attention has ${attn.scratchSets} scratch sets for ${threads} threads`);
    const sab = new SharedArrayBuffer((HEADER + (threads - 1) * SLOT) * 4);
    this.ctrl = new Int32Array(sab);
    for (let i = 1; i < threads; i++) {
      this.scale.push(new Float64Array(sab, (HEADER + (i - 1) * SLOT + SLOT - 2) * 4, 1));
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { memory: mm.arena.memory, matmulWasm: MATMUL_WASM, attentionWasm: attn ? ATTENTION_WASM : undefined, ctrl: sab, index: i },
      });
      w.unref(); // an idle worker never keeps the process alive
      this.workers.push(w);
    }
  }

  /** Worker i's argument slot (i ≥ 1). */
  private slot(i: number): number {
    return HEADER + (i - 1) * SLOT;
  }

  /** Hands out the slots written since the last call, runs `own` here, waits for the workers. */
  private dispatch(own: () => void): void {
    const c = this.ctrl;
    Atomics.store(c, DONE, 0);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    let ownError: unknown;
    try {
      own();
    } catch (e) {
      ownError = e;
    }
    const want = this.threads - 1;
    let done = Atomics.load(c, DONE);
    if (done < want) {
      const t0 = performance.now();
      for (let i = 0; (done = Atomics.load(c, DONE)) < want; i++) {
        if ((i & 1023) === 1023 && performance.now() - t0 > SPIN_MS) Atomics.wait(c, DONE, done, 10);
      }
    }
    if (ownError !== undefined) throw ownError;
    const failed = Atomics.load(c, FAIL);
    if (failed) throw new Error(`KernelThreads: the kernel failed in worker thread ${failed}`);
  }

  matmul(w: number, x: number, out: number, T: number, K: number, N: number): void {
    if (this.closed) throw new Error('KernelThreads: closed');
    const part = Math.ceil(N / this.threads / ROW_ALIGN) * ROW_ALIGN;
    if (part >= N || T * K * N < this.minWork) {
      this.mm.kernel(w, x, out, T, K, N, N); // too little to share
      return;
    }
    const c = this.ctrl;
    for (let i = 1; i < this.threads; i++) {
      const o = this.slot(i);
      const j0 = Math.min(N, i * part);
      const j1 = Math.min(N, j0 + part);
      c[o] = j1 > j0 ? OP_MATMUL : OP_NONE;
      c[o + 1] = w + j0 * K * 4;
      c[o + 2] = x;
      c[o + 3] = out + j0 * 4;
      c[o + 4] = T;
      c[o + 5] = K;
      c[o + 6] = j1 - j0;
      c[o + 7] = N;
    }
    this.dispatch(() => this.mm.kernel(w, x, out, T, K, part, N));
  }

  attention(call: AttentionCall): void {
    if (this.closed) throw new Error('KernelThreads: closed');
    const attn = this.attn!;
    const part = Math.ceil(call.H / this.threads);
    if (part >= call.H || call.T * call.H * (call.start + call.T) * call.hd < this.minWork) {
      attn.runHeads(call, 0, 0, call.H);
      return;
    }
    const c = this.ctrl;
    for (let i = 1; i < this.threads; i++) {
      const o = this.slot(i);
      const h0 = Math.min(call.H, i * part);
      const h1 = Math.min(call.H, h0 + part);
      const sc = attn.scratch(i);
      c[o] = h1 > h0 ? OP_ATTENTION : OP_NONE;
      c[o + 1] = call.q;
      c[o + 2] = call.k;
      c[o + 3] = call.v;
      c[o + 4] = call.out;
      c[o + 5] = sc.scores;
      c[o + 6] = call.T;
      c[o + 7] = call.start;
      c[o + 8] = call.H;
      c[o + 9] = h0;
      c[o + 10] = h1;
      c[o + 11] = call.Kv;
      c[o + 12] = call.hd;
      c[o + 13] = call.ctx;
      this.scale[i - 1][0] = call.scale;
      c[o + 14] = call.window;
    }
    this.dispatch(() => attn.runHeads(call, 0, 0, part));
  }

  /** Stops the workers (they exit once they see it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, STOP, 1);
    Atomics.add(this.ctrl, GEN, 1);
    Atomics.notify(this.ctrl, GEN);
  }
}
