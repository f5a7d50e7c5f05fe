/**
 * The flash view: the tiled online softmax of a row (the flash kernel's tiling) ends equal
 * to the naive softmax row and to the full attention capture (1e-6, CPU); both timed paths
 * give every row's normaliser alike; the naive path holds T × T scores, the tiled one a tile.
 */
import { describe, expect, it } from 'vitest';
import { loadHfModelFromPath } from '../formats/hf-node';
import { Model } from './model';
import type { AttentionInputs } from './attention-rows';
import { flashTrace, naivePath, tiledPath } from './flash-view';
import { flashTile } from '../ops/attention/attention.wgsl';
import { fixturePath, loadRef } from '../../tests/unit/fixtures';

const MODELS = ['tiny-llama', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-gpt2'];

describe.each(MODELS)('%s: flash view', (name) => {
  it('every row’s online softmax equals the naive row and the capture (1e-6); the paths agree', async () => {
    const ids = loadRef(`${name}.shared`).cases[0].input_ids;
    const model = new Model(await loadHfModelFromPath(fixturePath('models', name)), { contextLength: 64, kernel: 'js' });
    const c = model.config;
    const r = model.forward(ids, undefined, { capture: { attentions: true, qk: true } });
    const T = ids.length;
    const { BQ, BK } = flashTile(c.headDim);
    r.qk!.forEach(({ q, k }, l) => {
      const window = c.slidingWindow !== undefined && (c.slidingWindowLayers?.[l] ?? true) ? c.slidingWindow : undefined;
      const a: AttentionInputs = { q, k, T, nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, scale: 1 / Math.sqrt(c.headDim), window };
      for (let h = 0; h < c.numHeads; h++) {
        let d = 0;
        for (let row = 0; row < T; row++) {
          const t = flashTrace(a, h, row);
          expect([t.BQ, t.BK, t.q0]).toEqual([BQ, BK, Math.floor(row / BQ) * BQ]);
          // tiles of BK from the block's first visible key to the block's end
          expect(t.tiles[0].k0).toBe(window === undefined ? 0 : Math.max(0, t.q0 - window + 1));
          for (const s of t.tiles) expect(s.k1 - s.k0).toBeLessThanOrEqual(BK);
          expect(t.tiles.at(-1)!.k1).toBe(t.q1);
          const last = t.tiles.at(-1)!;
          expect(last.runningMax).toBeCloseTo(t.naiveMax, 12);
          expect(Math.abs(last.runningSum - t.naiveSum) / t.naiveSum).toBeLessThan(1e-12);
          for (let j = 0; j < T; j++) {
            d = Math.max(d, Math.abs(t.flash[j] - t.naive[j]), Math.abs(t.flash[j] - r.attentions![l][(h * T + row) * T + j]));
          }
        }
        expect(d).toBeLessThan(1e-6);
        const n = naivePath(a, h);
        const f = tiledPath(a, h);
        for (let row = 0; row < T; row++) expect(Math.abs(n.lse[row] - f.lse[row])).toBeLessThan(1e-6);
        expect(n.scoreBytes).toBe(T * T * 4);
        expect(f.scoreBytes).toBe(BQ * BK * 4 + 2 * BQ * 8);
      }
    });
    const a0 = { q: r.qk![0].q, k: r.qk![0].k, T, nHeads: c.numHeads, nKvHeads: c.numKvHeads, headDim: c.headDim, scale: 1 };
    expect(() => flashTrace(a0, 0, T)).toThrow(`row must be an integer in [0, ${T - 1}], got ${T}`);
  });
});
