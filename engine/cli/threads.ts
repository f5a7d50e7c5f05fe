/**
 * --threads N for the CPU backend in Node: N − 1 worker threads run the WebAssembly matmul
 * kernel on the model's shared memory (a SharedArrayBuffer: the weights, x and out are read
 * and written in place, nothing is copied), each on its own slice of W's rows; the calling
 * thread runs the first slice. Every output is computed by the same kernel in the same order
 * whatever the slicing, so the logits are the same bits with any thread count.
 *
 * Handing out a call and collecting it goes through one Int32Array on a SharedArrayBuffer:
 * the caller writes the call, bumps a generation counter and notifies; each worker runs its
 * slice, adds one to a done counter and notifies; the caller waits until the counter reaches
 * the worker count. Decode makes ~60 calls a token, so both sides spin briefly before they
 * sleep in Atomics.wait (a wake-up from sleep costs tens of µs); an idle worker sleeps.
 */
import { Worker } from 'node:worker_threads';
import { matmulModule, type MatmulRunner, type WasmMatmul } from '../ops/matmul/matmul.wasm';
import { WASM_SHARED_BASE64 } from '../ops/matmul/matmul.wasm.gen';

// the control block, Int32 slots
const GEN = 0; // bumped once per call
const DONE = 1; // workers finished with the current call
const OP = 2; // 1: matmul, 2: stop
const FAIL = 3; // set by a worker whose kernel threw
const W = 4;
const X = 5;
const OUT = 6;
const T = 7;
const K = 8;
const N = 9;
const PART = 10; // rows per thread
const SLOTS = 11;

const OP_MATMUL = 1;
const OP_STOP = 2;
/** How long either side spins before it sleeps, in ms. */
const SPIN_MS = 0.5;
/** Rows of W per slice are a multiple of this (whole cache lines of out). */
const ROW_ALIGN = 16;
/**
 * Calls of fewer multiply-adds (T·K·N) run on the calling thread alone: handing out a call and
 * collecting it costs a few µs at best, as much as ~64K multiply-adds take (stories260K's
 * layers are all below this).
 */
export const MIN_WORK = 1 << 16;

/** The worker: binds the kernel to the shared memory, then runs its slice of each call. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, wasm, ctrl, index } = workerData;
const bytes = Buffer.from(wasm, 'base64');
const matmul = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.matmul;
const c = new Int32Array(ctrl);
let seen = 0;
for (;;) {
  let gen = Atomics.load(c, ${GEN});
  if (gen === seen) {
    const t0 = performance.now();
    for (let i = 0; (gen = Atomics.load(c, ${GEN})) === seen; i++) {
      if ((i & 1023) === 1023 && performance.now() - t0 > ${SPIN_MS}) {
        Atomics.wait(c, ${GEN}, seen);
      }
    }
  }
  seen = gen;
  if (Atomics.load(c, ${OP}) === ${OP_STOP}) break;
  try {
    const n = c[${N}], part = c[${PART}], K = c[${K}];
    const j0 = Math.min(n, index * part), j1 = Math.min(n, j0 + part);
    if (j1 > j0) matmul(c[${W}] + j0 * K * 4, c[${X}], c[${OUT}] + j0 * 4, c[${T}], K, j1 - j0, n);
  } catch (e) {
    Atomics.store(c, ${FAIL}, index);
  }
  Atomics.add(c, ${DONE}, 1);
  Atomics.notify(c, ${DONE});
}
`;

export class MatmulThreads implements MatmulRunner {
  private readonly ctrl: Int32Array;
  private readonly workers: Worker[] = [];
  private closed = false;

  /** `threads` in all: this one and threads − 1 workers on `mm`'s shared memory; calls under `minWork` multiply-adds stay here. */
  constructor(
    private readonly mm: WasmMatmul,
    readonly threads: number,
    private readonly minWork = MIN_WORK,
  ) {
    if (!mm.arena.shared) throw new RangeError('MatmulThreads: the model was not made with sharedMemory (ModelOptions)');
    if (!Number.isInteger(threads) || threads < 2) throw new RangeError(`MatmulThreads: threads must be an integer ≥ 2, got ${threads}`);
    if (!matmulModule(true)) throw new RangeError('MatmulThreads: this runtime cannot run the shared-memory kernel');
    this.ctrl = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
    for (let i = 1; i < threads; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory: mm.arena.memory, wasm: WASM_SHARED_BASE64, ctrl: this.ctrl.buffer, index: i } });
      w.unref(); // an idle worker never keeps the process alive
      this.workers.push(w);
    }
  }

  matmul(w: number, x: number, out: number, T_: number, K_: number, N_: number): void {
    if (this.closed) throw new Error('MatmulThreads: closed');
    const n = this.threads;
    const part = Math.ceil(N_ / n / ROW_ALIGN) * ROW_ALIGN;
    if (part >= N_ || T_ * K_ * N_ < this.minWork) {
      this.mm.kernel(w, x, out, T_, K_, N_, N_); // too few rows to share
      return;
    }
    const c = this.ctrl;
    c[OP] = OP_MATMUL;
    c[W] = w;
    c[X] = x;
    c[OUT] = out;
    c[T] = T_;
    c[K] = K_;
    c[N] = N_;
    c[PART] = part;
    Atomics.store(c, DONE, 0);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    this.mm.kernel(w, x, out, T_, K_, part, N_);
    const want = n - 1;
    let done = Atomics.load(c, DONE);
    if (done < want) {
      const t0 = performance.now();
      for (let i = 0; (done = Atomics.load(c, DONE)) < want; i++) {
        if ((i & 1023) === 1023 && performance.now() - t0 > SPIN_MS) Atomics.wait(c, DONE, done, 10);
      }
    }
    const failed = Atomics.load(c, FAIL);
    if (failed) throw new Error(`MatmulThreads: the kernel failed in worker thread ${failed}`);
  }

  /** Stops the workers (they exit once they see it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, OP, OP_STOP);
    Atomics.add(this.ctrl, GEN, 1);
    Atomics.notify(this.ctrl, GEN);
  }
}
