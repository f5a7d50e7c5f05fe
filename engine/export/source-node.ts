/**
 * Node-only: an ExportSource from a model path — the model as the engine opens it, its
 * tokenizer, an HF folder's tokenizer files (copied as they are into a safetensors export),
 * a GGUF's tokenizer.* metadata (copied as it is into a GGUF export), and a LoRA adapter
 * (to merge, or its files to copy).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readGguf, type GgufValue } from '../formats/gguf';
import type { GgufTypedValue } from '../formats/gguf-writer';
import { loadLoraAdapterFromPath } from '../formats/hf-node';
import { openModel } from '../formats/load-node';
import { fileSource } from '../formats/source-node';
import type { ExportSource } from './types';

/** Tokenizer files of an HF folder that travel with an export. */
export const HF_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model'];

/** A read GGUF value as a typed value for the writer, from its declared type ('u32', 'array<string>'…). */
export function typedGgufValue(type: string, v: GgufValue): GgufTypedValue {
  const m = /^array<(.+)>$/.exec(type);
  if (m) {
    const items = Array.from(v as ArrayLike<GgufValue>, (x) => typedGgufValue(m[1], x));
    const itemType = (/^array</.test(m[1]) ? 'array' : m[1]) as GgufTypedValue['type'];
    return { type: 'array', itemType, items };
  }
  if (type === 'string') return { type: 'string', value: v as string };
  if (type === 'bool') return { type: 'bool', value: v as boolean };
  return { type: type as Exclude<GgufTypedValue['type'], 'array' | 'string' | 'bool'>, value: v as number | bigint };
}

/** A GGUF's tokenizer.* metadata with its types. */
async function ggufTokenizerMetadata(file: string): Promise<[string, GgufTypedValue][]> {
  const src = await fileSource(file);
  try {
    const f = await readGguf(src, { keep: (k) => k.startsWith('tokenizer.') });
    return [...f.metadata].filter(([k]) => k.startsWith('tokenizer.')).map(([k, v]) => [k, typedGgufValue(f.metadataTypes.get(k)!, v)]);
  } finally {
    await src.close?.();
  }
}

export interface OpenExportSourceOptions {
  /** A PEFT LoRA adapter folder: checked against the model, then merged into the weights (`merge`) or written beside them. */
  lora?: string;
  merge?: boolean;
  /** A tokenizer file to use instead of the one that comes with the model. */
  tokenizer?: string;
}

/** Opens a model path (HF folder, .safetensors, .gguf, llama2.c .bin) for export. */
export async function openExportSource(modelPath: string, opts: OpenExportSourceOptions = {}): Promise<ExportSource> {
  const m = await openModel(modelPath, { tokenizer: opts.tokenizer });
  const src: ExportSource = { loaded: m.loaded, name: m.path, tokenizer: m.tokenizer };
  if (m.format === 'safetensors' && !opts.tokenizer) {
    const root = m.loaded.source.files.length ? path.dirname(m.loaded.source.files[0]) : m.path;
    const files: Record<string, Uint8Array> = {};
    for (const name of HF_TOKENIZER_FILES) {
      const bytes = await readFile(path.join(root, name)).catch(() => undefined);
      if (bytes) files[name] = new Uint8Array(bytes);
    }
    src.tokenizerFiles = files;
  }
  if (m.format === 'gguf' && !opts.tokenizer) src.ggufTokenizer = await ggufTokenizerMetadata(m.path);
  // a tokenizer.json given instead travels as a file too (copied into a folder, converted for a GGUF)
  if (opts.tokenizer && path.basename(opts.tokenizer).endsWith('.json')) src.tokenizerFiles = { 'tokenizer.json': new Uint8Array(await readFile(opts.tokenizer)) };
  if (opts.lora) {
    const adapter = await loadLoraAdapterFromPath(opts.lora, m.loaded.config);
    if (opts.merge) src.lora = adapter;
    else {
      src.adapterFiles = {};
      for (const name of ['adapter_config.json', 'adapter_model.safetensors']) src.adapterFiles[name] = new Uint8Array(await readFile(path.join(opts.lora, name)));
    }
  }
  return src;
}
