/**
 * The editor features' latency on the tokenizer bench's mixed corpus
 * (engine/tokenizer/test-corpus-node.ts) repeated to a 5 MB file: the token hover (p50/p99 of
 * tokenHoverMarkdown on random lines) and the status-bar count of the whole document, then
 * again after a one-line edit. Run with `npm run bench -- editor`.
 */
import { loadBuiltinTokenizer } from '../engine/tokenizer/builtin-node';
import { LineTokenCounter } from '../engine/tokenizer/line-counter';
import { mixedCorpus } from '../engine/tokenizer/test-corpus-node';
import { tokenHoverMarkdown } from './token-markdown';

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
}

void main();
