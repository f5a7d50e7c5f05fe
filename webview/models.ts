/**
 * The playground's side of the model manager: the host's model list and active
 * model, the worker's loading of it (progress, cancel), and the byte-range
 * bridge (worker `readRange` → host `readModelRange` → worker `rangeData`).
 */
import type { BackendDecision, DeviceChoice, GpuWeights, LoadedSummary, ModelSummary, ReplyOf, WorkerToWebview } from '../engine/protocol/index';
import { decideBackend } from '../engine/protocol/index';
import { askWorker, engineSettings, onWorkerMessage, postToWorker, engineState } from './engine';
import { getState, onHostMessage, request, send, setState } from './host';

export interface LoadState {
  phase: 'idle' | 'loading' | 'ready' | 'error';
  modelId?: string;
  /** Request id of the load in flight. */
  id?: number;
  bytes: number;
  total: number;
  step?: string;
  message?: string;
  summary?: LoadedSummary;
}

export interface ModelsState {
  models: ModelSummary[];
  activeId?: string;
  load: LoadState;
}

let state: ModelsState = { models: getState<ModelSummary[]>('models') ?? [], activeId: getState<string>('activeModel'), load: { phase: 'idle', bytes: 0, total: 0 } };
const subs = new Set<(s: ModelsState) => void>();
/** The summary the worker loaded (or is loading), to notice a model that changed on disk. */
let loadedSpec = '';

export function modelsState(): ModelsState {
  return state;
}

export function onModelsState(fn: (s: ModelsState) => void): void {
  subs.add(fn);
}

function update(patch: Partial<ModelsState>): void {
  state = { ...state, ...patch };
  for (const fn of subs) fn(state);
}

export function activeSummary(): ModelSummary | undefined {
  return state.models.find((m) => m.id === state.activeId);
}

/** Context length for the next load (persisted); 0 = the model's default (min(max, 2048)). */
export function chosenContext(m?: ModelSummary): number {
  const c = getState<number>('contextLength') ?? 0;
  const max = m?.info?.contextLength ?? 2048;
  return c > 0 ? Math.min(c, max) : Math.min(max, 2048);
}

export function setChosenContext(n: number): void {
  setState('contextLength', n);
  for (const fn of subs) fn(state);
}

/** The Model tab's "Run on" as the user chose it; undefined: the default. */
export function explicitDevice(): DeviceChoice | undefined {
  return getState<DeviceChoice>('device');
}

/**
 * The device the next load uses: decideBackend's answer (the user's choice, else the
 * GPU when the engine found a hardware WebGPU adapter that passed its self-test).
 */
export function chosenDevice(): DeviceChoice {
  return decideBackend({ env: engineState().env, setting: engineSettings().backend, choice: explicitDevice() })?.backend === 'webgpu' ? 'gpu' : 'cpu';
}

/** Which backend runs the model and why (the loaded model's device once one is loaded): shown in every tab and the status bar. */
export function currentBackend(): BackendDecision | undefined {
  const load = state.load;
  const ready = load.phase === 'ready' && load.modelId === state.activeId;
  const loaded = ready ? (load.summary?.device ?? 'cpu') : undefined;
  return decideBackend({ env: engineState().env, setting: engineSettings().backend, choice: explicitDevice(), loaded, ort: ready ? load.summary?.ort : undefined });
}

/** GPU weights: f32, or f16 packed in u32 (half the memory and bandwidth, logits within ~1e-2). */
export function chosenWeights(): GpuWeights {
  return getState<GpuWeights>('weights') ?? 'f32';
}

export function setChosenWeights(w: GpuWeights): void {
  setState('weights', w);
  for (const fn of subs) fn(state);
}

export function setChosenDevice(d: 'cpu' | 'gpu'): void {
  setState('device', d);
  for (const fn of subs) fn(state);
}

export async function useModel(id: string): Promise<void> {
  await request({ method: 'useModel', modelId: id });
}

export function showModelsView(): void {
  void request({ method: 'showModels' });
}

/** (Re)loads the active model in the worker. */
export function loadActive(force = false): void {
  const m = activeSummary();
  if (!m?.load) {
    loadedSpec = '';
    if (state.load.phase !== 'idle') update({ load: { phase: 'idle', bytes: 0, total: 0 } });
    return;
  }
  const ctx = chosenContext(m);
  const key = JSON.stringify([m.load, ctx, chosenDevice(), chosenWeights()]);
  if (!force && key === loadedSpec) return;
  const id = askWorker({ type: 'loadModel', spec: m.load, contextLength: ctx, device: chosenDevice(), weights: chosenWeights() }, onLoadReply);
  if (id === undefined) return; // the worker's 'env' will load it
  loadedSpec = key;
  update({ load: { phase: 'loading', modelId: m.id, id, bytes: 0, total: m.load.files.reduce((s, f) => s + f.size, 0), step: 'starting' } });
}

/** The worker was stopped (releaseEngine): nothing is loaded; the next worker's 'env' loads the model again. */
export function forgetLoad(): void {
  loadedSpec = '';
  update({ load: { phase: 'idle', bytes: 0, total: 0 } });
}

export function cancelLoad(): void {
  if (state.load.phase === 'loading' && state.load.id !== undefined) postToWorker({ type: 'cancelLoad', id: state.load.id });
}

function toBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

function onWorker(msg: WorkerToWebview): void {
  switch (msg.type) {
    case 'env':
      // A (re)started worker holds no model.
      loadedSpec = '';
      loadActive();
      break;
    case 'readRange':
      request({ method: 'readModelRange', modelId: msg.modelId, file: msg.file, offset: msg.offset, length: msg.length }).then(
        (r) => {
          const bytes = toBytes(r);
          postToWorker(bytes ? { type: 'rangeData', reqId: msg.reqId, bytes } : { type: 'rangeData', reqId: msg.reqId, error: `the host answered with ${typeof r}, not bytes` });
        },
        (e: unknown) => postToWorker({ type: 'rangeData', reqId: msg.reqId, error: e instanceof Error ? e.message : String(e) }),
      );
      break;
    default:
      break;
  }
}

function onLoadReply(msg: ReplyOf<'loadModel'>): void {
  switch (msg.type) {
    case 'loadProgress':
      if (msg.id === state.load.id) update({ load: { ...state.load, bytes: msg.bytes, total: msg.total, step: msg.phase } });
      break;
    case 'loaded':
      if (msg.id === state.load.id) {
        send({ type: 'log', level: 'info', message: `Loaded ${msg.modelId} in ${msg.summary.seconds.toFixed(2)} s (${msg.summary.device}, context ${msg.summary.contextLength})` });
        update({ load: { ...state.load, phase: 'ready', summary: msg.summary, bytes: state.load.total } });
      }
      break;
    case 'loadFailed':
      if (msg.id === state.load.id) {
        if (!msg.cancelled) send({ type: 'log', level: 'error', message: `Loading ${msg.modelId} failed: ${msg.message}` });
        loadedSpec = '';
        update({ load: { ...state.load, phase: 'error', message: msg.message } });
      }
      break;
  }
}

let inited = false;
/** Subscribes to the host and the worker (once; panels call it from their init). */
export function initModels(): void {
  if (inited) return;
  inited = true;
  onWorkerMessage(onWorker);
  onHostMessage((msg) => {
    if (msg.type !== 'models') return;
    setState('models', msg.models);
    setState('activeModel', msg.activeId);
    update({ models: msg.models, activeId: msg.activeId });
    loadActive();
  });
}
