/**
 * Tokenizer speed, beside gpt-tokenizer and js-tiktoken on the same text in the same run:
 * encoding throughput (MB/s of UTF-8) on o200k_base and cl100k_base over the > 1 MB mixed
 * corpus (test-corpus-node.ts); our Llama 3, Qwen3 and Llama 2 (tokenizer.json, HF's ids) on
 * the same text. The editor's hover and status-bar count on the same corpus:
 * extension/editor.bench.ts.
 * Run with `npm run bench -- tokenizer`.
 */
import { encode as gptCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { encode as gptO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base';
import o200kRanks from 'js-tiktoken/ranks/o200k_base';
import { loadBuiltinTokenizer } from './builtin-node';
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
      console.log(
        `${name.padEnd(16)} ${lib.padEnd(18)} ${(mb / (r.ms / 1000)).toFixed(2).padStart(6)} ${r.ms.toFixed(0).padStart(6)} ${String(r.n).padStart(9)}  ${(r.ms / oursMs).toFixed(2)}× time`,
      );
    }
  }
  for (const name of ['llama3', 'qwen3', 'llama2'] as const) {
    const t = await loadBuiltinTokenizer(name);
    const r = best(() => t.encodeIds(corpus, { addSpecialTokens: false }).length);
    console.log(`${name.padEnd(16)} ${'ours (engine)'.padEnd(18)} ${(mb / (r.ms / 1000)).toFixed(2).padStart(6)} ${r.ms.toFixed(0).padStart(6)} ${String(r.n).padStart(9)}`);
  }
}

void main();
