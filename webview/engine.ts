/**
 * The engine worker as the webview sees it: started from a blob: URL (a webview
 * may start workers only from blob:/data: URLs), probed for its environment,
 * restarted on demand. Panels subscribe to its state.
 */
import type { AnsweredRequest, EngineEnv, PlaygroundSettings, ReplyOf, WebviewToWorker, WorkerToWebview } from '../engine/protocol/index';
import { ORT_WASM_FILE, parseWorkerMessage, WORKER_REPLIES } from '../engine/protocol/index';
import { getState, send, setState } from './host';

export interface EngineState {
  env?: EngineEnv;
  error?: string;
}

let worker: Worker | undefined;
let workerUri: string | undefined;
let settings: PlaygroundSettings = { backend: 'auto' };
let nextId = 1;
let current: EngineState = getState<EngineState>('engine') ?? {};
const subscribers = new Set<(s: EngineState) => void>();
const workerListeners = new Set<(m: WorkerToWebview) => void>();
/** Requests sent with askWorker that still expect answers, by id. */
const asked = new Map<number, { type: AnsweredRequest; replies: readonly string[]; last: readonly string[]; onReply: (m: WorkerToWebview) => void }>();

export function engineState(): EngineState {
  return current;
}

export function onEngineState(fn: (s: EngineState) => void): void {
  subscribers.add(fn);
}

/** Every message from the worker (after validation), for panels that talk to it. */
export function onWorkerMessage(fn: (m: WorkerToWebview) => void): void {
  workerListeners.add(fn);
}

export function postToWorker(msg: WebviewToWorker): boolean {
  if (!worker) return false;
  worker.postMessage(msg);
  return true;
}

function newRequestId(): number {
  return nextId++;
}

/** A request to the worker without the id askWorker gives it. */
export type AskBody<T extends AnsweredRequest> = { type: T } & Omit<Extract<WebviewToWorker, { type: T }>, 'type' | 'id'>;

/**
 * Sends a request to the worker under a new id; `onReply` gets the worker's answers to it
 * (the protocol's ReplyOf, e.g. loadProgress… then loaded or loadFailed) until the last one.
 * Returns the id (to cancel or stop it), or undefined when no worker runs.
 */
export function askWorker<T extends AnsweredRequest>(msg: AskBody<T>, onReply: (m: ReplyOf<T>) => void): number | undefined {
  if (!worker) return undefined;
  const id = newRequestId();
  const { replies, last } = WORKER_REPLIES[msg.type];
  asked.set(id, { type: msg.type, replies, last, onReply: onReply as (m: WorkerToWebview) => void });
  worker.postMessage({ ...msg, id });
  return id;
}

/** Hands a worker message to the askWorker request it answers, if any. */
function answerAsked(msg: WorkerToWebview): void {
  if (!('id' in msg)) return;
  const a = asked.get(msg.id);
  if (!a || !a.replies.includes(msg.type)) return;
  if (a.last.includes(msg.type)) asked.delete(msg.id);
  a.onReply(msg);
}

function update(s: EngineState): void {
  current = s;
  setState('engine', s);
  for (const fn of subscribers) fn(s);
}

function fail(message: string): void {
  send({ type: 'error', message });
  update({ ...current, error: message });
}

export function configureEngine(uri: string, s: PlaygroundSettings): void {
  workerUri = uri;
  settings = s;
}

export function updateEngineSettings(s: PlaygroundSettings): void {
  settings = s;
}

export function engineSettings(): PlaygroundSettings {
  return settings;
}

/** Whether the worker is loading a model or generating (answers still to come). */
export function engineBusy(): boolean {
  return [...asked.values()].some((a) => a.type === 'loadModel' || a.type === 'generate' || a.type === 'xcheckRun');
}

/**
 * Stops the worker, freeing the model it holds (a playground hidden for long); startEngine
 * starts it again. Returns false, doing nothing, when there is no worker.
 */
export function releaseEngine(): boolean {
  if (!worker) return false;
  worker.terminate();
  worker = undefined;
  asked.clear();
  send({ type: 'log', level: 'info', message: 'The playground has been hidden for a while: its engine worker stopped, freeing the model; it loads again when shown.' });
  return true;
}

export async function startEngine(): Promise<void> {
  worker?.terminate();
  worker = undefined;
  asked.clear(); // a new worker answers none of the old one's requests
  update({});
  if (!workerUri) return;
  try {
    const res = await fetch(workerUri);
    if (!res.ok) throw new Error(`fetching the worker script failed: HTTP ${res.status}`);
    const blob = new Blob([await res.text()], { type: 'text/javascript' });
    const url = URL.createObjectURL(blob);
    worker = new Worker(url, { name: 'llm-playground-engine' });
    URL.revokeObjectURL(url);
  } catch (e) {
    fail(`The engine worker could not start: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  worker.onerror = (ev) => fail(`The engine worker crashed: ${ev.message || 'unknown error'}`);
  worker.onmessage = (ev: MessageEvent) => {
    let msg: WorkerToWebview;
    try {
      msg = parseWorkerMessage(ev.data);
    } catch (e) {
      send({ type: 'log', level: 'error', message: `Malformed worker message: ${String(e)}` });
      return;
    }
    switch (msg.type) {
      case 'env':
        update({ env: msg.env });
        send({ type: 'env', env: msg.env });
        break;
      case 'log':
        send({ type: 'log', level: msg.level, message: `[worker] ${msg.message}` });
        break;
      case 'fatal':
        fail(msg.message);
        break;
      case 'ortWasmRequest':
        void sendOrtWasm(msg.reqId);
        break;
      default:
        break;
    }
    answerAsked(msg);
    for (const fn of workerListeners) fn(msg);
  };
  // onnxruntime-web's wasm (ONNX models) is shipped beside the worker script (scripts/build.mjs)
  const ortWasm = new URL(ORT_WASM_FILE, workerUri).href;
  postToWorker({ type: 'probe', id: newRequestId(), backend: settings.backend, ortWasm, ortWasmFromPage: true });
}

/** The worker's first ONNX session wants onnxruntime-web's wasm: this document can fetch the webview's resources, its worker cannot. */
async function sendOrtWasm(reqId: number): Promise<void> {
  const w = worker;
  if (!w || !workerUri) return;
  try {
    const res = await fetch(new URL(ORT_WASM_FILE, workerUri).href);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const bytes = await res.arrayBuffer();
    w.postMessage({ type: 'ortWasmData', reqId, bytes } satisfies WebviewToWorker, [bytes]);
  } catch (e) {
    w.postMessage({ type: 'ortWasmData', reqId, error: e instanceof Error ? e.message : String(e) } satisfies WebviewToWorker);
  }
}
