/**
 * attention() over an f32 KV cache in WebAssembly SIMD (attention.wat): the same sums in f64
 * in the same order, so the same bits as the TypeScript reference, several times faster. The
 * cache lives in the arena (the model allocates it there); the query rows and the output go
 * through staging rows, `chunk` query rows at a time. Probabilities are not captured here:
 * a caller that wants them runs the reference. A thread runner (engine/cli/threads.ts) may
 * split the query heads over threads, each with its own scratch set.
 */
import { compileWasm, instantiate, type WasmArena } from '../wasm';
import { checkAttentionArgs, type AttentionArgs } from './attention';
import { WASM_BASE64, WASM_SHARED_BASE64 } from './attention.wasm.gen';

/** attention(q, k, v, out, scores, qs, T, start, H, h0, h1, Kv, hd, scale, window): query heads h0 … h1−1 (byte pointers). */
export type AttentionFn = (
  q: number,
  k: number,
  v: number,
  out: number,
  scores: number,
  qs: number,
  T: number,
  start: number,
  H: number,
  h0: number,
  h1: number,
  Kv: number,
  hd: number,
  scale: number,
  window: number,
) => void;

/** One call of the kernel over all heads, for a runner to split: pointers into the arena. */
export interface AttentionCall {
  q: number;
  k: number;
  v: number;
  out: number;
  T: number;
  start: number;
  H: number;
  Kv: number;
  hd: number;
  scale: number;
  window: number;
}

/** Splits the query heads over threads (engine/cli/threads.ts). */
export interface AttentionRunner {
  attention(call: AttentionCall): void;
}

/** The compiled kernel for an arena of this kind (shared or not), or null. */
export function attentionModule(shared: boolean) {
  return compileWasm(shared ? WASM_SHARED_BASE64 : WASM_BASE64);
}

export class WasmAttention {
  private readonly qPtr: number;
  private readonly oPtr: number;
  /** Per scratch set: scores f64 [capacity] and q splats f64x2 [headDim]. */
  private readonly scratchPtrs: { scores: number; qs: number }[] = [];
  /** Set by the CLI's thread pool: runs each call's heads over its threads. */
  runner?: AttentionRunner;

  private constructor(
    private readonly arena: WasmArena,
    private readonly fn: AttentionFn,
    /** The most cache slots a call may read (the scores scratch). */
    readonly capacity: number,
    /** nHeads · headDim of the model it was made for. */
    private readonly rowFloats: number,
    private readonly headDim: number,
    private readonly chunk: number,
    scratchSets: number,
  ) {
    this.qPtr = arena.allocBytes(chunk * rowFloats * 4, 'attention query rows');
    this.oPtr = arena.allocBytes(chunk * rowFloats * 4, 'attention output rows');
    for (let i = 0; i < scratchSets; i++)
      this.scratchPtrs.push({ scores: arena.allocBytes(capacity * 8, 'attention scores'), qs: arena.allocBytes(headDim * 16, 'attention query splats') });
  }

  /** The arena bytes create() takes. */
  static stagingBytes(capacity: number, nHeads: number, headDim: number, chunk = 16, scratchSets = 1): number {
    return 2 * chunk * nHeads * headDim * 4 + scratchSets * (capacity * 8 + headDim * 16 + 32) + 4 * 16;
  }

  /**
   * The kernel on `arena`, for caches of up to `capacity` slots, with `scratchSets` scratch
   * sets (one per thread that may run it); undefined without SIMD.
   */
  static create(arena: WasmArena, capacity: number, nHeads: number, headDim: number, chunk = 16, scratchSets = 1): WasmAttention | undefined {
    const mod = attentionModule(arena.shared);
    if (!mod) return undefined;
    const fn = instantiate(mod, arena.memory, { exp: Math.exp }).attention as AttentionFn;
    return new WasmAttention(arena, fn, capacity, nHeads * headDim, headDim, chunk, scratchSets);
  }

  /** How many threads can run it at once (one scratch set each). */
  get scratchSets(): number {
    return this.scratchPtrs.length;
  }

  /** Thread i's share of a call: query heads h0 … h1−1 with scratch set i. */
  runHeads(call: AttentionCall, i: number, h0: number, h1: number, fn: AttentionFn = this.fn): void {
    const sc = this.scratchPtrs[i];
    fn(call.q, call.k, call.v, call.out, sc.scores, sc.qs, call.T, call.start, call.H, h0, h1, call.Kv, call.hd, call.scale, call.window);
  }

  /** Scratch set i's pointers (a worker thread runs the kernel with them). */
  scratch(i: number): { scores: number; qs: number } {
    return this.scratchPtrs[i];
  }

  /** Whether run() can take these arguments: the cache in the arena, the shapes it was made for, no probabilities asked for. */
  accepts(a: AttentionArgs): boolean {
    return (
      a.probs === undefined &&
      this.arena.owns(a.kCache) &&
      this.arena.owns(a.vCache) &&
      a.nHeads * a.headDim === this.rowFloats &&
      a.headDim === this.headDim &&
      a.start + a.T <= this.capacity &&
      (a.window === undefined || a.window >= 1)
    );
  }

  /** attention(a), for arguments it accepts(); `scores` and `acc` are not used. */
  run(a: AttentionArgs): void {
    const { out, q, kCache, vCache, T, start, nHeads, nKvHeads, headDim, scale, window } = a;
    checkAttentionArgs(a);
    if (!this.accepts(a)) throw new RangeError('WasmAttention: arguments it was not made for (see accepts())');
    const buf = this.arena.memory.buffer;
    const R = this.rowFloats;
    for (let t0 = 0; t0 < T; t0 += this.chunk) {
      const rows = Math.min(this.chunk, T - t0);
      const s = start + t0;
      // a window covering every slot is no window (and keeps the i32 argument small)
      const win = window === undefined || window >= s + rows ? 0 : window;
      new Float32Array(buf, this.qPtr, rows * R).set(q.subarray(t0 * R, (t0 + rows) * R));
      const call = { q: this.qPtr, k: kCache.byteOffset, v: vCache.byteOffset, out: this.oPtr, T: rows, start: s, H: nHeads, Kv: nKvHeads, hd: headDim, scale, window: win };
      if (this.runner) this.runner.attention(call);
      else this.runHeads(call, 0, 0, nHeads);
      out.set(new Float32Array(buf, this.oPtr, rows * R), t0 * R);
    }
  }
}
