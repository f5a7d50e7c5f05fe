/**
 * Tokenizer speed, beside gpt-tokenizer and js-tiktoken on the same text in the same run:
 * encoding throughput (MB/s of UTF-8) on o200k_base and cl100k_base over the > 1 MB mixed
 * corpus (test-corpus-node.ts), our Llama 3 / Qwen3 for reference, and the editor hover's latency
 * (p50/p99 of tokenHoverMarkdown on random lines of a 5 MB file) plus the status-bar count.
 * Run with `npm run bench -- tokenizer`.
 */
import { encode as gptCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { encode as gptO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base';
import o200kRanks from 'js-tiktoken/ranks/o200k_base';
import { tokenHoverMarkdown } from '../../extension/token-markdown';
import { loadBuiltinTokenizer } from './builtin-node';
import { LineTokenCounter } from './line-counter';
import { mixedCorpus } from './test-corpus-node';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

function best(fn: () => number): { ms: number; n: number } {
  let ms = Infinity;
  let n = 0;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    n = fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, n };
}

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
  const mb = new TextEncoder().encode(corpus).length / 1e6;
  console.log(`corpus: ${mb.toFixed(2)} MB UTF-8 (tinyshakespeare + repo sources + generated CJK/emoji/whitespace); best of ${REPEATS} runs (warm caches)`);
  console.log('encoding         library            MB/s    ms     tokens  vs ours');
  for (const name of ['o200k_base', 'cl100k_base'] as const) {
    const ours = await loadBuiltinTokenizer(name);
    const js = new Tiktoken(name === 'o200k_base' ? o200kRanks : cl100kRanks);
    const gpt = name === 'o200k_base' ? gptO200k : gptCl100k;
    const rows: [string, { ms: number; n: number }][] = [
      ['ours (engine)', best(() => ours.encodeIds(corpus).length)],
      ['gpt-tokenizer 4.0.0', best(() => gpt(corpus, { allowedSpecial: 'all' }).length)],
      ['js-tiktoken 1.0.21', best(() => js.encode(corpus, 'all').length)],
    ];
    const oursMs = rows[0]![1].ms;
    for (const [lib, r] of rows) {
      console.log(`${name.padEnd(16)} ${lib.padEnd(18)} ${(mb / (r.ms / 1000)).toFixed(2).padStart(6)} ${r.ms.toFixed(0).padStart(6)} ${String(r.n).padStart(9)}  ${(r.ms / oursMs).toFixed(2)}× time`);
    }
  }
  for (const name of ['llama3', 'qwen3', 'llama2'] as const) {
    const t = await loadBuiltinTokenizer(name);
    const r = best(() => t.encodeIds(corpus, { addSpecialTokens: false }).length);
    console.log(`${name.padEnd(16)} ${'ours (engine)'.padEnd(18)} ${(mb / (r.ms / 1000)).toFixed(2).padStart(6)} ${r.ms.toFixed(0).padStart(6)} ${String(r.n).padStart(9)}`);
  }

  // ---- hover latency on a 5 MB file
  const lines = corpus.split('\n');
  const fileLines: string[] = [];
  let size = 0;
  for (let i = 0; size < 5_000_000; i++) {
    const l = lines[i % lines.length]!;
    fileLines.push(l);
    size += new TextEncoder().encode(l).length + 1;
  }
  console.log(`\nhover: ${fileLines.length} lines, ${(size / 1e6).toFixed(1)} MB file; 2000 hovers on random lines (cold word caches: first sight of each line)`);
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
    console.log(`hover ${name.padEnd(12)} p50 ${pct(times, 50).toFixed(3)} ms  p99 ${pct(times, 99).toFixed(3)} ms  max ${Math.max(...times).toFixed(2)} ms  (${(tokens / 2000).toFixed(1)} tokens/line)`);
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
  console.log(`status bar o200k_base, 5 MB document: first count ${cold.toFixed(0)} ms (${first!.tokens} tokens, run in 8 ms slices), recount after a one-line edit ${warm.toFixed(1)} ms (${again!.tokens} tokens)`);
}

void main();
