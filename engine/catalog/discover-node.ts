/**
 * Node-only: find models in a folder tree, bounded (files, depth, time) and
 * cancellable, following symlinks at most once per real folder (no loops).
 * What counts as a model is the format registry's (modelsAmong): today *.gguf; *.onnx;
 * a folder with config.json beside *.safetensors; a llama2.c .bin whose header matches
 * its size, with a tokenizer beside it. Skips dot-folders and node_modules.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { nodeModelDir } from '../formats/hf-node';
import { modelsAmong } from '../formats/registry';

export interface DiscoverLimits {
  /** Stop after looking at this many directory entries. */
  maxFiles: number;
  /** Folders deeper than this below a root are not opened (root = depth 0). */
  maxDepth: number;
  /** Stop after this many milliseconds. */
  timeoutMs: number;
}

export const DEFAULT_DISCOVER_LIMITS: DiscoverLimits = { maxFiles: 20_000, maxDepth: 8, timeoutMs: 10_000 };

export interface DiscoverOptions extends Partial<DiscoverLimits> {
  signal?: AbortSignal;
  /** Called now and then with the number of entries seen. */
  onProgress?: (seen: number, found: number) => void;
  /** For tests: the clock. */
  now?: () => number;
}

export interface DiscoverResult {
  /** Model paths: files, or folders (HF). */
  found: string[];
  seen: number;
  /** Why the walk ended early, if it did. */
  stoppedBy?: 'maxFiles' | 'timeout' | 'cancelled';
  /** Folders not entered because they were already visited (symlink loops) or too deep. */
  skipped: { loops: number; tooDeep: number };
}

const SKIP_DIRS = new Set(['node_modules']);

/** Whether discovery may run: opted in by the setting, and only in a trusted workspace. */
export function discoveryAllowed(opts: { setting: boolean; trusted: boolean }): { allowed: boolean; reason?: string } {
  if (!opts.trusted) return { allowed: false, reason: 'the workspace is not trusted: models are only added by an explicit Add Model' };
  if (!opts.setting) return { allowed: false, reason: 'llmPlayground.discoverModels is off' };
  return { allowed: true };
}

export async function discoverModels(roots: string[], opts: DiscoverOptions = {}): Promise<DiscoverResult> {
  const limits: DiscoverLimits = {
    maxFiles: opts.maxFiles ?? DEFAULT_DISCOVER_LIMITS.maxFiles,
    maxDepth: opts.maxDepth ?? DEFAULT_DISCOVER_LIMITS.maxDepth,
    timeoutMs: opts.timeoutMs ?? DEFAULT_DISCOVER_LIMITS.timeoutMs,
  };
  const now = opts.now ?? Date.now;
  const deadline = now() + limits.timeoutMs;
  const found: string[] = [];
  const visited = new Set<string>();
  const res: DiscoverResult = { found, seen: 0, skipped: { loops: 0, tooDeep: 0 } };
  const queue: { dir: string; depth: number }[] = roots.map((dir) => ({ dir, depth: 0 }));
  const stop = (why: DiscoverResult['stoppedBy']): boolean => {
    res.stoppedBy = why;
    return true;
  };
  const shouldStop = (): boolean => {
    if (opts.signal?.aborted) return stop('cancelled');
    if (res.seen >= limits.maxFiles) return stop('maxFiles');
    if (now() > deadline) return stop('timeout');
    return false;
  };
  while (queue.length) {
    if (shouldStop()) break;
    const { dir, depth } = queue.shift()!;
    const real = await realpath(dir).catch(() => undefined);
    if (!real) continue;
    if (visited.has(real)) {
      res.skipped.loops++;
      continue;
    }
    visited.add(real);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const files: string[] = [];
    const dirs: string[] = [];
    for (const e of entries) {
      res.seen++;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await stat(path.join(dir, e.name)).catch(() => undefined);
        isDir = !!st?.isDirectory();
        isFile = !!st?.isFile();
      }
      if (isDir) {
        if (!e.name.startsWith('.') && !SKIP_DIRS.has(e.name)) dirs.push(e.name);
      } else if (isFile) files.push(e.name);
      if (res.seen >= limits.maxFiles) break;
    }
    const models = await modelsAmong(files, nodeModelDir(dir));
    if (models.folder) found.push(dir);
    for (const f of models.files) found.push(path.join(dir, f.name));
    opts.onProgress?.(res.seen, found.length);
    if (res.seen >= limits.maxFiles) {
      stop('maxFiles');
      break;
    }
    for (const d of dirs.sort()) {
      if (depth + 1 > limits.maxDepth) res.skipped.tooDeep++;
      else queue.push({ dir: path.join(dir, d), depth: depth + 1 });
    }
  }
  return res;
}
