/**
 * The KV what-ifs beside llama.cpp's own KV-size log lines (node-llama-cpp, CPU, gpu: false),
 * on the fixture stories260K.gguf and on generated GGUFs with the built-in configs' attention
 * shapes (shape-gguf.ts), at several contexts and KV types (f32, f16, q8_0 where llama.cpp
 * allows it). Each llama.cpp cache line is checked against the what-if for the same
 * hyper-parameters and llama.cpp's cells (llamacpp.ts): "match" when K, V and total print
 * alike, "exact" when the printed figure also pins the bytes of each row down to the byte.
 * Opt-in: `npm run bench -- llamacpp-kv` (needs NODE_LLAMA_CPP_DIR, set by scripts/bench.sh);
 * without it the bench says so and exits. BENCH_KV_MODELS=name,name limits the models;
 * BENCH_KV_LOG=path writes every captured KV line there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readGguf } from '../../formats/gguf';
import { ggufModelConfig } from '../../formats/gguf-model';
import { fileSource } from '../../formats/source-node';
import { builtinSpec } from './builtins';
import { checkLlamaCppLines, llamaCppCells, llamaCppMiB, parseLlamaCppKvLog, type KvLineCheck } from './llamacpp';
import { kvShapeGguf, type ShapeArch } from './shape-gguf';
import { specFromModelConfig, type KvSpec } from './spec';
import { kvWhatIf, type KvDtype } from './whatif';

const root = path.resolve(__dirname, '../..'); // the bundle runs from dist/bench
const fixtures = path.resolve(root, '../shared/fixtures');

interface Case {
  name: string;
  /** The GGUF's architecture as llama.cpp reads it ('fixture': the file itself). */
  arch: ShapeArch | 'fixture';
  contexts: number[];
  /** llama.cpp caches every layer in full although the config has a window (its architecture has no SWA). */
  windowIgnored?: boolean;
  note?: string;
}

const CASES: Case[] = [
  { name: 'stories260K', arch: 'fixture', contexts: [1, 17, 512, 2048, 4096] },
  { name: 'Llama-3.2-1B', arch: 'llama', contexts: [1, 1000, 4096, 8192] },
  { name: 'Llama-3.2-3B', arch: 'llama', contexts: [1000, 4096] },
  { name: 'Llama-3.1-8B', arch: 'llama', contexts: [1000, 4096] },
  { name: 'Llama-3.1-70B', arch: 'llama', contexts: [1000, 4096] },
  { name: 'Qwen3-0.6B', arch: 'qwen3', contexts: [1000, 4096] },
  { name: 'Qwen3-8B', arch: 'qwen3', contexts: [1000, 4096] },
  { name: 'Qwen3-32B', arch: 'qwen3', contexts: [1000, 4096] },
  {
    name: 'Mistral-7B-v0.1',
    arch: 'llama',
    contexts: [1000, 8192],
    windowIgnored: true,
    note: "llama.cpp loads Mistral-7B-v0.1 as 'llama', which has no sliding window: it caches the whole context",
  },
  {
    name: 'Mixtral-8x7B',
    arch: 'llama',
    contexts: [1000, 4096],
    note: "written dense: the experts do not change the cache (llama.cpp's Mixtral is 'llama' with experts)",
  },
  { name: 'Gemma-2-9B', arch: 'gemma2', contexts: [1000, 4096, 4700, 8192] },
  { name: 'DeepSeek-V3', arch: 'deepseek2', contexts: [1000, 4096], note: 'MLA: 2 query heads instead of 128 (the latent cache does not depend on them)' },
];
const DTYPES: [KvDtype, string][] = [
  ['f16', 'F16'],
  ['f32', 'F32'],
  ['q8_0', 'Q8_0'],
];

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

async function fixtureSpec(gguf: string): Promise<KvSpec> {
  const src = await fileSource(gguf);
  const f = await readGguf(src);
  await src.close?.();
  return specFromModelConfig(ggufModelConfig(f), 'stories260K');
}

