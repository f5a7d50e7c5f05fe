/**
 * The ort backend: an ONNX decoder run by onnxruntime-web behind the backend contract.
 *
 * The graph's inputs and outputs are read from the session's metadata and checked by
 * engine/formats/onnx.ts (decoderIo): input_ids, optional attention_mask / position_ids,
 * past_key_values.{i}.key|value [1, kv_heads, past, head_dim] in; logits [1, T, V] and
 * present.{i}.key|value [1, kv_heads, past + T, head_dim] out. The KV cache is the present
 * tensors of the last run, fed back as the next run's past; on the WebGPU execution
 * provider they stay on the GPU (preferredOutputLocation 'gpu-buffer').
 *
 * truncate() only moves the cache's end; the next forward slices the held tensors to it
 * (a GPU tensor is read back for that), since slicing a GPU tensor is asynchronous and
 * truncate is not. Nothing is captured but KV bytes; top-k is taken on the host.
 */
import type * as Ort from 'onnxruntime-web';
import { FormatError, UnsupportedError } from '../errors';
import { decoderIo, readOnnxGraph, type DecoderIo, type OnnxValue } from '../formats/onnx';
import type { LoadedModel, ModelConfig } from '../model/types';
import type { Backend, BackendCapabilities, CaptureOptions, ForwardOptions, ForwardResult, KvCacheBytes } from './contract';
import { topKOf } from './cpu';
import { ortStarting, ortWebGpuAvailable } from './ort-env';

/** Where ort runs the graph: its WebAssembly CPU kernels, or its WebGPU execution provider (browser only). */
export type OrtExecutionProvider = 'wasm' | 'webgpu';

export interface OrtBackendOptions {
  contextLength: number;
  /** Default wasm. */
  executionProvider?: OrtExecutionProvider;
}

const ORT_CAPABILITIES: BackendCapabilities = {
  captures: { attentions: false, residuals: false, finalHidden: false, router: false, kvBytes: true, qk: false },
  onDevice: { argmax: false, topK: 0, sampling: false },
  pipelinedGreedy: false,
  lora: false,
};

/** One layer's cache: the present tensors of the last run, [1, kv_heads, tokens held, head_dim]. */
interface LayerKv {
  key: Ort.Tensor;
  value: Ort.Tensor;
}

/** IEEE half → float (the cache and logits of float16 graphs). */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function toFloat32(data: Ort.Tensor['data'], type: string, file: string): Float32Array {
  if (data instanceof Float32Array) return data;
  if (type === 'float16') {
    const src = data as ArrayLike<number>;
    // Uint16Array (bits) where there is no Float16Array; numbers already where there is
    if (src instanceof Uint16Array) return Float32Array.from(src, halfToFloat);
    return Float32Array.from(src);
  }
  throw new UnsupportedError(`logits of type ${type}`, { file, key: 'logits', expected: 'float32 or float16' });
}

/** The session's metadata as the decoder check reads it. */
function sessionValues(meta: readonly Ort.InferenceSession.ValueMetadata[]): OnnxValue[] {
  return meta.map((m) => (m.isTensor ? { name: m.name, type: m.type, dims: [...m.shape] } : { name: m.name, type: 'non-tensor', dims: [] }));
}

export class OrtBackend implements Backend {
  readonly id = 'ort' as const;
  readonly label: string;
  readonly capabilities = ORT_CAPABILITIES;
  private kv: LayerKv[] | undefined;
  /** Tokens in the cache (≤ the tensors' length after a truncate, until the next forward slices them). */
  private len = 0;

  private constructor(
    private readonly ort: typeof Ort,
    private session: Ort.InferenceSession | undefined,
    readonly config: ModelConfig,
    readonly contextLength: number,
    private readonly io: DecoderIo,
    readonly executionProvider: OrtExecutionProvider,
    private readonly file: string,
  ) {
    this.label = `ONNX Runtime Web (${executionProvider === 'webgpu' ? 'WebGPU' : 'WebAssembly'})`;
  }

