/**
 * The worker's model session: load the active model from the host's files by
 * byte range (through the webview), with progress and cancel, then greedy
 * generation streamed through the tokenizer's stream decoder, with stop strings
 * and a Stop that takes effect between tokens.
 *
 * Pure TypeScript (no DOM, no Node): engine/worker/worker.ts feeds it messages.
 * The model runs behind the backend contract (engine/backend/): the CPU backend, or the
 * WebGPU one on the device the worker probed (setGpuDevice); an ONNX model runs on the ort
 * backend (onnxruntime-web: its WebGPU execution provider where the worker has WebGPU, else
 * wasm). Generation is the engine's one decode loop (engine/generate/), so greedy decoding on
 * the GPU is pipelined.
 */
import type { HfFolder } from '../formats/hf';
import { formatById, loadModel, loadModelTokenizer, openLazyModel } from '../formats/registry';
import type { ByteSource } from '../formats/source';
import type { Backend, BackendId } from '../backend/contract';
import { backendKind, createBackend, ONNX_BACKEND, type BackendCreateOptions } from '../backend/registry';
import type { OrtExecutionProvider } from '../backend/ort';
import { generate } from '../generate/generate';
import type { GpuWeights, ModelLoadSpec, WebviewToWorker, WorkerToWebview } from '../protocol/index';
import type { Tokenizer } from '../tokenizer/index';
import type { LoadedModel, ModelConfig, WeightMap } from '../model/types';
import { materialise } from '../model/lazy';
import { GpuError } from '../gpu/lifecycle';
import type { KvCacheDtype } from '../model/kv/layout';
import { LabRunner } from './lab';
import { lensWeights, type LensWeights } from '../model/logit-lens';
import { InsideSession } from './inside';
import { KvWorker } from './kv';
import { XcheckWorker } from './xcheck';

/** Bytes per range request (the host refuses more than 16 MiB). */
export const RANGE_CHUNK = 8 * 1024 * 1024;

/** Prompt ids per forward when a prompt is longer (Generate tab): progress and Stop between chunks. */
export const GENERATE_PREFILL_CHUNK = 256;
/** A GPU model's weights stay in memory for the lab's draft model up to this size. */
const DRAFT_KEEP_BYTES = 256 * 1024 * 1024;

