/**
 * attention() over an f32 KV cache in WebAssembly SIMD (attention.wat): scores summed in f64
 * as the reference, the softmax and the weighted sum of V in f32x4 lanes (a polynomial exp), so
 * within f32 rounding of the TypeScript reference rather than its bits (attention.wasm.test.ts
 * states the tolerance). The
 * cache lives in the arena in the kernel's own layout — K in tiles of eight slots transposed
 * ([nKvHeads, capacity/8, headDim, 8]: eight keys' d-th values side by side, one KV head's
 * keys front to back), V in column blocks of sixteen dimensions ([nKvHeads, headDim/16, capacity,
 * 16]: each pass over the values reads one block front to back) — so it is allocated
 * with allocCache() and filled with write(), never read as the reference's [slot, head, d].
 * Query rows and output outside the arena go through staging rows, `chunk` query rows at a time.
 * Probabilities (captures) come from the same kernel, one head at a time. A thread runner
 * (engine/cli/threads.ts) may split the query heads over threads, each with its own scratch set.
 */
import { align16, compileWasm, instantiate, type WasmArena } from '../wasm';
import { checkAttentionArgs, type AttentionArgs } from './attention';
import { WASM_BASE64, WASM_SHARED_BASE64 } from './attention.wasm.gen';

/** attention(q, k, v, out, scores, T, start, H, h0, h1, Kv, hd, ctx, scale, window): query heads h0 … h1−1 (byte pointers; ctx: the cache's slots). */
export type AttentionFn = (
  q: number,
  k: number,
  v: number,
  out: number,
  scores: number,
  T: number,
  start: number,
  H: number,
  h0: number,
  h1: number,
  Kv: number,
  hd: number,
  ctx: number,
  scale: number,
  window: number,
) => void;

/** write(kc, vc, k, v, start, T, Kv, hd, ctx): rows into cache slots start … start+T−1 (byte pointers). */
type WriteFn = (kc: number, vc: number, k: number, v: number, start: number, T: number, Kv: number, hd: number, ctx: number) => void;

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
  /** Slots of the cache (its layout's stride). */
  ctx: number;
  scale: number;
  window: number;
}

/** Splits the query heads over threads (engine/cli/threads.ts). */
export interface AttentionRunner {
  attention(call: AttentionCall): void;
}

/** Bytes the kernel may read past the end of a K cache (its last keys' SIMD lanes). */
const K_SLACK = 32;
/** Slots the kernel may write past the last key in the scores scratch. */
const SCORES_SLACK = 8;

/** The compiled kernel for an arena of this kind (shared or not), or null. */
export function attentionModule(shared: boolean) {
  return compileWasm(shared ? WASM_SHARED_BASE64 : WASM_BASE64);
}

export class WasmAttention {
  private readonly qPtr: number;
  private readonly oPtr: number;
  /** Per scratch set: scores f32 [capacity + 8]. */
  private readonly scratchPtrs: { scores: number }[] = [];
  /** Set by the CLI's thread pool: runs each call's heads over its threads. */
  runner?: AttentionRunner;
  /**
   * V's column blocks (attention.wat), sixteen dimensions wide, then eight, then the rest: for
   * dimension d, the offset of its column in a KV head's blocks (ctx · d0 + d − d0) and its block's width.
   */
  private readonly vDimAt: Int32Array;
  private readonly vDimWidth: Int32Array;

  private constructor(
    private readonly arena: WasmArena,
    private readonly fn: AttentionFn,
    private readonly writeFn: WriteFn,
    /** The slots of the caches it runs on (their layout's stride, and the scores scratch). */
    readonly capacity: number,
    /** nHeads · headDim of the model it was made for. */
    private readonly rowFloats: number,
    private readonly headDim: number,
    private readonly chunk: number,
    scratchSets: number,
  ) {
    this.vDimAt = new Int32Array(headDim);
    this.vDimWidth = new Int32Array(headDim);
    for (let d0 = 0; d0 < headDim;) {
      const w = headDim - d0 >= 16 ? 16 : headDim - d0 >= 8 ? 8 : headDim - d0;
      for (let d = d0; d < d0 + w; d++) {
        this.vDimAt[d] = capacity * d0 + d - d0;
        this.vDimWidth[d] = w;
      }
      d0 += w;
    }
    this.qPtr = arena.allocBytes(chunk * rowFloats * 4, 'attention query rows');
    this.oPtr = arena.allocBytes(chunk * rowFloats * 4, 'attention output rows');
    for (let i = 0; i < scratchSets; i++)
      this.scratchPtrs.push({
        scores: arena.allocBytes((capacity + SCORES_SLACK) * 4, 'attention scores'),
      });
  }

