/**
 * CLI decode speed beside llama.cpp (node-llama-cpp, CPU, the same thread count: 1, then 2),
 * on the same GGUF files: stories260K and a generated random-weight Llama of ~15M
 * parameters (vocabulary borrowed from stories260K). Prints tokens/s and the ratio.
 * Run with `npm run bench -- cli` (needs NODE_LLAMA_CPP_DIR, set by scripts/bench.sh).
 * BENCH_THREADS=1 (or "1,2,4") picks the thread counts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readGguf } from '../formats/gguf';
import { fileSource } from '../formats/source-node';
import { llamaParamCount, randomLlamaGguf, type LlamaShape } from '../model/random';

const root = path.resolve(__dirname, '../..');
const fixtures = path.resolve(root, '../shared/fixtures');
const DECODE = Number(process.env.BENCH_DECODE_TOKENS ?? 256);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const PROMPT = [1, 403, 407, 261, 378]; // "Once upon a time" with BOS
const THREADS = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);

async function vocabOf(gguf: string) {
  const src = await fileSource(gguf);
  const f = await readGguf(src);
  await src.close?.();
  return {
    tokens: f.metadata.get('tokenizer.ggml.tokens') as string[],
    scores: Array.from(f.metadata.get('tokenizer.ggml.scores') as Float32Array),
    types: Array.from(f.metadata.get('tokenizer.ggml.token_type') as Int32Array),
  };
}

function ours(model: string, threads: number): number {
  const args = [path.join(root, 'dist/cli.js'), 'generate', '--model', model, '--ids', PROMPT.join(','), '--max-tokens', String(DECODE), '--threads', String(threads), '--json'];
  // Random weights may meet EOS early: stop ids do not apply when --ids is given? They do; pick a long run and report what ran.
  const out = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 }));
  if (out.generated_ids.length < DECODE / 2) throw new Error(`only ${out.generated_ids.length} tokens generated (stopped early)`);
  return out.decode_tokens_per_s;
}

interface Llama {
  loadModel(o: { modelPath: string }): Promise<{
    createContext(o: {
      contextSize: number;
      threads: number;
      batchSize?: number;
    }): Promise<{ getSequence(): { evaluate(t: number[], o: object): AsyncIterable<number> }; dispose(): Promise<void> }>;
    dispose(): Promise<void>;
  }>;
}

async function llamaCpp(llama: Llama, model: string, threads: number): Promise<number> {
  const m = await llama.loadModel({ modelPath: model });
  const ctx = await m.createContext({ contextSize: PROMPT.length + DECODE + 8, threads });
  const seq = ctx.getSequence();
  let n = 0;
  let tFirst = 0;
  for await (const _t of seq.evaluate(PROMPT, { temperature: 0 })) {
    if (n === 0) tFirst = performance.now();
    if (++n >= DECODE) break;
  }
  const tps = (n - 1) / ((performance.now() - tFirst) / 1000);
  await ctx.dispose();
  await m.dispose();
  return tps;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'llmp-bench-'));
  try {
    const stories = path.join(fixtures, 'gguf/stories260K.gguf');
    const shape: LlamaShape = {
      vocabSize: 512,
      hiddenSize: 384,
      intermediateSize: 1024,
      numLayers: 8,
      numHeads: 6,
      numKvHeads: 6,
      maxPositions: 1024,
      ropeTheta: 10000,
      rmsEps: 1e-5,
      tieEmbeddings: true,
    };
    const rand = path.join(dir, 'random-15m.gguf');
    writeFileSync(rand, randomLlamaGguf(shape, await vocabOf(stories), 7));
    const nlcDir = process.env.NODE_LLAMA_CPP_DIR;
    let llama: Llama | undefined;
    if (nlcDir) {
      const mod = await import(pathToFileURL(path.join(nlcDir, 'dist/index.js')).href);
      llama = (await mod.getLlama({ gpu: false, build: 'never', logLevel: 'error' })) as Llama;
    } else {
      console.log('NODE_LLAMA_CPP_DIR is not set: llama.cpp columns skipped (run through `npm run bench`)');
    }
    console.log(`decode tokens/s, ${DECODE} tokens after a ${PROMPT.length}-token prompt, ${REPEATS} runs each alternating, the same thread count each`);
    console.log("(median, and the best run: on a busy machine the best is the nearer to each side's unloaded speed)");
    console.log('model                       params   threads  ours median  llama.cpp  ratio | ours best  llama.cpp  ratio');
    const f = (x: number, w = 10) => (Number.isNaN(x) ? '—' : x.toFixed(1)).padStart(w);
    const r = (a: number, b: number) => (Number.isNaN(b) ? '—' : (a / b).toFixed(2)).padStart(6);
    for (const [name, file, params] of [
      ['stories260K (f32 GGUF)', stories, 260_032],
      ['random Llama ~15M (f32 GGUF)', rand, llamaParamCount(shape)],
    ] as const) {
      for (const threads of THREADS) {
        // alternate the two so that a change in the machine's load falls on both
        const o: number[] = [];
        const l: number[] = [];
        for (let i = 0; i < REPEATS; i++) {
          o.push(ours(file, threads));
          if (llama) l.push(await llamaCpp(llama, file, threads));
        }
        const [om, ob] = [median(o), Math.max(...o)];
        const [lm, lb] = llama ? [median(l), Math.max(...l)] : [NaN, NaN];
        console.log(`${name.padEnd(28)}${String(params).padStart(9)}  ${String(threads).padStart(7)} ${f(om, 12)} ${f(lm)} ${r(om, lm)} | ${f(ob)} ${f(lb)} ${r(ob, lb)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
