/**
 * int8 KV (per token and head scales) on the CPU path against the f32 cache: logits max |Δ|
 * and KL divergence per position on every fixture model's reference inputs, and the
 * perplexity of stories260K over the bundled Shakespeare. Tolerance: an element's rounding
 * error is at most max|row| / 254 (0.4 % of its row's largest value); through two layers of
 * K and V (scores, softmax, weighted values, the residual stream) that reaches the logits as
 * a few per cent of their scale on these random tiny models, whose rows of 8–16 values are the
 * coarsest case for one scale per row (more with MoE, where a changed router choice moves a
 * whole expert; README gives the measured figures). Required: max |Δ| ≤ 5 % of max|logit| and
 * KL(f32 ‖ int8) ≤ 5e-3 per position; perplexity within 1 %.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openModel } from '../../formats/load-node';
import { Model } from '../model';
import { QuantEffectMeter } from './quant-effect';
import { fixturePath, loadRef } from '../../../tests/unit/fixtures';

const MODELS = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];

const measured: Record<string, string> = {};

describe('int8 KV cache against f32 on the CPU', () => {
  it.each(MODELS)('%s: logits within 5 % of their scale, KL per position below 5e-3', async (name) => {
    const loaded = (await openModel(fixturePath('models', name))).loaded;
    const f32 = new Model(loaded, { contextLength: 64, kernel: 'js' });
    const int8 = new Model(loaded, { contextLength: 64, kernel: 'js', kvQuant: 'int8' });
    const meter = new QuantEffectMeter(loaded.config.vocabSize);
    for (const c of loadRef(`${name}.shared`).cases) {
      f32.reset();
      int8.reset();
      meter.add(f32.forward(c.input_ids).logits, int8.forward(c.input_ids).logits);
    }
    const r = meter.result();
    const worst = { maxAbs: r.maxAbs, maxKl: r.maxKl, scale: r.logitScale };
    measured[name] = `max |Δ logits| ${worst.maxAbs.toExponential(2)} (max |logit| ${worst.scale.toFixed(2)}), max KL ${worst.maxKl.toExponential(2)}`;
    expect(worst.maxAbs).toBeGreaterThan(0); // the int8 path really ran
    expect(worst.maxAbs).toBeLessThan(0.05 * worst.scale);
    expect(worst.maxKl).toBeLessThan(5e-3);
  });

  it('stories260K: perplexity over the bundled Shakespeare moves by less than 1 %', async () => {
    const m = await openModel(fixturePath('llama2c', 'stories260K.bin'));
    const text = readFileSync(fixturePath('corpus', 'tinyshakespeare.txt'), 'utf8').slice(0, 6000);
    const ids = [1, ...m.tokenizer!.encodeIds(text)].slice(0, 4 * 256 + 1);
    const V = m.loaded.config.vocabSize;
    const f32 = new Model(m.loaded, { contextLength: 256 });
    const int8 = new Model(m.loaded, { contextLength: 256, kvQuant: 'int8' });
    const meter = new QuantEffectMeter(V);
    for (let s = 0; s + 1 < ids.length; s += 255) {
      const chunk = ids.slice(s, s + 256);
      f32.reset();
      int8.reset();
      meter.add(f32.forward(chunk.slice(0, -1)).logits, int8.forward(chunk.slice(0, -1)).logits, chunk.slice(1));
    }
    const { perplexityF32: a, perplexityQuant: b } = meter.result();
    measured['stories260K Shakespeare perplexity'] = `f32 ${a.toFixed(3)}, int8 ${b.toFixed(3)} (${(((b - a) / a) * 100).toFixed(3)} %)`;
    console.log(JSON.stringify(measured, null, 1));
    expect(Math.abs(b - a) / a).toBeLessThan(0.01);
  });
});
