/**
 * applyRope() in WebAssembly (rope.wat): the same arithmetic as the reference, so the same
 * bits. Runs in the kernel when x, cos and sin all live in the arena (decode's rows do), else in
 * the reference.
 */
import { arenaKernel, type WasmArena } from '../wasm';
import { applyRope } from './rope';
import { WASM_BASE64, WASM_SHARED_BASE64 } from './rope.wasm.gen';

/** rope(x, cos, sin, T, nHeads, headDim, rotaryDim, interleaved): byte pointers. */
type RopeFn = (x: number, cos: number, sin: number, T: number, H: number, hd: number, rd: number, interleaved: number) => void;

export class WasmRope {
  private constructor(
    private readonly arena: WasmArena,
    private readonly fn: RopeFn,
  ) {}

  /** The kernel on `arena`; undefined without SIMD. */
  static create(arena: WasmArena): WasmRope | undefined {
    const fn = arenaKernel<RopeFn>(arena, WASM_BASE64, WASM_SHARED_BASE64, 'rope');
    return fn && new WasmRope(arena, fn);
  }

  /** applyRope(x, cos, sin, T, nHeads, headDim, rotaryDim, style), x [T, nHeads, headDim] in place, cos and sin [T, rotaryDim/2]. */
  run(x: Float32Array, cos: Float32Array, sin: Float32Array, T: number, nHeads: number, headDim: number, rotaryDim: number, style: 'half' | 'interleaved'): void {
    const a = this.arena;
    if (x.length < T * nHeads * headDim || cos.length < (T * rotaryDim) >> 1 || sin.length < (T * rotaryDim) >> 1 || rotaryDim > headDim)
      throw new RangeError(`rope: x [${x.length}], cos [${cos.length}] or sin [${sin.length}] too short for ${T} rows of ${nHeads} heads of ${headDim} (${rotaryDim} rotated)`);
    if (a.owns(x) && a.owns(cos) && a.owns(sin)) this.fn(x.byteOffset, cos.byteOffset, sin.byteOffset, T, nHeads, headDim, rotaryDim, style === 'interleaved' ? 1 : 0);
    else applyRope(x, cos, sin, T, nHeads, headDim, rotaryDim, style);
  }
}
