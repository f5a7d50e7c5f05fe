/**
 * The host side of the Tokenizer panel: answers its requests (tokenizer list, tokenize, train,
 * cancel, export), pushes text to it (Tokenize Selection) and runs the BPE trainer in slices
 * so the extension host stays responsive, with progress, merges as they happen, and cancel.
 */
import * as vscode from 'vscode';
import type { BpeMergeView, BpeSource, HostToWebview, ResultOf, TokenizeResult, TokenizeResultEntry, TokenizerListResult, TokenizerRequest } from '../engine/protocol/index';
import { fromTokenizerJsonValue } from '../engine/tokenizer/hf';
import { countText } from '../engine/tokenizer/inspect';
import { BpeTrainer } from '../engine/tokenizer/train-bpe';
import { log } from './log';
import { editorTokenizerId, getEditorTokenizer, listTokenizers, readShakespeare, setTrainedTokenizer, tokenizerLabel } from './tokenizers';

type Post = (m: HostToWebview) => Thenable<boolean>;

const webviews = new Set<Post>();
let pendingText: string | undefined;

/** Lets the tokenizer code reach a playground webview (called by attachPlayground). */
export function attachTokenizerWebview(post: Post): vscode.Disposable {
  webviews.add(post);
  return new vscode.Disposable(() => webviews.delete(post));
}

function broadcast(m: HostToWebview): void {
  for (const p of webviews) void p(m);
}

/** Shows `text` in the Tokenizer panel of every open playground (and of the next one to open). */
export function showTextInPanels(text: string): void {
  pendingText = text;
  broadcast({ type: 'tokenizerInput', text });
}

export function notifyTokenizersChanged(): void {
  broadcast({ type: 'tokenizersChanged' });
}

/** Tokens listed per tokenizer at most (counts always cover the whole text). */
const MAX_LISTED = 20_000;

export async function answerTokenizerRequest(msg: TokenizerRequest): Promise<ResultOf<TokenizerRequest['method']>> {
  switch (msg.method) {
    case 'tokenizerList': {
      const r: TokenizerListResult = { tokenizers: listTokenizers(), editorTokenizer: editorTokenizerId(), pendingText };
      pendingText = undefined;
      return r;
    }
    case 'tokenize': {
      const results: TokenizeResultEntry[] = [];
      for (const id of msg.tokenizers) {
        const label = tokenizerLabel(id);
        const t0 = performance.now();
        try {
          const t = await getEditorTokenizer(id);
          const { tokens, total } = await t.tokenize(msg.text, MAX_LISTED);
          const counts = countText(msg.text, total);
          results.push({ tokenizer: id, label, tokens, counts, truncated: total > tokens.length, ms: performance.now() - t0 });
        } catch (e) {
          results.push({
            tokenizer: id,
            label,
            tokens: [],
            counts: countText(msg.text, 0),
            truncated: false,
            error: e instanceof Error ? e.message : String(e),
            ms: performance.now() - t0,
          });
        }
      }
      const r: TokenizeResult = { results };
      return r;
    }
    case 'trainBpe':
      return startTraining(msg.source, msg.vocabSize, false);
    case 'cancelTrainBpe':
      run?.cts.cancel();
      return null;
    case 'exportBpe':
      return exportTrained();
  }
}

// ---------------------------------------------------------------- training

interface Run {
  id: number;
  cts: vscode.CancellationTokenSource;
  trainer?: BpeTrainer;
  done: Promise<void>;
}

let run: Run | undefined;
let runIds = 0;
let lastTrained: { trainer: BpeTrainer; source: string } | undefined;
let lastTextEditor: vscode.TextEditor | undefined;

export function trackTextEditors(): vscode.Disposable {
  lastTextEditor = vscode.window.activeTextEditor;
  return vscode.window.onDidChangeActiveTextEditor((e) => {
    if (e) lastTextEditor = e;
  });
}

const pause = () => new Promise<void>((r) => setImmediate(r));
const MAX_INPUT_CHARS = 64 * 1024 * 1024;
const MAX_FILES = 5000;

