/**
 * attention() over an f32 KV cache in WebAssembly SIMD (attention.wat): the same sums in f64
 * in the same order, so the same bits as the TypeScript reference, several times faster. The
 * cache lives in the arena (the model allocates it there); the query rows and the output go
 * through staging rows, `chunk` query rows at a time. Probabilities are not captured here:
 * a caller that wants them runs the reference.
 */
import { compileWasm, instantiate, type WasmArena } from '../wasm';
import { checkAttentionArgs, type AttentionArgs } from './attention';
import { WASM_BASE64, WASM_SHARED_BASE64 } from './attention.wasm.gen';

type AttentionFn = (
  q: number,
  k: number,
  v: number,
  out: number,
  scores: number,
  qs: number,
  T: number,
  start: number,
  H: number,
  Kv: number,
  hd: number,
  scale: number,
  window: number,
) => void;

export class WasmAttention {
  private readonly qPtr: number;
  private readonly oPtr: number;
  private readonly scoresPtr: number;
  private readonly qsPtr: number;

  private constructor(
    private readonly arena: WasmArena,
    private readonly fn: AttentionFn,
    /** The most cache slots a call may read (the scores scratch). */
    readonly capacity: number,
    /** nHeads · headDim of the model it was made for. */
    private readonly rowFloats: number,
    private readonly headDim: number,
    private readonly chunk: number,
  ) {
    this.qPtr = arena.allocBytes(chunk * rowFloats * 4, 'attention query rows');
    this.oPtr = arena.allocBytes(chunk * rowFloats * 4, 'attention output rows');
    this.scoresPtr = arena.allocBytes(capacity * 8, 'attention scores');
    this.qsPtr = arena.allocBytes(headDim * 16, 'attention query splats');
  }

  /** The arena bytes create() takes. */
  static stagingBytes(capacity: number, nHeads: number, headDim: number, chunk = 16): number {
    return 2 * chunk * nHeads * headDim * 4 + capacity * 8 + headDim * 16 + 4 * 16;
  }

  /** The kernel on `arena`, for caches of up to `capacity` slots; undefined without SIMD. */
  static create(arena: WasmArena, capacity: number, nHeads: number, headDim: number, chunk = 16): WasmAttention | undefined {
    const mod = compileWasm(arena.shared ? WASM_SHARED_BASE64 : WASM_BASE64);
    if (!mod) return undefined;
    const fn = instantiate(mod, arena.memory, { exp: Math.exp }).attention as AttentionFn;
    return new WasmAttention(arena, fn, capacity, nHeads * headDim, headDim, chunk);
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
      this.fn(this.qPtr, kCache.byteOffset, vCache.byteOffset, this.oPtr, this.scoresPtr, this.qsPtr, rows, s, nHeads, nKvHeads, headDim, scale, win);
      out.set(new Float32Array(buf, this.oPtr, rows * R), t0 * R);
    }
  }
}
