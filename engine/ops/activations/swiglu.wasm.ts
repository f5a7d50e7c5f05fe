/**
 * swiglu() with SiLU in WebAssembly SIMD (swiglu.wat): f32 lanes and a polynomial exp where
 * the reference takes f64 and Math.exp, so within a few f32 ulps of it rather than its bits
 * (swiglu.wasm.test.ts states how close). Arrays inside the arena are worked on in place; any
 * others go through a staging area, `chunk` floats at a time, so every caller gets the same
 * arithmetic.
 */
import { align16, arenaKernel, type WasmArena } from '../wasm';
import { WASM_BASE64, WASM_SHARED_BASE64 } from './swiglu.wasm.gen';

/** swiglu(g, u, n): g[i] = silu(g[i]) · u[i] for i < n (byte pointers). */
type SwigluFn = (g: number, u: number, n: number) => void;

export class WasmSwiglu {
  private readonly gPtr: number;
  private readonly uPtr: number;

  private constructor(
    private readonly arena: WasmArena,
    private readonly fn: SwigluFn,
    private readonly chunk: number,
  ) {
    this.gPtr = arena.allocBytes(chunk * 4, 'swiglu staging (gate)');
    this.uPtr = arena.allocBytes(chunk * 4, 'swiglu staging (up)');
  }

  /** The arena bytes create() takes. */
  static stagingBytes(chunk = 4096): number {
    return 2 * align16(chunk * 4) + 32;
  }

  /** The kernel on `arena`, with staging for `chunk` floats; undefined without SIMD. */
  static create(arena: WasmArena, chunk = 4096): WasmSwiglu | undefined {
    const fn = arenaKernel<SwigluFn>(arena, WASM_BASE64, WASM_SHARED_BASE64, 'swiglu');
    return fn && new WasmSwiglu(arena, fn, chunk);
  }

  /** gate[i] = silu(gate[i]) · up[i] for i < n, in place. */
  run(gate: Float32Array, up: Float32Array, n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > gate.length || n > up.length) throw new RangeError(`swiglu: ${n} entries of gate [${gate.length}] and up [${up.length}]`);
    if (this.arena.owns(gate) && this.arena.owns(up)) {
      this.fn(gate.byteOffset, up.byteOffset, n);
      return;
    }
    const buf = this.arena.buffer;
    for (let i0 = 0; i0 < n; i0 += this.chunk) {
      const m = Math.min(this.chunk, n - i0);
      const g = new Float32Array(buf, this.gPtr, m); // [m]
      g.set(gate.subarray(i0, i0 + m));
      new Float32Array(buf, this.uPtr, m).set(up.subarray(i0, i0 + m));
      this.fn(this.gPtr, this.uPtr, m);
      gate.set(g, i0);
    }
  }
}
