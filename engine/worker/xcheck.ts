/**
 * The worker's cross-check (engine/protocol/xcheck.ts): the active model, loaded on the
 * engine's backend, is exported to ONNX in memory (engine/export/onnx/, a weight at a time
 * with progress and cancel between them), opened in onnxruntime-web (its WebGPU execution
 * provider where the worker has WebGPU, else wasm; a WebGPU provider that fails to open falls
 * back to wasm with the reason), and both run the text's ids and the same number of greedy
 * steps (engine/generate/cross-check.ts). The ort session is released after each run.
 *
 * An active model that is itself an ONNX file is refused with the reason: comparing it needs
 * an engine-loadable model of the same weights, which this view does not pick yet.
 */
import type { Backend } from '../backend/contract';
import { OrtBackend, type OrtExecutionProvider } from '../backend/ort';
import { onnxChunks } from '../export/onnx/export';
import { concat } from '../export/onnx/protobuf';
import { crossCheck } from '../generate/cross-check';
import type { LoadedModel } from '../model/types';
import { ortLabel, type WebviewToWorker, type WorkerToWebview } from '../protocol/index';
import { MAX_XCHECK_STEPS, MAX_XCHECK_TEXT, XCHECK_ONNX_REFUSAL, type XcheckSide, type XcheckView } from '../protocol/xcheck';
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
}

class Cancelled extends Error {
  constructor() {
    super('The cross-check was cancelled.');
  }
}

export class XcheckWorker {
  private running: { id: number; cancelled: boolean } | undefined;

  constructor(
    private readonly post: (m: WorkerToWebview) => void,
    /** The session's model, or why the cross-check cannot run now. */
    private readonly model: () => XcheckSessionModel | string,
    private readonly yieldNow: () => Promise<void>,
  ) {}

  /** True when the message was the cross-check's. */
  handle(msg: WebviewToWorker): boolean {
    if (msg.type === 'xcheckCancel') {
      if (this.running && (msg.id === 0 || msg.id === this.running.id)) this.running.cancelled = true;
      return true;
    }
    if (msg.type !== 'xcheckRun') return false;
    void this.run(msg.id, msg.text, msg.steps);
    return true;
  }

  /** Runs one cross-check; every outcome is posted (xcheckResult or xcheckError). */
  async run(id: number, text: string, steps: number): Promise<void> {
    if (this.running) return this.post({ type: 'xcheckError', id, message: 'A cross-check is already running.' });
    const job = { id, cancelled: false };
    this.running = job;
    let ort: OrtBackend | undefined;
    try {
      const m = this.model();
      if (typeof m === 'string') throw new Error(m);
      if (m.onnx) throw new Error(XCHECK_ONNX_REFUSAL);
      const tok = m.tokenizer;
      if (!tok) throw new Error('This model has no tokenizer, so the text cannot be turned into tokens.');
      if (!m.loaded)
        throw new Error(
          'The weights of this GPU model are not kept on the host (they are too large), so they cannot be exported to ONNX: load it on the CPU or pick a smaller model.',
        );
      if (typeof text !== 'string' || !text.trim()) throw new RangeError('The text is empty: type a text to run on both backends.');
      if (text.length > MAX_XCHECK_TEXT) throw new RangeError(`The text is ${text.length} characters; at most ${MAX_XCHECK_TEXT} are accepted.`);
      if (!Number.isSafeInteger(steps) || steps < 2 || steps > MAX_XCHECK_STEPS) throw new RangeError(`greedy steps must be an integer in [2, ${MAX_XCHECK_STEPS}], got ${steps}`);
      const ids = tok.encodeIds(text);
      if (tok.bosId !== null && ids[0] !== tok.bosId) ids.unshift(tok.bosId);
      const b = m.backend;
      if (ids.length + 1 > b.contextLength) throw new RangeError(`The text is ${ids.length} tokens; the context holds ${b.contextLength}, and one greedy step needs a free slot.`);

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
            this.post({ type: 'xcheckProgress', id, phase: 'exporting', done: p.bytes, total: p.total });
          }
        },
      })) {
        chunks.push(c);
        await this.yieldNow();
        if (job.cancelled) throw new Cancelled();
      }
      const bytes = concat(chunks);
      chunks.length = 0;
      this.post({ type: 'xcheckProgress', id, phase: 'opening', done: 0, total: 1 });
      const onnx = { config: m.loaded.config, onnx: { file: `${m.loaded.source.files[0] ?? 'model'} (ONNX export)`, bytes, parameters: 0 } };
      const ctx = Math.min(b.contextLength, ids.length + steps);
      let provider: OrtExecutionProvider = m.webgpu ? 'webgpu' : 'wasm';
      let providerNote: string | undefined = m.webgpu ? undefined : 'The worker has no WebGPU, so onnxruntime-web runs its WebAssembly (wasm) execution provider.';
      try {
        ort = await OrtBackend.create(onnx, { contextLength: ctx, executionProvider: provider });
      } catch (e) {
        if (provider !== 'webgpu') throw e;
        providerNote = `onnxruntime-web's WebGPU execution provider did not open (${e instanceof Error ? e.message : String(e)}), so its wasm one runs.`;
        provider = 'wasm';
        ort = await OrtBackend.create(onnx, { contextLength: ctx, executionProvider: provider });
      }
      if (job.cancelled) throw new Cancelled();
      const r = await crossCheck(b, ort, ids, {
        steps,
        signal: {
          get aborted() {
            return job.cancelled;
          },
        },
        onStep: async (done, total) => {
          this.post({ type: 'xcheckProgress', id, phase: 'running', done, total });
          await this.yieldNow();
        },
      });
      const side = (label: string, run: typeof r.a): XcheckSide => ({
        label,
        ids: run.ids,
        pieces: run.ids.map((t) => tok.decode([t])),
        prefillMs: run.prefillMs,
        msPerToken: run.msPerToken,
      });
      const result: XcheckView = {
        source: 'export',
        onnxBytes: bytes.length,
        provider,
        ...(providerNote ? { providerNote } : {}),
        promptTokens: r.promptTokens,
        maxAbsPerPosition: r.maxAbsPerPosition,
        maxAbs: r.maxAbs,
        logitScale: r.logitScale,
        engine: side(b.label, r.a),
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
      ort?.dispose();
      if (this.running === job) this.running = undefined;
    }
  }
}
