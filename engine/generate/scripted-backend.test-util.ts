/** A Backend for tests whose next-token logits are a function of the ids so far (no model). */
import type { Backend, ForwardResult } from '../backend/contract';
import type { ModelConfig } from '../model/types';

export function scriptedBackend(vocabSize: number, next: (ids: readonly number[]) => number[], contextLength = 64): Backend & { forwards: number } {
  let cache: number[] = [];
  const b = {
    id: 'cpu' as const,
    label: 'scripted',
    config: { vocabSize, eosTokenIds: [], maxPositions: contextLength } as unknown as ModelConfig,
    contextLength,
    get length() {
      return cache.length;
    },
    capabilities: {
      captures: { attentions: false, residuals: false, finalHidden: false, router: false, kvBytes: false },
      onDevice: { argmax: false, topK: 0, sampling: false },
      pipelinedGreedy: false,
      lora: false,
    },
    forwards: 0,
    async forward(tokens: number[], _pos?: number[], opts: { lastOnly?: boolean } = {}): Promise<ForwardResult> {
      b.forwards++;
      const start = cache.length;
      const rows: number[][] = [];
      for (const t of tokens) {
        cache.push(t);
        rows.push(next(cache));
      }
      const keep = opts.lastOnly ? rows.slice(-1) : rows;
      return { logits: Float32Array.from(keep.flat()), rows: keep.length, vocab: vocabSize, start, keys: cache.length };
    },
    reset() {
      cache = [];
    },
    truncate(n: number) {
      cache = cache.slice(0, n);
    },
    kvCache: () => [],
    dispose() {},
  };
  return b;
}
