/**
 * GGUF exports in llama.cpp: every fixture llama/qwen2/qwen3 model, Mixtral, GPT-2 and stories260K (llama2.c
 * .bin and GGUF) exported at F32, F16 and Q8_0, then run greedily for 24 steps by
 * node-llama-cpp (CPU) and by the engine on the original model. Prints, per export, how many of
 * llama.cpp's ids agree with ours, where they first differ, how many of the engine's own ids on
 * the reloaded export agree with ours and with llama.cpp's, and the smallest top-1/top-2 logit gap on our path (agreement is only
 * meaningful where that gap exceeds the numeric error of the type). The tiny fixtures have no
 * tokenizer of their own: they are exported with stories260K's 512-token vocabulary (--tokenizer),
 * which llama.cpp's runtime needs to start; the comparison is on ids only.
 * Run: `node scripts/run-benches.mjs export-llamacpp` with NODE_LLAMA_CPP_DIR set (scripts/bench.sh
 * installs node-llama-cpp and sets it); without it the bench says so and exits.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openModel } from '../formats/load-node';
import { Model } from '../model/model';
import { randomFill } from '../model/random';
import { fromTokenizerJson } from '../tokenizer/hf';
import type { LoadedModel } from '../model/types';
import { exportGguf } from './gguf-export';
import { openExportSource } from './source-node';
import type { ExportDtype } from './types';
import { writeExport } from './write-node';

const root = path.resolve(__dirname, '../..'); // the bundle runs from dist/bench
const fixtures = path.resolve(root, '../shared/fixtures');
const STEPS = 24;

interface NlcContext {
  getSequence(): { evaluate(t: number[], o: object): AsyncIterable<number> };
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(o: { modelPath: string; gpuLayers?: number }): Promise<{
    createContext(o: object): Promise<NlcContext>;
    tokenize(text: string, specialTokens?: boolean): ArrayLike<number>;
    dispose(): Promise<void>;
  }>;
}

/** Greedy ids of the engine (CPU, f32) and the smallest top-1/top-2 gap along the way. */
function ours(loaded: LoadedModel, prompt: number[]): { ids: number[]; margin: number } {
  const model = new Model(loaded, { contextLength: prompt.length + STEPS + 1 });
  const V = loaded.config.vocabSize;
  let logits = model.forward(prompt).logits;
  let last = logits.subarray((prompt.length - 1) * V);
  const ids: number[] = [];
  let margin = Infinity;
  for (let s = 0; s < STEPS; s++) {
    let a = 0;
    for (let i = 1; i < V; i++) if (last[i] > last[a]) a = i;
    let b = -Infinity;
    for (let i = 0; i < V; i++) if (i !== a && last[i] > b) b = last[i];
    margin = Math.min(margin, last[a] - b);
    ids.push(a);
    logits = model.forward([a]).logits;
    last = logits;
  }
  return { ids, margin };
}

async function llamaCpp(llama: Llama, file: string, prompt: number[]): Promise<number[]> {
  const m = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const ctx = await m.createContext({ contextSize: prompt.length + STEPS + 8, threads: 1 });
  const ids: number[] = [];
  try {
    for await (const t of ctx.getSequence().evaluate(prompt, { temperature: 0 })) {
      ids.push(t);
      if (ids.length >= STEPS) break;
    }
  } finally {
    await ctx.dispose();
    await m.dispose();
  }
  return ids;
}

const agree = (a: number[], b: number[]) => {
  const first = a.findIndex((x, i) => x !== b[i]);
  return { same: a.filter((x, i) => x === b[i]).length, first: first < 0 ? '—' : String(first) };
};

