import { describe, expect, it } from 'vitest';
import { processorsFromSpecs, type ProcessorSpec } from './chain';
import { Rng } from './rng';
import { MultinomialSampler } from './samplers';

/**
 * A mostly masked row takes the processors' live-id path; the same live scores alone (a row
 * with nothing masked, in the same id order) take the whole-row path. Both must agree to the bit.
 */
const SPECS: ProcessorSpec[] = [
  { name: 'top_k', value: 5 },
  { name: 'top_k', value: 500 },
  { name: 'top_p', value: 0.9 },
  { name: 'top_p', value: 0.5, min_tokens_to_keep: 3 },
  { name: 'min_p', value: 0.1 },
  { name: 'min_p', value: 0.3, min_tokens_to_keep: 4 },
  { name: 'typical_p', value: 0.8 },
  { name: 'typical_p', value: 0.5, min_tokens_to_keep: 2 },
  { name: 'epsilon_cutoff', value: 0.01 },
  { name: 'epsilon_cutoff', value: 0.05, min_tokens_to_keep: 3 },
  { name: 'eta_cutoff', value: 0.02 },
  { name: 'top_n_sigma', value: 1 },
  { name: 'xtc', value: 0.05, probability: 1 },
  { name: 'mirostat_v2', value: 3 },
];

describe('processors on a mostly masked row', () => {
  it('give the whole-row result over its live ids, to the bit', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const V = 4096;
      const n = 1 + Math.floor(rng.next() * 400);
      const ids = new Set<number>();
      while (ids.size < n) ids.add(Math.floor(rng.next() * V));
      const live = [...ids].sort((a, b) => a - b);
      // Repeated values make ties; a scale of 3 spreads them over several nats.
      const values = live.map(() => (trial % 3 === 0 ? Math.round(rng.normal() * 2) : Math.fround(3 * rng.normal())));
      for (const spec of SPECS) {
        const big = new Float32Array(V).fill(-Infinity);
        live.forEach((id, k) => (big[id] = values[k]));
        const small = Float32Array.from(values);
        const ctx = { eosIds: [0], promptLength: 0 };
        const [a] = processorsFromSpecs([spec], { ...ctx, vocabSize: V });
        const [b] = processorsFromSpecs([spec], { ...ctx, vocabSize: live.length });
        a.process([], big);
        b.process([], small);
        expect(
          Array.from(live, (id) => big[id]),
          `${spec.name} ${JSON.stringify(spec)} trial ${trial}`,
        ).toEqual(Array.from(small));
      }
      const big = new Float32Array(V).fill(-Infinity);
      live.forEach((id, k) => (big[id] = values[k]));
      expect(new MultinomialSampler(new Rng(trial)).sample(big)).toBe(live[new MultinomialSampler(new Rng(trial)).sample(Float32Array.from(values))]);
    }
  });
});
