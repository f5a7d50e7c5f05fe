// Types for scripts/code-server.mjs (used by tests/vscode).
import type { ChildProcess } from 'node:child_process';

export const CODE_SERVER_VERSION: string;
export const NODE_VERSION: string;
export const EXTENSION_ID: string;
export const repoRoot: string;

export interface CodeServerPaths {
  cache: string;
  nodeDir: string;
  nodeBin: string;
  nodeBinDir: string;
  nodeHeadersDir: string;
  csDir: string;
  csEntry: string;
}
export function paths(): CodeServerPaths;
export function isInstalled(): boolean;
export function installCodeServer(opts?: { log?: (msg: string) => void }): { installed: string[] };
export function freePort(): Promise<number>;
export function waitForHttp(url: string, timeoutMs?: number, isAlive?: () => boolean): Promise<number>;
export function prepareExtensionsDir(extensionsDir: string, opts?: { root?: string; autostart?: boolean }): string;

export interface StartOptions {
  /** Folder to open (default: a fresh empty temp workspace). */
  folder?: string;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Extension root (default: the repo). */
  root?: string;
  /** Add the helper extension that opens the playground once the workbench has started. */
  autostart?: boolean;
  /** Folder for user data, extensions, logs (default: a new temp folder). */
  tmpRoot?: string;
  verbose?: boolean;
  startTimeoutMs?: number;
}
export interface CodeServer {
  /** The workbench URL with ?folder=. */
  url: string;
  port: number;
  pid: number | undefined;
  process: ChildProcess;
  base: string;
  workspace: string;
  userDataDir: string;
  extensionsDir: string;
  logPath: string;
  readLog(): string;
  /** Kills code-server's whole process group. */
  stop(): Promise<void>;
}
export function startCodeServer(opts?: StartOptions): Promise<CodeServer>;
