/**
 * The worker's cross-check (engine/protocol/xcheck.ts): a model on the engine's backend
 * against an ONNX graph on onnxruntime-web (its WebGPU execution provider where the worker has
 * WebGPU, else wasm; a WebGPU provider that fails to open falls back to wasm with the reason),
 * both running the text's ids and the same number of greedy steps
 * (engine/generate/cross-check.ts). Two pairings:
 *
 * - export: the active model, loaded on the engine's backend, is exported to ONNX in memory
 *   (engine/export/onnx/, a weight at a time with progress and cancel between them). An active
 *   model that is itself an ONNX file is refused with the reason.
 * - pair: two models of the list, one ONNX and one the engine runs, read through the host
 *   (the session's byte-range bridge). The engine side reuses the session's backend when it is
 *   the loaded model, else runs on the CPU backend. The text is tokenised with the engine
 *   side's tokenizer; where the ONNX side's tokenizer gives other ids, the result says so.
 *
 * The backends built for a run (ort's session, a pair's CPU backend) are released after it.
 */
import type { Backend } from '../backend/contract';
import { OrtBackend, type OrtExecutionProvider } from '../backend/ort';
import { createBackend } from '../backend/registry';
import { onnxChunks } from '../export/onnx/export';
import { concat } from '../export/onnx/protobuf';
import { crossCheck } from '../generate/cross-check';
import type { LoadedModel } from '../model/types';
import { ortLabel, type ModelLoadSpec, type WebviewToWorker, type WorkerToWebview } from '../protocol/index';
import { MAX_XCHECK_STEPS, MAX_XCHECK_TEXT, XCHECK_ONNX_REFUSAL, xcheckPairProblem, type XcheckPair, type XcheckPhase, type XcheckSide, type XcheckView } from '../protocol/xcheck';
import type { Tokenizer } from '../tokenizer/index';

/** What the cross-check runs on: the session's model, or why there is none to run. */
export interface XcheckSessionModel {
  backend: Backend;
  tokenizer?: Tokenizer;
  /** The loaded weights (absent when the session did not keep them). */
  loaded?: LoadedModel;
  /** The active model is an ONNX file (it runs on ort already). */
  onnx: boolean;
  /** The worker has WebGPU: try ort's WebGPU execution provider first. */
  webgpu: boolean;
  /** The loaded model's id in the list (a pair's engine side reuses this backend when it names it). */
  modelId?: string;
}

/** What a pair needs of the session: a listed model read through the host, and whether the worker has WebGPU. */
export interface XcheckPairLoader {
  /** The model's weights (an ONNX model: its graph's bytes) and its tokenizer, if it has one. */
  load(spec: ModelLoadSpec): Promise<{ loaded: LoadedModel; tokenizer?: Tokenizer }>;
  webgpu(): boolean;
}

/** What one run compares: the engine backend, the ONNX graph and the ids both read. */
interface Prepared {
  engine: Backend;
  onnx: Pick<LoadedModel, 'config' | 'onnx'>;
  ids: number[];
  /** Decodes the greedy ids for the view. */
  tok: Tokenizer;
  webgpu: boolean;
  view: Pick<XcheckView, 'source' | 'onnxBytes' | 'models' | 'tokenizerNote'>;
}

class Cancelled extends Error {
  constructor() {
    super('The cross-check was cancelled.');
  }
}

/** The text's ids under `tok`, BOS first when the tokenizer has one. */
function promptIds(tok: Tokenizer, text: string): number[] {
  const ids = tok.encodeIds(text);
  if (tok.bosId !== null && ids[0] !== tok.bosId) ids.unshift(tok.bosId);
  return ids;
}

/** Ids for a message: all of a short list, else its first ones and the count. */
function idList(ids: number[]): string {
  return ids.length <= 12 ? `[${ids.join(', ')}]` : `[${ids.slice(0, 10).join(', ')}, … ${ids.length} in all]`;
}

export class XcheckWorker {
  private running: { id: number; cancelled: boolean } | undefined;

  constructor(
    private readonly post: (m: WorkerToWebview) => void,
    /** The session's model, or why the cross-check cannot run now. */
    private readonly model: () => XcheckSessionModel | string,
    private readonly yieldNow: () => Promise<void>,
    /** Reads a pair's models; absent: only the export pairing runs. */
    private readonly pairs?: XcheckPairLoader,
  ) {}

  /** True when the message was the cross-check's. */
  handle(msg: WebviewToWorker): boolean {
    if (msg.type === 'xcheckCancel') {
      if (this.running && (msg.id === 0 || msg.id === this.running.id)) this.running.cancelled = true;
      return true;
    }
    if (msg.type !== 'xcheckRun') return false;
    void this.run(msg.id, msg.text, msg.steps, msg.pair);
    return true;
  }

