import { describe, expect, it } from 'vitest';
import { loadHfModelFromPath } from '../formats/hf-node';
import { Model } from './model';
import { attentionRows, attentionTile, headSummary, kvGroups, type AttentionInputs } from './attention-rows';
import { fixturePath, loadRef } from '../../tests/unit/fixtures';

const MODELS = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];

/** One forward capturing both the full probabilities and Q/K; the layers' AttentionInputs. */
async function captured(name: string, ids: number[]) {
  const model = new Model(await loadHfModelFromPath(fixturePath('models', name)), { contextLength: 64, kernel: 'js' });
  const c = model.config;
  const r = model.forward(ids, undefined, { capture: { attentions: true, qk: true } });
  const layers: AttentionInputs[] = r.qk!.map(({ q, k }, l) => ({
    q,
    k,
    T: ids.length,
    nHeads: c.numHeads,
    nKvHeads: c.numKvHeads,
    headDim: c.headDim,
    scale: 1 / Math.sqrt(c.headDim),
    window: c.slidingWindow !== undefined && (c.slidingWindowLayers?.[l] ?? true) ? c.slidingWindow : undefined,
  }));
  return { full: r.attentions!, layers, H: c.numHeads };
}

describe.each(MODELS)('%s: rows on demand', (name) => {
  const ids = loadRef(`${name}.shared`).cases[0].input_ids;

  it('every row of every head equals the full capture (1e-6)', async () => {
    const { full, layers, H } = await captured(name, ids);
    const T = ids.length;
    let d = 0;
    layers.forEach((a, l) => {
      for (let h = 0; h < H; h++) {
        const rows = attentionRows(a, h, 0, T); // [T, T]
        const want = full[l].subarray(h * T * T, (h + 1) * T * T);
        for (let i = 0; i < rows.length; i++) d = Math.max(d, Math.abs(rows[i] - want[i]));
      }
      // a middle slice is the same rows
      const mid = attentionRows(a, H - 1, 3, 7);
      expect(Array.from(mid)).toEqual(Array.from(full[l].subarray(((H - 1) * T + 3) * T, ((H - 1) * T + 7) * T)));
    });
    expect(d).toBeLessThan(1e-6);
  });

  it('a full-resolution tile is the rows; max / mean tiles pool them; mean / max over heads', async () => {
    const { full, layers, H } = await captured(name, ids);
    const T = ids.length;
    const a = layers[0];
    const exact = attentionTile(a, { head: 1, r0: 2, r1: 10, c0: 1, c1: 9, rows: 100, cols: 100 });
    expect([exact.rows, exact.cols, exact.exact]).toEqual([8, 8, true]);
    for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) expect(exact.values[r * 8 + c]).toBe(full[0][(1 * T + 2 + r) * T + 1 + c]);
    const pooled = attentionTile(a, { head: 1, r0: 0, r1: T, c0: 0, c1: T, rows: T / 2, cols: T / 2 });
    const meanPooled = attentionTile(a, { head: 1, r0: 0, r1: T, c0: 0, c1: T, rows: T / 2, cols: T / 2, reduce: 'mean' });
    const at = (h: number, r: number, c: number) => full[0][(h * T + r) * T + c];
    for (let r = 0; r < T / 2; r++)
      for (let c = 0; c < T / 2; c++) {
        const cells = [at(1, 2 * r, 2 * c), at(1, 2 * r, 2 * c + 1), at(1, 2 * r + 1, 2 * c), at(1, 2 * r + 1, 2 * c + 1)];
        expect(pooled.values[r * (T / 2) + c]).toBe(Math.max(...cells));
        expect(meanPooled.values[r * (T / 2) + c]).toBeCloseTo(cells.reduce((s, v) => s + v) / 4, 6);
      }
    const mean = attentionTile(a, { head: 'mean', r0: 0, r1: T, c0: 0, c1: T, rows: T, cols: T });
    const max = attentionTile(a, { head: 'max', r0: 0, r1: T, c0: 0, c1: T, rows: T, cols: T });
    for (let r = 0; r < T; r++)
      for (let c = 0; c < T; c++) {
        const v = Array.from({ length: H }, (_, h) => at(h, r, c));
        expect(mean.values[r * T + c]).toBeCloseTo(v.reduce((s, x) => s + x) / H, 6);
        expect(max.values[r * T + c]).toBe(Math.max(...v));
      }
  });

  it('head summaries: entropy and shares to BOS / previous / itself from the rows', async () => {
    const { full, layers } = await captured(name, ids);
    const T = ids.length;
    const s = headSummary(layers[1], 0);
    let ent = 0;
    let bos = 0;
    let prev = 0;
    let self = 0;
    for (let r = 0; r < T; r++) {
      const row = full[1].subarray(r * T, (r + 1) * T);
      for (const p of row) if (p > 0) ent -= p * Math.log(p);
      bos += row[0];
      self += row[r];
      if (r > 0) prev += row[r - 1];
    }
    expect(s.rowsUsed).toBe(T);
    expect(s.entropy).toBeCloseTo(ent / T, 5);
    expect(s.bos).toBeCloseTo(bos / T, 6);
    expect(s.self).toBeCloseTo(self / T, 6);
    expect(s.prev).toBeCloseTo(prev / (T - 1), 6);
  });
});

describe('bad requests and GQA groups', () => {
  it('names the parameter and its range', async () => {
    const { layers } = await captured('tiny-llama', [1, 2, 3, 4]);
    expect(() => attentionRows(layers[0], 8, 0, 1)).toThrow(/head must be an integer in \[0, 7\], got 8/);
    expect(() => attentionRows(layers[0], 0, 2, 9)).toThrow(/0 ≤ r0 < r1 ≤ 4, got 2..9/);
    expect(() => attentionTile(layers[0], { head: 0, r0: 0, r1: 4, c0: 3, c1: 3, rows: 2, cols: 2 })).toThrow(/columns/);
  });
  it('query heads sharing a KV head', () => {
    expect(kvGroups(8, 4)).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ]);
  });
});
