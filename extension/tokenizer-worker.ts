/**
 * The tokenizer worker thread (bundled as dist/tokenizer-worker.js): loads tokenizers from the
 * user's files and runs the editor's and the Tokenizer panel's jobs on them, one at a time.
 * The host (extension/tokenizer-jobs.ts) terminates it when a job runs past its deadline.
 * No `vscode`: it runs in a worker_threads Worker.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { nodeModelDir } from '../engine/formats/hf-node';
import { loadModelTokenizer } from '../engine/formats/registry';
import { inspectTokens } from '../engine/tokenizer/inspect';
import { parseLlama2cTokenizer } from '../engine/tokenizer/llama2c';
import { LineTokenCounter } from '../engine/tokenizer/line-counter';
import type { Tokenizer } from '../engine/tokenizer/types';
import { tokenHoverMarkdown } from './token-markdown';
import type { TokenizerJob, TokenizerSource, WorkerReply, WorkerRequest } from './tokenizer-jobs';

/** The tokenizers loaded, each with its line counter (a cache of line counts); the last few kept. */
const loaded = new Map<string, { tokenizer: Tokenizer; counter: LineTokenCounter }>();
const KEEP = 4;

async function load(src: TokenizerSource): Promise<Tokenizer> {
  if (src.kind === 'llama2c') return parseLlama2cTokenizer(new Uint8Array(await readFile(src.path)), path.basename(src.path));
  const t = await loadModelTokenizer(src.format, nodeModelDir(src.root), src.main, src.source);
  if (!t) throw new Error(`${src.root}: the model has no tokenizer`);
  return t;
}

async function run(job: TokenizerJob, t: { tokenizer: Tokenizer; counter: LineTokenCounter }): Promise<unknown> {
  switch (job.op) {
    case 'hover':
      return tokenHoverMarkdown(t.tokenizer, job.label, job.text, job.opts);
    case 'inspect':
      return job.texts.map((s) => inspectTokens(t.tokenizer, s));
    case 'count':
      return t.counter.count(job.text);
    case 'countLines':
      return t.counter.countLines(job.lines.length, (i) => job.lines[i]!);
    case 'tokenize': {
      const tokens = inspectTokens(t.tokenizer, job.text);
      return { tokens: tokens.slice(0, job.maxListed), total: tokens.length };
    }
  }
}

parentPort!.on('message', (req: WorkerRequest) => {
  void (async (): Promise<WorkerReply> => {
    try {
      let t = loaded.get(req.spec.key);
      if (!t) {
        const tokenizer = await load(req.spec.source);
        t = { tokenizer, counter: new LineTokenCounter(tokenizer) };
        if (loaded.size >= KEEP) loaded.delete(loaded.keys().next().value!);
        loaded.set(req.spec.key, t);
      }
      return { id: req.id, ok: true, result: req.job.op === 'load' ? null : await run(req.job, t) };
    } catch (e) {
      return { id: req.id, ok: false, message: e instanceof Error ? e.message : String(e) };
    }
  })().then((reply) => parentPort!.postMessage(reply));
});
