/**
 * The playground shell: the webview says it is ready, the host answers with `init`
 * (where the worker script is, the settings) and later settings changes; logs and
 * errors go to the host's output channel; every request's response.
 */
import type { ModelRef } from './models';
import { ProtocolError, describe, str, type MessageParsers, type RequestParsers } from './validate';

/** The `llmPlayground.*` settings the webview needs. */
export interface PlaygroundSettings {
  backend: 'auto' | 'webgpu' | 'cpu';
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** Host -> webview. */
export type ShellHostMessage =
  | {
      type: 'init';
      /** Where the webview is shown: the side bar view or an editor panel. */
      location: 'view' | 'panel';
      workerUri: string;
      bundledModel: ModelRef;
      extensionVersion: string;
      settings: PlaygroundSettings;
    }
  | { type: 'settings'; settings: PlaygroundSettings }
  /** The view or panel was hidden or shown (the webview frees its model after a long hide). */
  | { type: 'visibility'; visible: boolean }
  /** The answer to a webview request (its result's type: ResultOf<method>, protocol/index.ts). */
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string }
  | { type: 'showError'; message: string }
  /** Brings a tab of the playground to the front (the walkthrough's steps, commands that open a tab). */
  | { type: 'showTab'; tab: PlaygroundTab };

/** The playground's tabs (webview/panels/index.ts). */
export type PlaygroundTab = 'generate' | 'lab' | 'inside' | 'kv' | 'model' | 'tokenizer' | 'engine' | 'xcheck';

/** Webview -> host. */
export type ShellWebviewMessage = { type: 'ready' } | { type: 'log'; level: LogLevel; message: string } | { type: 'error'; message: string; stack?: string };

/** Webview -> host requests. */
export type ShellRequest = { type: 'request'; id: number; method: 'openLog' };

/** What the host answers each request with. */
export interface ShellResults {
  openLog: null;
}

export const shellWebviewParsers: MessageParsers<ShellWebviewMessage> = {
  ready: () => ({ type: 'ready' }),
  log: (raw) => {
    const level = raw.level;
    if (!LOG_LEVELS.includes(level as LogLevel)) {
      throw new ProtocolError(`field "level" must be one of ${LOG_LEVELS.join(', ')}, got ${describe(level)}`);
    }
    return { type: 'log', level: level as LogLevel, message: str(raw, 'message')! };
  },
  error: (raw) => ({ type: 'error', message: str(raw, 'message')!, stack: str(raw, 'stack', true) }),
};

export const shellRequestParsers: RequestParsers<ShellRequest> = {
  openLog: (_raw, id) => ({ type: 'request', id, method: 'openLog' }),
};
