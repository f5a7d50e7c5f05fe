/**
 * The playground UI (browser; never imports `vscode` or Node). It starts the
 * engine worker from a blob: URL, shows the engine's environment, and keeps its
 * state across hide/show with getState/setState.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-table/index.js';
import '@vscode-elements/elements/dist/vscode-table-header/index.js';
import '@vscode-elements/elements/dist/vscode-table-header-cell/index.js';
import '@vscode-elements/elements/dist/vscode-table-body/index.js';
import '@vscode-elements/elements/dist/vscode-table-row/index.js';
import '@vscode-elements/elements/dist/vscode-table-cell/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { EngineEnv, HostToWebview, ModelRef, PlaygroundSettings, WebviewToHost, WebviewToWorker, WorkerToWebview } from '../engine/protocol';
import { parseWorkerMessage } from '../engine/protocol';
import { STYLE } from './style';

interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface State {
  env?: EngineEnv;
  envError?: string;
  detailsOpen?: boolean;
}

const vscode = acquireVsCodeApi();
let state: State = (vscode.getState() as State | undefined) ?? {};
let bundled: ModelRef | undefined;
let worker: Worker | undefined;
let nextId = 1;

function save(patch: Partial<State>): void {
  state = { ...state, ...patch };
  vscode.setState(state);
  render();
}

function send(msg: WebviewToHost): void {
  vscode.postMessage(msg);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string>, ...kids: (Node | string)[]): HTMLElementTagNameMap[K];
function el(tag: string, attrs?: Record<string, string>, ...kids: (Node | string)[]): HTMLElement;
function el(tag: string, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

function fmtBytes(n: number | undefined): string {
  if (n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

function table(rows: [string, string][]): HTMLElement {
  const body = el('vscode-table-body', { slot: 'body' });
  for (const [k, v] of rows) {
    body.append(el('vscode-table-row', {}, el('vscode-table-cell', {}, k), el('vscode-table-cell', {}, v)));
  }
  const t = el('vscode-table', { 'zebra': '', 'bordered-columns': '', 'columns': '["40%","60%"]', 'resizable': '' }, body);
  return t;
}

function renderEnv(): HTMLElement {
  const box = el('section', { id: 'engine', 'aria-labelledby': 'engine-h' });
  box.append(el('h2', { id: 'engine-h' }, 'Engine'));
  if (state.envError) {
    box.append(
      el('div', { class: 'error', role: 'alert', id: 'engine-error' }, state.envError),
      button('Retry', 'retry', () => startWorker()),
      button('Show log', 'output', () => send({ type: 'request', id: nextId++, method: 'openLog' })),
    );
    return box;
  }
  const env = state.env;
  if (!env) {
    box.append(el('p', { class: 'muted', id: 'engine-status' }, el('vscode-progress-ring', { 'aria-label': 'probing' }), ' Looking for a WebGPU adapter…'));
    return box;
  }
  if (env.backend === 'webgpu') {
    const a = env.adapter!;
    box.append(
      el('p', { id: 'engine-status', 'data-backend': 'webgpu' }, el('vscode-badge', { variant: 'counter' }, 'WebGPU'), ` Running on ${[a.vendor, a.architecture].filter(Boolean).join(' / ') || 'an unnamed adapter'}`),
    );
    const rows: [string, string][] = [
      ['Vendor', a.vendor || '—'],
      ['Architecture', a.architecture || '—'],
      ['Device', a.device || '—'],
      ['Description', a.description || '—'],
      ['Fallback adapter', a.isFallbackAdapter ? 'yes' : 'no'],
      ['maxStorageBufferBindingSize', fmtBytes(env.limits?.maxStorageBufferBindingSize)],
      ['maxBufferSize', fmtBytes(env.limits?.maxBufferSize)],
      ['Workgroup storage', fmtBytes(env.limits?.maxComputeWorkgroupStorageSize)],
      ['Invocations per workgroup', String(env.limits?.maxComputeInvocationsPerWorkgroup ?? '—')],
      ['shader-f16', env.features?.includes('shader-f16') ? 'yes' : 'no (f16 weights are unpacked from u32)'],
      ['subgroups', env.features?.includes('subgroups') ? 'yes' : 'no'],
      ['Features', (env.features ?? []).join(', ') || '—'],
    ];
    if (env.selfTest) {
      rows.push(['Self-test', `${env.selfTest.op}: max |GPU − CPU| = ${env.selfTest.maxAbsDiff.toExponential(2)} ${env.selfTest.ok ? '✓' : '✗'}`]);
    }
    box.append(table(rows));
  } else {
    box.append(
      el('p', { id: 'engine-status', 'data-backend': 'cpu' }, el('vscode-badge', { variant: 'counter' }, 'CPU'), ' The CPU path will be used.'),
      el('p', { class: 'muted', id: 'engine-reason' }, env.reason ?? ''),
    );
  }
  return box;
}

function button(label: string, icon: string, onClick: () => void): HTMLElement {
  const b = el('vscode-button', { icon, secondary: '' }, label);
  b.addEventListener('click', onClick);
  return b;
}

function renderModel(): HTMLElement {
  const box = el('section', { id: 'model', 'aria-labelledby': 'model-h' });
  box.append(el('h2', { id: 'model-h' }, 'Model'));
  if (!bundled) {
    box.append(el('p', { class: 'muted' }, 'No model yet.'));
  } else {
    box.append(el('p', {}, `Bundled default: `, el('strong', {}, bundled.name), ` (${bundled.format}, Karpathy's TinyStories 260K-parameter Llama; MIT).`));
  }
  return box;
}

function render(): void {
  const app = document.getElementById('app')!;
  app.replaceChildren(el('h1', {}, 'LLM Playground'), renderEnv(), renderModel());
}

async function startWorker(): Promise<void> {
  worker?.terminate();
  worker = undefined;
  save({ env: undefined, envError: undefined });
  if (!workerUri) return;
  try {
    // A webview may start workers only from blob:/data: URLs: fetch the script and wrap it.
    const res = await fetch(workerUri);
    if (!res.ok) throw new Error(`fetching the worker script failed: HTTP ${res.status}`);
    const blob = new Blob([await res.text()], { type: 'text/javascript' });
    const url = URL.createObjectURL(blob);
    worker = new Worker(url, { name: 'llm-playground-engine' });
    URL.revokeObjectURL(url);
  } catch (e) {
    failWorker(`The engine worker could not start: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  worker.onerror = (ev) => failWorker(`The engine worker crashed: ${ev.message || 'unknown error'}`);
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
        save({ env: msg.env, envError: undefined });
        send({ type: 'env', env: msg.env });
        break;
      case 'log':
        send({ type: 'log', level: msg.level, message: `[worker] ${msg.message}` });
        break;
      case 'fatal':
        failWorker(msg.message);
        break;
      case 'disposed':
        break;
    }
  };
  const probe: WebviewToWorker = { type: 'probe', id: nextId++, backend: settings.backend };
  worker.postMessage(probe);
}

function failWorker(message: string): void {
  send({ type: 'error', message });
  save({ envError: message });
}

let workerUri: string | undefined;
let settings: PlaygroundSettings = { backend: 'auto' };

window.addEventListener('message', (ev: MessageEvent<HostToWebview>) => {
  const msg = ev.data;
  switch (msg?.type) {
    case 'init':
      bundled = msg.bundledModel;
      workerUri = msg.workerUri;
      settings = msg.settings ?? settings;
      // Keep the last environment on screen while the new worker probes again.
      void startWorker();
      break;
    case 'settings':
      if (msg.settings.backend !== settings.backend) {
        settings = msg.settings;
        void startWorker();
      }
      break;
    case 'showError':
      save({ envError: msg.message });
      break;
    case 'response':
      if (!msg.ok) send({ type: 'log', level: 'warn', message: `Request ${msg.id} failed: ${msg.error}` });
      break;
  }
});

window.addEventListener('error', (ev) => send({ type: 'error', message: ev.message, stack: ev.error?.stack }));
window.addEventListener('unhandledrejection', (ev) => send({ type: 'error', message: `Unhandled rejection: ${String(ev.reason)}` }));

const style = document.createElement('style');
style.textContent = STYLE;
document.head.append(style);
render();
send({ type: 'ready' });
