/**
 * The CPU backend: the reference `Model` (engine/model/model.ts) behind the backend
 * contract. Its forward runs synchronously inside the returned promise; a top-k asked
 * for is taken from the logits on the host.
 */
import { applyLora, loraStatus, unloadLora, type LoraAdapter } from '../model/lora';
import { Model, type ModelOptions } from '../model/model';
import type { AttentionRunner, WasmAttention } from '../ops/attention/attention.wasm';
import type { MatmulRunner, WasmMatmul } from '../ops/matmul/matmul.wasm';
import type { LoadedModel, ModelConfig, WeightMap } from '../model/types';
import type { Backend, BackendCapabilities, ForwardOptions, ForwardResult, KvCacheBytes, TopK } from './contract';

const CPU_CAPABILITIES: BackendCapabilities = {
  captures: { attentions: true, residuals: true, finalHidden: true, router: true, kvBytes: true, qk: true },
  onDevice: { argmax: false, topK: 0, sampling: false },
  pipelinedGreedy: false,
  lora: true,
};

/** The k largest of `row` (value desc, id asc on ties, as the GPU top-k). */
export function topKOf(row: Float32Array, k: number): TopK {
  const n = Math.min(k, row.length);
  const ids: number[] = [];
  // a partial selection: k passes are cheaper than a sort for the small k decoding asks for
  const taken = new Uint8Array(row.length);
  for (let j = 0; j < n; j++) {
    let best = -1;
    let bv = -Infinity;
    for (let i = 0; i < row.length; i++) {
      if (taken[i]) continue;
      const v = row[i];
      if (best < 0 || v > bv) {
        best = i;
        bv = v;
      }
    }
    taken[best] = 1;
    ids.push(best);
  }
  return { ids, values: ids.map((i) => row[i]) };
}

/**
 * Threads for the linear layers: `count` in all, the runner started on the model's kernel
 * (in Node, engine/cli/threads.ts; it needs SharedArrayBuffer, so the webview keeps one thread).
 */
export interface CpuThreads {
  count: number;
  start(mm: WasmMatmul, attention?: WasmAttention): MatmulRunner & AttentionRunner & { close(): void };
}

export interface CpuBackendOptions extends Omit<ModelOptions, 'threads'> {
  threads?: CpuThreads;
}

export class CpuBackend implements Backend {
  readonly id = 'cpu' as const;
  readonly label: string;
  readonly capabilities = CPU_CAPABILITIES;
  readonly model: Model;
  private runner?: MatmulRunner & AttentionRunner & { close(): void };

  constructor(loaded: LoadedModel | { config: ModelConfig; weights: WeightMap }, opts: CpuBackendOptions = {}) {
    const { threads, ...modelOpts } = opts;
    const n = threads?.count ?? 1;
    this.model = new Model(loaded, { ...modelOpts, threads: n });
    const mm = this.model.wasm;
    if (threads && n > 1 && mm?.arena.shared) {
      this.runner = threads.start(mm, this.model.wasmAttention);
      mm.runner = this.runner;
      if (this.model.wasmAttention) this.model.wasmAttention.runner = this.runner;
    }
    const kernel = mm ? `CPU (WebAssembly SIMD${this.runner ? `, ${n} threads` : ''})` : 'CPU (TypeScript reference)';
    this.label = `${kernel}${this.model.kvDtype === 'int8' ? ', int8 KV cache' : ''}`;
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  get contextLength(): number {
    return this.model.contextLength;
  }

  get length(): number {
    return this.model.length;
  }

  async forward(tokens: number[], positions?: number[], opts: ForwardOptions = {}): Promise<ForwardResult> {
    const k = opts.topK ?? 0;
    const V = this.model.config.vocabSize;
    if (!Number.isInteger(k) || k < 0 || k > V) throw new RangeError(`topK must be an integer in [0, ${V}], got ${k}`);
    const r = this.model.forward(tokens, positions, { lastOnly: opts.lastOnly, capture: opts.capture });
    if (k > 0) r.top = topKOf(r.logits.subarray((r.rows - 1) * V), k);
    if (opts.logits === false) r.logits = new Float32Array(0);
    return r;
  }

  reset(): void {
    this.model.reset();
  }

  truncate(n: number): void {
    this.model.truncate(n);
  }

  kvCache(): KvCacheBytes[] {
    return this.model.kvCacheBytes();
  }

  setLora(adapter: LoraAdapter | undefined): void {
    if (loraStatus(this.model)) unloadLora(this.model);
    if (adapter) applyLora(this.model, adapter);
  }

  dispose(): void {
    // the model's arrays (and its WebAssembly memory) are garbage-collected; threads are stopped
    this.runner?.close();
    if (this.model.wasm) this.model.wasm.runner = undefined;
    if (this.model.wasmAttention) this.model.wasmAttention.runner = undefined;
    this.runner = undefined;
  }
}