  /** The arena bytes create() takes. */
  static stagingBytes(capacity: number, nHeads: number, headDim: number, chunk = 16, scratchSets = 1): number {
    return 2 * chunk * nHeads * headDim * 4 + scratchSets * ((capacity + SCORES_SLACK) * 4 + 16) + 4 * 16;
  }

  /** The arena bytes allocCache() takes for one layer (K and V of `floats` each, with the K slack). */
  static cacheBytes(floats: number): number {
    return align16(floats * 4 + K_SLACK) + align16(floats * 4) + 16;
  }

  /** One layer's K and V caches in the arena, [capacity · nKvHeads · headDim] each (zeroed), in the kernel's layout. */
  allocCache(nKvHeads: number, what: string): { k: Float32Array; v: Float32Array } {
    const n = this.capacity * nKvHeads * this.headDim;
    const k = new Float32Array(this.arena.buffer, this.arena.allocBytes(n * 4 + K_SLACK, `${what} K cache`), n);
    return { k, v: this.arena.alloc(n, `${what} V cache`) };
  }

  /**
   * Writes T rows of keys and values, k and v [T, nKvHeads, headDim], into slots
   * start … start+T−1 of caches from allocCache(): in the kernel's `write` when the rows are in
   * the arena too, else here (the same copies).
   */
  write(kCache: Float32Array, vCache: Float32Array, k: Float32Array, v: Float32Array, start: number, T: number, nKvHeads: number): void {
    const hd = this.headDim;
    const ctx = this.capacity;
    if (start < 0 || start + T > ctx || kCache.length !== ctx * nKvHeads * hd || vCache.length !== kCache.length || k.length < T * nKvHeads * hd || v.length < k.length)
      throw new RangeError(`WasmAttention.write: ${T} rows at slot ${start} do not fit caches of ${ctx} slots × ${nKvHeads} KV heads × ${hd}`);
    if (this.arena.owns(k) && this.arena.owns(v) && this.arena.owns(kCache) && this.arena.owns(vCache)) {
      this.writeFn(kCache.byteOffset, vCache.byteOffset, k.byteOffset, v.byteOffset, start, T, nKvHeads, hd, ctx);
      return;
    }
    for (let t = 0; t < T; t++) {
      const slot = start + t;
      const tile = slot & ~7;
      const w = Math.min(8, ctx - tile); // the tile's width (the last may be narrower)
      for (let kvh = 0; kvh < nKvHeads; kvh++) {
        const src = (t * nKvHeads + kvh) * hd; // row [hd]
        const kt = (kvh * ctx + tile) * hd + (slot & 7); // column slot mod 8 of its tile [hd, w]
        const vt = kvh * ctx * hd; // this KV head's blocks
        const vo = this.vDimAt;
        const vw = this.vDimWidth;
        for (let d = 0; d < hd; d++) {
          kCache[kt + d * w] = k[src + d];
          vCache[vt + vo[d] + slot * vw[d]] = v[src + d]; // row `slot` of d's block [ctx, width]
        }
      }
    }
  }

  /**
   * The kernel on `arena`, for caches of up to `capacity` slots, with `scratchSets` scratch
   * sets (one per thread that may run it); undefined without SIMD.
   */
  static create(arena: WasmArena, capacity: number, nHeads: number, headDim: number, chunk = 16, scratchSets = 1): WasmAttention | undefined {
    const mod = attentionModule(arena.shared);
    if (!mod) return undefined;
    const ex = instantiate(mod, arena.memory);
    return new WasmAttention(arena, ex.attention as AttentionFn, ex.write as WriteFn, capacity, nHeads * headDim, headDim, chunk, scratchSets);
  }

