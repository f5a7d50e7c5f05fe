/**
 * The tokenizers the extension offers: the active model's (the bundled stories260K's tok512.bin
 * until the model manager sets another with `setActiveModelTokenizer`), the built-in
 * vocabularies (engine/tokenizer/builtin.ts, loaded lazily from dist/vocab) and the last
 * tokenizer the BPE trainer made. The editor's choice is the setting `llmPlayground.tokenizer`.
 *
 * The editor and the Tokenizer panel use them through `getEditorTokenizer`. The active model's
 * tokenizer comes from the user's files, so its patterns are untrusted: it is loaded and run
 * in the tokenizer worker under a deadline (tokenizer-jobs.ts, setting
 * `llmPlayground.tokenizerTimeoutMs`). The built-in and trained ones, whose patterns are
 * the extension's own, run here.
 */
import * as vscode from 'vscode';
import { BUILTIN_TOKENIZERS, isBuiltinTokenizerId } from '../engine/tokenizer/builtin';
import { addBuiltinSearchDir, loadBuiltinTokenizer } from '../engine/tokenizer/builtin-node';
import { inspectTokens, type TokenView } from '../engine/tokenizer/inspect';
import { LineTokenCounter, type CancelToken, type CountResult } from '../engine/tokenizer/line-counter';
import type { Tokenizer } from '../engine/tokenizer/types';
import type { TokenizerInfo } from '../engine/protocol/index';
import { tokenHoverMarkdown, type HoverContent, type HoverOptions } from './token-markdown';
import { TokenizerJobs, type TokenizerSpec } from './tokenizer-jobs';

export const ACTIVE_MODEL = 'active-model';
export const TRAINED = 'trained';
export const DEFAULT_TOKENIZER = 'o200k_base';

interface ActiveModelTokenizer {
  label: string;
  /** Where the worker reads it; undefined: the model has none. */
  spec: TokenizerSpec | undefined;
}

let extensionUri: vscode.Uri | undefined;
let activeModel: ActiveModelTokenizer | undefined;
let jobs: TokenizerJobs | undefined;
let trained: { label: string; tokenizer: Tokenizer } | undefined;
const changed = new vscode.EventEmitter<void>();

/** Fires when the list or the meaning of an id changed (new active model, new trained tokenizer, setting). */
export const onTokenizersChanged = changed.event;

export function initTokenizers(ctx: vscode.ExtensionContext): vscode.Disposable {
  extensionUri = ctx.extensionUri;
  addBuiltinSearchDir(vscode.Uri.joinPath(ctx.extensionUri, 'dist').fsPath);
  const j = (jobs = new TokenizerJobs(vscode.Uri.joinPath(ctx.extensionUri, 'dist', 'tokenizer-worker.js').fsPath, deadlineMs));
  return vscode.Disposable.from(
    { dispose: () => j.dispose() },
    changed,
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('llmPlayground.tokenizer')) changed.fire();
    }),
  );
}

/** The deadline of one tokenizer job on the active model's tokenizer (setting llmPlayground.tokenizerTimeoutMs). */
function deadlineMs(): number {
  const ms = vscode.workspace.getConfiguration('llmPlayground').get<number>('tokenizerTimeoutMs', 2000);
  return Number.isFinite(ms) ? Math.min(60_000, Math.max(100, ms)) : 2000;
}

/**
 * Sets the active model's tokenizer (for the model manager); the worker loads it on first use.
 * Pass undefined to go back to the bundled stories260K tokenizer.
 */
export function setActiveModelTokenizer(t: ActiveModelTokenizer | undefined): void {
  activeModel = t;
  changed.fire();
}

export function setTrainedTokenizer(label: string, tokenizer: Tokenizer): void {
  trained = { label, tokenizer };
  changed.fire();
}

function activeModelLabel(): string {
  return activeModel ? `Active model (${activeModel.label})` : 'Active model (stories260K tok512)';
}

export function listTokenizers(): TokenizerInfo[] {
  const list: TokenizerInfo[] = [
    { id: ACTIVE_MODEL, label: activeModelLabel(), description: activeModel ? `The tokenizer of ${activeModel.label}` : "The bundled stories260K's 512-token llama2.c vocabulary" },
  ];
  for (const b of BUILTIN_TOKENIZERS) list.push({ id: b.id, label: b.label, description: b.description });
  if (trained) list.push({ id: TRAINED, label: `Trained: ${trained.label}`, description: 'The last tokenizer made by Train BPE Tokenizer' });
  return list;
}

export function tokenizerLabel(id: string): string {
  return listTokenizers().find((t) => t.id === id)?.label ?? id;
}

/** The editor's tokenizer id (setting llmPlayground.tokenizer; unknown values fall back). */
export function editorTokenizerId(): string {
  const v = vscode.workspace.getConfiguration('llmPlayground').get<string>('tokenizer', DEFAULT_TOKENIZER);
  if (v === ACTIVE_MODEL || isBuiltinTokenizerId(v) || (v === TRAINED && trained)) return v;
  return DEFAULT_TOKENIZER;
}

