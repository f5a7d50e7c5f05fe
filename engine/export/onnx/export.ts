/**
 * Exports a loaded model as an ONNX decoder with a KV cache (graph.ts), serialised by our own
 * protobuf writer (protobuf.ts) as a stream of byte chunks: weights are converted one tensor at
 * a time while the chunks are consumed. One protobuf message is limited to 2 GiB: a larger
 * model goes out with its weights in an ONNX external data file (exportOnnxExternal).
 */
import { UnsupportedError } from '../../errors';
import { validateWeights } from '../../model/shapes';
import type { LoadedModel, Tensor } from '../../model/types';
import { decoderGraph, type DecoderGraph, type WeightBytes } from './graph';
import { graph, model as onnxModel, type Lazy } from './protobuf';

export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opset 17. */
export const ONNX_IR_VERSION = 8;
/** protobuf's limit on one serialised message. */
export const PROTOBUF_MAX_BYTES = 2 ** 31 - 1;

export interface OnnxExportProgress {
  /** Weight bytes converted so far and in all (the rest of the file is small). */
  bytes: number;
  total: number;
}

export interface OnnxExportOptions {
  /** Called after each weight tensor is converted. */
  onProgress?: (p: OnnxExportProgress) => void;
  /** Checked before each weight tensor; when set, the export stops with an AbortError. */
  signal?: { readonly aborted: boolean };
}

/** Throws an UnsupportedError naming what the exporter cannot express for this model. */
export function checkExportable(m: LoadedModel): void {
  const c = m.config;
  const file = m.source.files.join(', ') || 'model';
  validateWeights(c, m.weights, file);
  const known = (what: string, key: string, v: string, allowed: readonly string[]) => {
    if (!allowed.includes(v)) throw new UnsupportedError(`ONNX export: ${what} "${v}" is not supported`, { file, key, expected: allowed.join(', '), found: v });
  };
  known('architecture', 'architecture', c.architecture, ['llama', 'qwen2', 'qwen3', 'mistral', 'mixtral', 'gpt2']);
  known('activation', 'activation', c.activation, ['silu', 'gelu_new', 'gelu']);
  known('norm', 'norm.kind', c.norm.kind, ['rms', 'layer']);
  known('MLP', 'mlp', c.mlp, ['gated', 'plain']);
  known('positions', 'positions', c.positions, ['rope', 'learned']);
  if (c.positions === 'rope') {
    if (!c.rope) throw new UnsupportedError('ONNX export: rotary positions without rope settings', { file, key: 'rope' });
    known('rope scaling', 'rope.scaling.type', c.rope.scaling.type, ['default', 'linear', 'dynamic', 'llama3']);
    known('rope style', 'rope.style', c.rope.style, ['half', 'interleaved']);
    if (c.headDim % 2 !== 0) throw new UnsupportedError('ONNX export: rotary embeddings need an even head dimension', { file, key: 'head_dim', found: String(c.headDim) });
  }
  if (c.numHeads % c.numKvHeads !== 0)
    throw new UnsupportedError(`ONNX export: ${c.numHeads} query heads do not group over ${c.numKvHeads} KV heads`, {
      file,
      key: 'num_key_value_heads',
      found: String(c.numKvHeads),
    });
  if (c.moe && c.mlp !== 'gated')
    throw new UnsupportedError('ONNX export: mixture-of-experts layers with a plain (non-gated) MLP are not supported', { file, key: 'mlp', found: c.mlp });
  if (c.slidingWindow !== undefined && !(Number.isSafeInteger(c.slidingWindow) && c.slidingWindow >= 1))
    throw new UnsupportedError('ONNX export: the sliding window must be a positive integer', { file, key: 'sliding_window', found: String(c.slidingWindow) });
}

/** The f32 bytes of a tensor (transposed [rows, cols] → [cols, rows] when asked), made on demand. */
function weightBytes(opts: OnnxExportOptions, done: { bytes: number; total: number }): WeightBytes {
  return (name: string, t: Tensor, transpose: boolean): Lazy => {
    done.total += t.data.length * 4;
    return {
      size: t.data.length * 4,
      bytes: () => {
        if (opts.signal?.aborted) {
          const e = new Error(`ONNX export cancelled before ${name}`);
          e.name = 'AbortError';
          throw e;
        }
        let out: Uint8Array; // f32 little-endian (the byte order of every platform the engine runs on)
        if (transpose) {
          const [rows, cols] = t.shape;
          out = new Uint8Array(rows * cols * 4);
          const f = new Float32Array(out.buffer); // [cols, rows]
          for (let r = 0; r < rows; r++) for (let col = 0; col < cols; col++) f[col * rows + r] = t.data[r * cols + col];
        } else {
          // a copy: the tensor may be a view into memory that can move (the WebAssembly kernel's)
          out = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
        }
        done.bytes += out.length;
        opts.onProgress?.({ bytes: done.bytes, total: done.total });
        return out;
      },
    };
  };
}

