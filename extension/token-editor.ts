/**
 * Tokens in the editor: a hover with the tokens of the hovered line (or the selection), a
 * status-bar count of the selection or the document, token-boundary decorations of the
 * visible lines, and the commands Tokenize Selection / Show Token Boundaries / Choose Tokenizer.
 *
 * Nothing here blocks typing: the hover tokenizes one line (a window of long lines); the
 * document count is per line with a cache keyed by line text, debounced, in slices, and dropped
 * when a newer request comes. The active model's tokenizer runs in the tokenizer worker under
 * a deadline (tokenizer-jobs.ts): a job past it shows its error in the hover or the status bar.
 */
import * as vscode from 'vscode';
import type { CountResult } from '../engine/tokenizer/line-counter';
import { log } from './log';
import { windowAround } from './token-markdown';
import { JobCancelledError } from './tokenizer-jobs';
import { showTextInPanels } from './tokenizer-panel';
import { editorTokenizerId, getEditorTokenizer, listTokenizers, onTokenizersChanged, tokenizerLabel, type EditorTokenizer } from './tokenizers';

const SKIP_SCHEMES = new Set(['output', 'vscode-settings', 'debug', 'vscode-scm', 'comment', 'git']);
const pause = () => new Promise<void>((r) => setImmediate(r));
/** Documents up to this many characters are counted exactly in one go (LineTokenCounter's default exactBelow). */
const EXACT_BELOW = 65_536;

function hoverEnabled(): boolean {
  return vscode.workspace.getConfiguration('llmPlayground').get<boolean>('tokenHover.enabled', true);
}

function looksBinary(s: string): boolean {
  return s.includes('\u0000');
}

class TokenHover implements vscode.HoverProvider {
  async provideHover(doc: vscode.TextDocument, pos: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    if (!hoverEnabled() || SKIP_SCHEMES.has(doc.uri.scheme)) return undefined;
    const id = editorTokenizerId();
    let tok: EditorTokenizer;
    try {
      tok = await getEditorTokenizer(id);
    } catch (e) {
      return new vscode.Hover(new vscode.MarkdownString(`LLM Playground: the tokenizer ${tokenizerLabel(id)} could not be loaded: ${e instanceof Error ? e.message : String(e)}`));
    }
    if (token.isCancellationRequested) return undefined;
    const ed = vscode.window.activeTextEditor;
    const sel = ed && ed.document === doc ? ed.selections.find((s) => !s.isEmpty && s.contains(pos)) : undefined;
    let text: string;
    let range: vscode.Range;
    let focus: number;
    if (sel) {
      range = sel;
      // at most ~4000 characters of a selection: read them without building a huge string
      const endLine = Math.min(sel.end.line, sel.start.line + 200);
      const end = endLine === sel.end.line ? sel.end : doc.lineAt(endLine).range.end;
      text = doc.getText(new vscode.Range(sel.start, end));
      focus = doc.offsetAt(pos) - doc.offsetAt(sel.start);
    } else {
      const line = doc.lineAt(pos.line);
      range = line.range;
      text = line.text;
      focus = pos.character;
    }
    if (text.length === 0) return undefined;
    if (looksBinary(text.slice(0, 4096)))
      return new vscode.Hover(new vscode.MarkdownString('LLM Playground: this looks like binary content (NUL characters); not tokenized.'), range);
    let h;
    try {
      h = await tok.hover(text, tokenizerLabel(id), { focus, maxChars: 2000, maxTokens: 300 }, token);
    } catch (e) {
      if (e instanceof JobCancelledError) return undefined;
      return new vscode.Hover(new vscode.MarkdownString(`LLM Playground: ${e instanceof Error ? e.message : String(e)}`), range);
    }
    if (token.isCancellationRequested) return undefined;
    const md = new vscode.MarkdownString(h.markdown);
    md.supportHtml = true;
    md.isTrusted = false;
    if (h.window[0] > 0 || h.window[1] < text.length) {
      const s = doc.positionAt(doc.offsetAt(range.start) + h.window[0]);
      const e = doc.positionAt(doc.offsetAt(range.start) + h.window[1]);
      range = new vscode.Range(s, e);
    }
    return new vscode.Hover(md, range);
  }
}