type Logger = (level: string, message: string) => void;
interface NlcContext {
  contextSize: number;
  batchSize: number;
  dispose(): Promise<void>;
}
interface NlcModel {
  createContext(o: Record<string, unknown>): Promise<NlcContext>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(o: { modelPath: string; gpuLayers?: number }): Promise<NlcModel>;
}

interface Row {
  model: string;
  context: number;
  dtype: KvDtype;
  nCtx?: number;
  ubatch?: number;
  checks: KvLineCheck[];
  refused?: string;
  ring?: string;
}

/** node-llama-cpp hands log lines over asynchronously: wait for the KV size line and then for 100 ms without a new line (at most 5 s). */
async function settled(lines: string[]): Promise<void> {
  const t0 = Date.now();
  let n = -1;
  while (Date.now() - t0 < 5000) {
    if (n === lines.length && lines.some((l) => l.includes('llama_kv_cache: size'))) return;
    n = lines.length;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const nlcDir = process.env.NODE_LLAMA_CPP_DIR;
  if (!nlcDir) {
    console.log('NODE_LLAMA_CPP_DIR is not set: nothing to compare against (run through `npm run bench -- llamacpp-kv`, which installs node-llama-cpp)');
    return;
  }
  const only = process.env.BENCH_KV_MODELS?.split(',').map((s) => s.trim().toLowerCase());
  const lines: string[] = [];
  const logger: Logger = (_level, message) => {
    for (const l of String(message).split('\n')) if (l.trim()) lines.push(l);
  };
  const mod = await import(pathToFileURL(path.join(nlcDir, 'dist/index.js')).href);
  const llama = (await mod.getLlama({ gpu: false, build: 'never', logLevel: 'info', logger })) as Llama;
  const stories = path.join(fixtures, 'gguf/stories260K.gguf');
  const vocab = await vocabOf(stories);
  const dir = mkdtempSync(path.join(tmpdir(), 'llmp-kvcheck-'));
  const rows: Row[] = [];
  const captured: string[] = [];
  try {
    for (const c of CASES) {
      if (only && !only.includes(c.name.toLowerCase())) continue;
      let spec: KvSpec;
      let file: string;
      if (c.arch === 'fixture') {
        spec = await fixtureSpec(stories);
        file = stories;
      } else {
        spec = builtinSpec(c.name)!;
        file = path.join(dir, `${c.name}.gguf`);
        writeFileSync(file, kvShapeGguf(spec, c.arch, vocab));
      }
      const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
      // the window llama.cpp knows: none for architectures without SWA
      const llamaWindow = c.windowIgnored ? undefined : spec.slidingWindow;
      for (const context of c.contexts) {
        for (const [dtype, ggml] of DTYPES) {
          const row: Row = { model: c.name, context, dtype, checks: [] };
          rows.push(row);
          await new Promise((r) => setTimeout(r, 50));
          lines.length = 0;
          let ctx: NlcContext | undefined;
          try {
            ctx = await model.createContext({
              contextSize: context,
              batchSize: Math.min(512, context),
              sequences: 1,
              threads: 1,
              // llama.cpp needs flash attention for a quantised V cache; node-llama-cpp's "auto" leaves it off for some architectures
              ...(dtype === 'q8_0' ? { flashAttention: true } : {}),
              experimentalKvCacheKeyType: ggml,
              experimentalKvCacheValueType: ggml,
              ignoreMemorySafetyChecks: true,
              failedCreationRemedy: false,
            });
          } catch (e) {
            await new Promise((r) => setTimeout(r, 200));
            if (process.env.BENCH_KV_DEBUG) console.error(lines.join('\n'));
            row.refused = lines.find((l) => /does not divide|error/i.test(l))?.replace(/^.*?: /, '') ?? (e as Error).message;
            continue;
          }
          await settled(lines);
          const parsed = parseLlamaCppKvLog(lines);
          const nCtx = Number(/n_ctx\s+=\s+(\d+)/.exec(lines.find((l) => /llama_context: n_ctx\s+=/.test(l)) ?? '')?.[1]);
          const ubatch = Number(/n_ubatch\s+=\s+(\d+)/.exec(lines.find((l) => /llama_context: n_ubatch\s+=/.test(l)) ?? '')?.[1]);
          row.nCtx = nCtx;
          row.ubatch = ubatch;
          const cells = llamaCppCells(context, llamaWindow, ubatch);
          if (cells.full !== nCtx) throw new Error(`${c.name} at ${context}: llama.cpp's n_ctx is ${nCtx}, llamaCppCells says ${cells.full}`);
          const swaLine = parsed.find((p) => p.kind === 'swa');
          if (swaLine && swaLine.cells !== cells.swa) throw new Error(`${c.name} at ${context}: llama.cpp's SWA cache has ${swaLine.cells} cells, llamaCppCells says ${cells.swa}`);
          row.checks = checkLlamaCppLines(spec, parsed, { kvDtype: dtype, context: cells.full, swaCells: cells.swa }).checks;
          captured.push(
            `# ${c.name} (${c.arch}) context ${context} → n_ctx ${nCtx}, n_ubatch ${ubatch}, KV ${dtype}`,
            ...lines.filter((l) => /KV cache|llama_kv_cache: size/.test(l)),
          );
          if (spec.slidingWindow !== undefined) {
            // the what-if as a serving engine keeps it: a ring of exactly the window
            row.ring = llamaCppMiB(kvWhatIf(spec, { context, kvDtype: dtype }).cacheBytes);
          }
          await ctx.dispose();
        }
      }
      await model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (process.env.BENCH_KV_LOG) writeFileSync(process.env.BENCH_KV_LOG, captured.join('\n') + '\n');
  console.log('llama.cpp (node-llama-cpp 3.21.1, CPU) KV cache lines beside the what-ifs for the same hyper-parameters and cells');
  console.log('model            context  n_ctx  KV    cache    cells  layers  llama.cpp K / V / total MiB      what-if K / V / total MiB        match  exact');
  let n = 0;
  let matched = 0;
  let exact = 0;
  for (const r of rows) {
    const head = `${r.model.padEnd(16)} ${String(r.context).padStart(7)} ${String(r.nCtx ?? '—').padStart(6)}  ${r.dtype.padEnd(5)}`;
    if (r.refused) {
      console.log(`${head} refused by llama.cpp: ${r.refused}`);
      continue;
    }
    for (const k of r.checks) {
      n++;
      if (k.matches) matched++;
      if (k.exact) exact++;
      const ll = `${k.line.kMiB} / ${k.line.vMiB} / ${k.line.totalMiB}`;
      const wi = `${k.whatIf.kMiB} / ${k.whatIf.vMiB} / ${k.whatIf.totalMiB}`;
      console.log(
        `${head} ${k.line.kind.padEnd(8)} ${String(k.line.cells).padStart(5)} ${String(k.line.layers).padStart(7)}  ${ll.padEnd(32)} ${wi.padEnd(32)} ${k.matches ? 'yes' : 'NO '}    ${k.exact ? 'yes' : 'no'}`,
      );
    }
    if (r.ring) console.log(`${' '.repeat(head.length)} (the what-if's ring of the window at context ${r.context}: ${r.ring} MiB in all)`);
  }
  for (const c of CASES) if (c.note && (!only || only.includes(c.name.toLowerCase()))) console.log(`note: ${c.name}: ${c.note}`);
  console.log(`${matched} of ${n} llama.cpp cache lines match the what-if; ${exact} of them pin the bytes down exactly`);
  if (matched !== n) process.exitCode = 1;
}

// A native call whose promise never settles would let Node exit quietly with status 0: say so and fail instead.
let finished = false;
process.on('beforeExit', () => {
  if (!finished) {
    console.error('llamacpp-kv: node-llama-cpp left a call unsettled; the comparison did not finish');
    process.exit(1);
  }
});

main()
  .then(() => {
    finished = true;
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
