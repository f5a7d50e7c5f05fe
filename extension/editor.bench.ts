/**
 * The editor features' latency on the tokenizer bench's mixed corpus
 * (engine/tokenizer/test-corpus-node.ts) repeated to a 5 MB file: the token hover (p50/p99 of
 * tokenHoverMarkdown on random lines) and the status-bar count of the whole document, then
 * again after a one-line edit. Then the active model's path: the same hovers and count with the
 * bundled tok512.bin in the tokenizer worker (tokenizer-jobs.ts, the worker bundled here),
 * beside the same tokenizer on this thread. Run with `npm run bench -- editor`.
 */
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBuiltinTokenizer } from '../engine/tokenizer/builtin-node';
import { LineTokenCounter } from '../engine/tokenizer/line-counter';
import { parseLlama2cTokenizer } from '../engine/tokenizer/llama2c';
import { mixedCorpus } from '../engine/tokenizer/test-corpus-node';
import { tokenHoverMarkdown } from './token-markdown';
import { TokenizerJobs, type TokenizerSpec } from './tokenizer-jobs';

function pct(a: number[], p: number): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  const corpus = mixedCorpus();

  // ---- hover latency on a 5 MB file
  const lines = corpus.split('\n');
  const fileLines: string[] = [];
  let size = 0;
  for (let i = 0; size < 5_000_000; i++) {
    const l = lines[i % lines.length]!;
    fileLines.push(l);
    size += new TextEncoder().encode(l).length + 1;
  }
  console.log(`hover: ${fileLines.length} lines, ${(size / 1e6).toFixed(1)} MB file; 2000 hovers on random lines (cold word caches: first sight of each line)`);
  for (const name of ['o200k_base', 'cl100k_base', 'llama3'] as const) {
    const t = await loadBuiltinTokenizer(name);
    const r = rng(7);
    const times: number[] = [];
    let tokens = 0;
    for (let k = 0; k < 2000; k++) {
      const line = fileLines[Math.floor(r() * fileLines.length)]!;
      const t0 = performance.now();
      const h = tokenHoverMarkdown(t, name, line, { focus: Math.floor(r() * (line.length + 1)) });
      times.push(performance.now() - t0);
      tokens += h.tokens;
    }
    console.log(
      `hover ${name.padEnd(12)} p50 ${pct(times, 50).toFixed(3)} ms  p99 ${pct(times, 99).toFixed(3)} ms  max ${Math.max(...times).toFixed(2)} ms  (${(tokens / 2000).toFixed(1)} tokens/line)`,
    );
  }

  // ---- status-bar count of the whole 5 MB document, then after a one-line edit
  const t = await loadBuiltinTokenizer('o200k_base');
  const counter = new LineTokenCounter(t);
  let t0 = performance.now();
  const first = await counter.countLines(fileLines.length, (i) => `${fileLines[i]}\n`);
  const cold = performance.now() - t0;
  fileLines[1234] = `${fileLines[1234]} edited`;
  t0 = performance.now();
  const again = await counter.countLines(fileLines.length, (i) => `${fileLines[i]}\n`);
  const warm = performance.now() - t0;
  console.log(
    `status bar o200k_base, 5 MB document: first count ${cold.toFixed(0)} ms (${first!.tokens} tokens, run in 8 ms slices), recount after a one-line edit ${warm.toFixed(1)} ms (${again!.tokens} tokens)`,
  );

  // ---- the active model's tokenizer (tok512.bin) in the worker, beside it on this thread
  const dir = mkdtempSync(path.join(os.tmpdir(), 'editor-bench-'));
  try {
    await build({
      entryPoints: [path.resolve('extension/tokenizer-worker.ts')],
      outfile: path.join(dir, 'w.js'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'warning',
    });
    const tokPath = path.resolve('models/tok512.bin');
    const local = parseLlama2cTokenizer(new Uint8Array(readFileSync(tokPath)), 'tok512.bin');
    const jobs = new TokenizerJobs(path.join(dir, 'w.js'), () => 2000);
    const spec: TokenizerSpec = { key: 'tok512', file: tokPath, source: { kind: 'llama2c', path: tokPath } };
    await jobs.run(spec, { op: 'load' });
    const r = rng(7);
    const inThread: number[] = [];
    const inWorker: number[] = [];
    for (let k = 0; k < 2000; k++) {
      const line = fileLines[Math.floor(r() * fileLines.length)]!;
      const opts = { focus: Math.floor(r() * (line.length + 1)) };
      let t1 = performance.now();
      tokenHoverMarkdown(local, 'tok512', line, opts);
      inThread.push(performance.now() - t1);
      t1 = performance.now();
      await jobs.run(spec, { op: 'hover', text: line, label: 'tok512', opts });
      inWorker.push(performance.now() - t1);
    }
    console.log(
      `hover tok512 in the worker p50 ${pct(inWorker, 50).toFixed(3)} ms  p99 ${pct(inWorker, 99).toFixed(3)} ms; on this thread p50 ${pct(inThread, 50).toFixed(3)} ms  p99 ${pct(inThread, 99).toFixed(3)} ms (worker / thread p99 ${(pct(inWorker, 99) / pct(inThread, 99)).toFixed(2)}×)`,
    );
    const all = fileLines.map((l) => `${l}\n`);
    t0 = performance.now();
    const c1 = await jobs.run(spec, { op: 'countLines', lines: all });
    const wCold = performance.now() - t0;
    t0 = performance.now();
    await jobs.run(spec, { op: 'countLines', lines: all });
    const wWarm = performance.now() - t0;
    console.log(`status bar tok512 in the worker, 5 MB document: first count ${wCold.toFixed(0)} ms (${c1.tokens} tokens), recount ${wWarm.toFixed(1)} ms (the lines sent again)`);
    jobs.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
