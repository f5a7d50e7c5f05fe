/**
 * The CPU path's fast linear layer: the WebAssembly SIMD kernel of `matmul.wat` (f32x4,
 * W read front to back as one stream, each row dotted with four rows of x at a time) with
 * the weights resident in a WasmArena (engine/ops/wasm.ts). The plain-TypeScript
 * `matmul.ts` stays the reference and the fallback (no SIMD, weights too large for a
 * 32-bit memory, weights replaced after load — e.g. a LoRA merge).
 */
import { compileWasm, instantiate, align16, WasmArena, type WasmMemory } from '../wasm';
import { WASM_BASE64, WASM_SHARED_BASE64 } from './matmul.wasm.gen';

/** matmul(w, x, out, T, K, N, ldo): out[t·ldo + j] = x[t]·w[j] for j < N (byte pointers). */
export type MatmulFn = (w: number, x: number, out: number, T: number, K: number, N: number, ldo: number) => void;

/** Splits the rows of W over threads (engine/cli/threads.ts); runs the whole call when absent. */
export interface MatmulRunner {
  matmul(w: number, x: number, out: number, T: number, K: number, N: number): void;
}

/** Whether this runtime can run the SIMD kernel. */
export function wasmSimdAvailable(): boolean {
  return compileWasm(WASM_BASE64) !== null;
}

/** The compiled kernel for an arena of this kind (shared or not), or null. */
export function matmulModule(shared: boolean) {
  return compileWasm(shared ? WASM_SHARED_BASE64 : WASM_BASE64);
}

/** The kernel bound to `memory` (a worker thread binds its own instance to the shared memory). */
export function matmulKernel(memory: WasmMemory, shared: boolean): MatmulFn | undefined {
  const mod = matmulModule(shared);
  return mod ? (instantiate(mod, memory).matmul as MatmulFn) : undefined;
}

export class WasmMatmul {
  /** The kernel itself, on this arena (a thread runner runs its own share of rows with it). */
  readonly kernel: MatmulFn;
  private readonly inPtr: number;
  private readonly outPtr: number;
  /** Set by the CLI's thread pool: runs each call's rows of W over its threads. */
  runner?: MatmulRunner;

  private constructor(
    readonly arena: WasmArena,
    fn: MatmulFn,
    maxK: number,
    maxN: number,
    private readonly chunk: number,
  ) {
    this.kernel = fn;
    this.inPtr = arena.allocBytes(chunk * maxK * 4, 'matmul input rows');
    this.outPtr = arena.allocBytes(chunk * maxN * 4, 'matmul output rows');
  }

  /** The arena bytes the kernel's staging takes: `chunkRows` rows of x (up to maxK wide) and of out (up to maxN). */
  static stagingBytes(maxK: number, maxN: number, chunkRows = 16): number {
    return align16(chunkRows * maxK * 4) + align16(chunkRows * maxN * 4) + 32;
  }

  /** The kernel on an existing arena (its staging allocated there); undefined without SIMD. */
  static on(arena: WasmArena, maxK: number, maxN: number, chunkRows = 16): WasmMatmul | undefined {
    const fn = matmulKernel(arena.memory, arena.shared);
    return fn ? new WasmMatmul(arena, fn, maxK, maxN, chunkRows) : undefined;
  }

  /**
   * An arena of its own for `weightFloats` f32 weights, with room to stream rows of x (up to
   * maxK wide) and out (up to maxN wide), `chunkRows` rows at a time.
   * Undefined when SIMD is missing or the memory would be too large.
   */
  static create(weightFloats: number, maxK: number, maxN: number, chunkRows = 16): WasmMatmul | undefined {
    if (!wasmSimdAvailable()) return undefined;
    // every allocation is rounded up to 16 bytes: leave room for that
    const arena = WasmArena.create(align16(weightFloats * 4) + 16 * 4096 + WasmMatmul.stagingBytes(maxK, maxN, chunkRows));
    return arena && WasmMatmul.on(arena, maxK, maxN, chunkRows);
  }

  get memory(): WasmMemory {
    return this.arena.memory;
  }

  /** A copy of `src` inside the arena (16-byte aligned). */
  adopt(src: Float32Array): Float32Array {
    return this.arena.adopt(src);
  }

  /** True when `w` lives in this arena (so the kernel can read it in place). */
  owns(w: Float32Array): boolean {
    return this.arena.owns(w);
  }

  /**
   * out = x·Wᵀ (+ bias). w must be owned; x [T, K] and out [T, N] may live anywhere: in the
   * arena they are used in place, else they go through its staging rows, `chunk` rows at a time.
   */
  matmul(
    out: Float32Array, // [T, N]
    x: Float32Array, // [T, K]
    w: Float32Array, // [N, K], in the arena
    T: number,
    K: number,
    N: number,
    bias?: Float32Array, // [N]
  ): void {
    if (this.arena.owns(x) && this.arena.owns(out)) {
      // rows already in the arena: read and written in place
      if (this.runner) this.runner.matmul(w.byteOffset, x.byteOffset, out.byteOffset, T, K, N);
      else this.kernel(w.byteOffset, x.byteOffset, out.byteOffset, T, K, N, N);
      if (bias !== undefined) for (let r = 0; r < T; r++) for (let j = 0; j < N; j++) out[r * N + j] += bias[j];
      return;
    }
    const buf = this.arena.buffer;
    for (let t0 = 0; t0 < T; t0 += this.chunk) {
      const rows = Math.min(this.chunk, T - t0);
      new Float32Array(buf, this.inPtr, rows * K).set(x.subarray(t0 * K, (t0 + rows) * K));
      if (this.runner) this.runner.matmul(w.byteOffset, this.inPtr, this.outPtr, rows, K, N);
      else this.kernel(w.byteOffset, this.inPtr, this.outPtr, rows, K, N, N);
      const res = new Float32Array(buf, this.outPtr, rows * N);
      const o = out.subarray(t0 * N, (t0 + rows) * N);
      if (bias === undefined) {
        o.set(res);
      } else {
        for (let r = 0; r < rows; r++) for (let j = 0; j < N; j++) o[r * N + j] = res[r * N + j] + bias[j];
      }
    }
  }
}
