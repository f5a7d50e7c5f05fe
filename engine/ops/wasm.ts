/**
 * What the CPU path's WebAssembly kernels share: the WebAssembly API, compiling a kernel's
 * bytes (once per module), and the arena — one memory that holds the weights, the KV cache
 * and the kernels' staging areas, handed out front to back and never grown (growing would
 * detach every view).
 *
 * A shared arena (a SharedArrayBuffer under it) can be read and written by worker threads
 * running the same kernels: the CLI's --threads (engine/cli/threads.ts). It needs
 * SharedArrayBuffer, which browsers give only to cross-origin-isolated pages.
 */

/**
 * The part of the WebAssembly JS API used here. Node, browsers and workers all have the
 * `WebAssembly` global, but TypeScript declares it only in its DOM and WebWorker libs (and
 * @types/node 20 not at all), so the engine and extension configs, which have neither, would
 * not see it: read it off globalThis with these types instead.
 */
export type WasmModule = object;
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => WasmModule;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { readonly exports: Record<string, unknown> };
}
export const wasmApi = (): WasmApi | undefined => (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const compiled = new Map<string, WasmModule | null>();

/** The module in `base64`, compiled once; null when this runtime cannot (no WebAssembly, no SIMD, a CSP that forbids it). */
export function compileWasm(base64: string): WasmModule | null {
  let m = compiled.get(base64);
  if (m !== undefined) return m;
  try {
    const bin = atob(base64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const wasm = wasmApi();
    m = typeof wasm === 'object' && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  } catch {
    m = null;
  }
  compiled.set(base64, m);
  return m;
}

export function instantiate(mod: WasmModule, memory: WasmMemory, imports: Record<string, unknown> = {}): Record<string, unknown> {
  return new (wasmApi()!.Instance)(mod, { env: { memory, ...imports } }).exports;
}

/** Whether this runtime can make a shared WebAssembly memory (Node; browsers when cross-origin isolated). */
export function sharedMemoryAvailable(): boolean {
  return typeof SharedArrayBuffer === 'function' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
}

export const WASM_PAGE = 65536;
/** Keep well inside what browsers give a 32-bit memory. */
export const WASM_MAX_BYTES = 2 ** 31;

export function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/** One memory, handed out front to back in 16-byte-aligned pieces. */
export class WasmArena {
  private top = 0;

  /** The memory's buffer, read once: it stays the same object as long as the memory is not grown, and the arena never grows it (the getter is a call into the runtime, and owns() runs a few hundred times a token). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;

  private constructor(
    readonly memory: WasmMemory,
    readonly bytes: number,
    readonly shared: boolean,
  ) {
    this.buffer = memory.buffer;
  }

  /** An arena of at least `bytes` bytes; undefined when WebAssembly is missing or the runtime will not give that much. */
  static create(bytes: number, shared = false): WasmArena | undefined {
    const wasm = wasmApi();
    if (!wasm || bytes > WASM_MAX_BYTES || (shared && !sharedMemoryAvailable())) return undefined;
    const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
    try {
      return new WasmArena(new wasm.Memory({ initial: pages, maximum: pages, shared: shared || undefined }), pages * WASM_PAGE, shared);
    } catch {
      return undefined;
    }
  }

  /** Bytes handed out so far. */
  get used(): number {
    return this.top;
  }

  /** The byte offset of `bytes` fresh bytes (zero: the memory starts zeroed and is handed out once). */
  allocBytes(bytes: number, what: string): number {
    const at = align16(this.top);
    if (at + bytes > this.bytes) throw new RangeError(`WasmArena: arena full (${this.bytes} bytes) allocating ${bytes} bytes for ${what}`);
    this.top = at + bytes;
    return at;
  }

  /** n zeroed f32 inside the arena. */
  alloc(n: number, what: string): Float32Array {
    return new Float32Array(this.buffer, this.allocBytes(n * 4, what), n);
  }

  /** A copy of `src` inside the arena (16-byte aligned). */
  adopt(src: Float32Array, what = 'weights'): Float32Array {
    const view = this.alloc(src.length, what);
    view.set(src);
    return view;
  }

  /** True when `a` lives in this arena (so a kernel can read it in place). */
  owns(a: ArrayBufferView): boolean {
    return a.buffer === this.buffer;
  }
}

/**
 * Export `name` of a kernel module instantiated on `arena`'s memory: the shared-memory build
 * when the arena is shared, else the plain one; undefined without SIMD.
 */
export function arenaKernel<F>(arena: WasmArena, plain: string, shared: string, name: string): F | undefined {
  const mod = compileWasm(arena.shared ? shared : plain);
  return mod ? (instantiate(mod, arena.memory)[name] as F) : undefined;
}