/** The tensors the logit lens reads (final norm, head), read whole from a lazily opened model. */
async function lensTensors(c: ModelConfig, spec: ModelLoadSpec, folder: HfFolder): Promise<WeightMap> {
  const m = await openLazyModel(spec.format, folder, spec.weights);
  try {
    const names = ['model.norm.weight', 'model.norm.bias', c.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'];
    return materialise(new Map(names.filter((n) => m.lazy.has(n)).map((n) => [n, m.lazy.get(n)!])));
  } finally {
    await m.close();
  }
}

class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

interface Loading {
  id: number;
  cancelled: boolean;
}

export class ModelSession {
  private nextReq = 1;
  /** Range reads waiting for the webview, each with the load it serves. */
  private readonly pending = new Map<number, { job: Loading; resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  private loading: Loading | undefined;
  private model: Backend | undefined;
  private gpuDevice: GPUDevice | undefined;
  private tokenizer: Tokenizer | undefined;
  private stopIds: number[] = [];
  private modelId: string | undefined;
  private generating: { id: number; stop: boolean } | undefined;
  /**
   * The loaded weights, kept for the decoding lab's early-exit draft model when that costs
   * no extra memory (the CPU backend holds them anyway) or little (at most DRAFT_KEEP_BYTES).
   */
  private loaded: LoadedModel | undefined;
  /** The decoding lab (lab.ts) runs on this session's model. */
  private readonly lab: LabRunner;
  /** The final norm and head on the host, for the Inside panel's logit lens. */
  private lens: LensWeights | undefined;
  /** The Inside panel's forward and views (engine/worker/inside.ts). */
  private readonly inside = new InsideSession(
    (m) => this.post(m),
    () =>
      this.model
        ? {
            backend: this.model,
            tokenizer: this.tokenizer,
            lens: this.lens,
            busy: this.generating ? 'The model is generating (Generate tab); stop it or wait, then run again.' : undefined,
          }
        : undefined,
  );
  /** The KV-cache panel's requests on the loaded model (engine/worker/kv.ts). */
  private readonly kv: KvWorker;
  /** The cross-check against onnxruntime-web (engine/worker/xcheck.ts). */
  private readonly xcheck: XcheckWorker;
  /** How the loaded model's backend was created, to build a second one of the same kind (the KV tab's int8 cache). */
  private backendSpec: { id: BackendId; opts: BackendCreateOptions } | undefined;

  constructor(
    private readonly post: (m: WorkerToWebview) => void,
    /** Lets other messages in between tokens (a Stop). */
    private readonly yieldNow: () => Promise<void> = () => new Promise((r) => setTimeout(r, 0)),
  ) {
    const model = () =>
      !this.model || !this.modelId
        ? 'No model is loaded yet.'
        : !this.tokenizer
          ? 'This model has no tokenizer, so text cannot be turned into tokens.'
          : { backend: this.model, tokenizer: this.tokenizer, stopIds: this.stopIds, loaded: this.loaded };
    this.lab = new LabRunner(post, model, yieldNow, (spec) => this.loadWeights(spec));
    this.kv = new KvWorker(
      post,
      () =>
        this.model && this.modelId && !this.generating ? { backend: this.model, tokenizer: this.tokenizer, stopIds: this.stopIds, createBackend: this.secondBackend() } : undefined,
      yieldNow,
    );
    this.xcheck = new XcheckWorker(
      post,
      () =>
        !this.model || !this.modelId
          ? 'No model is loaded yet.'
          : this.generating
            ? 'The model is generating (Generate tab); stop it or wait, then run again.'
            : {
                backend: this.model,
                tokenizer: this.tokenizer,
                loaded: this.loaded,
                onnx: !!this.backendSpec && backendKind(this.backendSpec.id).runsOnnx,
                webgpu: !!this.gpuDevice,
                modelId: this.modelId,
              },
      yieldNow,
      { load: (spec) => this.loadOther(spec), webgpu: () => !!this.gpuDevice },
    );
  }

  /** Builds a backend like the loaded one with another KV dtype, or says why it cannot. */
  private secondBackend(): ((kvDtype: KvCacheDtype) => Promise<Backend>) | string {
    const loaded = this.loaded;
    const spec = this.backendSpec;
    if (spec && backendKind(spec.id).runsOnnx)
      return "The int8 cache is the engine's own: an ONNX model keeps its graph's cache (the present tensors onnxruntime-web returns), so it has no int8 variant.";
    if (!loaded || !spec)
      return 'The weights of this GPU model are not kept on the host (they are too large), so a second model with the int8 cache cannot be built: load it on the CPU or pick a smaller model.';
    return (kvDtype) => createBackend(spec.id, loaded, { ...spec.opts, kvDtype });
  }

  /** The device the WebGPU backend runs on (undefined: none, "gpu" loads run on the CPU with a note). */
  setGpuDevice(device: GPUDevice | undefined): void {
    this.gpuDevice = device;
  }

  /** Frees the loaded model (the worker calls it when its GPU device is lost). */
  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
    this.modelId = undefined;
    this.loaded = undefined;
  }

  /** True when the message was the session's. */
  handle(msg: WebviewToWorker): boolean {
    if (msg.type === 'insideRun') this.lab.handle({ type: 'labStop', id: 0 }); // one backend: an Inside run ends a lab run
    if (this.inside.handle(msg)) return true;
    switch (msg.type) {
      case 'loadModel':
        void this.load(msg.id, msg.spec, msg.contextLength, msg.device, msg.weights ?? 'f32');
        return true;
      case 'cancelLoad':
        if (this.loading && (msg.id === this.loading.id || msg.id === 0)) this.loading.cancelled = true;
        return true;
      case 'rangeData': {
        const p = this.pending.get(msg.reqId);
        if (p) {
          this.pending.delete(msg.reqId);
          if (msg.bytes) p.resolve(msg.bytes);
          else p.reject(new Error(msg.error ?? 'no data'));
        }
        return true;
      }
      case 'generate':
        this.lab.handle({ type: 'labStop', id: 0 }); // one backend: a generation ends a lab run
        void this.generate(msg.id, msg.prompt, msg.maxTokens, msg.stop);
        return true;
      case 'labRun':
        if (this.generating) this.generating.stop = true; // one backend: a lab run ends a generation
        return this.lab.handle(msg);
      case 'labStop':
        return this.lab.handle(msg);
      case 'stopGenerate':
        if (this.generating && (this.generating.id === msg.id || msg.id === 0)) this.generating.stop = true;
        return true;
      default:
        return this.xcheck.handle(msg) || this.kv.handle(msg);
    }
  }

  private fetchRange(job: Loading, modelId: string, file: string, offset: number, length: number): Promise<Uint8Array> {
    const reqId = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(reqId, { job, resolve, reject });
      this.post({ type: 'readRange', reqId, modelId, file, offset, length });
    });
  }

  private source(spec: ModelLoadSpec, name: string, size: number, job: Loading, progress: (n: number) => void): ByteSource {
    const self = this;
    return {
      name,
      size,
      async read(offset, length) {
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
          throw new RangeError(`${name}: read of ${length} bytes at offset ${offset} is outside the file (size ${size})`);
        }
        const out = new Uint8Array(length);
        for (let done = 0; done < length;) {
          if (job.cancelled) throw new Cancelled();
          const n = Math.min(RANGE_CHUNK, length - done);
          const b = await self.fetchRange(job, spec.modelId, name, offset + done, n);
          if (b.byteLength !== n) throw new RangeError(`${name}: asked for ${n} bytes at ${offset + done}, got ${b.byteLength}`);
          out.set(b, done);
          done += n;
          progress(n);
        }
        if (job.cancelled) throw new Cancelled();
        return out;
      },
    };
  }

  /** Another registered model's files, read through the same bridge (no progress; the session's model stays as it is). */
  private otherFolder(spec: ModelLoadSpec): HfFolder {
    const job: Loading = { id: 0, cancelled: false };
    const open = (name: string): ByteSource | null => {
      const size = spec.files.find((f) => f.name === name)?.size;
      return size === undefined ? null : this.source(spec, name, size, job, () => {});
    };
    return { name: spec.name, open: async (f) => open(f) };
  }

  /** Another registered model's weights (the lab's draft model). */
  async loadWeights(spec: ModelLoadSpec): Promise<LoadedModel> {
    return loadModel(spec.format, this.otherFolder(spec), spec.weights);
  }

  /** Another registered model's weights (an ONNX model: its graph) and its tokenizer (the cross-check's pair). */
  async loadOther(spec: ModelLoadSpec): Promise<{ loaded: LoadedModel; tokenizer?: Tokenizer }> {
    const folder = this.otherFolder(spec);
    const loaded = await loadModel(spec.format, folder, spec.weights);
    return { loaded, tokenizer: await loadModelTokenizer(spec.format, folder, spec.weights, spec.tokenizer) };
  }

  async load(id: number, spec: ModelLoadSpec, contextLength: number, device: 'cpu' | 'gpu', weights: GpuWeights = 'f32'): Promise<void> {
    if (this.loading) this.loading.cancelled = true;
    const job: Loading = { id, cancelled: false };
    this.loading = job;
    this.model?.dispose();
    this.model = undefined;
    this.tokenizer = undefined;
    this.modelId = undefined;
    this.loaded = undefined;
    this.inside.clear();
    const t0 = Date.now();
    const total = spec.files.reduce((s, f) => s + f.size, 0);
    let bytes = 0;
    let lastPost = 0;
    let phase = 'reading weights';
    const progress = (n: number) => {
      bytes += n;
      const now = Date.now();
      if (now - lastPost > 100 || bytes >= total) {
        lastPost = now;
        this.post({ type: 'loadProgress', id, bytes, total, phase });
      }
    };
    const sizeOf = (name: string) => spec.files.find((f) => f.name === name)?.size;
    const open = (name: string): ByteSource | null => {
      const size = sizeOf(name);
      return size === undefined ? null : this.source(spec, name, size, job, progress);
    };
    try {
      this.post({ type: 'loadProgress', id, bytes: 0, total, phase: 'reading headers' });
      // The format registry loads the weights and the tokenizer the spec names ("embedded", a file, or none).
      const folder: HfFolder = { name: spec.name, open: async (f) => open(f) };
      const gpuDevice = device === 'gpu' ? this.gpuDevice : undefined;
      // On the GPU the weights stay in their files until the upload reads them by ranges (no f32 copy here).
      const lazy = gpuDevice && formatById(spec.format).open ? await openLazyModel(spec.format, folder, spec.weights) : undefined;
      if (lazy) phase = 'uploading weights to the GPU';
      const loaded = lazy ? undefined : await loadModel(spec.format, folder, spec.weights);
      const config = (lazy ?? loaded)!.config;
      const tokenizer = await loadModelTokenizer(spec.format, folder, spec.weights, spec.tokenizer);
      if (job.cancelled) throw new Cancelled();
      if (!lazy) this.post({ type: 'loadProgress', id, bytes: total, total, phase: 'preparing the model' });
      const ctx = Math.max(16, Math.min(contextLength, config.maxPositions));
      let note = device === 'gpu' && !gpuDevice ? 'WebGPU is not available in this worker: running on the CPU.' : undefined;
      let model: Backend;
      let backendSpec: { id: BackendId; opts: BackendCreateOptions };
      if (loaded?.onnx) {
        // an ONNX graph runs on onnxruntime-web: its WebGPU execution provider where the worker has WebGPU, else its wasm build
        const opened = await this.openOnnx(loaded, ctx, gpuDevice ? 'webgpu' : 'wasm');
        ({ model, backendSpec } = opened);
        const where = opened.note ?? (device === 'gpu' && !gpuDevice ? 'WebGPU is not available in this worker: running on onnxruntime-web (WebAssembly).' : undefined);
        const whole = `${opened.model.label} runs this ONNX graph whole: the views that need the engine's captures (Inside, attention) cannot show it.`;
        note = where ? `${where} ${whole}` : whole;
      } else {
        backendSpec = { id: gpuDevice ? 'webgpu' : 'cpu', opts: { contextLength: ctx, weights, device: gpuDevice } };
        const signal = {
          get aborted() {
            return job.cancelled;
          },
        };
        try {
          model = await createBackend(backendSpec.id, lazy ?? loaded!, { ...backendSpec.opts, signal });
        } catch (e) {
          if (e instanceof GpuError && e.kind === 'cancelled') throw new Cancelled();
          throw e;
        } finally {
          await lazy?.close();
        }
      }
      if (job.cancelled) {
        model.dispose();
        throw new Cancelled();
      }
      let parameters = loaded?.onnx?.parameters ?? 0;
      for (const t of (lazy?.lazy ?? loaded!.weights).values()) parameters += t.shape.reduce((a, b) => a * b, 1);
      // What stays on the host: the lens's final norm and head, and every weight when small (a second backend is built from them).
      const quiet: HfFolder = { name: spec.name, open: async (f) => (sizeOf(f) === undefined ? null : this.source(spec, f, sizeOf(f)!, job, () => {})) };
      let kept = loaded;
      if (lazy && parameters * 4 <= DRAFT_KEEP_BYTES) kept = await loadModel(spec.format, quiet, spec.weights);
      const lens = loaded?.onnx ? undefined : lensWeights(config, kept?.weights ?? (await lensTensors(config, spec, quiet)));
      if (job.cancelled) {
        model.dispose();
        throw new Cancelled();
      }
      this.model = model;
      this.backendSpec = backendSpec;
      this.tokenizer = tokenizer;
      this.lens = lens;
      this.stopIds = config.stopTokenIds ?? config.eosTokenIds;
      this.modelId = spec.modelId;
      this.loaded = !loaded?.onnx && (!gpuDevice || parameters * 4 <= DRAFT_KEEP_BYTES) ? kept : undefined;
      this.post({
        type: 'loaded',
        id,
        modelId: spec.modelId,
        summary: {
          device: backendSpec.id === 'webgpu' || backendSpec.opts.ortProvider === 'webgpu' ? 'gpu' : 'cpu',
          ...(backendSpec.id === ONNX_BACKEND ? { ort: backendSpec.opts.ortProvider ?? 'wasm' } : {}),
          ...(model.id === 'webgpu' ? { weights } : {}),
          contextLength: model.contextLength,
          parameters,
          tokenizerKind: tokenizer?.kind,
          seconds: (Date.now() - t0) / 1000,
          note,
        },
      });
    } catch (e) {
      const cancelled = e instanceof Cancelled || job.cancelled;
      this.post({ type: 'loadFailed', id, modelId: spec.modelId, cancelled, message: cancelled ? 'Loading was cancelled.' : e instanceof Error ? e.message : String(e) });
    } finally {
      if (this.loading === job) this.loading = undefined;
      // Only this load's reads: a newer load (the one that cancelled this) may be reading too.
      for (const [k, p] of this.pending) {
        if (job.cancelled && p.job === job) {
          p.reject(new Cancelled());
          this.pending.delete(k);
        }
      }
    }
  }

  /** The ort backend on `provider`; a WebGPU execution provider that fails to open falls back to wasm, with a note saying why. */
  private async openOnnx(
    loaded: LoadedModel,
    contextLength: number,
    provider: OrtExecutionProvider,
  ): Promise<{ model: Backend; backendSpec: { id: BackendId; opts: BackendCreateOptions }; note?: string }> {
    const spec = (p: OrtExecutionProvider) => ({ id: ONNX_BACKEND, opts: { contextLength, ortProvider: p } });
    if (provider === 'webgpu') {
      try {
        return { model: await createBackend(ONNX_BACKEND, loaded, spec('webgpu').opts), backendSpec: spec('webgpu') };
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        return {
          model: await createBackend(ONNX_BACKEND, loaded, spec('wasm').opts),
          backendSpec: spec('wasm'),
          note: `onnxruntime-web's WebGPU execution provider did not open (${why}): running on its WebAssembly build.`,
        };
      }
    }
    return { model: await createBackend(ONNX_BACKEND, loaded, spec('wasm').opts), backendSpec: spec('wasm') };
  }

  async generate(id: number, prompt: string, maxTokens: number, stop: string[]): Promise<void> {
    const model = this.model;
    const tok = this.tokenizer;
    if (!model || !this.modelId) return this.post({ type: 'genError', id, message: 'No model is loaded yet.' });
    if (!tok) return this.post({ type: 'genError', id, message: 'This model has no tokenizer, so text cannot be turned into tokens.' });
    if (this.generating) this.generating.stop = true;
    const job = {
      id,
      stop: false,
      get aborted() {
        return this.stop;
      },
    };
    this.generating = job;
    try {
      const promptIds = tok.encodeIds(prompt);
      if (promptIds.length === 0 && tok.bosId !== null) promptIds.push(tok.bosId);
      if (promptIds.length === 0) throw new Error('The prompt is empty and this tokenizer has no BOS token to start from.');
      if (promptIds.length >= model.contextLength) throw new Error(`The prompt is ${promptIds.length} tokens; the context holds ${model.contextLength}.`);
      let n = 0;
      let t0 = 0;
      const rate = () => (n > 1 && t0 ? ((n - 1) * 1000) / Math.max(1, Date.now() - t0) : 0);
      const steps = generate(model, {
        promptIds,
        maxNewTokens: maxTokens,
        eosIds: this.stopIds,
        stopStrings: stop,
        tokenizer: tok,
        signal: job,
        // a long prompt is read a chunk at a time, with progress, and Stop is honoured between chunks
        prefill: {
          chunk: GENERATE_PREFILL_CHUNK,
          onChunk: async (done, total) => {
            this.post({ type: 'genProgress', id, done, total });
            await this.yieldNow();
          },
        },
      });
      for (;;) {
        const r = await steps.next();
        if (r.done) {
          const s = r.value;
          if (s.tail) this.post({ type: 'genText', id, text: s.tail, tokens: n, tokensPerSec: rate() });
          const stopReason = s.stopReason === 'criterion' ? 'stop' : s.stopReason;
          this.post({ type: 'genDone', id, text: s.text, tokens: s.ids.length, promptTokens: promptIds.length, tokensPerSec: s.decodeTokensPerSec || rate(), stopReason });
          break;
        }
        n++;
        if (n === 1) t0 = Date.now();
        if (r.value.text || n === 1) this.post({ type: 'genText', id, text: r.value.text, tokens: n, tokensPerSec: rate() });
        await this.yieldNow(); // lets a Stop in: the loop reads job.aborted after this record
      }
    } catch (e) {
      this.post({ type: 'genError', id, message: e instanceof Error ? e.message : String(e) });
    } finally {
      if (this.generating === job) this.generating = undefined;
    }
  }
}
