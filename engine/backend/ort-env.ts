/**
 * onnxruntime-web's global settings, set once before its first session: where its
 * WebAssembly files are (the caller knows: the CLI's dist folder, the webview's resource
 * URL; unset, ort finds them beside its own script, as in node_modules), how many wasm
 * threads (1 unless told: threads need cross-origin isolation in a page and worker threads
 * in Node, and the playground already runs in a worker), and its log level. In the playground's
 * worker the wasm file's bytes come from the page (`loadWasm`), asked for the first time a
 * session opens: a VS Code webview's resources are served to its document, not to its worker.
 */
import * as ort from 'onnxruntime-web';

export interface OrtSetup {
  /** A URL prefix (ending in "/") of the folder holding ort-wasm-simd-threaded*.{mjs,wasm}, or the files' URLs. */
  wasmPaths?: string | { mjs?: string; wasm?: string };
  /** The wasm build's threads (default 1). */
  numThreads?: number;
  /** Gets the wasm file's bytes before the first session (undefined: ort fetches it from wasmPaths). */
  loadWasm?: () => Promise<ArrayBuffer | undefined>;
}

let started = false;
let loadWasm: OrtSetup['loadWasm'];
let wasmLoaded: Promise<void> | undefined;

/** Sets ort's environment; only before the first session (ort reads it once). A later call that changes nothing is allowed. */
export function setupOrt(s: OrtSetup = {}): void {
  if (started) {
    if (s.wasmPaths !== undefined && JSON.stringify(s.wasmPaths) !== JSON.stringify(ort.env.wasm.wasmPaths))
      throw new Error('onnxruntime-web is already initialised: setupOrt({ wasmPaths }) must come before the first ONNX session');
    return;
  }
  if (s.wasmPaths !== undefined) ort.env.wasm.wasmPaths = s.wasmPaths as typeof ort.env.wasm.wasmPaths;
  if (s.numThreads !== undefined) ort.env.wasm.numThreads = s.numThreads;
  if (s.loadWasm) loadWasm = s.loadWasm;
}

/** Called by the backend before it opens a session: the wasm bytes where setupOrt said how to get them, and the defaults for what the caller left unset. */
export async function ortStarting(): Promise<typeof ort> {
  if (loadWasm && !started) {
    const load = loadWasm;
    wasmLoaded ??= load().then((b) => {
      if (b) ort.env.wasm.wasmBinary = b;
    });
    await wasmLoaded;
  }
  if (!started) {
    ort.env.wasm.numThreads ??= 1;
    ort.env.logLevel = 'error';
    started = true;
  }
  return ort;
}

/** Whether the WebGPU execution provider can be asked for here (a page or worker with navigator.gpu). */
export function ortWebGpuAvailable(): boolean {
  return !!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
}