async function readSource(
  source: BpeSource,
  token: vscode.CancellationToken,
  progress: (done: number, total: number) => void,
): Promise<{ text: string[]; label: string } | undefined> {
  if (source === 'shakespeare') return { text: [await readShakespeare()], label: 'tinyshakespeare' };
  if (source === 'activeFile') {
    const ed = vscode.window.activeTextEditor ?? lastTextEditor ?? vscode.window.visibleTextEditors[0];
    if (!ed) throw new Error('no open text file to train on: open a file first');
    return { text: [ed.document.getText()], label: vscode.workspace.asRelativePath(ed.document.uri) };
  }
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: 'Train on this folder',
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  if (!picked?.[0]) return undefined;
  const folder = picked[0];
  const files = await vscode.workspace.findFiles(
    new vscode.RelativePattern(folder, '**/*'),
    '{**/node_modules/**,**/.git/**,**/dist/**,**/*.{png,jpg,jpeg,gif,ico,zip,gz,br,bin,gguf,safetensors,onnx,pdf,woff,woff2,ttf,vsix,exe,so,dll,wasm}}',
    MAX_FILES,
    token,
  );
  const text: string[] = [];
  let chars = 0;
  const dec = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < files.length; i++) {
    if (token.isCancellationRequested) return undefined;
    progress(i, files.length);
    const bytes = await vscode.workspace.fs.readFile(files[i]!);
    if (bytes.subarray(0, 8192).includes(0)) continue; // binary
    let s: string;
    try {
      s = dec.decode(bytes);
    } catch {
      continue; // not UTF-8
    }
    if (chars + s.length > MAX_INPUT_CHARS) break;
    chars += s.length;
    text.push(s);
  }
  if (text.length === 0) throw new Error(`no text files found in ${folder.fsPath}`);
  return { text, label: `${vscode.workspace.asRelativePath(folder)} (${text.length} files)` };
}

/**
 * Starts a training run (one at a time: a new one cancels the old). Progress and merges go to
 * every playground webview; `withNotification` also shows a cancellable notification.
 */
export async function startTraining(source: BpeSource, vocabSize: number, withNotification: boolean): Promise<{ runId: number }> {
  if (run) {
    run.cts.cancel();
    await run.done.catch(() => {});
  }
  const id = ++runIds;
  const cts = new vscode.CancellationTokenSource();
  const trainer = new BpeTrainer({ vocabSize });
  const r: Run = { id, cts, trainer, done: Promise.resolve() };
  run = r;
  const body = async (report?: (msg: string, inc?: number) => void): Promise<void> => {
    const token = cts.token;
    let pendingMerges: BpeMergeView[] = [];
    const send = (phase: 'reading' | 'counting' | 'merging', done: number, total: number) => {
      broadcast({ type: 'bpeProgress', runId: id, phase, done, total, merges: pendingMerges });
      pendingMerges = [];
    };
    try {
      send('reading', 0, 1);
      const input = await readSource(source, token, (d, t) => send('reading', d, t));
      if (!input || token.isCancellationRequested) throw new vscode.CancellationError();
      const total = input.text.reduce((a, s) => a + s.length, 0);
      let done = 0;
      let t0 = Date.now();
      const CHUNK = 65_536;
      for (const s of input.text) {
        for (let i = 0; i < s.length; i += CHUNK) {
          let e = Math.min(s.length, i + CHUNK);
          // cut at a line break when there is one (no piece split in two), never inside a surrogate pair
          const nl = s.lastIndexOf('\n', e);
          if (e < s.length && nl > i) e = nl + 1;
          else if (e < s.length && (s.charCodeAt(e) & 0xfc00) === 0xdc00) e++;
          trainer.addText(s.slice(i, e));
          done += e - i;
          i = e - CHUNK;
          if (Date.now() - t0 > 30) {
            send('counting', done, total);
            report?.(`counting pieces ${Math.round((100 * done) / total)}%`);
            await pause();
            if (token.isCancellationRequested) throw new vscode.CancellationError();
            t0 = Date.now();
          }
        }
      }
      send('counting', total, total);
      const target = trainer.targetMerges;
      t0 = Date.now();
      let lastReport = 0;
      for (;;) {
        const st = trainer.step();
        if (!st) break;
        pendingMerges.push({ rank: st.rank, left: st.left, right: st.right, token: st.token, count: st.count, id: st.id });
        if (Date.now() - t0 > 30) {
          send('merging', st.rank + 1, target);
          const pct = Math.floor((100 * (st.rank + 1)) / target);
          report?.(`merge ${st.rank + 1} of ${target}`, pct - lastReport);
          lastReport = pct;
          await pause();
          if (token.isCancellationRequested) throw new vscode.CancellationError();
          t0 = Date.now();
        }
      }
      send('merging', trainer.merges.length, target);
      lastTrained = { trainer, source: input.label };
      const json = trainer.toTokenizerJson();
      setTrainedTokenizer(`${input.label}, ${trainer.tokens.length} tokens`, fromTokenizerJsonValue(json, 'trained tokenizer.json'));
      const stopped = trainer.merges.length < target ? ` (stopped early: no pair occurs ${trainer.minFrequency} times any more)` : '';
      const message = `Trained a byte-level BPE on ${input.label}: ${trainer.merges.length} merges, ${trainer.tokens.length} tokens${stopped}.`;
      log().info(message);
      broadcast({ type: 'bpeFinished', runId: id, ok: true, message, vocabSize: trainer.tokens.length, merges: trainer.merges.length });
      if (withNotification) {
        void vscode.window.showInformationMessage(message, 'Save tokenizer.json…').then((a) => {
          if (a) void exportTrained().catch((e: unknown) => vscode.window.showErrorMessage(`Saving failed: ${e instanceof Error ? e.message : String(e)}`));
        });
      }
    } catch (e) {
      const cancelled = e instanceof vscode.CancellationError || token.isCancellationRequested;
      const message = cancelled ? 'Training cancelled.' : `Training failed: ${e instanceof Error ? e.message : String(e)}`;
      if (!cancelled) log().error(message);
      broadcast({ type: 'bpeFinished', runId: id, ok: false, message });
      if (withNotification && !cancelled) void vscode.window.showErrorMessage(message);
    } finally {
      if (run === r) run = undefined;
      cts.dispose();
    }
  };
  r.done = withNotification
    ? Promise.resolve(
        vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Training a BPE tokenizer', cancellable: true }, (p, tok) => {
          tok.onCancellationRequested(() => cts.cancel());
          return body((message, increment) => p.report({ message, increment }));
        }),
      )
    : body();
  return { runId: id };
}