  /** Opens the loaded model's .onnx graph in an ort session and checks its inputs and outputs. */
  static async create(loaded: Pick<LoadedModel, 'config' | 'onnx'>, opts: OrtBackendOptions): Promise<OrtBackend> {
    const onnx = loaded.onnx;
    if (!onnx) throw new UnsupportedError('the ort backend runs ONNX models only', { file: 'model', expected: 'a .onnx decoder (LoadedModel.onnx)' });
    const ctx = opts.contextLength;
    if (!Number.isSafeInteger(ctx) || ctx < 1) throw new RangeError(`contextLength ${ctx} must be a positive integer`);
    const ep = opts.executionProvider ?? 'wasm';
    if (ep === 'webgpu' && !ortWebGpuAvailable())
      throw new UnsupportedError('the WebGPU execution provider needs navigator.gpu (a browser)', { file: onnx.file, expected: 'executionProvider wasm' });
    const ort = await ortStarting();
    // present.* stay where the graph ran them: on the GPU, they are fed back without a read-back
    const presentOnGpu =
      ep === 'webgpu'
        ? Object.fromEntries(
            readOnnxGraph(onnx.bytes, onnx.file)
              .outputs.filter((o) => /^present\./.test(o.name))
              .map((o) => [o.name, 'gpu-buffer' as const]),
          )
        : undefined;
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(onnx.bytes, {
        executionProviders: [ep],
        graphOptimizationLevel: 'all',
        ...(presentOnGpu ? { preferredOutputLocation: presentOnGpu } : {}),
      });
    } catch (e) {
      throw new FormatError(`onnxruntime-web could not open the model: ${(e as Error).message}`, { file: onnx.file, expected: 'an ONNX decoder onnxruntime-web 1.30 runs' });
    }
    try {
      const io = decoderIo(sessionValues(session.inputMetadata), sessionValues(session.outputMetadata), onnx.file);
      const c = loaded.config;
      if (
        io.past.length !== c.numLayers ||
        (io.numKvHeads ?? c.numKvHeads) !== c.numKvHeads ||
        (io.headDim ?? c.headDim) !== c.headDim ||
        (io.vocab ?? c.vocabSize) !== c.vocabSize
      )
        throw new FormatError('the config does not describe this graph', {
          file: onnx.file,
          expected: `${c.numLayers} layers, ${c.numKvHeads} KV heads of ${c.headDim}, vocab ${c.vocabSize}`,
          found: `${io.past.length} layers, ${io.numKvHeads ?? '?'} KV heads of ${io.headDim ?? '?'}, vocab ${io.vocab ?? '?'}`,
        });
      return new OrtBackend(ort, session, c, ctx, io, ep, onnx.file);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  get length(): number {
    return this.len;
  }

  async forward(tokens: number[], positions?: number[], opts: ForwardOptions = {}): Promise<ForwardResult> {
    const session = this.session;
    if (!session) throw new Error('forward: the ort backend was disposed');
    const T = tokens.length;
    const V = this.config.vocabSize;
    if (T === 0) throw new RangeError('forward: no tokens');
    const start = this.len;
    if (start + T > this.contextLength) throw new RangeError(`forward: ${start} cached + ${T} new tokens exceed the context length ${this.contextLength}`);
    const bad = tokens.find((t) => !Number.isSafeInteger(t) || t < 0 || t >= V);
    if (bad !== undefined) throw new RangeError(`forward: token id ${bad} is outside the vocabulary (0..${V - 1})`);
    const pos = positions ?? Array.from({ length: T }, (_, i) => start + i); // [T]
    if (pos.length !== T || !pos.every((p) => Number.isSafeInteger(p) && p >= 0)) throw new RangeError('forward: positions must be T non-negative integers');
    const k = opts.topK ?? 0;
    if (!Number.isInteger(k) || k < 0 || k > V) throw new RangeError(`topK must be an integer in [0, ${V}], got ${k}`);
    refuseCaptures(opts.capture, this.file);

    const ort = this.ort;
    const io = this.io;
    const total = start + T;
    const int = (name: string | undefined, values: number[], dims: number[]): Ort.Tensor => {
      const type = name && session.inputMetadata.find((m) => m.name === name);
      return type && type.isTensor && type.type === 'int32'
        ? new ort.Tensor('int32', Int32Array.from(values), dims)
        : new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
    };
    const past = await this.pastTensors(); // [L] × {key, value} [1, Kv, start, hd]
    const feeds: Record<string, Ort.Tensor> = { [io.inputIds]: int(io.inputIds, tokens, [1, T]) }; // [1, T]
    if (io.positionIds) feeds[io.positionIds] = int(io.positionIds, pos, [1, T]); // [1, T]
    if (io.attentionMask) feeds[io.attentionMask] = int(io.attentionMask, new Array<number>(total).fill(1), [1, total]); // [1, start + T]
    if (io.useCacheBranch) feeds[io.useCacheBranch] = new ort.Tensor('bool', Uint8Array.of(start > 0 ? 1 : 0), [1]);
    if (io.seqlensK) feeds[io.seqlensK] = new ort.Tensor('int32', Int32Array.of(total - 1), [1]); // [1]
    if (io.totalSequenceLength) feeds[io.totalSequenceLength] = new ort.Tensor('int32', Int32Array.of(total), []);
    io.past.forEach((p, l) => {
      feeds[p.key] = past[l].key;
      feeds[p.value] = past[l].value;
    });
    let out: Ort.InferenceSession.ReturnType;
    try {
      out = await session.run(feeds);
    } catch (e) {
      throw new Error(`${this.file}: onnxruntime-web failed to run the graph (${start} cached + ${T} tokens): ${(e as Error).message}`);
    }
    const logitsT = out[io.logits]; // [1, T, V]
    const all = toFloat32(logitsT.data, logitsT.type, this.file);
    if (all.length !== T * V)
      throw new FormatError('logits have an unexpected shape', { file: this.file, key: io.logits, expected: `[1, ${T}, ${V}]`, found: `[${logitsT.dims.join(', ')}]` });
    const rows = opts.lastOnly ? 1 : T;
    const logits = opts.lastOnly ? all.slice((T - 1) * V) : all; // [rows, V]
    logitsT.dispose();
    // the new cache: present.* [1, Kv, start + T, hd]; the old past is no longer needed
    const next = io.present.map((p) => ({ key: out[p.key], value: out[p.value] }));
    for (const l of this.kv ?? []) {
      l.key.dispose();
      l.value.dispose();
    }
    for (const [name, t] of Object.entries(out)) if (name !== io.logits && !io.present.some((p) => p.key === name || p.value === name)) t.dispose();
    this.kv = next;
    this.len = total;
    const r: ForwardResult = { logits, rows, vocab: V, start, keys: total };
    if (k > 0) r.top = topKOf(logits.subarray((rows - 1) * V), k);
    if (opts.logits === false) r.logits = new Float32Array(0);
    if (opts.capture?.kvBytes) r.kvBytes = this.kvCache();
    return r;
  }

  /** The cache as the next run's past: empty tensors on a fresh cache, the held tensors sliced to `length` after a truncate. */
  private async pastTensors(): Promise<LayerKv[]> {
    const ort = this.ort;
    const Kv = this.config.numKvHeads;
    const hd = this.config.headDim;
    const type = this.io.kvType;
    if (!this.kv || this.len === 0) {
      this.disposeKv();
      const empty = () => new ort.Tensor(type, type === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, Kv, 0, hd]); // [1, Kv, 0, hd]
      return this.io.past.map(() => ({ key: empty(), value: empty() }));
    }
    const held = this.kv[0].key.dims[2];
    if (held === this.len) return this.kv;
    const n = this.len;
    const slice = async (t: Ort.Tensor): Promise<Ort.Tensor> => {
      const data = (t.location === 'cpu' ? t.data : await t.getData()) as Float32Array | Uint16Array; // [1, Kv, held, hd]
      const out = new (data.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(Kv * n * hd); // [1, Kv, n, hd]
      for (let h = 0; h < Kv; h++) out.set(data.subarray(h * held * hd, (h * held + n) * hd), h * n * hd);
      t.dispose();
      return new ort.Tensor(type, out, [1, Kv, n, hd]);
    };
    const kv: LayerKv[] = [];
    for (const l of this.kv) kv.push({ key: await slice(l.key), value: await slice(l.value) });
    this.kv = kv;
    return kv;
  }

  private disposeKv(): void {
    for (const l of this.kv ?? []) {
      l.key.dispose();
      l.value.dispose();
    }
    this.kv = undefined;
  }

  /** Where the cache's tensors are ('cpu', or 'gpu-buffer' on the WebGPU execution provider); undefined when empty. */
  get cacheLocation(): string | undefined {
    return this.kv?.[0].key.location;
  }

  reset(): void {
    this.disposeKv();
    this.len = 0;
  }

  truncate(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.len) throw new RangeError(`truncate(${n}): cache holds ${this.len} tokens`);
    this.len = n;
  }

  kvCache(): KvCacheBytes[] {
    const bytesPerElement = this.io.kvType === 'float16' ? 2 : 4;
    const perToken = 2 * this.config.numKvHeads * this.config.headDim * bytesPerElement;
    const held = this.kv ? this.kv[0].key.dims[2] : 0;
    return this.io.past.map((_, layer) => ({ layer, allocated: held * perToken, used: this.len * perToken, tokens: this.len, capacity: this.contextLength }));
  }

  dispose(): void {
    this.disposeKv();
    this.len = 0;
    const s = this.session;
    this.session = undefined;
    void s?.release();
  }
}

/** Asking for what the ort backend cannot record is an error that says so (capabilities.captures). */
function refuseCaptures(cap: CaptureOptions | undefined, file: string): void {
  if (!cap) return;
  const asked = (Object.keys(cap) as (keyof CaptureOptions)[]).filter((k) => cap[k] && k !== 'kvBytes');
  if (asked.length > 0) throw new UnsupportedError(`the ort backend runs the ONNX graph whole: it records no ${asked.join(', ')}`, { file, expected: 'capture: { kvBytes } only' });
}
