/**
 * The CPU path's fast linear layer: the WebAssembly SIMD kernel of `matmul.wat`
 * (f32x4, four weight rows per pass over x) with the weights resident in one
 * WebAssembly.Memory. The plain-TypeScript `matmul.ts` stays the reference and the
 * fallback (no SIMD, weights too large for a 32-bit memory, weights replaced
 * after load — e.g. a LoRA merge).
 *
 * The memory is sized once and never grown: growing would detach every view.
 */
import { WASM_BASE64 } from './matmul.wasm.gen';

type MatmulFn = (w: number, x: number, out: number, T: number, K: number, N: number) => void;

/**
 * The part of the WebAssembly JS API used here. Node, browsers and workers all have the
 * `WebAssembly` global, but TypeScript declares it only in its DOM and WebWorker libs (and
 * @types/node 20 not at all), so the engine and extension configs, which have neither, would
 * not see it: read it off globalThis with these types instead.
 */
type WasmModule = object;
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => WasmModule;
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { readonly exports: Record<string, unknown> };
}
const wasmApi = (): WasmApi | undefined => (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: WasmModule | null | undefined;

function module(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  try {
    const bin = atob(WASM_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const wasm = wasmApi();
    compiled = typeof wasm === 'object' && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  } catch {
    compiled = null; // no WebAssembly, no SIMD, or a CSP that forbids compiling it
  }
  return compiled;
}

/** Whether this runtime can run the SIMD kernel. */
export function wasmSimdAvailable(): boolean {
  return module() !== null;
}

const PAGE = 65536;
/** Keep well inside what browsers give a 32-bit memory. */
const MAX_BYTES = 2 ** 31;

export class WasmMatmul {
  private readonly fn: MatmulFn;
  private top = 0; // bytes handed out
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly chunk: number;

  private constructor(
    readonly memory: WasmMemory,
    fn: MatmulFn,
    private readonly weightBytes: number,
    maxK: number,
    maxN: number,
    chunkRows: number,
  ) {
    this.fn = fn;
    this.chunk = chunkRows;
    this.inPtr = align(weightBytes);
    this.outPtr = align(this.inPtr + chunkRows * maxK * 4);
  }

  /**
   * An arena for `weightFloats` f32 weights, with room to stream rows of x (up to
   * maxK wide) and out (up to maxN wide), `chunkRows` rows at a time.
   * Undefined when SIMD is missing or the memory would be too large.
   */
  static create(weightFloats: number, maxK: number, maxN: number, chunkRows = 16): WasmMatmul | undefined {
    const mod = module();
    if (!mod) return undefined;
    // The weight region: every allocation is rounded up to 16 bytes, so leave room for that.
    const weightRegion = align(weightFloats * 4) + 16 * 4096;
    const total = weightRegion + align(chunkRows * maxK * 4) + align(chunkRows * maxN * 4);
    if (total > MAX_BYTES) return undefined;
    const wasm = wasmApi()!; // module() found it
    let memory: WasmMemory;
    try {
      const pages = Math.ceil(total / PAGE);
      memory = new wasm.Memory({ initial: pages, maximum: pages });
    } catch {
      return undefined; // the runtime would not give us that much
    }
    const inst = new wasm.Instance(mod, { env: { memory } });
    return new WasmMatmul(memory, inst.exports.matmul as MatmulFn, weightRegion, maxK, maxN, chunkRows);
  }

  /** A copy of `src` inside the arena (16-byte aligned). */
  adopt(src: Float32Array): Float32Array {
    const at = align(this.top);
    if (at + src.byteLength > this.weightBytes) throw new RangeError(`WasmMatmul: arena full (${this.weightBytes} bytes)`);
    const view = new Float32Array(this.memory.buffer, at, src.length);
    view.set(src);
    this.top = at + src.byteLength;
    return view;
  }

  /** True when `w` lives in this arena (so the kernel can read it in place). */
  owns(w: Float32Array): boolean {
    return w.buffer === this.memory.buffer;
  }

  /** out = x·Wᵀ (+ bias). w must be owned; x [T, K] and out [T, N] may live anywhere. */
  matmul(
    out: Float32Array, // [T, N]
    x: Float32Array, // [T, K]
    w: Float32Array, // [N, K], in the arena
    T: number,
    K: number,
    N: number,
    bias?: Float32Array, // [N]
  ): void {
    const buf = this.memory.buffer;
    for (let t0 = 0; t0 < T; t0 += this.chunk) {
      const rows = Math.min(this.chunk, T - t0);
      new Float32Array(buf, this.inPtr, rows * K).set(x.subarray(t0 * K, (t0 + rows) * K));
      this.fn(w.byteOffset, this.inPtr, this.outPtr, rows, K, N);
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

function align(n: number): number {
  return Math.ceil(n / 16) * 16;
}
