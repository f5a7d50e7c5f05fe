/**
 * Node-only: loads a built-in vocabulary (builtin.ts) from `dist/vocab/*.br` beside the bundle
 * (the extension, the CLI), else from node_modules (a source checkout, tests). Cached per id.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { brotliDecompress } from 'node:zlib';
import { promisify } from 'node:util';
import { FormatError } from '../errors';
import { type BuiltinTokenizerId, builtinFromBytes, builtinInfo } from './builtin';
import type { Tokenizer } from './types';

const unbrotli = promisify(brotliDecompress);
const loaded = new Map<BuiltinTokenizerId, Promise<Tokenizer>>();
let extraDirs: string[] = [];

/** Adds a folder that holds the `vocab/` folder (e.g. the extension's dist). */
export function addBuiltinSearchDir(dir: string): void {
  if (!extraDirs.includes(dir)) extraDirs = [dir, ...extraDirs];
}

function candidates(): string[] {
  const dirs = [...extraDirs];
  if (typeof __dirname !== 'undefined') dirs.push(__dirname, path.join(__dirname, '..', 'dist'));
  dirs.push(path.join(process.cwd(), 'dist'));
  return dirs;
}

/** Where a built-in vocabulary would be read from (compressed or not), or null. */
export function findBuiltinFile(id: BuiltinTokenizerId): { file: string; compressed: boolean } | null {
  const info = builtinInfo(id);
  for (const d of candidates()) {
    const f = path.join(d, 'vocab', info.distFile);
    if (existsSync(f)) return { file: f, compressed: true };
  }
  const roots = [process.cwd(), ...(typeof __dirname !== 'undefined' ? [path.join(__dirname, '..'), path.join(__dirname, '..', '..')] : [])];
  for (const r of roots) {
    const f = path.join(r, 'node_modules', info.npmFile);
    if (existsSync(f)) return { file: f, compressed: false };
  }
  return null;
}

export function loadBuiltinTokenizer(id: BuiltinTokenizerId): Promise<Tokenizer> {
  let p = loaded.get(id);
  if (!p) {
    p = (async () => {
      const where = findBuiltinFile(id);
      if (!where) throw new FormatError('the built-in vocabulary is missing', { file: builtinInfo(id).distFile, expected: 'dist/vocab/ (run the build) or node_modules' });
      const raw = new Uint8Array(await readFile(where.file));
      let bytes: Uint8Array;
      if (where.compressed) {
        try {
          bytes = new Uint8Array(await unbrotli(raw));
        } catch {
          throw new FormatError('the compressed vocabulary is corrupt (brotli)', { file: where.file });
        }
      } else bytes = raw;
      return builtinFromBytes(id, bytes, where.file);
    })();
    loaded.set(id, p);
    p.catch(() => loaded.delete(id));
  }
  return p;
}
