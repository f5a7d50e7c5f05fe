/**
 * ONNX export as a folder the ort backend and Optimum-style loaders read: `model.onnx` (the
 * decoder graph with its KV cache, onnx/export.ts), or `model.onnx` + `model.onnx.data` when the
 * weights pass protobuf's 2 GiB limit, with `config.json`, `generation_config.json` and the
 * tokenizer beside it, chosen as the safetensors export chooses them.
 */
import { UnsupportedError } from '../errors';
import { HF_FLOAT_KEYS, hfConfigJson, hfGenerationConfig, tokenizerFiles } from './hf-export';
import { exportOnnxExternal, onnxFile, PROTOBUF_MAX_BYTES } from './onnx/export';
import { jsonFile, type ExportFile, type ExportOptions, type ExportResult, type ExportSource } from './types';
import { mergedWeights, withRopeStyle } from './weights';

export function exportOnnxFolder(src: ExportSource, opts: ExportOptions = {}): ExportResult {
  const dtype = opts.dtype ?? 'f32';
  if (dtype !== 'f32') throw new UnsupportedError('the ONNX export writes f32 weights', { file: src.name, key: 'dtype', expected: 'f32', found: dtype });
  if (src.adapterFiles)
    throw new UnsupportedError('an ONNX graph cannot hold an unmerged LoRA adapter', {
      file: src.name,
      key: 'lora',
      expected: '--lora <folder> --merge',
      found: 'an adapter without --merge',
    });
  const loaded = src.lora ? { ...src.loaded, weights: mergedWeights(src.loaded.weights, src.lora) } : src.loaded;
  const notes: string[] = [];
  const files: ExportFile[] = [];
  const one = onnxFile(loaded);
  if (one.size <= PROTOBUF_MAX_BYTES) files.push({ name: 'model.onnx', size: one.size, parts: () => one.chunks() });
  else {
    const ext = exportOnnxExternal(loaded, { dataFile: 'model.onnx.data' });
    files.push({ name: 'model.onnx', size: ext.model.reduce((n, b) => n + b.length, 0), parts: () => ext.model });
    files.push({ name: 'model.onnx.data', size: ext.dataBytes, parts: () => ext.data });
    notes.push('weights in model.onnx.data (external data: the model is over protobuf’s 2 GiB limit)');
  }
  // config.json describes the model for loaders that read it beside the graph (the ort backend: heads, positions, ids).
  const { config } = withRopeStyle(loaded.config, loaded.weights, 'half');
  files.push(jsonFile('config.json', { ...hfConfigJson(config, src.name), torch_dtype: 'float32' }, HF_FLOAT_KEYS));
  files.push(jsonFile('generation_config.json', hfGenerationConfig(config)));
  files.push(...tokenizerFiles(src, notes));
  if (src.lora) notes.push(`LoRA adapter ${src.lora.name} merged into the weights`);
  return { target: 'folder', files, notes };
}
