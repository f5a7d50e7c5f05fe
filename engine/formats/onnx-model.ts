/**
 * Loads an ONNX decoder for the ort backend: the .onnx file's bytes (onnxruntime-web runs
 * them; the engine holds no weights of its own), its graph checked as a decoder with an
 * explicit KV cache (onnx.ts), and the engine's ModelConfig from the graph and the
 * config.json beside it when there is one. The tokenizer is the tokenizer.json beside it.
 */
import { FormatError } from '../errors';
import type { LoadedModel, ModelConfig } from '../model/types';
import { applyGenerationConfig, readJsonFile, type HfFolder } from './hf';
import { onnxConfig, onnxDecoder, readOnnxGraph, type DecoderIo, type OnnxGraph } from './onnx';
import { skimOnnx } from './onnx-skim';

/** ort's element type names → the dtype names the model manager shows. */
const DTYPE_LABELS: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int8: 'I8', uint8: 'U8', int32: 'I32', int64: 'I64' };

export interface OnnxRead {
  /** The whole file (empty when read with `structureOnly`). */
  bytes: Uint8Array;
  /** The .onnx file's size in bytes. */
  size: number;
  graph: OnnxGraph;
  io: DecoderIo;
  config: ModelConfig;
  /** The config files read beside the graph. */
  configFiles: string[];
  /** On-disk dtypes of the weights (F32, F16…), largest share first. */
  dtypes: string[];
}

/**
 * Reads and checks `main` of `dir` as an ONNX decoder, with config.json and generation_config.json beside it when
 * present. With `structureOnly` (the model manager's header check) the weights' bytes are skipped, not read (onnx-skim.ts).
 */
export async function readOnnxModel(dir: HfFolder, main: string, opts: { structureOnly?: boolean } = {}): Promise<OnnxRead> {
  const src = await dir.open(main);
  const file = `${dir.name}/${main}`;
  if (!src) throw new FormatError('no such file', { file, expected: 'the .onnx model file' });
  let bytes: Uint8Array = new Uint8Array(0);
  let graph: OnnxGraph;
  const size = src.size;
  try {
    if (opts.structureOnly) graph = await skimOnnx(src, file);
    else {
      bytes = await src.read(0, src.size);
      graph = readOnnxGraph(bytes, file);
    }
  } finally {
    await src.close?.();
  }
  const io = onnxDecoder(graph, file);
  const configFiles: string[] = [];
  const json = await readJsonFile(dir, 'config.json', false);
  if (json !== undefined) configFiles.push('config.json');
  const config = onnxConfig(io, file, json === undefined ? undefined : { json, file: `${dir.name}/config.json` });
  const gen = await readJsonFile(dir, 'generation_config.json', false);
  if (gen !== undefined) {
    applyGenerationConfig(config, gen, `${dir.name}/generation_config.json`);
    configFiles.push('generation_config.json');
  }
  const dtypes = [...graph.weightElements.entries()]
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([t]) => DTYPE_LABELS[t] ?? t.toUpperCase());
  return { bytes, size, graph, io, config, configFiles, dtypes };
}

/** An ONNX decoder as a LoadedModel: no weights of the engine's, the graph's bytes for the ort backend. */
export async function loadOnnxModel(dir: HfFolder, main: string | undefined): Promise<LoadedModel> {
  if (main === undefined) throw new FormatError('a folder is not an ONNX model; name its .onnx file', { file: dir.name, expected: 'a .onnx file' });
  const r = await readOnnxModel(dir, main);
  return {
    config: r.config,
    weights: new Map(),
    source: { format: 'onnx', files: [main, ...r.configFiles], dtypes: r.dtypes },
    onnx: { file: `${dir.name}/${main}`, bytes: r.bytes, parameters: [...r.graph.weightElements.values()].reduce((a, b) => a + b, 0) },
  };
}
