/**
 * The Inside panel's worker requests, end to end on the CPU backend: every answer goes
 * through the webview's validator (parseWorkerMessage) and is compared with the
 * references (attentions of refs/<model>.shared.json, logit lens and routing of
 * refs/<model>.internals.shared.json).
 */
import { describe, expect, it } from 'vitest';
import { loadHfModelFromPath } from '../formats/hf-node';
import { CpuBackend } from '../backend/cpu';
import type { Backend } from '../backend/contract';
import { lensWeights } from '../model/logit-lens';
import { parseWorkerMessage, type WorkerToWebview } from '../protocol/index';
import type { InsideWorkerRequest } from '../protocol/inside';
import { decodeArray, fixturePath, loadRef, type EncodedArray } from '../../tests/unit/fixtures';
import { InsideSession, type InsideModel } from './inside';

/** A request without its id (distributed over the union). */
type Body = InsideWorkerRequest extends infer R ? (R extends InsideWorkerRequest ? Omit<R, 'id'> : never) : never;

const MODELS = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];

/** A session over a model; ask() sends one request and resolves with its validated answer. */
async function session(name: string, contextLength = 64) {
  const loaded = await loadHfModelFromPath(fixturePath('models', name));
  const model: InsideModel = { backend: new CpuBackend(loaded, { contextLength }), lens: undefined };
  model.lens = lensWeights(loaded.config, loaded.weights);
  let last: ((m: WorkerToWebview) => void) | undefined;
  const s = new InsideSession(
    (m) => last?.(parseWorkerMessage(structuredClone(m))),
    () => model,
  );
  let id = 1;
  const ask = <T extends WorkerToWebview['type']>(req: Body): Promise<Extract<WorkerToWebview, { type: T }>> =>
    new Promise((resolve) => {
      last = (m) => resolve(m as Extract<WorkerToWebview, { type: T }>);
      s.handle({ ...req, id: id++ } as InsideWorkerRequest);
    });
  return { ask, model, config: loaded.config };
}

interface Internals {
  input_ids: number[];
  logit_lens: EncodedArray;
  router_logits?: EncodedArray;
  router_topk_experts?: number[][][];
  router_topk_weights?: EncodedArray;
}

describe.each(MODELS)('%s through the worker requests', (name) => {
  it('tiles at full resolution equal the reference attentions (1e-5)', async () => {
    const { ask, config } = await session(name);
    for (const c of loadRef(`${name}.shared`).cases) {
      const ready = await ask<'insideReady'>({ type: 'insideRun', text: c.input_ids.join(',') });
      expect(ready.type, (ready as { message?: string }).message).toBe('insideReady');
      const T = c.input_ids.length;
      expect(ready.tokens.map((t) => t.id)).toEqual(c.input_ids);
      const ref = decodeArray(c.attentions!).data; // [L, H, T, T]
      let d = 0;
      for (let l = 0; l < config.numLayers; l++)
        for (let h = 0; h < config.numHeads; h++) {
          const t = await ask<'insideTileData'>({ type: 'insideTile', layer: l, head: h, r0: 0, r1: T, c0: 0, c1: T, rows: T, cols: T });
          expect(t.exact).toBe(true);
          const o = (l * config.numHeads + h) * T * T;
          for (let i = 0; i < T * T; i++) d = Math.max(d, Math.abs(t.values[i] - ref[o + i]));
        }
      expect(d).toBeLessThan(1e-5);
      // -1: the mean over the layer's heads, -2: the max
      const mean = await ask<'insideTileData'>({ type: 'insideTile', layer: 1, head: -1, r0: 0, r1: T, c0: 0, c1: T, rows: T, cols: T });
      const max = await ask<'insideTileData'>({ type: 'insideTile', layer: 1, head: -2, r0: 0, r1: T, c0: 0, c1: T, rows: T, cols: T });
      const H = config.numHeads;
      for (const i of [0, T + 1, 5 * T + 2, T * T - 1]) {
        const v = Array.from({ length: H }, (_, h) => ref[(H + h) * T * T + i]);
        expect(Math.abs(mean.values[i] - v.reduce((s, x) => s + x) / H)).toBeLessThan(1e-5);
        expect(Math.abs(max.values[i] - Math.max(...v))).toBeLessThan(1e-5);
      }
    }
  });

  it('the logit lens grid: top-1 and its probability equal the reference lens; a named token ranked', async () => {
    const { ask, config } = await session(name);
    const c = loadRef<{ cases: Internals[] }>(`${name}.internals.shared`).cases[0];
    await ask({ type: 'insideRun', text: c.input_ids.join(',') });
    const T = c.input_ids.length;
    const V = config.vocabSize;
    const target = 7;
    const g = await ask<'insideLensGrid'>({ type: 'insideLens', p0: 0, p1: T, k: 3, target: '7' });
    expect(g.type, (g as { message?: string }).message).toBe('insideLensGrid');
    expect(g.targetId).toBe(target);
    expect(g.pieces.length).toBe(g.ids.length);
    expect(g.type, (g as { message?: string }).message).toBe('insideLensGrid');
    const lens = decodeArray(c.logit_lens).data; // [L, T, V]
    for (let l = 0; l < config.numLayers; l++)
      for (let p = 0; p < T; p++) {
        const row = lens.subarray((l * T + p) * V, (l * T + p + 1) * V);
        const max = Math.max(...row);
        const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
        const o = (l * T + p) * 3;
        expect(row[g.ids[o]]).toBeCloseTo(max, 4);
        expect(g.probs[o]).toBeCloseTo(1 / sum, 5);
        expect(g.targetRank![l * T + p]).toBe(row.filter((v, i) => v > row[target] || (v === row[target] && i < target)).length);
      }
  });
});

