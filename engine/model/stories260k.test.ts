/**
 * The bundled default model end to end: the llama2.c `.bin` and the GGUF of
 * stories260K, loaded by their own loaders and run by the engine's Model,
 * reproduce llama2.c run.c's greedy ids exactly and agree with each other.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { loadGgufModel } from '../formats/gguf-model';
import { loadLlama2cModel } from '../formats/llama2c-model';
import { memorySource } from '../formats/source';
import { Model } from './model';
import { CpuBackend } from '../backend/cpu';
import { generateAll } from '../generate/generate';
import type { LoadedModel } from './types';
import { maxAbsDiff } from '../../tests/max-abs-diff';

const FIX = '../shared/fixtures';
const REFS = JSON.parse(readFileSync(`${FIX}/refs/stories260K.greedy.shared.json`, 'utf8')) as {
  cases: { prompt: string; steps: number; prompt_ids: number[]; generated_ids: number[] }[];
};
const BOS = 1;

const bytes = (p: string) => new Uint8Array(readFileSync(p));
const loadBin = () => loadLlama2cModel(memorySource(bytes(`${FIX}/llama2c/stories260K.bin`), 'stories260K.bin'));
const loadGguf = (ropeLayout: 'as-stored' | 'half' = 'as-stored') => loadGgufModel(memorySource(bytes(`${FIX}/gguf/stories260K.gguf`), 'stories260K.gguf'), { ropeLayout });

/** run.c `generate` at temperature 0: `steps` counts prompt positions; stops when BOS is produced. */
async function runC(m: LoadedModel, promptIds: number[], steps: number, eosIds?: number[]): Promise<number[]> {
  return (await generateAll(new CpuBackend(m), { promptIds, maxNewTokens: steps - promptIds.length + 1, eosIds: eosIds ?? [BOS] })).ids;
}

describe('stories260K greedy = llama2.c run.c', () => {
  test.each(REFS.cases.map((c) => [JSON.stringify(c.prompt), c] as const))('.bin, prompt %s', async (_p, c) => {
    const m = await loadBin();
    expect(await runC(m, c.prompt_ids, c.steps)).toEqual(c.generated_ids);
    // the .bin's own stop rule (stopTokenIds = [BOS]) is run.c's
    expect((await generateAll(new CpuBackend(m), { promptIds: c.prompt_ids, maxNewTokens: c.steps - c.prompt_ids.length + 1 })).ids).toEqual(c.generated_ids);
  });

  test.each(REFS.cases.map((c) => [JSON.stringify(c.prompt), c] as const))('.gguf, prompt %s', async (_p, c) => {
    expect(await runC(await loadGguf(), c.prompt_ids, c.steps)).toEqual(c.generated_ids);
  });

  test(".gguf with Q/K un-permuted to 'half' gives the same ids", async () => {
    const m = await loadGguf('half');
    expect(m.config.rope!.style).toBe('half');
    for (const c of REFS.cases) expect(await runC(m, c.prompt_ids, c.steps), c.prompt).toEqual(c.generated_ids);
  });
});

describe('stories260K logits: .bin and .gguf agree', () => {
  test('within 1e-5 on every prompt and its greedy continuation', async () => {
    const [b, g, h] = await Promise.all([loadBin(), loadGguf(), loadGguf('half')]);
    for (const c of REFS.cases) {
      const tokens = [...c.prompt_ids, ...c.generated_ids].slice(0, 96);
      const lb = new Model(b).forward(tokens).logits; // [T, V]
      const lg = new Model(g).forward(tokens).logits; // [T, V]
      const lh = new Model(h).forward(tokens).logits; // [T, V]
      expect(maxAbsDiff(lb, lg), c.prompt).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(lg, lh), c.prompt).toBeLessThanOrEqual(1e-5);
    }
  });
});
