/**
 * The tokenizers the extension offers: the active model's (the bundled stories260K's tok512.bin
 * until the model manager sets another with `setActiveModelTokenizer`), the built-in
 * vocabularies (engine/tokenizer/builtin.ts, loaded lazily from dist/vocab) and the last
 * tokenizer the BPE trainer made. The editor's choice is the setting `llmPlayground.tokenizer`.
 */
import * as vscode from 'vscode';
import { BUILTIN_TOKENIZERS, isBuiltinTokenizerId } from '../engine/tokenizer/builtin';
import { addBuiltinSearchDir, loadBuiltinTokenizer } from '../engine/tokenizer/builtin-node';
import { parseLlama2cTokenizer } from '../engine/tokenizer/llama2c';
import type { Tokenizer } from '../engine/tokenizer/types';
import type { TokenizerInfo } from '../engine/protocol/index';

export const ACTIVE_MODEL = 'active-model';
export const TRAINED = 'trained';
export const DEFAULT_TOKENIZER = 'o200k_base';

interface ActiveModelTokenizer {
  label: string;
  load: () => Promise<Tokenizer>;
}

let extensionUri: vscode.Uri | undefined;
let activeModel: ActiveModelTokenizer | undefined;
let activeModelLoaded: Promise<Tokenizer> | undefined;
let trained: { label: string; tokenizer: Tokenizer } | undefined;
const changed = new vscode.EventEmitter<void>();

/** Fires when the list or the meaning of an id changed (new active model, new trained tokenizer, setting). */
export const onTokenizersChanged = changed.event;

export function initTokenizers(ctx: vscode.ExtensionContext): vscode.Disposable {
  extensionUri = ctx.extensionUri;
  addBuiltinSearchDir(vscode.Uri.joinPath(ctx.extensionUri, 'dist').fsPath);
  return vscode.Disposable.from(
    changed,
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('llmPlayground.tokenizer')) changed.fire();
    }),
  );
}

/**
 * Sets the active model's tokenizer (for the model manager). `load` is called lazily, once.
 * Pass undefined to go back to the bundled stories260K tokenizer.
 */
export function setActiveModelTokenizer(t: ActiveModelTokenizer | undefined): void {
  activeModel = t;
  activeModelLoaded = undefined;
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

export async function getTokenizer(id: string): Promise<Tokenizer> {
  if (isBuiltinTokenizerId(id)) return loadBuiltinTokenizer(id);
  if (id === TRAINED) {
    if (!trained) throw new Error('no tokenizer has been trained yet (LLM Playground: Train BPE Tokenizer…)');
    return trained.tokenizer;
  }
  if (id === ACTIVE_MODEL) {
    if (!activeModelLoaded) {
      activeModelLoaded = activeModel ? activeModel.load() : loadBundledTok512();
      activeModelLoaded.catch(() => (activeModelLoaded = undefined));
    }
    return activeModelLoaded;
  }
  throw new Error(
    `unknown tokenizer "${id}" (expected ${listTokenizers()
      .map((t) => t.id)
      .join(', ')})`,
  );
}

async function loadBundledTok512(): Promise<Tokenizer> {
  if (!extensionUri) throw new Error('the extension is not initialised');
  const uri = vscode.Uri.joinPath(extensionUri, 'models', 'tok512.bin');
  const bytes = await vscode.workspace.fs.readFile(uri);
  return parseLlama2cTokenizer(bytes, 'models/tok512.bin');
}

/** The corpus shipped for the trainer (dist/corpus/tinyshakespeare.txt.br). */
export async function readShakespeare(): Promise<string> {
  if (!extensionUri) throw new Error('the extension is not initialised');
  const { brotliDecompressSync } = await import('node:zlib');
  const uri = vscode.Uri.joinPath(extensionUri, 'dist', 'corpus', 'tinyshakespeare.txt.br');
  const bytes = await vscode.workspace.fs.readFile(uri);
  return new TextDecoder().decode(brotliDecompressSync(bytes));
}
