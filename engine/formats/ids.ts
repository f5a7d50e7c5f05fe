/**
 * The one list of model formats the playground knows. The message protocol, the
 * extension, the webview and the engine use these ids; registry.ts holds one record
 * per id (detection, header check, loader, tokenizer). A leaf module (no imports)
 * so the webview can use the list without bundling the readers.
 */
export const FORMAT_IDS = ['llama2c', 'gguf', 'safetensors', 'onnx'] as const;
export type FormatId = (typeof FORMAT_IDS)[number];

/** The formats the engine loads (ONNX runs on the ort backend only: engine/backend/ort.ts). */
export const RUNNABLE_FORMAT_IDS = ['llama2c', 'gguf', 'safetensors', 'onnx'] as const satisfies readonly FormatId[];
export type RunnableFormatId = (typeof RUNNABLE_FORMAT_IDS)[number];

export function isFormatId(id: unknown): id is FormatId {
  return (FORMAT_IDS as readonly unknown[]).includes(id);
}

export function isRunnableFormat(id: unknown): id is RunnableFormatId {
  return (RUNNABLE_FORMAT_IDS as readonly unknown[]).includes(id);
}
