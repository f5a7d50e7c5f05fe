import { describe, expect, it } from 'vitest';
import { loadHfModelFromPath } from '../formats/hf-node';
import { Model } from './model';
import { CpuBackend } from '../backend/cpu';
import { generateAll, greedy } from '../generate/generate';
import { decodeArray, fixturePath, loadRef, maxAbsDiff } from '../../tests/unit/fixtures';

const MODELS = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];

/** Measured max diffs, printed once at the end of each model's suite. */
const report: Record<string, Record<string, number>> = {};
function note(model: string, what: string, d: number) {
  const r = (report[model] ??= {});
  r[what] = Math.max(r[what] ?? 0, d);
}

describe.each(MODELS)('%s matches HF transformers', (name) => {
  const ref = loadRef(`${name}.shared`);
  const load = async () => new Model(await loadHfModelFromPath(fixturePath('models', name)), { contextLength: 64 });

  it('logits, final hidden and attentions (prefill)', async () => {
    const model = await load();
    for (const c of ref.cases) {
      model.reset();
      const T = c.input_ids.length;
      const out = model.forward(c.input_ids, undefined, { capture: { attentions: true, finalHidden: true } });
      const logits = decodeArray(c.logits);
      expect(logits.shape).toEqual([T, model.config.vocabSize]);
      const dl = maxAbsDiff(out.logits, logits.data);
      const dh = maxAbsDiff(out.finalHidden!, decodeArray(c.final_hidden!).data);
      // refs: [L, H, T, T]; ours: [L] × [H, T, Tk] with Tk = T from an empty cache.
      const refAtt = decodeArray(c.attentions!);
      const ours = new Float32Array(refAtt.data.length);
      out.attentions!.forEach((a, l) => ours.set(a, l * a.length));
      const da = maxAbsDiff(ours, refAtt.data);
      note(name, 'logits', dl);
      note(name, 'final_hidden', dh);
      note(name, 'attentions', da);
      expect(dl).toBeLessThan(1e-4);
      expect(dh).toBeLessThan(1e-4);
      expect(da).toBeLessThan(1e-5);
    }
  });

  it('prefill and token-by-token decode agree', async () => {
    const model = await load();
    for (const c of ref.cases) {
      model.reset();
      const full = model.forward(c.input_ids).logits;
      model.reset();
      const V = model.config.vocabSize;
      let d = 0;
      c.input_ids.forEach((id, t) => {
        const step = model.forward([id], undefined, { lastOnly: true }).logits;
        d = Math.max(d, maxAbsDiff(step, full.subarray(t * V, (t + 1) * V)));
      });
      // a split prefill (half, then the rest) too
      model.reset();
      const h = c.input_ids.length >> 1;
      const a = model.forward(c.input_ids.slice(0, h)).logits;
      const b = model.forward(c.input_ids.slice(h)).logits;
      const joined = new Float32Array(a.length + b.length);
      joined.set(a);
      joined.set(b, a.length);
      d = Math.max(d, maxAbsDiff(joined, full));
      note(name, 'prefill_vs_decode', d);
      expect(d).toBeLessThan(1e-5);
    }
  });

  it('greedy_24 with the KV cache', async () => {
    const backend = new CpuBackend(await loadHfModelFromPath(fixturePath('models', name)), { contextLength: 64 });
    for (const c of ref.cases) {
      expect(await greedy(backend, c.input_ids, 24)).toEqual(c.greedy_24);
    }
    console.log(`${name}: ${JSON.stringify(report[name])}`);
  });
});

