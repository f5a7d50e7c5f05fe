/**
 * Tokens/s of the engine's CPU backend beside onnxruntime-web's wasm build (the ort backend,
 * one thread) on the same weights: the tiny-llama fixture as safetensors and as its ONNX
 * export. Greedy decoding from a short prompt (one forward per token, logits read on the host
 * by both), and a 128-token prefill. Prints tokens/s and the ratio ours / ort.
 * Run with `node scripts/run-benches.mjs ort`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadHfModelFromPath } from '../formats/hf-node';
import { memoryFolder } from '../formats/hf';
import { loadOnnxModel } from '../formats/onnx-model';
import type { Backend } from './contract';
import { createBackend } from './registry';

const fixtures = path.resolve(__dirname, '../../../shared/fixtures');
const DECODE = Number(process.env.BENCH_DECODE_TOKENS ?? 200);
const PREFILL = 128;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const PROMPT = [1, 17, 254, 33, 89];

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Decode tokens/s (greedy, after the prompt) and prefill tokens/s (one forward of PREFILL ids), best of REPEATS. */
async function measure(b: Backend): Promise<{ decode: number; prefill: number; ids: number[] }> {
  let decode = 0;
  let prefill = 0;
  let ids: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    b.reset();
    let next = argmax((await b.forward(PROMPT, undefined, { lastOnly: true })).logits);
    ids = [next];
    const t0 = performance.now();
    for (let i = 1; i < DECODE; i++) {
      next = argmax((await b.forward([next], undefined, { lastOnly: true })).logits);
      ids.push(next);
    }
    decode = Math.max(decode, ((DECODE - 1) * 1000) / (performance.now() - t0));
    b.reset();
    const long = Array.from({ length: PREFILL }, (_, i) => (i * 37 + 11) % b.config.vocabSize);
    const t1 = performance.now();
    await b.forward(long, undefined, { lastOnly: true });
    prefill = Math.max(prefill, (PREFILL * 1000) / (performance.now() - t1));
  }
  return { decode, prefill, ids };
}

async function main() {
  const ctx = PROMPT.length + DECODE + PREFILL;
  const cpu = await createBackend('cpu', await loadHfModelFromPath(path.join(fixtures, 'models/tiny-llama')), { contextLength: ctx });
  const files = {
    'model.onnx': new Uint8Array(readFileSync(path.join(fixtures, 'onnx/tiny-llama/model.onnx'))),
    'config.json': new Uint8Array(readFileSync(path.join(fixtures, 'models/tiny-llama/config.json'))),
  };
  const ort = await createBackend('ort', await loadOnnxModel(memoryFolder('tiny-llama-onnx', files), 'model.onnx'), { contextLength: ctx });
  const a = await measure(cpu);
  const b = await measure(ort);
  const same = a.ids.every((x, i) => x === b.ids[i]);
  console.log(`tiny-llama (2 layers, hidden 64, vocab 512), ${DECODE} greedy tokens, best of ${REPEATS}; greedy ids ${same ? 'equal' : 'DIFFER'}`);
  console.log(`  decode   ${cpu.label}: ${a.decode.toFixed(0)} tok/s   ${ort.label}: ${b.decode.toFixed(0)} tok/s   ratio ours/ort ${(a.decode / b.decode).toFixed(2)}`);
  console.log(
    `  prefill ${PREFILL}  ${cpu.label}: ${a.prefill.toFixed(0)} tok/s   ${ort.label}: ${b.prefill.toFixed(0)} tok/s   ratio ours/ort ${(a.prefill / b.prefill).toFixed(2)}`,
  );
  cpu.dispose();
  ort.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