  private progress(id: number, phase: XcheckPhase, done: number, total: number): void {
    this.post({ type: 'xcheckProgress', id, phase, done, total });
  }

  /** Runs one cross-check (a pair's when `pair` is given); every outcome is posted (xcheckResult or xcheckError). */
  async run(id: number, text: string, steps: number, pair?: XcheckPair): Promise<void> {
    if (this.running) return this.post({ type: 'xcheckError', id, message: 'A cross-check is already running.' });
    const job = { id, cancelled: false };
    this.running = job;
    const signal = {
      get aborted() {
        return job.cancelled;
      },
    };
    /** Backends built for this run, released after it. */
    const owned: Backend[] = [];
    try {
      const p = pair ? await this.preparePair(job, pair, text, steps, owned) : await this.prepareExport(job, text, steps);
      if (job.cancelled) throw new Cancelled();
      this.progress(id, 'opening', 0, 1);
      const ctx = Math.min(p.engine.contextLength, p.ids.length + steps);
      let provider: OrtExecutionProvider = p.webgpu ? 'webgpu' : 'wasm';
      let providerNote: string | undefined = p.webgpu ? undefined : 'The worker has no WebGPU, so onnxruntime-web runs its WebAssembly (wasm) execution provider.';
      let ort: OrtBackend;
      try {
        ort = await OrtBackend.create(p.onnx, { contextLength: ctx, executionProvider: provider });
      } catch (e) {
        if (provider !== 'webgpu') throw e;
        providerNote = `onnxruntime-web's WebGPU execution provider did not open (${e instanceof Error ? e.message : String(e)}), so its wasm one runs.`;
        provider = 'wasm';
        ort = await OrtBackend.create(p.onnx, { contextLength: ctx, executionProvider: provider });
      }
      owned.push(ort);
      if (job.cancelled) throw new Cancelled();
      const r = await crossCheck(p.engine, ort, p.ids, {
        steps,
        signal,
        onStep: async (done, total) => {
          this.progress(id, 'running', done, total);
          await this.yieldNow();
        },
      });
      const side = (label: string, run: typeof r.a): XcheckSide => ({
        label,
        ids: run.ids,
        pieces: run.ids.map((t) => p.tok.decode([t])),
        prefillMs: run.prefillMs,
        msPerToken: run.msPerToken,
      });
      const result: XcheckView = {
        ...p.view,
        provider,
        ...(providerNote ? { providerNote } : {}),
        promptTokens: r.promptTokens,
        maxAbsPerPosition: r.maxAbsPerPosition,
        maxAbs: r.maxAbs,
        logitScale: r.logitScale,
        engine: side(p.engine.label, r.a),
        ort: side(ortLabel(provider), r.b),
        firstDivergence: r.firstDivergence,
      };
      this.post({ type: 'xcheckResult', id, result });
    } catch (e) {
      const cancelled = e instanceof Cancelled || (e instanceof Error && e.name === 'AbortError') || job.cancelled;
      this.post({
        type: 'xcheckError',
        id,
        message: cancelled ? 'The cross-check was cancelled.' : e instanceof Error ? e.message : String(e),
        ...(cancelled ? { cancelled: true } : {}),
      });
    } finally {
      for (const b of owned) b.dispose();
      if (this.running === job) this.running = undefined;
    }
  }

  /** The request's text and steps, checked. */
  private checkInput(text: string, steps: number): void {
    if (typeof text !== 'string' || !text.trim()) throw new RangeError('The text is empty: type a text to run on both backends.');
    if (text.length > MAX_XCHECK_TEXT) throw new RangeError(`The text is ${text.length} characters; at most ${MAX_XCHECK_TEXT} are accepted.`);
    if (!Number.isSafeInteger(steps) || steps < 2 || steps > MAX_XCHECK_STEPS) throw new RangeError(`greedy steps must be an integer in [2, ${MAX_XCHECK_STEPS}], got ${steps}`);
  }

  /** Ids that fit `b`'s context with a free slot for one greedy step. */
  private checkFits(ids: number[], b: Backend): void {
    if (ids.length + 1 > b.contextLength) throw new RangeError(`The text is ${ids.length} tokens; the context holds ${b.contextLength}, and one greedy step needs a free slot.`);
  }

