/**
 * The CPU forward's reusable activations, and the row-wise ops that run on them (the norms with
 * the residual add before them, RoPE, the gated MLP's product): in WebAssembly on rows inside the
 * model's arena when its kernels run there (`engine/ops/<op>/<op>.wasm.ts`), else the TypeScript
 * references.
 */
import { swiglu } from '../ops/activations/activations';
import { WasmSwiglu } from '../ops/activations/swiglu.wasm';
import { layernorm } from '../ops/layernorm/layernorm';
import { rmsnorm } from '../ops/rmsnorm/rmsnorm';
import { WasmRmsnorm } from '../ops/rmsnorm/rmsnorm.wasm';
import { applyRope } from '../ops/rope/rope';
import { WasmRope } from '../ops/rope/rope.wasm';
import { align16, type WasmArena } from '../ops/wasm';
import type { ModelConfig } from './types';

/** Rows of activations kept in the WebAssembly memory, when the kernels run there: a forward of up to this many tokens (decode) passes them between kernels in place. */
export const ARENA_ROWS = 16;

/** Reusable activations for up to `cap` rows, as plain arrays or (`alloc`) inside a WasmArena. */
export class Scratch {
  x: Float32Array; // [cap, D] residual stream
  h: Float32Array; // [cap, D] normed
  q: Float32Array; // [cap, H·hd]
  k: Float32Array; // [cap, Kv·hd]
  v: Float32Array; // [cap, Kv·hd]
  att: Float32Array; // [cap, H·hd]
  o: Float32Array; // [cap, D]
  g: Float32Array; // [cap, I]
  u: Float32Array; // [cap, I]
  m: Float32Array; // [cap, D]
  xs: Float32Array; // [cap, D] MoE gathered rows
  ys: Float32Array; // [cap, D] MoE expert output
  rl: Float32Array; // [cap, E] router logits
  cos: Float32Array; // [cap, hd/2]
  sin: Float32Array; // [cap, hd/2]
  lora = new Float32Array(0); // [cap, r]
  constructor(
    readonly cap: number,
    c: ModelConfig,
    alloc: (n: number, what: string) => Float32Array = (n) => new Float32Array(n),
  ) {
    const D = c.hiddenSize;
    const I = c.intermediateSize;
    this.x = alloc(cap * D, 'residual stream');
    this.h = alloc(cap * D, 'normed rows');
    this.q = alloc(cap * c.numHeads * c.headDim, 'queries');
    this.k = alloc(cap * c.numKvHeads * c.headDim, 'keys');
    this.v = alloc(cap * c.numKvHeads * c.headDim, 'values');
    this.att = alloc(cap * c.numHeads * c.headDim, 'attention output');
    this.o = alloc(cap * D, 'attention projection');
    this.g = alloc(cap * I, 'gate');
    this.u = alloc(cap * I, 'up');
    this.m = alloc(cap * D, 'MLP output');
    this.xs = alloc(c.moe ? cap * D : 0, 'MoE rows');
    this.ys = alloc(c.moe ? cap * D : 0, 'MoE expert output');
    this.rl = alloc(c.moe ? cap * c.moe.numExperts : 0, 'router logits');
    this.cos = alloc(cap * (c.headDim >> 1), 'RoPE cos');
    this.sin = alloc(cap * (c.headDim >> 1), 'RoPE sin');
  }

  /** The arena bytes a Scratch of `cap` rows takes there (each array 16-byte aligned). */
  static arenaBytes(cap: number, c: ModelConfig): number {
    let bytes = 0;
    new Scratch(cap, c, (n) => {
      bytes += align16(n * 4);
      return new Float32Array(0);
    });
    return bytes;
  }
}

/** x += r over x's length. */
export function addInto(x: Float32Array, r: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += r[i];
}

/** The row-wise ops of a forward, per the config: in WebAssembly on `arena` when given (and SIMD is there). */
export class RowOps {
  private readonly wasmNorm?: WasmRmsnorm;
  private readonly wasmRope?: WasmRope;
  private readonly wasmSwiglu?: WasmSwiglu;

  constructor(
    private readonly c: ModelConfig,
    arena?: WasmArena,
  ) {
    if (!arena) return;
    if (c.norm.kind === 'rms') this.wasmNorm = WasmRmsnorm.create(arena);
    this.wasmRope = WasmRope.create(arena);
    this.wasmSwiglu = WasmSwiglu.create(arena);
  }

  /** The arena bytes the ops take there (SwiGLU's staging). */
  static arenaBytes(): number {
    return WasmSwiglu.stagingBytes();
  }

  /** x += residual when given, then RMSNorm or LayerNorm over rows of width dim, per the config. x, out: [rows, dim] exactly. */
  norm(out: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array | undefined, dim: number, residual?: Float32Array): void {
    const eps = this.c.norm.eps;
    if (this.wasmNorm) return this.wasmNorm.run(out, x, w, dim, eps, residual);
    if (residual) addInto(x, residual);
    if (this.c.norm.kind === 'rms') rmsnorm(out, x, w, dim, eps);
    else layernorm(out, x, w, b, dim, eps);
  }

  /** RMSNorm over rows of width dim (the per-head q/k norms). */
  rms(out: Float32Array, x: Float32Array, w: Float32Array, dim: number): void {
    if (this.wasmNorm) this.wasmNorm.run(out, x, w, dim, this.c.norm.eps);
    else rmsnorm(out, x, w, dim, this.c.norm.eps);
  }

  /** RoPE over rows [T, heads, headDim] in place. */
  rope(x: Float32Array, cos: Float32Array, sin: Float32Array, T: number, heads: number): void {
    const hd = this.c.headDim;
    if (this.wasmRope) this.wasmRope.run(x, cos, sin, T, heads, hd, hd, this.c.rope!.style);
    else applyRope(x, cos, sin, T, heads, hd, hd, this.c.rope!.style);
  }

  /** The gated MLP's product in place: g = act(g) · u over n entries (SiLU in WebAssembly when it runs there). */
  glu(g: Float32Array, u: Float32Array, n: number): void {
    if (this.wasmSwiglu && this.c.activation === 'silu') this.wasmSwiglu.run(g, u, n);
    else swiglu(g, u, n, this.c.activation);
  }
}
