/**
 * Beam search against Hugging Face (refs/<model>.shared.json: beam4_12, 4 beams, 12 new
 * ids, length_penalty 1, no end id) and its rules on a scripted backend.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { fixturePath, loadRef } from '../../tests/unit/fixtures';
import { CpuBackend } from '../backend/cpu';
import { openModel } from '../formats/load-node';
import { beamSearch, checkBeamOptions } from './beam';
import { ParameterRangeError } from './processors';
import { scriptedBackend } from './scripted-backend.test-util';

interface BeamCase {
  input_ids: number[];
  beam4_12?: number[][];
  beam4_12_scores?: number[];
}
const models = readdirSync(fixturePath('refs'))
  .map((f) => /^([\w-]+)\.shared\.json$/.exec(f)?.[1])
  .filter((m): m is string => !!m && (loadRef<{ cases: BeamCase[] }>(`${m}.shared`).cases?.some((c) => c.beam4_12) ?? false));

describe('Hugging Face beam4_12', () => {
  test('the fixtures have beam references', () => expect(models.length).toBeGreaterThanOrEqual(7));
  test.each(models)('%s', async (name) => {
    const m = await openModel(fixturePath('models', name));
    const ref = loadRef<{ cases: BeamCase[] }>(`${name}.shared`);
    for (const c of ref.cases.filter((x) => x.beam4_12)) {
      const backend = new CpuBackend(m.loaded);
      const r = await beamSearch(backend, c.input_ids, { numBeams: 4, numReturnSequences: 4, maxNewTokens: 12, eosIds: [] });
      expect(r.sequences).toEqual(c.beam4_12);
      r.scores.forEach((s, i) => expect(Math.abs(s - c.beam4_12_scores![i])).toBeLessThan(1e-4));
      // The tree: every returned sequence's path from the root spells it.
      r.nodes.forEach((n, i) => {
        const path: number[] = [];
        for (let k = n; k > 0; k = r.tree[k].parent) path.unshift(r.tree[k].token);
        expect(path).toEqual(r.sequences[i]);
        expect(r.tree[n].state).toBe('finished');
      });
    }
  });
});

describe('rules', () => {
  test('parameters: each error names the parameter and the range', () => {
    const base = { numBeams: 4, maxNewTokens: 3 };
    expect(() => checkBeamOptions({ ...base, numBeams: 600 }, 512)).toThrow(/num_beams must be an integer in \[1, 512\]/);
    expect(() => checkBeamOptions({ ...base, numReturnSequences: 5 }, 512)).toThrow(/num_return_sequences must be an integer in \[1, 4\]/);
    expect(() => checkBeamOptions({ ...base, numBeamGroups: 3 }, 512)).toThrow(/num_beam_groups must be a divisor of num_beams/);
    expect(() => checkBeamOptions({ ...base, diversityPenalty: -1, numBeamGroups: 2 }, 512)).toThrow(ParameterRangeError);
  });

  // A 4-id vocabulary whose next-token log-probabilities depend only on the last id.
  const table: Record<number, number[]> = {
    0: [0.05, 0.5, 0.4, 0.05], // after 0: 1 or 2
    1: [0.1, 0.1, 0.1, 0.7], // after 1: mostly the end id 3
    2: [0.1, 0.6, 0.2, 0.1],
    3: [0.25, 0.25, 0.25, 0.25],
  };
  const backend = () => scriptedBackend(4, (ids) => table[ids[ids.length - 1]].map(Math.log));

  test('an end id among the first num_beams candidates finishes a hypothesis scored by its length', async () => {
    const r = await beamSearch(backend(), [0], { numBeams: 2, numReturnSequences: 2, maxNewTokens: 3, eosIds: [3], earlyStopping: true });
    // Step 0: [1] (0.5), [2] (0.4). Step 1: [1,3] finishes at log(0.5·0.7)/2; [2,1] (0.24) and [2,2]/[1,x] run on.
    expect(r.sequences[0]).toEqual([1]);
    expect(r.eos[0]).toBe(3);
    expect(r.scores[0]).toBeCloseTo(Math.log(0.5 * 0.7) / 2, 6);
    expect(r.tree.filter((n) => n.state === 'finished').length).toBeGreaterThanOrEqual(2);
  });

  test('length_penalty divides by length^penalty: 0 ranks by the plain sum', async () => {
    const r = await beamSearch(backend(), [0], { numBeams: 2, numReturnSequences: 2, maxNewTokens: 2, eosIds: [], lengthPenalty: 0 });
    expect(r.scores[0]).toBeCloseTo(Math.log(0.5 * 0.7), 6);
  });

  test('diverse beam search: the second group avoids the first group’s ids at each step', async () => {
    const plain = await beamSearch(backend(), [0], { numBeams: 2, numReturnSequences: 2, maxNewTokens: 1, eosIds: [], numBeamGroups: 2 });
    expect(plain.sequences).toEqual([[1], [1]]); // both groups pick the same best id
    const diverse = await beamSearch(backend(), [0], { numBeams: 2, numReturnSequences: 2, maxNewTokens: 1, eosIds: [], numBeamGroups: 2, diversityPenalty: 10 });
    expect(diverse.sequences.map((s) => s[0]).sort()).toEqual([1, 2]);
  });
});