describe('routing and bad input', () => {
  it('tiny-mixtral-moe: experts exactly and weights (1e-5) equal the reference', async () => {
    const { ask } = await session('tiny-mixtral-moe');
    for (const c of loadRef<{ cases: Internals[] }>('tiny-mixtral-moe.internals.shared').cases) {
      await ask({ type: 'insideRun', text: c.input_ids.join(',') });
      const r = await ask<'insideRouting'>({ type: 'insideRouter' });
      expect(r.type).toBe('insideRouting');
      const T = c.input_ids.length;
      const experts = c.router_topk_experts!.map((layer) => layer.flat());
      expect(Array.from(r.experts)).toEqual(experts.flat());
      const w = decodeArray(c.router_topk_weights!).data;
      for (let i = 0; i < w.length; i++) expect(Math.abs(r.weights[i] - w[i])).toBeLessThan(1e-5);
      expect(r.probs.length).toBe(2 * T * r.numExperts);
    }
  });

  it('an input beyond the context is refused with the limit named; a dense model has no routing', async () => {
    const { ask } = await session('tiny-llama', 16);
    const long = await ask<'insideError'>({ type: 'insideRun', text: Array.from({ length: 20 }, (_, i) => i + 1).join(',') });
    expect(long).toMatchObject({ type: 'insideError', message: expect.stringMatching(/20 tokens; the context holds 16/) });
    const early = await ask<'insideError'>({ type: 'insideHeads', size: 8 });
    expect(early.message).toMatch(/Run the model on an input first/);
    await ask({ type: 'insideRun', text: '1,2,3' });
    expect((await ask<'insideError'>({ type: 'insideRouter' })).message).toMatch(/no mixture-of-experts/);
    expect((await ask<'insideError'>({ type: 'insideTile', layer: 5, head: 0, r0: 0, r1: 3, c0: 0, c1: 3, rows: 3, cols: 3 })).message).toMatch(
      /layer must be an integer in \[0, 1\]/,
    );
    expect((await ask<'insideError'>({ type: 'insideRun', text: 'hello' })).message).toMatch(/no tokenizer/);
  });

  it('a backend that cannot capture says so', async () => {
    const { ask, model } = await session('tiny-llama');
    const b = model.backend;
    model.backend = { ...b, label: 'ONNX', capabilities: { ...b.capabilities, captures: { ...b.capabilities.captures, qk: false } } } as Backend;
    expect((await ask<'insideError'>({ type: 'insideRun', text: '1,2' })).message).toMatch(/ONNX backend cannot capture/);
  });

  it('head grid: thumbnails [L, H, s, s] and one summary per head', async () => {
    const { ask, config } = await session('tiny-qwen3');
    await ask({ type: 'insideRun', text: loadRef('tiny-qwen3.shared').cases[0].input_ids.join(',') });
    const g = await ask<'insideHeadGrid'>({ type: 'insideHeads', size: 8 });
    expect(g.thumbs.length).toBe(config.numLayers * config.numHeads * 64);
    expect(g.summaries.length).toBe(config.numLayers * config.numHeads);
    for (const s of g.summaries) expect(s.bos + s.self).toBeLessThanOrEqual(2);
  });
});
