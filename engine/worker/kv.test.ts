import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../backend/cpu';
import { openModel } from '../formats/load-node';
import { predictEngineKv } from '../model/kv/layout';
import { parseWorkerMessage, type WorkerToWebview } from '../protocol/index';
import { fixturePath } from '../../tests/unit/fixtures';
import { KvWorker } from './kv';

async function setup() {
  const m = await openModel(fixturePath('llama2c', 'stories260K.bin'));
  const backend = new CpuBackend(m.loaded, { contextLength: 64 });
  const got: WorkerToWebview[] = [];
  const w = new KvWorker(
    (msg) => got.push(parseWorkerMessage(JSON.parse(JSON.stringify(msg)))),
    () => ({ backend, tokenizer: m.tokenizer, stopIds: [] }),
    async () => {},
  );
  return { backend, got, w, config: m.loaded.config };
}

const settle = () => new Promise((r) => setTimeout(r, 50));
async function until(got: WorkerToWebview[], type: string): Promise<void> {
  for (let i = 0; i < 400 && !got.some((g) => g.type === type || g.type === 'kvError'); i++) await settle();
}

describe('the worker KV requests', () => {
  it('kvProfile: the cache fills token by token; the bytes are the engine’s; no allocations per step', async () => {
    const { got, w, config } = await setup();
    w.handle({ type: 'kvProfile', id: 7, prompt: 'Once upon a time', maxTokens: 20 });
    await until(got, 'kvDone');
    const header = got.find((g) => g.type === 'kvHeader');
    expect(header && header.type === 'kvHeader' && header.header.allocatedPerLayer).toEqual(predictEngineKv(config, 64).perLayer);
    const steps = got.flatMap((g) => (g.type === 'kvStep' ? [g.step] : []));
    expect(steps.length).toBe(21);
    expect(steps[0].phase).toBe('prefill');
    const perTokenLayer = 2 * config.numKvHeads * config.headDim * 4;
    for (const s of steps) {
      expect(s.usedPerLayer).toEqual(Array(config.numLayers).fill(s.tokens * perTokenLayer));
      expect(s.allocations).toBe(0);
    }
    expect(steps.map((s) => s.tokens).slice(1)).toEqual(steps.slice(1).map((_, i) => steps[0].tokens + i + 1));
    expect(got.at(-1)!.type).toBe('kvDone');
  });

  it('kvCompare: one row per position, the same logits both ways; bad positions are an error', async () => {
    const { got, w } = await setup();
    w.handle({ type: 'kvCompare', id: 8, positions: [0, 10, 40] });
    await until(got, 'kvCompareResult');
    const r = got.find((g) => g.type === 'kvCompareResult');
    expect(r && r.type === 'kvCompareResult' && r.rows.map((x) => x.position)).toEqual([0, 10, 40]);
    if (r?.type === 'kvCompareResult') for (const x of r.rows) expect(x.maxAbsDiff).toBeLessThan(1e-4);
    w.handle({ type: 'kvCompare', id: 9, positions: [64] });
    await until(got, 'kvError');
    expect(got.find((g) => g.type === 'kvError')).toMatchObject({ id: 9, message: expect.stringMatching(/positions must be in \[0, 63\]/) });
  });
});
