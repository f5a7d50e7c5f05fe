/**
 * Which backend runs the model, and why: the one answer the status bar (host), the
 * Generate tab, the Engine tab and the Model tab's "Run on" all show. Pure: it takes
 * what the worker probed (EngineEnv), the `llmPlayground.backend` setting, the Model
 * tab's choice and the device the loaded model is on, and yields {backend, label, reason}.
 * The webview computes it and sends it to the host (`backend` message), so the host
 * never decides on its own.
 */
import type { EngineEnv } from '../gpu/probe';
import type { PlaygroundSettings } from './shell';

/** The Model tab's "Run on" (and a loaded model's device). */
export type DeviceChoice = 'cpu' | 'gpu';

export interface BackendDecision {
  /** What runs (or will run) the model. */
  backend: 'webgpu' | 'cpu';
  /** For people: "WebGPU (google / swiftshader)", "CPU". */
  label: string;
  /** One sentence: why this backend. */
  reason: string;
  /** The WebGPU adapter found, by name; undefined when there is none. */
  adapter?: string;
  /** The adapter is a software one (SwiftShader, llvmpipe…): far slower than the CPU path. */
  software: boolean;
  /** The loaded model is an ONNX graph run by onnxruntime-web, on this execution provider. */
  ort?: OrtProvider;
}

/** onnxruntime-web's execution provider for a loaded ONNX model. */
export type OrtProvider = 'wasm' | 'webgpu';

/** For people: "onnxruntime-web (wasm EP)", "onnxruntime-web (WebGPU EP)". */
export function ortLabel(p: OrtProvider): string {
  return `onnxruntime-web (${p === 'webgpu' ? 'WebGPU' : 'wasm'} EP)`;
}

/** How much slower the engine runs on a software WebGPU adapter than on the CPU path (engine/gpu/BENCH.md). */
export const SOFTWARE_SLOWDOWN = '~150×';

/** The warning shown before WebGPU is chosen on a software adapter. */
export function softwareWarning(adapter: string): string {
  return `${adapter} is a software WebGPU adapter: the model runs ${SOFTWARE_SLOWDOWN} slower on it than on the CPU path.`;
}

/** The adapter's name as the UI shows it ("google / swiftshader"). */
export function adapterName(env: EngineEnv): string | undefined {
  if (env.backend !== 'webgpu') return undefined;
  const a = env.adapter;
  return [a?.vendor, a?.architecture].filter(Boolean).join(' / ') || a?.description || 'an unnamed adapter';
}

/** A software adapter: the browser says it is a fallback one, or its name is a known software rasteriser. */
export function isSoftwareAdapter(env: EngineEnv): boolean {
  if (env.backend !== 'webgpu') return false;
  const a = env.adapter;
  if (a?.isFallbackAdapter) return true;
  return /swiftshader|llvmpipe|lavapipe|softpipe|basic render|warp/i.test([a?.vendor, a?.architecture, a?.device, a?.description].join(' '));
}

export interface BackendInputs {
  /** What the worker probed; undefined before it answered. */
  env: EngineEnv | undefined;
  setting: PlaygroundSettings['backend'];
  /** The Model tab's "Run on", when the user chose; undefined: the default. */
  choice?: DeviceChoice;
  /** The device the loaded model is on; undefined when none is loaded. */
  loaded?: DeviceChoice;
  /** The loaded model runs on onnxruntime-web with this execution provider (an ONNX model). */
  ort?: OrtProvider;
}

/** Which backend runs and why; undefined before the engine was probed. */
export function decideBackend({ env, setting, choice, loaded, ort }: BackendInputs): BackendDecision | undefined {
  if (!env) return undefined;
  if (loaded && ort) {
    const adapter = adapterName(env);
    const reason =
      ort === 'webgpu'
        ? `The active model is an ONNX graph: onnxruntime-web runs it on its WebGPU execution provider${adapter ? ` (${adapter})` : ''}.`
        : `The active model is an ONNX graph: onnxruntime-web runs it on its WebAssembly (wasm) execution provider${loaded === 'gpu' || env.backend !== 'webgpu' ? '' : ' (the Model tab\'s "Run on" is the CPU)'}.`;
    return { backend: ort === 'webgpu' ? 'webgpu' : 'cpu', label: ortLabel(ort), reason, adapter, software: ort === 'webgpu' && isSoftwareAdapter(env), ort };
  }
  if (env.backend === 'cpu') {
    const reason = env.reason ?? 'No WebGPU adapter was found.';
    return { backend: 'cpu', label: 'CPU', reason, software: false };
  }
  const adapter = adapterName(env)!;
  const software = isSoftwareAdapter(env);
  const selfTestFailed = env.selfTest !== undefined && !env.selfTest.ok;
  const slow = software ? ` ${softwareWarning(adapter)}` : '';
  const make = (d: DeviceChoice, reason: string): BackendDecision =>
    d === 'gpu' ? { backend: 'webgpu', label: `WebGPU (${adapter})`, reason, adapter, software } : { backend: 'cpu', label: 'CPU', reason, adapter, software };

  // What the next load uses.
  let want: DeviceChoice;
  let why: string;
  if (choice === 'gpu') {
    want = 'gpu';
    why = `WebGPU was chosen in the Model tab's "Run on".${slow}`;
  } else if (choice === 'cpu') {
    want = 'cpu';
    why = `The CPU was chosen in the Model tab's "Run on" (the WebGPU adapter ${adapter} is there too).`;
  } else if (setting === 'webgpu') {
    want = 'gpu';
    why = `The setting llmPlayground.backend is "webgpu".${slow}`;
  } else if (selfTestFailed) {
    want = 'cpu';
    why = `The WebGPU self-test (${env.selfTest!.op}) failed on ${adapter}, so the CPU path is used; choose WebGPU in the Model tab's "Run on" to use it anyway.`;
  } else if (software) {
    want = 'cpu';
    why = `The only WebGPU adapter, ${adapter}, is a software one (${SOFTWARE_SLOWDOWN} slower than the CPU path), so the CPU path is used; choose WebGPU in the Model tab's "Run on" to use it anyway.`;
  } else {
    want = 'gpu';
    why = `The hardware WebGPU adapter ${adapter} was found.`;
  }
  if (loaded && loaded !== want) {
    const name = (d: DeviceChoice) => (d === 'gpu' ? 'WebGPU' : 'the CPU');
    return make(loaded, `The model was loaded on ${name(loaded)}; the Model tab's "Run on" now says ${name(want)}: reload it there to switch.`);
  }
  return make(want, why);
}
