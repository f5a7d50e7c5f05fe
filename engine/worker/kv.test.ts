import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../backend/cpu';
import { openModel } from '../formats/load-node';
import { predictEngineKv } from '../model/kv/layout';
import { parseWorkerMessage, type WorkerToWebview } from '../protocol/index';
import { fixturePath } from '../../tests/unit/fixtures';
import { KvWorker } from './kv';
import { readFileSync } from 'node:fs';
import { vi } from 'vitest';
import type { Backend } from '../backend/contract';
import { createBackend } from '../backend/registry';
import { Model } from '../model/model';
import { QuantEffectMeter } from '../model/kv/quant-effect';

async function setup(contextLength = 64) {
  const m = await openModel(fixturePath('llama2c', 'stories260K.bin'));
  const backend = new CpuBackend(m.loaded, { contextLength });
  const created: Backend[] = [];
  const got: WorkerToWebview[] = [];
  const w = new KvWorker(
    (msg) => got.push(parseWorkerMessage(JSON.parse(JSON.stringify(msg)))),
    () => ({
      backend,
      tokenizer: m.tokenizer,
      stopIds: [],
      createBackend: async (kvDtype) => {
        const b = await createBackend('cpu', m.loaded, { contextLength, kvDtype });
        created.push(b);
        return b;
      },
    }),
    async () => {},
  );
  return { backend, got, w, config: m.loaded.config, m, created };
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

  it('kvQuantEffect: the int8 cache against f32 on Shakespeare, the library’s numbers, under 1 % perplexity; cut to the context', async () => {
    const ctx = 300; // two chunks: 256 + 44
    const { got, w, config, m, created } = await setup(ctx);
    const text = readFileSync(fixturePath('corpus', 'tinyshakespeare.txt'), 'utf8').slice(0, 6000);
    w.handle({ type: 'kvQuantEffect', id: 11, text });
    await until(got, 'kvQuantEffectResult');
    const reply = got.find((g) => g.type === 'kvQuantEffectResult');
    if (reply?.type !== 'kvQuantEffectResult') throw new Error(JSON.stringify(got.at(-1)));
    const r = reply.result;
    // the same numbers from the library on two CPU models, one forward of the whole text
    const ids = [1, ...m.tokenizer!.encodeIds(text)];
    expect(r.textTokens).toBe(ids.length);
    expect(r.tokens).toBe(ctx);
    const used = ids.slice(0, ctx);
    const meter = new QuantEffectMeter(config.vocabSize);
    meter.add(new Model(m.loaded, { contextLength: ctx }).forward(used).logits, new Model(m.loaded, { contextLength: ctx, kvQuant: 'int8' }).forward(used).logits, [
      ...used.slice(1),
      -1,
    ]);
    const want = meter.result();
    expect(r.klPerPosition.length).toBe(ctx);
    for (let t = 0; t < ctx; t++) {
      expect(r.klPerPosition[t]).toBeCloseTo(want.klPerPosition[t], 6);
      expect(r.maxAbsPerPosition[t]).toBeCloseTo(want.maxAbsPerPosition[t], 4);
    }
    expect(r.perplexityF32).toBeCloseTo(want.perplexityF32, 3);
    expect(r.perplexityInt8).toBeCloseTo(want.perplexityQuant, 3);
    expect(r.maxKl).toBeCloseTo(want.maxKl, 6);
    expect(r.meanKl).toBeCloseTo(want.meanKl, 6);
    // int8.test.ts's expectation for stories260K on Shakespeare: a real change, perplexity within 1 %
    expect(r.maxAbs).toBeGreaterThan(0);
    expect(Math.abs(r.perplexityChange)).toBeLessThan(0.01);
    expect(r.bytesF32).toBe(predictEngineKv(config, ctx).total);
    expect(r.bytesInt8).toBe(predictEngineKv(config, ctx, 'cpu', 'int8').total);
    expect(r.bytesInt8).toBeLessThan(r.bytesF32 / 2);
    // the second backend was made once, with the int8 cache, and disposed
    expect(created.length).toBe(1);
    expect(created[0].kvCache()[0].allocated).toBe(predictEngineKv(config, ctx, 'cpu', 'int8').perLayer[0]);
  });

  it('kvQuantEffect: an empty text and a session without the weights are errors that say so', async () => {
    const { got, w } = await setup();
    w.handle({ type: 'kvQuantEffect', id: 12, text: '   ' });
    await until(got, 'kvError');
    expect(got.find((g) => g.type === 'kvError')).toMatchObject({ id: 12, message: expect.stringMatching(/text is empty/) });
    const spy = vi.fn();
    const m = await openModel(fixturePath('llama2c', 'stories260K.bin'));
    const w2 = new KvWorker(
      spy,
      () => ({ backend: new CpuBackend(m.loaded, { contextLength: 64 }), tokenizer: m.tokenizer, stopIds: [], createBackend: 'weights not kept' }),
      async () => {},
    );
    w2.handle({ type: 'kvQuantEffect', id: 13, text: 'Once upon a time' });
    await vi.waitFor(() => expect(spy).toHaveBeenCalledWith({ type: 'kvError', id: 13, message: 'weights not kept' }));
  });
});
