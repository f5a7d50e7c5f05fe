/**
 * A seeded slice of `npm run fuzz` (tests/fuzz): 200 structure-aware cases of every format run
 * in-process through the real loaders, header checks and tokenizers. Any case that ends in
 * something other than success or a typed error naming the file, or that takes longer than the
 * fuzzer's time limit, fails the test with its seed and index (rerun with `npm run fuzz`).
 */
import { describe, expect, it } from 'vitest';
import { classify } from '../fuzz/classify';
import { FORMATS, prepare } from '../fuzz/formats';
import { caseSeed, Rng } from '../fuzz/rng';

const SEED = 1234;
const CASES = 200;
const TIME_LIMIT_MS = 5000;

describe('fuzz slice', () => {
  for (const format of FORMATS) {
    it(`${format.name}: ${CASES} cases end in success or a typed error`, async () => {
      await prepare();
      const findings: string[] = [];
      for (let i = 0; i < CASES; i++) {
        const files = format.make(new Rng(caseSeed(SEED, format.name, i)));
        const t0 = performance.now();
        let what = 'ok';
        try {
          await format.run(files);
        } catch (e) {
          const v = classify(e);
          if (v.kind === 'finding') what = `${v.reason}: ${v.message}`;
        }
        const ms = performance.now() - t0;
        if (ms > TIME_LIMIT_MS && !what.includes(':')) what = `took ${ms.toFixed(0)} ms`;
        if (what !== 'ok') findings.push(`#${i}: ${what} (npm run fuzz -- --format ${format.name} --seed ${SEED} --case ${i})`);
      }
      expect(findings).toEqual([]);
    });
  }
});