describe('Model API', () => {
  const ids = [1, 17, 254, 33, 89, 400, 7, 7, 301, 5];

  it('captures: residual stream, logit lens, final hidden, KV bytes', async () => {
    const model = new Model(await loadHfModelFromPath(fixturePath('models', 'tiny-qwen3')), { contextLength: 20 });
    const c = model.config;
    const out = model.forward(ids, undefined, { capture: { residuals: true, finalHidden: true, kvBytes: true, attentions: true } });
    expect(out.residuals!.length).toBe(c.numLayers + 1);
    for (const r of out.residuals!) expect(r.length).toBe(ids.length * c.hiddenSize);
    expect(out.residuals![0]).not.toEqual(out.residuals![1]);
    // the logit lens on the last residual is the model's own output
    expect(model.logitLens(out.residuals![c.numLayers])).toEqual(out.logits);
    expect(out.finalHidden!.length).toBe(ids.length * c.hiddenSize);
    expect(out.attentions!.length).toBe(c.numLayers);
    expect(out.attentions![0].length).toBe(c.numHeads * ids.length * ids.length);
    const perToken = 2 * c.numKvHeads * c.headDim * 4; // K and V, f32
    expect(out.kvBytes!).toEqual(
      Array.from({ length: c.numLayers }, (_, layer) => ({ layer, allocated: 20 * perToken, used: ids.length * perToken, tokens: ids.length, capacity: 20 })),
    );
    expect(out.residuals).toBeDefined();
    const plain = model.forward([5]);
    expect(plain.attentions).toBeUndefined();
    expect(plain.residuals).toBeUndefined();
    expect(plain.keys).toBe(ids.length + 1);
  });

  it('decode-time attention captures cover the whole cache', async () => {
    const model = new Model(await loadHfModelFromPath(fixturePath('models', 'tiny-mistral-swa')), { contextLength: 20 });
    const full = model.forward(ids, undefined, { capture: { attentions: true } });
    model.reset();
    model.forward(ids.slice(0, 9));
    const step = model.forward(ids.slice(9), undefined, { capture: { attentions: true } });
    const H = model.config.numHeads;
    const T = ids.length;
    for (let l = 0; l < model.config.numLayers; l++)
      for (let h = 0; h < H; h++) {
        const want = full.attentions![l].subarray((h * T + 9) * T, (h * T + 10) * T); // row 9 of head h
        const got = step.attentions![l].subarray(h * T, (h + 1) * T); // [H, 1, 10]
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
        expect(got.subarray(0, 4).every((p) => p === 0)).toBe(true); // window 6: slots 0..3 hidden from slot 9
      }
  });

  it('MoE router choices per token', async () => {
    const model = new Model(await loadHfModelFromPath(fixturePath('models', 'tiny-mixtral-moe')), { contextLength: 20 });
    const out = model.forward(ids, undefined, { capture: { router: true } });
    expect(out.router!.length).toBe(2);
    for (const r of out.router!) {
      expect(r.experts.length).toBe(ids.length * 2);
      for (let t = 0; t < ids.length; t++) {
        const [a, b] = [r.experts[2 * t], r.experts[2 * t + 1]];
        expect(a).not.toBe(b);
        expect(r.weights[2 * t] + r.weights[2 * t + 1]).toBeCloseTo(1, 6);
        expect(r.weights[2 * t]).toBeGreaterThanOrEqual(r.weights[2 * t + 1]);
        const p = r.probs.subarray(4 * t, 4 * t + 4);
        expect(p[a]).toBe(Math.max(...p));
      }
    }
    // more than one expert is used
    expect(new Set(out.router![0].experts).size).toBeGreaterThan(1);
  });

  it('lastOnly, truncate, explicit positions', async () => {
    const model = new Model(await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), { contextLength: 16 });
    const V = model.config.vocabSize;
    const full = model.forward(ids).logits;
    model.reset();
    const last = model.forward(ids, undefined, { lastOnly: true });
    expect(last.rows).toBe(1);
    expect(last.logits).toEqual(full.subarray((ids.length - 1) * V));
    // truncate to 6 and redo the tail
    model.truncate(6);
    expect(model.length).toBe(6);
    const tail = model.forward(ids.slice(6)).logits;
    expect(maxAbsDiff(tail, full.subarray(6 * V))).toBe(0);
    // explicit default positions = implicit ones; RoPE is relative, so a uniform shift barely
    // moves the logits (f32 rounding of the angles), while a gap changes them
    model.reset();
    expect(
      model.forward(
        ids,
        ids.map((_, i) => i),
      ).logits,
    ).toEqual(full);
    model.reset();
    expect(
      maxAbsDiff(
        model.forward(
          ids,
          ids.map((_, i) => i + 3),
        ).logits,
        full,
      ),
    ).toBeLessThan(1e-4);
    model.reset();
    expect(
      maxAbsDiff(
        model.forward(
          ids,
          ids.map((_, i) => (i < 5 ? i : i + 4)),
        ).logits,
        full,
      ),
    ).toBeGreaterThan(1e-3);
    expect(() => model.truncate(99)).toThrow(RangeError);
    model.reset();
    expect(() => model.forward([])).toThrow(RangeError);
    expect(() => model.forward(new Array(17).fill(1))).toThrow(RangeError);
    expect(() => model.forward([1, 2], [0])).toThrow(RangeError);
    expect(() => model.forward([512])).toThrow(RangeError);
  });

  it('generate stops at EOS (or given ids), at maxNew, on a criterion and at the context; greedy ignores EOS', async () => {
    const loaded = await loadHfModelFromPath(fixturePath('models', 'tiny-llama'));
    const model = new CpuBackend(loaded, { contextLength: 48 });
    const ref = loadRef('tiny-llama.shared').cases[0];
    const g24 = ref.greedy_24!;
    const gen = (b: CpuBackend, opts: Partial<Parameters<typeof generateAll>[1]> = {}) => generateAll(b, { promptIds: ref.input_ids, maxNewTokens: 24, ...opts });
    const r0 = await gen(model); // 2 (EOS) is not among them
    expect([r0.ids, r0.stopReason, r0.path]).toEqual([g24, 'length', 'host-logits']);
    expect(model.length).toBe(ref.input_ids.length + 23); // the last id is not fed back
    const stopAt = g24[5];
    const r = await gen(model, { eosIds: [stopAt] });
    expect([r.ids, r.stopReason, r.stopId]).toEqual([g24.slice(0, g24.indexOf(stopAt)), 'stop', stopAt]);
    const cfgStop = new CpuBackend(
      { ...(await loadHfModelFromPath(fixturePath('models', 'tiny-llama'))), config: { ...model.config, eosTokenIds: [g24[3]] } },
      { contextLength: 48 },
    );
    expect((await gen(cfgStop)).ids).toEqual(g24.slice(0, 3));
    expect(await greedy(cfgStop, ref.input_ids, 24)).toEqual(g24);
    const seen: number[] = [];
    const rc = await gen(model, { stopping: [{ name: 'five', shouldStop: (s) => s.newIds.length >= 5 }] });
    expect([rc.ids, rc.stopReason]).toEqual([g24.slice(0, 5), 'criterion']);
    const signal = { aborted: false };
    const ra = await generateAll(model, { promptIds: ref.input_ids, maxNewTokens: 24, signal }, (rec) => {
      seen.push(rec.id);
      if (rec.step === 4) signal.aborted = true;
    });
    expect([ra.ids, ra.stopReason, seen]).toEqual([g24.slice(0, 5), 'cancelled', g24.slice(0, 5)]);
    const small = new CpuBackend(await loadHfModelFromPath(fixturePath('models', 'tiny-llama')), { contextLength: 20 });
    const rs = await gen(small);
    expect([rs.ids, rs.stopReason]).toEqual([g24.slice(0, 5), 'context']);
    await expect(greedy(small, ref.input_ids, 24)).rejects.toThrow(RangeError);
    await expect(gen(model, { maxNewTokens: -1 })).rejects.toThrow(/maxNewTokens/);
    await expect(gen(model, { promptIds: [512] })).rejects.toThrow(/vocabulary/);
  });

  it('Qwen2 per-layer sliding window (use_sliding_window, max_window_layers)', async () => {
    const loaded = await loadHfModelFromPath(fixturePath('models', 'tiny-qwen2'));
    const model = new Model({ ...loaded, config: { ...loaded.config, slidingWindow: 3, slidingWindowLayers: [false, true] } }, { contextLength: 16 });
    const out = model.forward(ids, undefined, { capture: { attentions: true } });
    const T = ids.length;
    const row = (l: number, t: number) => out.attentions![l].subarray(t * T, (t + 1) * T); // head 0
    expect(row(0, 9).every((p) => p > 0)).toBe(true); // full attention
    expect([...row(1, 9)].map((p) => p > 0)).toEqual([false, false, false, false, false, false, false, true, true, true]);
  });
});