  /** The export pairing: the session's model, and its ONNX export made in memory. */
  private async prepareExport(job: { id: number; cancelled: boolean }, text: string, steps: number): Promise<Prepared> {
    const m = this.model();
    if (typeof m === 'string') throw new Error(m);
    if (m.onnx) throw new Error(XCHECK_ONNX_REFUSAL);
    const tok = m.tokenizer;
    if (!tok) throw new Error('This model has no tokenizer, so the text cannot be turned into tokens.');
    if (!m.loaded)
      throw new Error(
        'The weights of this GPU model are not kept on the host (they are too large), so they cannot be exported to ONNX: load it on the CPU or pick a smaller model.',
      );
    this.checkInput(text, steps);
    const ids = promptIds(tok, text);
    this.checkFits(ids, m.backend);
    // the export, a weight at a time, with progress and a turn for a Cancel between weights
    const chunks: Uint8Array[] = [];
    let last = 0;
    for (const c of onnxChunks(m.loaded, {
      signal: {
        get aborted() {
          return job.cancelled;
        },
      },
      onProgress: (p) => {
        const now = performance.now();
        if (now - last > 100 || p.bytes >= p.total) {
          last = now;
          this.progress(job.id, 'exporting', p.bytes, p.total);
        }
      },
    })) {
      chunks.push(c);
      await this.yieldNow();
      if (job.cancelled) throw new Cancelled();
    }
    const bytes = concat(chunks);
    chunks.length = 0;
    return {
      engine: m.backend,
      onnx: { config: m.loaded.config, onnx: { file: `${m.loaded.source.files[0] ?? 'model'} (ONNX export)`, bytes, parameters: 0 } },
      ids,
      tok,
      webgpu: m.webgpu,
      view: { source: 'export', onnxBytes: bytes.length },
    };
  }

  /** The pair pairing: both models read through the host (the engine side reused when it is the loaded model). */
  private async preparePair(job: { id: number; cancelled: boolean }, pair: XcheckPair, text: string, steps: number, owned: Backend[]): Promise<Prepared> {
    const loader = this.pairs;
    if (!loader) throw new Error('This worker cannot read a second model, so only the export pairing runs.');
    const kind = xcheckPairProblem(pair.onnx, pair.engine);
    if (kind) throw new Error(kind);
    this.checkInput(text, steps);
    const load = async (spec: ModelLoadSpec, side: string) => {
      try {
        return await loader.load(spec);
      } catch (e) {
        if (job.cancelled) throw new Cancelled();
        throw new Error(`${spec.name} (${spec.weights}, the ${side} side) did not load: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    const session = this.model();
    const reuse = typeof session !== 'string' && !session.onnx && session.modelId === pair.engine.modelId ? session : undefined;
    this.progress(job.id, 'loading', 0, reuse ? 1 : 2);
    const onnx = await load(pair.onnx, 'ONNX');
    if (job.cancelled) throw new Cancelled();
    if (!onnx.loaded.onnx) throw new Error(`${pair.onnx.name} (${pair.onnx.weights}) did not load as an ONNX graph.`);
    let engineLoaded: LoadedModel | undefined;
    let engineTok: Tokenizer | undefined;
    if (reuse) engineTok = reuse.tokenizer;
    else {
      this.progress(job.id, 'loading', 1, 2);
      const e = await load(pair.engine, 'engine');
      if (job.cancelled) throw new Cancelled();
      engineLoaded = e.loaded;
      engineTok = e.tokenizer;
    }
    const vocab = xcheckPairProblem(
      { ...pair.onnx, vocabSize: onnx.loaded.config.vocabSize },
      { ...pair.engine, vocabSize: (reuse?.backend.config ?? engineLoaded!.config).vocabSize },
    );
    if (vocab) throw new Error(vocab);
    const tok = engineTok ?? onnx.tokenizer;
    if (!tok) throw new Error(`Neither ${pair.engine.name} nor ${pair.onnx.name} has a tokenizer, so the text cannot be turned into tokens.`);
    const ids = promptIds(tok, text);
    let engine: Backend;
    if (reuse) engine = reuse.backend;
    else {
      // a model other than the loaded one runs on the CPU engine, with the context this run needs
      const max = engineLoaded!.config.maxPositions;
      engine = await createBackend('cpu', engineLoaded!, { contextLength: Math.max(1, Math.min(max, ids.length + steps)) });
      owned.push(engine);
    }
    this.checkFits(ids, engine);
    let tokenizerNote: string | undefined;
    if (!engineTok) tokenizerNote = `${pair.engine.name} has no tokenizer, so both sides run the ids of ${pair.onnx.name}'s tokenizer.`;
    else if (onnx.tokenizer) {
      const other = promptIds(onnx.tokenizer, text);
      if (other.length !== ids.length || other.some((t, i) => t !== ids[i]))
        tokenizerNote = `The tokenizers disagree on the text: ${pair.engine.name}'s gives ${idList(ids)} and ${pair.onnx.name}'s gives ${idList(other)}; both sides run ${pair.engine.name}'s ids.`;
    }
    return {
      engine,
      onnx: onnx.loaded,
      ids,
      tok,
      webgpu: loader.webgpu(),
      view: {
        source: 'pair',
        onnxBytes: onnx.loaded.onnx.bytes.length,
        models: { engine: pair.engine.name, onnx: pair.onnx.name },
        ...(tokenizerNote ? { tokenizerNote } : {}),
      },
    };
  }
}