/** A tokenizer as the editor and the Tokenizer panel use it: every call may run in the worker. */
export interface EditorTokenizer {
  /** The hover's content (rejects with JobCancelledError when `cancel` was set before the job started). */
  hover(text: string, label: string, opts: HoverOptions, cancel?: CancelToken): Promise<HoverContent>;
  /** The tokens of each text. */
  inspect(texts: string[]): Promise<TokenView[][]>;
  /** LineTokenCounter.count (undefined: cancelled). */
  count(text: string, cancel: CancelToken, pause: () => Promise<void>): Promise<CountResult | undefined>;
  /** LineTokenCounter.countLines (undefined: cancelled). */
  countLines(lineCount: number, lineAt: (i: number) => string, cancel: CancelToken, pause: () => Promise<void>): Promise<CountResult | undefined>;
  /** The first maxListed tokens and how many there are. */
  tokenize(text: string, maxListed: number): Promise<{ tokens: TokenView[]; total: number }>;
}

/** A tokenizer whose patterns are the extension's own, run on this thread (with a line-count cache). */
class LocalTokenizer implements EditorTokenizer {
  private readonly counter: LineTokenCounter;
  constructor(private readonly t: Tokenizer) {
    this.counter = new LineTokenCounter(t);
  }
  async hover(text: string, label: string, opts: HoverOptions): Promise<HoverContent> {
    return tokenHoverMarkdown(this.t, label, text, opts);
  }
  async inspect(texts: string[]): Promise<TokenView[][]> {
    return texts.map((s) => inspectTokens(this.t, s));
  }
  count(text: string, cancel: CancelToken, pause: () => Promise<void>): Promise<CountResult | undefined> {
    return this.counter.count(text, cancel, pause);
  }
  countLines(lineCount: number, lineAt: (i: number) => string, cancel: CancelToken, pause: () => Promise<void>): Promise<CountResult | undefined> {
    return this.counter.countLines(lineCount, lineAt, cancel, pause);
  }
  async tokenize(text: string, maxListed: number): Promise<{ tokens: TokenView[]; total: number }> {
    const tokens = inspectTokens(this.t, text);
    return { tokens: tokens.slice(0, maxListed), total: tokens.length };
  }
}

/** A tokenizer from the user's files, run in the worker under the deadline. A cancelled job's call rejects with JobCancelledError. */
class WorkerTokenizer implements EditorTokenizer {
  constructor(
    private readonly jobs: TokenizerJobs,
    private readonly spec: TokenizerSpec,
  ) {}
  hover(text: string, label: string, opts: HoverOptions, cancel?: CancelToken): Promise<HoverContent> {
    return this.jobs.run(this.spec, { op: 'hover', text, label, opts }, cancel);
  }
  inspect(texts: string[]): Promise<TokenView[][]> {
    return this.jobs.run(this.spec, { op: 'inspect', texts });
  }
  count(text: string, cancel: CancelToken): Promise<CountResult | undefined> {
    return this.jobs.run(this.spec, { op: 'count', text }, cancel);
  }
  countLines(lineCount: number, lineAt: (i: number) => string, cancel: CancelToken): Promise<CountResult | undefined> {
    const lines = Array.from({ length: lineCount }, (_, i) => lineAt(i));
    return this.jobs.run(this.spec, { op: 'countLines', lines }, cancel);
  }
  tokenize(text: string, maxListed: number): Promise<{ tokens: TokenView[]; total: number }> {
    return this.jobs.run(this.spec, { op: 'tokenize', text, maxListed });
  }
}

const locals = new WeakMap<Tokenizer, LocalTokenizer>();

/**
 * The tokenizer `id` for the editor and the Tokenizer panel. The active model's is loaded in
 * the worker first, so that a tokenizer that cannot be loaded fails here with the loader's error.
 */
export async function getEditorTokenizer(id: string): Promise<EditorTokenizer> {
  if (id === ACTIVE_MODEL) {
    if (!jobs || !extensionUri) throw new Error('the extension is not initialised');
    if (activeModel && !activeModel.spec) throw new Error(`${activeModel.label} has no tokenizer`);
    const spec: TokenizerSpec = activeModel?.spec ?? {
      key: 'bundled:tok512',
      file: 'models/tok512.bin',
      source: { kind: 'llama2c', path: vscode.Uri.joinPath(extensionUri, 'models', 'tok512.bin').fsPath },
    };
    await jobs.run(spec, { op: 'load' });
    return new WorkerTokenizer(jobs, spec);
  }
  const t = await getTokenizer(id);
  let l = locals.get(t);
  if (!l) locals.set(t, (l = new LocalTokenizer(t)));
  return l;
}

/** A built-in or the trained tokenizer (the active model's runs only in the worker: getEditorTokenizer). */
async function getTokenizer(id: string): Promise<Tokenizer> {
  if (isBuiltinTokenizerId(id)) return loadBuiltinTokenizer(id);
  if (id === TRAINED) {
    if (!trained) throw new Error('no tokenizer has been trained yet (LLM Playground: Train BPE Tokenizer…)');
    return trained.tokenizer;
  }
  throw new Error(
    `unknown tokenizer "${id}" (expected ${listTokenizers()
      .map((t) => t.id)
      .join(', ')})`,
  );
}

/** The corpus shipped for the trainer (dist/corpus/tinyshakespeare.txt.br). */
export async function readShakespeare(): Promise<string> {
  if (!extensionUri) throw new Error('the extension is not initialised');
  const { brotliDecompressSync } = await import('node:zlib');
  const uri = vscode.Uri.joinPath(extensionUri, 'dist', 'corpus', 'tinyshakespeare.txt.br');
  const bytes = await vscode.workspace.fs.readFile(uri);
  return new TextDecoder().decode(brotliDecompressSync(bytes));
}
