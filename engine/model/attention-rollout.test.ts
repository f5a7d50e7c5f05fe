/**
 * Attention rollout from the captured queries and keys equals the rollout computed
 * directly from the full attention capture with plain matrix products (1e-6, CPU).
 */
import { describe, expect, it } from 'vitest';
import { loadHfModelFromPath } from '../formats/hf-node';
import { Model } from './model';
import type { AttentionInputs } from './attention-rows';
import { attentionRollout, MAX_ROLLOUT_TOKENS } from './attention-rollout';
import { fixturePath, loadRef } from '../../tests/unit/fixtures';

const MODELS = ['tiny-llama', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-gpt2'];

describe.each(MODELS)('%s: attention rollout', (name) => {
  it('equals ½(mean_h A) + ½I, rows renormalised, multiplied through the layers (1e-6)', async () => {
    const ids = loadRef(`${name}.shared`).cases[0].input_ids;
    const model = new Model(await loadHfModelFromPath(fixturePath('models', name)), { contextLength: 64, kernel: 'js' });
    const c = model.config;
    const r = model.forward(ids, undefined, { capture: { attentions: true, qk: true } });
    const T = ids.length;
    const H = c.numHeads;
    const layers: AttentionInputs[] = r.qk!.map(({ q, k }, l) => ({
      q,
      k,
      T,
      nHeads: H,
      nKvHeads: c.numKvHeads,
      headDim: c.headDim,
      scale: 1 / Math.sqrt(c.headDim),
      window: c.slidingWindow !== undefined && (c.slidingWindowLayers?.[l] ?? true) ? c.slidingWindow : undefined,
    }));
    // direct: dense matrices from the full capture [H, T, T] per layer
    let R: number[][] = Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (i === j ? 1 : 0)));
    for (let l = 0; l < c.numLayers; l++) {
      const A = Array.from({ length: T }, (_, i) => {
        const row = Array.from({ length: T }, (_, j) => {
          let m = 0;
          for (let h = 0; h < H; h++) m += r.attentions![l][(h * T + i) * T + j];
          return 0.5 * (m / H) + (i === j ? 0.5 : 0);
        });
        const s = row.reduce((x, y) => x + y);
        return row.map((v) => v / s);
      });
      R = A.map((Ai) => Array.from({ length: T }, (_, j) => Ai.reduce((acc, a, k) => acc + a * R[k][j], 0)));
      const got = attentionRollout(layers, l); // [T, T]
      let d = 0;
      for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) d = Math.max(d, Math.abs(got[i * T + j] - R[i][j]));
      expect(d).toBeLessThan(1e-6);
      // rows are distributions over the input tokens, zero above the diagonal
      for (let i = 0; i < T; i++) {
        expect(Array.from(got.subarray(i * T, (i + 1) * T)).reduce((x, y) => x + y)).toBeCloseTo(1, 5);
        for (let j = i + 1; j < T; j++) expect(got[i * T + j]).toBe(0);
      }
    }
    expect(() => attentionRollout(layers, c.numLayers)).toThrow(/layer must be an integer in \[0, /);
  });
});

it('refuses inputs past MAX_ROLLOUT_TOKENS with the limit named', () => {
  const T = MAX_ROLLOUT_TOKENS + 1;
  const a: AttentionInputs = { q: new Float32Array(T), k: new Float32Array(T), T, nHeads: 1, nKvHeads: 1, headDim: 1, scale: 1 };
  expect(() => attentionRollout([a], 0)).toThrow(`at most ${MAX_ROLLOUT_TOKENS} tokens; this input has ${T}`);
});
