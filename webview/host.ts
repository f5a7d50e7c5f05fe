/**
 * The webview's side of the host connection: VS Code's API (postMessage,
 * getState/setState), typed requests with ids, and the persisted UI state.
 */
import type { HostToWebview, RequestOf, ResultOf, WebviewRequestMethod, WebviewToHost } from '../engine/protocol/index';

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

/** A request without the fields `request` fills in. */
export type RequestBody<M extends WebviewRequestMethod> = { method: M } & Omit<RequestOf<M>, 'id' | 'type' | 'method'>;

/** Sends a request and resolves with the host's response, typed by the protocol's ResultOf. */
export function request<M extends WebviewRequestMethod>(msg: RequestBody<M>): Promise<ResultOf<M>> {
  const id = nextId++;
  return new Promise<ResultOf<M>>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    send({ type: 'request', id, ...msg } as unknown as RequestOf<M>);
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