/** The status-bar token count. */
class TokenStatus implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('llmPlayground.tokens', vscode.StatusBarAlignment.Right, 99);
  private counters = new Map<string, EditorTokenizer>();
  private timer: NodeJS.Timeout | undefined;
  private cts: vscode.CancellationTokenSource | undefined;
  private subs: vscode.Disposable[] = [];

  constructor() {
    this.item.name = 'LLM Playground Token Count';
    this.item.command = 'llmPlayground.chooseTokenizer';
    this.subs.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule(0)),
      vscode.window.onDidChangeTextEditorSelection((e) => e.textEditor === vscode.window.activeTextEditor && this.schedule(150)),
      vscode.workspace.onDidChangeTextDocument((e) => e.document === vscode.window.activeTextEditor?.document && this.schedule(300)),
      onTokenizersChanged(() => {
        this.counters.clear();
        this.schedule(0);
      }),
    );
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update(), ms);
  }

  private async update(): Promise<void> {
    this.cts?.cancel();
    const cts = (this.cts = new vscode.CancellationTokenSource());
    const ed = vscode.window.activeTextEditor;
    if (!ed || SKIP_SCHEMES.has(ed.document.uri.scheme)) {
      this.item.hide();
      return;
    }
    const id = editorTokenizerId();
    const label = tokenizerLabel(id);
    let counter = this.counters.get(id);
    try {
      if (!counter) {
        this.item.text = '$(loading~spin) tokens';
        this.item.show();
        counter = await getEditorTokenizer(id);
        this.counters.set(id, counter);
      }
    } catch (e) {
      this.item.text = '$(warning) tokens';
      this.item.tooltip = `LLM Playground: the tokenizer ${label} could not be loaded: ${e instanceof Error ? e.message : String(e)}`;
      this.item.show();
      return;
    }
    if (cts.token.isCancellationRequested) return;
    const doc = ed.document;
    const sels = ed.selections.filter((s) => !s.isEmpty);
    let res: CountResult | undefined;
    try {
      res = await this.countIn(counter, doc, sels, cts.token);
    } catch (e) {
      if (e instanceof JobCancelledError || cts.token.isCancellationRequested) return;
      this.item.text = '$(warning) tokens';
      this.item.tooltip = `LLM Playground: ${e instanceof Error ? e.message : String(e)}`;
      this.item.show();
      return;
    }
    const what = sels.length === 0 ? 'document' : sels.length === 1 ? 'selection' : `${sels.length} selections`;
    if (!res || cts.token.isCancellationRequested) return;
    const n = res.tokens.toLocaleString('en-US');
    this.item.text = `$(symbol-text) ${res.exact ? '' : '≈'}${n} token${res.tokens === 1 ? '' : 's'}`;
    this.item.tooltip = `LLM Playground: ${res.exact ? '' : 'about '}${n} tokens in the ${what} (${label}).${res.exact ? '' : ' Counted line by line: a token that spans a line break counts twice.'} Click to choose the tokenizer.`;
    this.item.accessibilityInformation = { label: `${n} tokens in the ${what}, ${label}` };
    this.item.show();
  }

  /** The selections' count, or the document's (undefined: cancelled). */
  private async countIn(counter: EditorTokenizer, doc: vscode.TextDocument, sels: readonly vscode.Selection[], cancel: vscode.CancellationToken): Promise<CountResult | undefined> {
    if (sels.length > 0) {
      let total = 0;
      let exact = true;
      for (const s of sels) {
        const r = await counter.count(doc.getText(s), cancel, pause);
        if (!r) return undefined;
        total += r.tokens;
        exact &&= r.exact;
      }
      return { tokens: total, exact };
    }
    if (doc.lineCount < 2000 && doc.offsetAt(doc.lineAt(doc.lineCount - 1).range.end) <= EXACT_BELOW) return counter.count(doc.getText(), cancel, pause);
    const eol = doc.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
    const last = doc.lineCount - 1;
    const r = await counter.countLines(doc.lineCount, (i) => doc.lineAt(i).text + (i < last ? eol : ''), cancel, pause);
    return r && { tokens: r.tokens, exact: false };
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.cts?.cancel();
    for (const s of this.subs) s.dispose();
    this.item.dispose();
  }
}