async function main() {
  const nlcDir = process.env.NODE_LLAMA_CPP_DIR;
  if (!nlcDir) {
    console.log('NODE_LLAMA_CPP_DIR is not set: nothing to compare against (scripts/bench.sh installs node-llama-cpp and sets it)');
    return;
  }
  const mod = await import(pathToFileURL(path.join(nlcDir, 'dist/index.js')).href);
  const llama = (await mod.getLlama({ gpu: false, build: 'never', logLevel: 'error' })) as Llama;
  const refPrompt = (name: string) => JSON.parse(readFileSync(path.join(fixtures, 'refs', `${name}.shared.json`), 'utf8')).cases[0].input_ids as number[];
  const cases: [string, string, number[]][] = [
    ...['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mixtral-moe', 'tiny-gpt2'].map(
      (n) => [n, path.join(fixtures, 'models', n), refPrompt(n)] as [string, string, number[]],
    ),
    ['stories260K.bin', path.join(fixtures, 'llama2c', 'stories260K.bin'), []],
    ['stories260K.gguf', path.join(fixtures, 'gguf', 'stories260K.gguf'), []],
  ];
  const dir = mkdtempSync(path.join(tmpdir(), 'llmp-export-'));
  console.log(`greedy ids, ${STEPS} steps: llama.cpp (node-llama-cpp, CPU) on our GGUF export vs the engine on the original`);
  console.log('model               dtype  llama.cpp=ours  first diff  ours(export)=ours  llama.cpp=ours(export)  min gap (ours)');
  try {
    for (const [name, p, prompt0] of cases) {
      // The tiny fixtures come without a tokenizer; llama.cpp's runtime needs one, so they get stories260K's (also 512 tokens).
      const tokenizer = prompt0.length ? path.join(fixtures, 'llama2c', 'tok512.bin') : undefined;
      const src = await openExportSource(p, { tokenizer });
      const prompt = prompt0.length ? prompt0 : src.tokenizer!.encodeIds('Once upon a time', { addSpecialTokens: true });
      const base = ours(src.loaded, prompt);
      for (const dtype of ['f32', 'f16', 'q8_0'] as ExportDtype[]) {
        const file = path.join(dir, `${name}.${dtype}.gguf`);
        await writeExport(exportGguf(await openExportSource(p, { tokenizer }), { dtype }), file);
        const l = await llamaCpp(llama, file, prompt);
        // The engine reads back dense llama/qwen GGUFs only (MoE and GPT-2 ones are for llama.cpp).
        const c = src.loaded.config;
        const re = c.moe || c.architecture === 'gpt2' ? undefined : ours((await openModel(file)).loaded, prompt);
        const a = agree(l, base.ids);
        const r = re ? agree(re.ids, base.ids) : { same: NaN };
        const e = re ? agree(l, re.ids) : { same: NaN };
        console.log(
          `${name.padEnd(20)}${dtype.padEnd(7)}${`${a.same}/${STEPS}`.padStart(14)}${a.first.padStart(12)}${(re ? `${r.same}/${STEPS}` : '—').padStart(19)}${(re ? `${e.same}/${STEPS}` : '—').padStart(24)}${base.margin.toExponential(2).padStart(16)}`,
        );
        if (a.same !== STEPS) console.log(`    llama.cpp    ${l.join(',')}\n    ours         ${base.ids.join(',')}${re ? `\n    ours(export) ${re.ids.join(',')}` : ''}`);
      }
    }
    // Tokenizers converted from tokenizer.json (byte-level BPE → tokenizer.ggml.model gpt2): llama.cpp's ids against the HF tokenizer's.
    console.log('\ntokenizer.json embedded as GGUF gpt2 vocabulary: llama.cpp tokenize() = tokenizer.json, lines of tinyshakespeare');
    const lines = readFileSync(path.join(fixtures, 'corpus', 'tinyshakespeare.txt'), 'utf8')
      .split('\n')
      .slice(0, 500)
      .filter(Boolean);
    for (const name of ['tiny-bytelevel-gpt2', 'tiny-bytelevel-llama3']) {
      const bytes = readFileSync(path.join(fixtures, 'tokenizers', name, 'tokenizer.json'));
      const loaded = (await openModel(path.join(fixtures, 'models', 'tiny-llama'))).loaded;
      const V = 1024;
      loaded.config.vocabSize = V;
      loaded.weights.set('model.embed_tokens.weight', { shape: [V, 64], data: randomFill(V * 64, 1, 0.2) });
      loaded.weights.set('lm_head.weight', { shape: [V, 64], data: randomFill(V * 64, 2, 0.2) });
      const file = path.join(dir, `${name}.gguf`);
      await writeExport(exportGguf({ loaded, name, tokenizerFiles: { 'tokenizer.json': new Uint8Array(bytes) } }), file);
      const hf = fromTokenizerJson(bytes.toString('utf8'), name);
      const m = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
      let same = 0;
      for (const line of lines) {
        const a = Array.from(m.tokenize(line, false) as ArrayLike<number>);
        const b = hf.encodeIds(line, { addSpecialTokens: false });
        if (a.length === b.length && a.every((x, i) => x === b[i])) same++;
      }
      await m.dispose();
      console.log(`${name.padEnd(24)}${same}/${lines.length} lines alike`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
