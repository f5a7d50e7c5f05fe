/**
 * rmsnorm() in WebAssembly (rmsnorm.wat), with the residual add before it fused in: the same
 * arithmetic as the reference, so the same bits. Runs in the kernel when every array lives in
 * the arena, else in the reference (decode's rows are in the arena; a long prefill's are not).
 */
import { arenaKernel, type WasmArena } from '../wasm';
import { rmsnorm } from './rmsnorm';
import { WASM_BASE64, WASM_SHARED_BASE64 } from './rmsnorm.wasm.gen';

/** rmsnorm(x, r, w, out, rows, dim, eps): byte pointers, r = 0 for no residual. */
type RmsnormFn = (x: number, r: number, w: number, out: number, rows: number, dim: number, eps: number) => void;

export class WasmRmsnorm {
  private constructor(
    private readonly arena: WasmArena,
    private readonly fn: RmsnormFn,
  ) {}

  /** The kernel on `arena`; undefined without SIMD. */
  static create(arena: WasmArena): WasmRmsnorm | undefined {
    const fn = arenaKernel<RmsnormFn>(arena, WASM_BASE64, WASM_SHARED_BASE64, 'rmsnorm');
    return fn && new WasmRmsnorm(arena, fn);
  }

  /**
   * x += residual (when given), then rmsnorm(out, x, weight, dim, eps) over the rows of x.
   * x [rows, dim] exactly, residual and out at least as long, weight [dim].
   */
  run(out: Float32Array, x: Float32Array, weight: Float32Array, dim: number, eps: number, residual?: Float32Array): void {
    const rows = x.length / dim;
    if (!Number.isInteger(rows) || out.length < x.length || weight.length < dim || (residual && residual.length < x.length))
      throw new RangeError(`rmsnorm: x [${x.length}] is not whole rows of ${dim}, or out [${out.length}], weight [${weight.length}] or the residual is short`);
    const a = this.arena;
    if (a.owns(out) && a.owns(x) && a.owns(weight) && (!residual || a.owns(residual))) {
      this.fn(x.byteOffset, residual ? residual.byteOffset : 0, weight.byteOffset, out.byteOffset, rows, dim, eps);
      return;
    }
    if (residual) for (let i = 0; i < x.length; i++) x[i] += residual[i];
    rmsnorm(out, x, weight, dim, eps);
  }
}