function modelProto(m: LoadedModel, g: DecoderGraph) {
  return onnxModel(graph({ name: `${m.config.architecture} decoder`, ...g }), {
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    producer: 'llm-playground',
    producerVersion: '0.1.0',
    docString: `${m.config.architecture} decoder with a KV cache (Optimum layout), exported from ${m.source.files.join(', ') || 'a loaded model'}`,
    metadata: { architecture: m.config.architecture },
  });
}

function checkSize(m: LoadedModel, total: number, hint: string): void {
  if (total > PROTOBUF_MAX_BYTES)
    throw new UnsupportedError(`ONNX export: the model is ${total.toLocaleString('en-US')} bytes, over protobuf's 2 GiB limit (${hint})`, {
      file: m.source.files.join(', ') || 'model',
      expected: `at most ${PROTOBUF_MAX_BYTES.toLocaleString('en-US')} bytes`,
      found: `${total.toLocaleString('en-US')} bytes`,
    });
}

/**
 * The model as one ONNX file, chunk by chunk (concatenated, they are the file). Checks first that
 * the model can be expressed and fits in one protobuf message (else: exportOnnxExternal);
 * weights are converted as the chunks are taken.
 */
export function* onnxChunks(m: LoadedModel, opts: OnnxExportOptions = {}): Generator<Uint8Array> {
  checkExportable(m);
  const progress = { bytes: 0, total: 0 };
  const proto = modelProto(m, decoderGraph(m, weightBytes(opts, progress)));
  checkSize(m, proto.size, 'it needs its weights in an external data file: exportOnnxExternal');
  yield* proto.chunks();
}

/**
 * The model as one ONNX file: its size, known before any weight is converted, and its chunks
 * (weights converted as they are taken). The caller checks the size against PROTOBUF_MAX_BYTES.
 */
export function onnxFile(m: LoadedModel, opts: OnnxExportOptions = {}): { size: number; chunks(): Generator<Uint8Array> } {
  checkExportable(m);
  const proto = modelProto(m, decoderGraph(m, weightBytes(opts, { bytes: 0, total: 0 })));
  return { size: proto.size, chunks: () => proto.chunks() };
}

/** The model as one ONNX file in byte chunks (see onnxChunks). */
export function exportOnnx(m: LoadedModel, opts: OnnxExportOptions = {}): Uint8Array[] {
  return [...onnxChunks(m, opts)];
}

/** Each weight's offset in the external data file is a multiple of this. */
export const EXTERNAL_ALIGNMENT = 64;

export interface OnnxExternalExport {
  /** The .onnx file: the graph and small constants, with each weight's place in the data file. */
  model: Uint8Array[];
  /** The data file (named `dataFile`, beside the .onnx file), made one weight at a time as it is taken. */
  data: Generator<Uint8Array>;
  /** The data file's length in bytes. */
  dataBytes: number;
}

/**
 * The model as an ONNX file with its weights in an external data file (ONNX external data:
 * each weight's TensorProto names `dataFile`, its offset and length), for models past
 * protobuf's 2 GiB limit. `dataFile` is a plain file name: the runtime looks for it beside the
 * .onnx file.
 */
export function exportOnnxExternal(m: LoadedModel, opts: OnnxExportOptions & { dataFile: string }): OnnxExternalExport {
  const name = opts.dataFile;
  if (!name || /[/\\]/.test(name) || name === '.' || name === '..')
    throw new RangeError(`exportOnnxExternal: dataFile must be a plain file name (it is looked for beside the .onnx file), got ${JSON.stringify(name)}`);
  checkExportable(m);
  const progress = { bytes: 0, total: 0 };
  const placed: { offset: number; data: Lazy }[] = [];
  let end = 0;
  const external = {
    location: name,
    place(data: Lazy): number {
      const offset = Math.ceil(end / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
      placed.push({ offset, data });
      end = offset + data.size;
      return offset;
    },
  };
  const proto = modelProto(m, decoderGraph(m, weightBytes(opts, progress), external));
  checkSize(m, proto.size, 'even without its weights');
  function* data(): Generator<Uint8Array> {
    let at = 0;
    for (const p of placed) {
      if (p.offset > at) yield new Uint8Array(p.offset - at);
      const b = p.data.bytes();
      if (b.length !== p.data.size) throw new Error(`external data: a weight made ${b.length} bytes, ${p.data.size} announced`);
      yield b;
      at = p.offset + b.length;
    }
  }
  return { model: [...proto.chunks()], data: data(), dataBytes: end };
}
