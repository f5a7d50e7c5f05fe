import { describe, expect, it } from 'vitest';
import { loadHfModelFromPath } from '../formats/hf-node';
import { Model } from './model';
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
    const model = await load();
    for (const c of ref.cases) {
      expect(model.greedy24(c.input_ids)).toEqual(c.greedy_24);
    }
    console.log(`${name}: ${JSON.stringify(report[name])}`);
  });
});
