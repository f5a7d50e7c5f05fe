/**
 * The step debugger's cost: one update (every processor of the chain as a stage, one named
 * token, the sampler's pick) over a 151,936-entry row of random logits (Qwen's vocabulary
 * size), beside the time of the forward pass it follows (stories260K, one decode step on
 * the CPU backend: the bundled model) and the 16 ms of a 60 Hz frame.
 * Run with `npm run bench -- inspect`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CpuBackend } from '../backend/cpu';
import { loadLlama2cModel } from '../formats/llama2c-model';
import { memorySource } from '../formats/source';
import { PROCESSOR_NAMES, processorsFromSpecs, type ProcessorSpec } from './chain';
import { inspectStages } from './inspect';
import { Rng } from './rng';
import { MultinomialSampler } from './samplers';

const V = 151_936;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 15);
const FRAME_MS = 16;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Every processor, each with a value that leaves a realistic set alive. */
function fullChain(): ProcessorSpec[] {
  const values: Record<string, ProcessorSpec> = {
    logit_bias: { name: 'logit_bias', bias: { '42': -5, '7,8': 2 } },
    bad_words_ids: { name: 'bad_words_ids', ids: [[13], [1, 2]] },
    top_k: { name: 'top_k', value: 40 },
    no_repeat_ngram_size: { name: 'no_repeat_ngram_size', value: 3 },
    min_new_tokens: { name: 'min_new_tokens', value: 4 },
    xtc: { name: 'xtc', value: 0.1, probability: 1 },
    dry: { name: 'dry', value: 0.8 },
    mirostat_v2: { name: 'mirostat_v2', value: 5 },
    temperature: { name: 'temperature', value: 0.8 },
    top_p: { name: 'top_p', value: 0.95 },
    min_p: { name: 'min_p', value: 0.01 },
    typical_p: { name: 'typical_p', value: 0.99 },
    epsilon_cutoff: { name: 'epsilon_cutoff', value: 1e-6 },
    eta_cutoff: { name: 'eta_cutoff', value: 1e-6 },
    top_n_sigma: { name: 'top_n_sigma', value: 3 },
  };
  return Object.keys(PROCESSOR_NAMES).map((n) => values[n] ?? { name: n, value: 1.1 });
}

/** Hugging Face's usual sampling chain. */
const USUAL: ProcessorSpec[] = [
  { name: 'repetition_penalty', value: 1.1 },
  { name: 'temperature', value: 0.8 },
  { name: 'top_k', value: 40 },
  { name: 'top_p', value: 0.95 },
  { name: 'min_p', value: 0.05 },
];

/** Median ms of one update: the chain as stages over a fresh row, the sampler's pick, the inspection. */
function timeUpdate(specs: ProcessorSpec[], rows: Float32Array[], history: number[]): number {
  const times: number[] = [];
  const sampler = new MultinomialSampler(new Rng(2));
  for (let i = 0; i < rows.length + 2; i++) {
    const processors = processorsFromSpecs(specs, { vocabSize: V, eosIds: [2], promptLength: 200 });
    const row = rows[i % rows.length];
    const t0 = performance.now();
    const ins = inspectStages(history, row, processors, { top: 10, named: [12345] });
    ins.finish(sampler.sample(ins.scores));
    if (i >= 2) times.push(performance.now() - t0); // the first two warm the JIT
  }
  return median(times);
}

/** Median ms of one pass of Math.exp over a row (the entropy of a stage that changes every score costs one). */
function timeExpPass(rows: Float32Array[]): number {
  const times: number[] = [];
  let sink = 0;
  for (let i = 0; i < rows.length + 2; i++) {
    const row = rows[i % rows.length];
    const t0 = performance.now();
    let z = 0;
    for (let j = 0; j < row.length; j++) z += Math.exp(row[j] - 16);
    sink += z;
    if (i >= 2) times.push(performance.now() - t0);
  }
  if (sink === -1) console.log(sink);
  return median(times);
}

async function main() {
  const rng = new Rng(1);
  const history = Array.from({ length: 256 }, () => Math.floor(rng.next() * V));
  const rows = Array.from({ length: REPEATS }, () => Float32Array.from({ length: V }, () => 4 * rng.normal()));
  const usual = timeUpdate(USUAL, rows, history);
  const all = fullChain();
  const every = timeUpdate(all, rows, history);
  const exp = timeExpPass(rows);
  const root = process.cwd();
  const bin = new Uint8Array(readFileSync(path.resolve(root, '../shared/fixtures/llama2c/stories260K.bin')));
  const backend = new CpuBackend(await loadLlama2cModel(memorySource(bin, 'stories260K.bin')), { contextLength: 64 });
  const fwd: number[] = [];
  for (let i = 0; i < REPEATS + 2; i++) {
    backend.reset();
    await backend.forward([1, 403, 407, 261, 378], undefined, { lastOnly: true });
    const t0 = performance.now();
    await backend.forward([432], undefined, { lastOnly: true });
    if (i >= 2) fwd.push(performance.now() - t0);
  }
  const f = median(fwd);
  console.log(`step-debugger update (stages, top 10 each, one named token, the pick), vocabulary ${V.toLocaleString('en')}, median of ${REPEATS}`);
  console.log('what                                                   ms   / 16 ms frame');
  const line = (what: string, ms: number) => console.log(`${what.padEnd(50)}${ms.toFixed(2).padStart(8)}   ${(ms / FRAME_MS).toFixed(2)}`);
  line(`update, usual chain (${USUAL.length} stages)`, usual);
  line(`update, every processor (${all.length} stages)`, every);
  line('one Math.exp pass over the row (a dense stage)', exp);
  line('the forward it follows (stories260K, CPU decode)', f);
  console.log(`usual chain = ${(usual / exp).toFixed(1)} exp passes; every processor = ${(every / exp).toFixed(1)} (the raw and temperature stages need one each)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
