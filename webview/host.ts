/**
 * The webview's side of the host connection: VS Code's API (postMessage,
 * getState/setState), typed requests with ids, and the persisted UI state.
 */
import type { HostToWebview, WebviewToHost } from '../engine/protocol/index';

interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

/** Persisted UI state (survives hiding the view; not `retainContextWhenHidden`). Panels keep their own key. */
export type UiState = Record<string, unknown>;
let state: UiState = (api.getState() as UiState | undefined) ?? {};

export function getState<T>(key: string): T | undefined {
  return state[key] as T | undefined;
}

export function setState(key: string, value: unknown): void {
  state = { ...state, [key]: value };
  api.setState(state);
}

export function send(msg: WebviewToHost): void {
  api.postMessage(msg);
}

let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

type RequestMsg = Extract<WebviewToHost, { type: 'request' }>;
/** Sends a request and resolves with the host's response. */
type RequestBody = RequestMsg extends infer R ? (R extends RequestMsg ? Omit<R, 'id' | 'type'> : never) : never;
export function request<T = unknown>(msg: RequestBody): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    send({ type: 'request', id, ...msg } as RequestMsg);
  });
}

const listeners = new Set<(msg: HostToWebview) => void>();
export function onHostMessage(fn: (msg: HostToWebview) => void): void {
  listeners.add(fn);
}

window.addEventListener('message', (ev: MessageEvent<HostToWebview>) => {
  const msg = ev.data;
  if (!msg || typeof msg !== 'object' || typeof (msg as { type?: unknown }).type !== 'string') return;
  if (msg.type === 'response') {
    const p = pending.get(msg.id);
    if (p) {
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    }
    return;
  }
  for (const fn of listeners) fn(msg);
});

window.addEventListener('error', (ev) => send({ type: 'error', message: ev.message, stack: ev.error?.stack }));
window.addEventListener('unhandledrejection', (ev) => send({ type: 'error', message: `Unhandled rejection: ${String(ev.reason)}` }));
