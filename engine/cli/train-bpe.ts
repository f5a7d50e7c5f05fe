/**
 * `llm-playground train-bpe --input <file|folder> --vocab-size N --out tokenizer.json`:
 * trains a byte-level BPE (engine/tokenizer/train-bpe.ts) on a text file or every UTF-8 text
 * file of a folder (binary files, node_modules, .git skipped) and writes a tokenizer.json.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BpeTrainer, TrainerInputError } from '../tokenizer/train-bpe';

export class TrainUsageError extends Error {}

const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', '.cache']);
const MAX_CHARS = 256 * 1024 * 1024;

/** Regular files under `p` (the input itself must exist; entries that vanish or dangle, FIFOs and devices are counted in `unreadable`). */
function textFiles(p: string, out: string[] = [], unreadable = { n: 0 }, top = true): string[] {
  let st;
  try {
    st = statSync(p);
  } catch (e) {
    if (top) throw e;
    unreadable.n++; // a dangling symlink, or a file removed while listing
    return out;
  }
  if (st.isFile()) out.push(p);
  else if (st.isDirectory()) {
    for (const e of readdirSync(p).sort()) {
      if (SKIP_DIRS.has(e) || e.startsWith('.')) continue;
      textFiles(path.join(p, e), out, unreadable, false);
    }
  } else if (!top) unreadable.n++;
  else throw new TrainUsageError(`${p}: not a regular file or folder`);
  return out;
}

export async function cmdTrainBpe(argv: string[], out: (s: string) => void): Promise<void> {
  let values: { input?: string; 'vocab-size'?: string; out?: string; json?: boolean; quiet?: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: { input: { type: 'string' }, 'vocab-size': { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new TrainUsageError(e instanceof Error ? e.message : String(e));
  }
  if (!values.input) throw new TrainUsageError('train-bpe needs --input <file|folder>');
  if (!values.out) throw new TrainUsageError('train-bpe needs --out <tokenizer.json>');
  const size = Number(values['vocab-size'] ?? '1000');
  let trainer: BpeTrainer;
  try {
    trainer = new BpeTrainer({ vocabSize: size });
  } catch (e) {
    if (e instanceof TrainerInputError) throw new TrainUsageError(`--vocab-size: ${e.message}`);
    throw e;
  }
  let files: string[];
  const unreadable = { n: 0 };
  try {
    files = textFiles(values.input, [], unreadable);
  } catch (e) {
    if (e instanceof TrainUsageError) throw e;
    throw new TrainUsageError(`${values.input}: no such file or folder`);
  }
  const dec = new TextDecoder('utf-8', { fatal: true });
  let used = 0;
  let skipped = 0;
  let chars = 0;
  for (const f of files) {
    const bytes = readFileSync(f);
    if (bytes.subarray(0, 8192).includes(0)) {
      skipped++;
      continue;
    }
    let s: string;
    try {
      s = dec.decode(bytes);
    } catch {
      skipped++;
      continue;
    }
    if (chars + s.length > MAX_CHARS) break;
    chars += s.length;
    trainer.addText(s);
    used++;
  }
  skipped += unreadable.n;
  if (used === 0) throw new TrainUsageError(`${values.input}: no UTF-8 text file to train on${skipped ? ` (${skipped} binary, non-UTF-8 or unreadable files skipped)` : ''}`);
  if (chars === 0) throw new TrainUsageError(`${values.input}: the text is empty; there is nothing to learn merges from`);
  const t0 = performance.now();
  const target = trainer.targetMerges;
  for (let s = trainer.step(); s; s = trainer.step()) {
    if (!values.quiet && !values.json && (s.rank < 10 || (s.rank + 1) % 1000 === 0))
      out(`merge ${String(s.rank + 1).padStart(6)}/${target}  ${JSON.stringify(s.left)} + ${JSON.stringify(s.right)} -> ${JSON.stringify(s.token)}  (id ${s.id}, ${s.count}×)`);
  }
  writeFileSync(values.out, JSON.stringify(trainer.toTokenizerJson(), null, 1));
  const summary = {
    out: values.out,
    files: used,
    skipped,
    characters: chars,
    merges: trainer.merges.length,
    vocab_size: trainer.tokens.length,
    seconds: (performance.now() - t0) / 1000,
  };
  if (values.json) out(JSON.stringify(summary));
  else
    out(
      `wrote ${values.out}: ${summary.vocab_size} tokens (${summary.merges} merges) from ${used} file(s), ${chars} characters, in ${summary.seconds.toFixed(1)} s${skipped ? `; ${skipped} binary/non-UTF-8 files skipped` : ''}`,
    );
}
