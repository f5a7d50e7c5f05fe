/**
 * The engine worker: started by the webview from a blob: URL. It owns the GPU
 * device (or the CPU path) and answers WebviewToWorker requests.
 */
/// <reference lib="webworker" />
import type { EngineEnv, PlaygroundSettings, WebviewToWorker, WorkerToWebview } from '../protocol/index';
import { errorText, openGpu, selfTest } from '../gpu/probe';
import { ModelSession } from './session';
import { setupOrt } from '../backend/ort-env';

declare const self: DedicatedWorkerGlobalScope;

function post(msg: WorkerToWebview): void {
  self.postMessage(msg);
}

async function probe(id: number, backend: PlaygroundSettings['backend']): Promise<void> {
  let env: EngineEnv;
  if (backend === 'cpu') {
    env = { backend: 'cpu', reason: 'The CPU path was chosen in the settings (llmPlayground.backend = "cpu").' };
  } else {
    const opened = await openGpu((self.navigator as Navigator & { gpu?: GPU }).gpu);
    env = opened.env;
    if ('device' in opened) {
      // the Generate tab's "WebGPU" device: the session creates the webgpu backend on it
      session.setGpuDevice(opened.device);
      opened.device.lost.then((info) => {
        session.setGpuDevice(undefined);
        session.dispose();
        post({ type: 'fatal', message: `The WebGPU device was lost (${info.reason}): ${info.message || 'no details'}. Reload the playground to retry, or use the CPU path.` });
      });
      try {
        env.selfTest = await selfTest(opened.device);
        if (!env.selfTest.ok) {
          post({ type: 'log', level: 'warn', message: `WebGPU self-test differs from the CPU reference by ${env.selfTest.maxAbsDiff}` });
        }
      } catch (e) {
        env = { ...env, backend: 'cpu', reason: `The WebGPU self-test failed: ${errorText(e)}; the CPU path will be used.` };
      }
    }
  }
  env.userAgent = self.navigator.userAgent;
  if (backend === 'webgpu' && env.backend !== 'webgpu') {
    post({ type: 'fatal', message: `WebGPU was required (llmPlayground.backend = "webgpu") but is not usable: ${env.reason}` });
    return;
  }
  post({ type: 'env', id, env });
}

/** The page's answers to ortWasmRequest, by reqId. */
const ortWasmWaiting = new Map<number, (b: ArrayBuffer | undefined) => void>();
let nextOrtReq = 1;

/** onnxruntime-web's wasm bytes, from the page (which can fetch the webview's resources). */
function askPageForOrtWasm(): Promise<ArrayBuffer | undefined> {
  const reqId = nextOrtReq++;
  return new Promise((resolve) => {
    ortWasmWaiting.set(reqId, resolve);
    post({ type: 'ortWasmRequest', reqId });
  });
}

/** Loading the active model and generating with it (engine/worker/session.ts). */
const session = new ModelSession(post, yieldToMessages);

/** Resolves after pending messages (a Stop) had their turn; faster than setTimeout's 4 ms clamp. */
function yieldToMessages(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

self.onmessage = (ev: MessageEvent<WebviewToWorker>) => {
  const msg = ev.data;
  if (session.handle(msg)) return;
  switch (msg.type) {
    case 'probe':
      // onnxruntime-web (ONNX models): its wasm file from the extension's dist, one thread (this worker is the thread)
      if (msg.ortWasm) setupOrt({ wasmPaths: { wasm: msg.ortWasm }, numThreads: 1, loadWasm: msg.ortWasmFromPage ? askPageForOrtWasm : undefined });
      probe(msg.id, msg.backend).catch((e) => post({ type: 'fatal', message: `Engine probe failed: ${errorText(e)}` }));
      break;
    case 'ortWasmData': {
      const p = ortWasmWaiting.get(msg.reqId);
      ortWasmWaiting.delete(msg.reqId);
      if (msg.error) post({ type: 'log', level: 'warn', message: `onnxruntime-web's wasm file did not come from the page (${msg.error}); fetching its URL instead` });
      p?.(msg.bytes);
      break;
    }
    default:
      post({ type: 'log', level: 'warn', message: `Worker ignored unknown message ${JSON.stringify((msg as { type?: unknown }).type)}` });
  }
};

self.addEventListener('unhandledrejection', (ev) => {
  post({ type: 'fatal', message: `Unhandled error in the engine worker: ${errorText(ev.reason)}` });
});