  /** How many threads can run it at once (one scratch set each). */
  get scratchSets(): number {
    return this.scratchPtrs.length;
  }

  /** Thread i's share of a call: query heads h0 … h1−1 with scratch set i. */
  runHeads(call: AttentionCall, i: number, h0: number, h1: number, fn: AttentionFn = this.fn): void {
    const sc = this.scratchPtrs[i];
    fn(call.q, call.k, call.v, call.out, sc.scores, call.T, call.start, call.H, h0, h1, call.Kv, call.hd, call.ctx, call.scale, call.window);
  }

  /** Scratch set i's pointers (a worker thread runs the kernel with them). */
  scratch(i: number): { scores: number } {
    return this.scratchPtrs[i];
  }

  /** Whether run() can take these arguments: caches from allocCache(), the shapes it was made for. */
  accepts(a: AttentionArgs): boolean {
    return (
      this.arena.owns(a.kCache) &&
      this.arena.owns(a.vCache) &&
      a.kCache.length === this.capacity * a.nKvHeads * a.headDim &&
      a.vCache.length === a.kCache.length &&
      a.nHeads * a.headDim === this.rowFloats &&
      a.headDim === this.headDim &&
      a.start + a.T <= this.capacity &&
      (a.window === undefined || a.window >= 1)
    );
  }

  /**
   * attention(a), for arguments it accepts() (the cache written by write()); `scores` and
   * `acc` are not used. With `probs`, each (row, head) runs on its own and its probabilities
   * are copied out of the scores scratch.
   */
  run(a: AttentionArgs): void {
    const { out, q, kCache, vCache, T, start, nHeads, nKvHeads, headDim, scale, window, probs } = a;
    checkAttentionArgs(a);
    if (!this.accepts(a)) throw new RangeError('WasmAttention: arguments it was not made for (see accepts())');
    const Tk = start + T;
    if (probs !== undefined) {
      if (probs.length < nHeads * T * Tk) throw new RangeError('attention: probs too small');
      probs.fill(0, 0, nHeads * T * Tk);
    }
    const buf = this.arena.buffer;
    const R = this.rowFloats;
    const k = kCache.byteOffset;
    const v = vCache.byteOffset;
    const ctx = this.capacity;
    // query rows and output in the arena already are read and written in place
    const direct = this.arena.owns(q) && this.arena.owns(out);
    for (let t0 = 0; t0 < T; t0 += this.chunk) {
      const rows = Math.min(this.chunk, T - t0);
      const s = start + t0;
      const qp = direct ? q.byteOffset + t0 * R * 4 : this.qPtr;
      const op = direct ? out.byteOffset + t0 * R * 4 : this.oPtr;
      if (!direct) new Float32Array(buf, this.qPtr, rows * R).set(q.subarray(t0 * R, (t0 + rows) * R));
      if (probs === undefined) {
        // a window covering every slot is no window (and keeps the i32 argument small)
        const win = window === undefined || window >= s + rows ? 0 : window;
        const call: AttentionCall = { q: qp, k, v, out: op, T: rows, start: s, H: nHeads, Kv: nKvHeads, hd: headDim, ctx, scale, window: win };
        if (this.runner) this.runner.attention(call);
        else this.runHeads(call, 0, 0, nHeads);
      } else {
        const scores = this.scratchPtrs[0].scores;
        for (let r = 0; r < rows; r++) {
          const end = s + r + 1; // keys [lo, end)
          const lo = window === undefined ? 0 : Math.max(0, end - window);
          const win = window === undefined || window >= end ? 0 : window;
          const call: AttentionCall = {
            q: qp + r * R * 4,
            k,
            v,
            out: op + r * R * 4,
            T: 1,
            start: s + r,
            H: nHeads,
            Kv: nKvHeads,
            hd: headDim,
            ctx,
            scale,
            window: win,
          };
          for (let h = 0; h < nHeads; h++) {
            this.runHeads(call, 0, h, h + 1);
            probs.set(new Float32Array(buf, scores + lo * 4, end - lo), (h * T + t0 + r) * Tk + lo); // [H, T, Tk]
          }
        }
      }
      if (!direct) out.set(new Float32Array(buf, this.oPtr, rows * R), t0 * R);
    }
  }
}