/** Token-boundary decorations of the visible lines (toggled by a command). */
class Boundaries implements vscode.Disposable {
  private on = false;
  private readonly a = vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor('editor.findMatchHighlightBackground'), borderRadius: '2px' });
  private readonly b = vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'), borderRadius: '2px' });
  private subs: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.subs.push(
      vscode.window.onDidChangeTextEditorVisibleRanges(() => this.schedule()),
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.workspace.onDidChangeTextDocument(() => this.schedule()),
      onTokenizersChanged(() => this.schedule()),
    );
  }

  toggle(): boolean {
    this.on = !this.on;
    if (!this.on) for (const ed of vscode.window.visibleTextEditors) this.clear(ed);
    else this.schedule();
    return this.on;
  }

  private clear(ed: vscode.TextEditor): void {
    ed.setDecorations(this.a, []);
    ed.setDecorations(this.b, []);
  }

  private schedule(): void {
    if (!this.on) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.paint().catch((e: unknown) => log().error(`Token boundaries: ${String(e)}`)), 120);
  }

  private async paint(): Promise<void> {
    const tok = await getEditorTokenizer(editorTokenizerId());
    for (const ed of vscode.window.visibleTextEditors) {
      if (SKIP_SCHEMES.has(ed.document.uri.scheme)) continue;
      // the visible lines (at most 500), each a window of at most 4000 characters
      const lines: { ln: number; ws: number; text: string }[] = [];
      for (const vr of ed.visibleRanges) {
        for (let ln = vr.start.line; ln <= vr.end.line && lines.length < 500; ln++) {
          const text = ed.document.lineAt(ln).text;
          if (text.length === 0 || looksBinary(text)) continue;
          const [ws, we] = windowAround(text, 4000, 0);
          lines.push({ ln, ws, text: text.slice(ws, we) });
        }
      }
      const tokens = await tok.inspect(lines.map((l) => l.text));
      const even: vscode.Range[] = [];
      const odd: vscode.Range[] = [];
      lines.forEach(({ ln, ws }, i) => {
        let k = 0;
        let lastEnd = -1;
        for (const t of tokens[i]!) {
          if (t.start < lastEnd) continue; // bytes of one character: one range
          lastEnd = t.end;
          (k++ % 2 ? odd : even).push(new vscode.Range(ln, ws + t.start, ln, ws + t.end));
        }
      });
      ed.setDecorations(this.a, even);
      ed.setDecorations(this.b, odd);
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subs) s.dispose();
    this.a.dispose();
    this.b.dispose();
  }
}

export function registerTokenEditor(openPanel: () => void): vscode.Disposable {
  const status = new TokenStatus();
  const boundaries = new Boundaries();
  return vscode.Disposable.from(
    status,
    boundaries,
    vscode.languages.registerHoverProvider('*', new TokenHover()),
    vscode.commands.registerCommand('llmPlayground.showTokenBoundaries', () => {
      const on = boundaries.toggle();
      vscode.window.setStatusBarMessage(`LLM Playground: token boundaries ${on ? 'shown' : 'hidden'} (${tokenizerLabel(editorTokenizerId())})`, 3000);
    }),
    vscode.commands.registerCommand('llmPlayground.tokenizeSelection', () => {
      const ed = vscode.window.activeTextEditor;
      let text = '';
      if (ed) {
        const sel = ed.selections.filter((s) => !s.isEmpty);
        text = sel.length ? sel.map((s) => ed.document.getText(s)).join('\n') : ed.document.lineAt(ed.selection.active.line).text;
      }
      if (text.length > 1_000_000) {
        void vscode.window.showWarningMessage('LLM Playground: the selection is longer than 1,000,000 characters; only the first million are tokenized.');
        text = text.slice(0, 1_000_000);
      }
      openPanel();
      showTextInPanels(text);
    }),
    vscode.commands.registerCommand('llmPlayground.chooseTokenizer', async () => {
      const current = editorTokenizerId();
      const pick = await vscode.window.showQuickPick(
        listTokenizers().map((t) => ({ label: t.label, description: t.id === current ? '(current)' : '', detail: t.description, id: t.id })),
        { title: 'Tokenizer for the editor (hover, status bar, boundaries)' },
      );
      if (!pick) return;
      await vscode.workspace.getConfiguration('llmPlayground').update('tokenizer', pick.id, vscode.ConfigurationTarget.Global);
    }),
  );
}
