/**
 * What an exporter takes and gives. The core (this folder, platform-neutral) turns a loaded
 * model into files described by their names, sizes and lazily produced bytes; the Node part
 * (write-node.ts) writes them to disk.
 */
import type { GgufTypedValue } from '../formats/gguf-writer';
import type { LoraAdapter } from '../model/lora';
import type { LoadedModel } from '../model/types';
import type { Tokenizer } from '../tokenizer/types';

export const EXPORT_FORMATS = ['gguf', 'safetensors', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_DTYPES = ['f32', 'f16', 'q8_0'] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

/** A model to export, with what came with it. */
export interface ExportSource {
  loaded: LoadedModel;
  /** Display name (the model's path), for errors and general.name. */
  name: string;
  tokenizer?: Tokenizer;
  /** An HF folder's tokenizer files, copied as they are (tokenizer.json, tokenizer_config.json…). */
  tokenizerFiles?: Record<string, Uint8Array>;
  /** A GGUF's own `tokenizer.*` metadata with its types, copied as it is into a GGUF export. */
  ggufTokenizer?: [string, GgufTypedValue][];
  /** An adapter to merge into the weights (W + scale·B·A) before writing. */
  lora?: LoraAdapter;
  /** A PEFT adapter's files (adapter_config.json, adapter_model.safetensors), written unmerged beside the weights. */
  adapterFiles?: Record<string, Uint8Array>;
}

export interface ExportOptions {
  dtype?: ExportDtype;
}

/** One file of an export: its bytes come out one piece (a tensor) at a time. */
export interface ExportFile {
  /** The file's name: inside the output folder (`target: 'folder'`) or the output file's own. */
  name: string;
  size: number;
  parts(): Iterable<Uint8Array>;
}

export interface ExportResult {
  /** 'file': one file written at the output path; 'folder': the files go into the output folder. */
  target: 'file' | 'folder';
  files: ExportFile[];
  /** What the user should know: a tokenizer not written and why, tensors kept at a wider type… */
  notes: string[];
}

/** The bytes of a small file, as an ExportFile. */
export function bytesFile(name: string, bytes: Uint8Array): ExportFile {
  return { name, size: bytes.length, parts: () => [bytes] };
}

/**
 * A JSON file, two-space indented. Numbers under a key in `floatKeys` are written as floats even
 * when whole (`0.0`, `10000.0`), as Python's json writes a float: readers that check a field's
 * type (transformers' config classes) refuse `0` where the field is a float.
 */
export function jsonFile(name: string, value: unknown, floatKeys?: ReadonlySet<string>): ExportFile {
  const mark = '\u2060float:';
  const text = JSON.stringify(value, (key, v: unknown) => (floatKeys?.has(key) && typeof v === 'number' && Number.isInteger(v) ? `${mark}${v}` : v), 2);
  const out = floatKeys ? text.replace(new RegExp(`"${mark}(-?\\d+)"`, 'g'), '$1.0') : text;
  return bytesFile(name, new TextEncoder().encode(`${out}\n`));
}
