/**
 * Tokenizer work on a tokenizer from the user's files (the active model's), off the extension
 * host's thread and under a deadline. A pattern in a tokenizer.json can pass the shape check of
 * engine/tokenizer/regex-safety.ts and still backtrack for a polynomial time (`a*a*a*a*a*b`
 * on a line of a's): run on the host's thread, it would freeze every extension of the window.
 *
 * The jobs run one at a time in a Node worker thread (extension/tokenizer-worker.ts, bundled as
 * dist/tokenizer-worker.js). A job that runs past its deadline has its worker terminated and
 * fails with a TokenizerDeadlineError naming the tokenizer file; the next job starts a new worker
 * (which loads the tokenizer again). No `vscode` here: the Node tests drive it as it is.
 */
import { Worker } from 'node:worker_threads';
import { FormatError } from '../engine/errors';
import type { FormatId } from '../engine/formats/ids';
import type { TokenView } from '../engine/tokenizer/inspect';
import type { CountResult } from '../engine/tokenizer/line-counter';
import type { HoverContent, HoverOptions } from './token-markdown';

/** Where the worker reads a tokenizer from (plain data: it crosses to the worker). */
export type TokenizerSource =
  /** The format registry's tokenizer of a model (engine/formats/registry.ts loadModelTokenizer). */
  | { kind: 'model'; format: FormatId; root: string; main: string | undefined; source: string }
  /** A llama2.c tokenizer.bin. */
  | { kind: 'llama2c'; path: string };

export interface TokenizerSpec {
  /** Tells tokenizers apart (the worker keeps each it loaded under this key). */
  key: string;
  /** The tokenizer file, for messages. */
  file: string;
  source: TokenizerSource;
}

export type TokenizerJob =
  | { op: 'hover'; text: string; label: string; opts: HoverOptions }
  /** The tokens of each text (token boundaries of the visible lines). */
  | { op: 'inspect'; texts: string[] }
  /** LineTokenCounter.count */
  | { op: 'count'; text: string }
  /** LineTokenCounter.countLines over these lines */
  | { op: 'countLines'; lines: string[] }
  /** The Tokenizer panel: the first maxListed tokens and how many there are. */
  | { op: 'tokenize'; text: string; maxListed: number };

export interface JobResults {
  load: null;
  hover: HoverContent;
  inspect: TokenView[][];
  count: CountResult;
  countLines: CountResult;
  tokenize: { tokens: TokenView[]; total: number };
}

export type WorkerRequest = { id: number; spec: TokenizerSpec; job: TokenizerJob | { op: 'load' } };
export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; message: string };

/** Loading a tokenizer (a tokenizer.json of megabytes) has this long whatever the deadline. */
export const LOAD_DEADLINE_MS = 60_000;
/** A job's deadline grows with its text past this many characters (the Tokenizer panel takes 1,000,000). */
export const DEADLINE_CHARS = 100_000;

/** A tokenizer's work ran past its deadline and was stopped. */
export class TokenizerDeadlineError extends FormatError {
  constructor(
    file: string,
    readonly what: string,
    readonly deadlineMs: number,
  ) {
    super(
      `${what} took longer than the ${deadlineMs / 1000} s deadline (setting llmPlayground.tokenizerTimeoutMs) and was stopped: a pattern of this tokenizer may backtrack on this text`,
      { file },
    );
    this.name = 'TokenizerDeadlineError';
  }
}

/** A job dropped before it started (its caller no longer wants it). */
export class JobCancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'JobCancelledError';
  }
}

function jobChars(job: TokenizerJob): number {
  switch (job.op) {
    case 'hover':
    case 'count':
    case 'tokenize':
      return job.text.length;
    case 'inspect':
      return job.texts.reduce((s, t) => s + t.length, 0);
    case 'countLines':
      return job.lines.reduce((s, t) => s + t.length, 0);
  }
}

function describe(job: TokenizerJob | { op: 'load' }): string {
  if (job.op === 'load') return 'loading the tokenizer';
  const n = jobChars(job);
  return `tokenizing ${n.toLocaleString('en-US')} character${n === 1 ? '' : 's'}`;
}

export class TokenizerJobs {
  private worker: Worker | undefined;
  /** Spec keys the current worker has loaded. */
  private loaded = new Set<string>();
  private nextId = 1;
  private current: { id: number; resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Workers started (the first one included): a restart after a deadline shows here. */
  started = 0;

  constructor(
    /** The worker's bundle (dist/tokenizer-worker.js). */
    private readonly workerFile: string,
    /** The deadline of a job of up to DEADLINE_CHARS characters, read at each job. */
    private readonly deadlineMs: () => number,
  ) {}

  /**
   * Runs `job` on the tokenizer of `spec` after the jobs before it ({ op: 'load' } only loads
   * it). Rejects with the worker's error (the tokenizer's load error), a TokenizerDeadlineError,
   * or JobCancelledError when `cancel` was set before the job started.
   */
  run<J extends TokenizerJob | { op: 'load' }>(spec: TokenizerSpec, job: J, cancel?: { readonly isCancellationRequested: boolean }): Promise<JobResults[J['op']]> {
    const p = this.queue.then(async () => {
      if (cancel?.isCancellationRequested) throw new JobCancelledError();
      if (!this.worker || !this.loaded.has(spec.key)) {
        await this.call(spec, { op: 'load' }, LOAD_DEADLINE_MS);
        this.loaded.add(spec.key);
      }
      if (job.op === 'load') return null;
      const base = this.deadlineMs();
      return this.call(spec, job, base * Math.max(1, jobChars(job as TokenizerJob) / DEADLINE_CHARS));
    });
    this.queue = p.catch(() => {});
    return p as Promise<JobResults[J['op']]>;
  }

  /** Stops the worker (a job in flight fails). */
  dispose(): void {
    this.stop(new Error('the tokenizer worker was stopped'));
  }

  private stop(why: Error): void {
    const w = this.worker;
    this.worker = undefined;
    this.loaded.clear();
    const c = this.current;
    this.current = undefined;
    c?.reject(why);
    void w?.terminate();
  }

  private start(): Worker {
    const w = new Worker(this.workerFile);
    this.started++;
    w.unref(); // an idle worker keeps no process alive (a job in flight holds its deadline timer)
    w.on('message', (m: WorkerReply) => {
      const c = this.current;
      if (!c || m.id !== c.id) return;
      this.current = undefined;
      if (m.ok) c.resolve(m.result);
      else c.reject(new Error(m.message));
    });
    w.on('error', (e) => {
      if (this.worker === w) this.stop(new Error(`the tokenizer worker failed: ${e.message}`));
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.stop(new Error(`the tokenizer worker exited (code ${code})`));
    });
    return w;
  }

  private call(spec: TokenizerSpec, job: TokenizerJob | { op: 'load' }, deadlineMs: number): Promise<unknown> {
    const w = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.current?.id === id) this.stop(new TokenizerDeadlineError(spec.file, describe(job), Math.round(deadlineMs)));
      }, deadlineMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        f();
      };
      this.current = { id, resolve: (v) => done(() => resolve(v)), reject: (e) => done(() => reject(e)) };
      const req: WorkerRequest = { id, spec, job };
      w.postMessage(req);
    });
  }
}
