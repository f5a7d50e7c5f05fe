/**
 * Tokenizer speed, beside gpt-tokenizer and js-tiktoken on the same text in the same run:
 * encoding throughput (MB/s of UTF-8) on o200k_base and cl100k_base over the > 1 MB mixed
 * corpus (test-corpus-node.ts); our Llama 3, Qwen3 and Llama 2 (tokenizer.json, HF's ids) on
 * the same text. The editor's hover and status-bar count on the same corpus:
 * extension/editor.bench.ts.
 * Run with `npm run bench -- tokenizer` (`BENCH_REPEATS` rounds, default 5).
 */
import { encode as gptCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { encode as gptO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base';
import o200kRanks from 'js-tiktoken/ranks/o200k_base';
import { loadBuiltinTokenizer } from './builtin-node';
import { mixedCorpus } from './test-corpus-node';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

interface Row {
  name: string;
  lib: string;
  fn: () => number;
  /** Our row of the same encoding, for the "vs ours" column (none for the rows without a library beside them). */
  ours?: Row;
  ms: number;
  n: number;
}

async function main(): Promise<void> {
  const corpus = mixedCorpus();
  const mb = new TextEncoder().encode(corpus).length / 1e6;
  const rows: Row[] = [];
  const row = (name: string, lib: string, fn: () => number, ours?: Row): Row => {
    const r: Row = { name, lib, fn, ours, ms: Infinity, n: 0 };
    rows.push(r);
    return r;
  };
  for (const name of ['o200k_base', 'cl100k_base'] as const) {
    const t = await loadBuiltinTokenizer(name);
    const js = new Tiktoken(name === 'o200k_base' ? o200kRanks : cl100kRanks);
    const gpt = name === 'o200k_base' ? gptO200k : gptCl100k;
    const ours = row(name, 'ours (engine)', () => t.encodeIds(corpus).length);
    ours.ours = ours;
    row(name, 'gpt-tokenizer 4.0.0', () => gpt(corpus, { allowedSpecial: 'all' }).length, ours);
    row(name, 'js-tiktoken 1.0.21', () => js.encode(corpus, 'all').length, ours);
  }
  for (const name of ['llama3', 'qwen3', 'llama2'] as const) {
    const t = await loadBuiltinTokenizer(name);
    row(name, 'ours (engine)', () => t.encodeIds(corpus, { addSpecialTokens: false }).length);
  }
  // Rounds go over every row in turn, so that on a shared machine each row's best run comes
  // from the same stretch of time as the others' (not one row's repeats in a busy moment).
  for (let r = 0; r < REPEATS; r++) {
    for (const x of rows) {
      const t0 = performance.now();
      x.n = x.fn();
      x.ms = Math.min(x.ms, performance.now() - t0);
    }
  }
  console.log(`corpus: ${mb.toFixed(2)} MB UTF-8 (tinyshakespeare + repo sources + generated CJK/emoji/whitespace); best of ${REPEATS} rounds (warm caches)`);
  console.log('encoding         library            MB/s    ms     tokens  vs ours');
  for (const x of rows) {
    const vs = x.ours ? `  ${(x.ms / x.ours.ms).toFixed(2)}× time` : '';
    console.log(`${x.name.padEnd(16)} ${x.lib.padEnd(18)} ${(mb / (x.ms / 1000)).toFixed(2).padStart(6)} ${x.ms.toFixed(0).padStart(6)} ${String(x.n).padStart(9)}${vs}`);
  }
}

void main();
