/** Node-only entry points for Hugging Face checkpoints on disk (never import from browser code). */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isRegularFile, resolveInside } from './confine-node';
import { fileSource } from './source-node';
import { loadHfModel, type HfFolder } from './hf';
import type { ModelDir } from './inspect';
import type { LoadedModel, ModelConfig } from '../model/types';
import { loadLoraAdapter, type LoraAdapter } from '../model/lora';

/** A folder on disk as an HfFolder (files opened on demand, closed by the reader). */
export function nodeFolder(dir: string): HfFolder {
  return {
    name: dir,
    async open(file) {
      const p = await resolveInside(dir, file);
      if (p === null || !(await isRegularFile(p))) return null;
      return fileSource(p, path.join(dir, file));
    },
  };
}

/** A folder on disk as a ModelDir: listed, files opened on demand; names never leave the folder (the worker asks for files by name). */
export function nodeModelDir(dir: string): ModelDir {
  const inside = (file: string) => !file.includes('/') && !file.includes('\\') && file !== '..' && file !== '.';
  return {
    name: dir,
    async open(file) {
      if (!inside(file)) return null;
      const p = await resolveInside(dir, file);
      if (p === null || !(await isRegularFile(p))) return null;
      return fileSource(p, path.join(dir, file));
    },
    async list() {
      return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name);
    },
  };
}

/**
 * Loads a checkpoint from a folder (config.json + model.safetensors or an index with shards)
 * or from one .safetensors / .index.json file (config.json read from beside it).
 */
export async function loadHfModelFromPath(p: string): Promise<LoadedModel> {
  const s = await stat(p);
  if (s.isDirectory()) return loadHfModel(nodeFolder(p));
  return loadHfModel(nodeFolder(path.dirname(p)), { weightsFile: path.basename(p) });
}

/** Loads a PEFT LoRA adapter folder for a base model with this config. */
export async function loadLoraAdapterFromPath(dir: string, config: ModelConfig): Promise<LoraAdapter> {
  return loadLoraAdapter(nodeFolder(dir), config);
}
