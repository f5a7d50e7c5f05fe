/**
 * The attention rollout and the flash view through the worker's requests (CPU backend,
 * answers through the webview's validator): rollout tiles equal the engine function's
 * matrix, the flash row equals the reference attentions (1e-6 / 1e-5), bad requests say why.
 */
import { describe, expect, it } from 'vitest';
import { loadHfModelFromPath } from '../formats/hf-node';
import { CpuBackend } from '../backend/cpu';
import { Model } from '../model/model';
import { attentionRollout } from '../model/attention-rollout';
import { flashTile } from '../ops/attention/attention.wgsl';
import { parseWorkerMessage, type WorkerToWebview } from '../protocol/index';
import type { InsideWorkerRequest } from '../protocol/inside';
import { decodeArray, fixturePath, loadRef } from '../../tests/unit/fixtures';
import { InsideSession } from './inside';

async function session(name: string) {
  const loaded = await loadHfModelFromPath(fixturePath('models', name));
  const backend = new CpuBackend(loaded, { contextLength: 64 });
  let last: ((m: WorkerToWebview) => void) | undefined;
  const s = new InsideSession(
    (m) => last?.(parseWorkerMessage(structuredClone(m))),
    () => ({ backend }),
  );
  let id = 1;
  const ask = <T extends WorkerToWebview['type']>(req: Record<string, unknown>): Promise<Extract<WorkerToWebview, { type: T }>> =>
    new Promise((resolve) => {
      last = (m) => resolve(m as Extract<WorkerToWebview, { type: T }>);
      s.handle({ ...req, id: id++ } as unknown as InsideWorkerRequest);
    });
  return { ask, loaded };
}

describe.each(['tiny-qwen3', 'tiny-mistral-swa'])('%s: rollout and flash through the worker', (name) => {
  it('rollout tiles are the rollout matrix; the flash row is the reference row', async () => {
    const { ask, loaded } = await session(name);
    const c = loaded.config;
    const ref = loadRef(`${name}.shared`).cases[0];
    const ids = ref.input_ids;
    const T = ids.length;
    expect((await ask({ type: 'insideRun', text: ids.join(',') })).type).toBe('insideReady');
    // the engine function on the same forward's queries and keys
    const model = new Model(loaded, { contextLength: 64, kernel: 'js' });
    const r = model.forward(ids, undefined, { capture: { qk: true } });
    const layers = r.qk!.map(({ q, k }, l) => ({
      q,
      k,
      T,
      nHeads: c.numHeads,
      nKvHeads: c.numKvHeads,
      headDim: c.headDim,
      scale: 1 / Math.sqrt(c.headDim),
      window: c.slidingWindow !== undefined && (c.slidingWindowLayers?.[l] ?? true) ? c.slidingWindow : undefined,
    }));
    for (let l = 0; l < c.numLayers; l++) {
      const want = attentionRollout(layers, l);
      const t = await ask<'insideTileData'>({ type: 'insideTile', layer: l, head: -3, r0: 0, r1: T, c0: 0, c1: T, rows: T, cols: T });
      expect(t.type, (t as { message?: string }).message).toBe('insideTileData');
      let d = 0;
      for (let i = 0; i < T * T; i++) d = Math.max(d, Math.abs(t.values[i] - want[i]));
      expect(d).toBeLessThan(1e-6);
    }
    const att = decodeArray(ref.attentions!).data; // [L, H, T, T]
    const row = T - 1;
    const f = await ask<'insideFlashTrace'>({ type: 'insideFlash', layer: 1, head: 1, row });
    expect(f.type, (f as { message?: string }).message).toBe('insideFlashTrace');
    expect([f.BQ, f.BK]).toEqual([flashTile(c.headDim).BQ, flashTile(c.headDim).BK]);
    let d = 0;
    for (let j = 0; j < T; j++) {
      const w = att[((1 * c.numHeads + 1) * T + row) * T + j];
      d = Math.max(d, Math.abs(f.flash[j] - w), Math.abs(f.naive[j] - w));
    }
    expect(d).toBeLessThan(1e-5);
    expect(f.naiveBytes).toBe(T * T * 4);
    expect(f.tiledBytes).toBe(f.BQ * f.BK * 4 + 2 * f.BQ * 8);
    expect(f.naiveMs).toBeGreaterThanOrEqual(0);
    expect(f.lseDiff).toBeLessThan(1e-6);
    expect((await ask<'insideError'>({ type: 'insideFlash', layer: 1, head: 1, row: T })).message).toMatch(`row must be an integer in [0, ${T - 1}], got ${T}`);
    expect((await ask<'insideError'>({ type: 'insideTile', layer: 0, head: -4, r0: 0, r1: 2, c0: 0, c1: 2, rows: 2, cols: 2 })).message).toMatch(/-3 \(rollout\)/);
  });
});