/** Saves the last trained tokenizer as tokenizer.json (save dialog); returns the path or null. */
export async function exportTrained(): Promise<string | null> {
  if (!lastTrained) throw new Error('nothing trained yet: train a tokenizer first');
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, 'tokenizer.json') : undefined,
    filters: { 'tokenizer.json': ['json'] },
    saveLabel: 'Save tokenizer.json',
  });
  if (!uri) return null;
  const text = JSON.stringify(lastTrained.trainer.toTokenizerJson(), null, 1);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  log().info(`Saved the trained tokenizer to ${uri.fsPath}`);
  return uri.fsPath;
}

/** LLM Playground: Train BPE Tokenizer… */
/** What the walkthrough's step (a command link) passes to skip the prompts: `{ "source": "shakespeare", "vocabSize": 1000 }`. */
function trainArgs(arg: unknown): { source: BpeSource; vocabSize: number } | undefined {
  if (typeof arg !== 'object' || arg === null) return undefined;
  const { source, vocabSize } = arg as { source?: unknown; vocabSize?: unknown };
  const sources: BpeSource[] = ['shakespeare', 'activeFile', 'folder'];
  if (!sources.includes(source as BpeSource) || typeof vocabSize !== 'number' || !Number.isInteger(vocabSize) || vocabSize < 257 || vocabSize > 100_000) return undefined;
  return { source: source as BpeSource, vocabSize };
}

export async function trainBpeCommand(openPanel: () => void, arg?: unknown): Promise<void> {
  const given = trainArgs(arg);
  if (given) {
    openPanel();
    await startTraining(given.source, given.vocabSize, true);
    return;
  }
  const pick = await vscode.window.showQuickPick(
    [
      { label: 'Shakespeare', description: 'the bundled tinyshakespeare.txt (1.1 MB, public domain)', source: 'shakespeare' as const },
      {
        label: 'The open file',
        description: vscode.window.activeTextEditor ? vscode.workspace.asRelativePath(vscode.window.activeTextEditor.document.uri) : 'no file open',
        source: 'activeFile' as const,
      },
      { label: 'A folder…', description: 'every text file of a workspace folder', source: 'folder' as const },
    ],
    { title: 'Train a byte-level BPE tokenizer on…' },
  );
  if (!pick) return;
  const size = await vscode.window.showInputBox({
    title: 'Vocabulary size',
    prompt: '256 bytes + merges + 1 special token (<|endoftext|>)',
    value: '1000',
    validateInput: (v) => (/^\d+$/.test(v) && +v >= 257 && +v <= 100_000 ? null : 'an integer from 257 to 100000'),
  });
  if (!size) return;
  openPanel();
  await startTraining(pick.source, Number(size), true);
}
