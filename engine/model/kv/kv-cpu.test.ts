import { describe, expect, it } from 'vitest';
import { openModel } from '../../formats/load-node';
import { CpuBackend } from '../../backend/cpu';
import { generateAll } from '../../generate/generate';
import { fixturePath } from '../../../tests/unit/fixtures';
import { predictEngineKv } from './layout';

const FIXTURES = [
  ...['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'].map((m) => fixturePath('models', m)),
  fixturePath('llama2c', 'stories260K.bin'),
  fixturePath('gguf', 'stories260K.gguf'),
];

describe.each(FIXTURES)('KV cache of %s on the CPU', (file) => {
  it('predicted bytes equal the bytes of the arrays allocated, at contexts 1, 17 and the maximum', async () => {
    const loaded = (await openModel(file)).loaded;
    const c = loaded.config;
    for (const ctx of [1, 17, c.maxPositions]) {
      const p = predictEngineKv(c, ctx);
      const b = new CpuBackend(loaded, { contextLength: ctx, kernel: 'js' });
      const arrays = b.model.kvCacheArrays();
      const real = arrays.map((a) => a.k.byteLength + a.v.byteLength);
      expect(real).toEqual(p.perLayer);
      expect(b.kvCache().map((r) => r.allocated)).toEqual(real);
      expect(real.reduce((x, y) => x + y, 0)).toBe(p.total);
      expect(p.bytesPerToken).toBe(c.numLayers * 2 * c.numKvHeads * c.headDim * 4);
      // sliding-window layers hold the full context too (the window masks, the cache is no ring)
      expect(p.tokensPerLayer.every((t) => t === ctx)).toBe(true);
    }
  });

  it('with the int8 cache: predicted bytes equal the int8 K/V arrays and their f32 scales, at contexts 1, 17 and the maximum', async () => {
    const loaded = (await openModel(file)).loaded;
    const c = loaded.config;
    for (const ctx of [1, 17, c.maxPositions]) {
      const p = predictEngineKv(c, ctx, 'cpu', 'int8');
      const b = new CpuBackend(loaded, { contextLength: ctx, kernel: 'js', kvQuant: 'int8' });
      const real = b.model.kvCacheArrays().map((a) => {
        if (a.dtype !== 'int8') throw new Error('expected an int8 cache');
        expect(a.k).toBeInstanceOf(Int8Array);
        expect(a.k.length).toBe(ctx * c.numKvHeads * c.headDim);
        expect(a.kScale.length).toBe(ctx * c.numKvHeads);
        return a.k.byteLength + a.v.byteLength + a.kScale.byteLength + a.vScale.byteLength;
      });
      expect(real).toEqual(p.perLayer);
      expect(b.kvCache().map((r) => r.allocated)).toEqual(real);
      expect(real.reduce((x, y) => x + y, 0)).toBe(p.total);
      expect(p.bytesPerToken).toBe(c.numLayers * 2 * c.numKvHeads * (c.headDim + 4));
    }
  });
});

/** Counts typed arrays constructed while `f` runs (every Float32Array / Float64Array / Int32Array / Uint8Array / Uint32Array / Int8Array `new`). */
async function countingTypedArrays<T>(f: () => Promise<T>): Promise<{ result: T; count: number }> {
  const names = ['Float32Array', 'Float64Array', 'Int32Array', 'Uint8Array', 'Uint32Array', 'Int8Array'] as const;
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = names.map((n) => g[n]);
  let count = 0;
  names.forEach((n, i) => {
    g[n] = new Proxy(saved[i] as object, {
      construct(target, args) {
        count++;
        return Reflect.construct(target as new (...a: unknown[]) => object, args);
      },
    });
  });
  try {
    return { result: await f(), count };
  } finally {
    names.forEach((n, i) => (g[n] = saved[i]));
  }
}

describe.each(['f32', 'int8'] as const)('the CPU cache (%s) during decoding', (kvQuant) => {
  it('is never reallocated: the same K/V arrays at every step, and the typed arrays a step allocates do not grow with the position', async () => {
    const loaded = (await openModel(fixturePath('llama2c', 'stories260K.bin'))).loaded;
    const b = new CpuBackend(loaded, { contextLength: 256, kvQuant });
    const arrays = b.model.kvCacheArrays();
    await b.forward([1, 403, 407, 261], undefined, { lastOnly: true });
    const perStep: number[] = [];
    for (let i = 0; i < 100; i++) {
      const { count } = await countingTypedArrays(() => b.forward([300 + (i % 50)], undefined, { lastOnly: true }));
      perStep.push(count);
      const now = b.model.kvCacheArrays();
      expect(now.every((a, l) => a.k === arrays[l].k && a.v === arrays[l].v)).toBe(true);
    }
    // the cache's own allocations per step are zero (same arrays); what a step allocates (its logits row) is the same at every position
    expect(new Set(perStep.slice(1)).size).toBe(1);
    expect(b.kvCache().reduce((a, r) => a + r.allocated, 0)).toBe(predictEngineKv(loaded.config, 256, 'cpu', kvQuant).total);
  });

  it('after 100 generations the cache bytes and arrays are those of the start (no leak)', async () => {
    const loaded = (await openModel(fixturePath('llama2c', 'stories260K.bin'))).loaded;
    const b = new CpuBackend(loaded, { contextLength: 64, kvQuant });
    const arrays = b.model.kvCacheArrays();
    const base = b.kvCache().reduce((a, r) => a + r.allocated, 0);
    for (let i = 0; i < 100; i++) {
      b.reset();
      await generateAll(b, { promptIds: [1, 403 + (i % 7)], maxNewTokens: 8 });
    }
    expect(b.kvCache().reduce((a, r) => a + r.allocated, 0)).toBe(base);
    expect(b.model.kvCacheArrays().every((a, l) => a.k === arrays[l].k && a.v === arrays[l].v)).toBe(true);
  });
});
