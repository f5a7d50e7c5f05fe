/**
 * Node-only: check a model path (file or folder) with the header readers of
 * inspect.ts, over file handles. Never reads weights. Never import from browser code.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { locateModel, type ModelLocation } from '../formats/load-node';
import { fileSource } from '../formats/source-node';
import { inspectGguf, inspectHf, inspectLlama2c, inspectOnnx, type ModelCheck, type ModelDir } from './inspect';

export { locateModel, type ModelLocation };

/** A folder on disk as a ModelDir (files opened on demand; names never leave the folder). */
export function nodeModelDir(dir: string): ModelDir {
  const inside = (file: string) => !file.includes('/') && !file.includes('\\') && file !== '..' && file !== '.';
  return {
    name: dir,
    async open(file) {
      if (!inside(file)) return null;
      const p = path.join(dir, file);
      if (!(await stat(p).catch(() => null))?.isFile()) return null;
      return fileSource(p);
    },
    async list() {
      return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name);
    },
  };
}

/** Checks a model path: ready with its statistics, or the problem in words. */
export async function inspectPath(p: string): Promise<ModelCheck & { location?: ModelLocation }> {
  const st = await stat(p).catch(() => null);
  if (!st) return { status: 'error', problem: { kind: 'missing', message: 'Not found on disk', detail: `${p}: no such file or folder` } };
  const loc = await locateModel(p);
  if (!loc) {
    return {
      status: 'error',
      problem: {
        kind: 'format',
        message: 'Not a model file this extension knows',
        detail: `${p}: expected a .gguf, a llama2.c .bin, a .onnx, or a folder with config.json and *.safetensors`,
      },
    };
  }
  const dir = nodeModelDir(loc.root);
  let check: ModelCheck;
  try {
    if (loc.format === 'onnx') check = inspectOnnx(st.size, loc.main!);
    else if (loc.format === 'gguf') check = await inspectGguf(dir, loc.main!);
    else if (loc.format === 'llama2c') check = await inspectLlama2c(dir, loc.main!);
    else check = await inspectHf(dir, loc.main);
  } catch (e) {
    check = { status: 'error', problem: { kind: 'io', message: e instanceof Error ? e.message : String(e), detail: String(e) } };
  }
  return { ...check, location: loc };
}
