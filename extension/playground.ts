/**
 * The playground webview, hosted either as the side-bar view or as an editor
 * panel. Both share `attachPlayground`, which renders the HTML, validates every
 * message from the webview and answers its requests.
 */
import * as vscode from 'vscode';
import {
  parseWebviewMessage,
  ProtocolError,
  type HostToWebview,
  type PlaygroundTab,
  type ModelRef,
  type ModelRequest,
  type PlaygroundSettings,
  type RequestOf,
  type ResultOf,
  type WebviewRequestMethod,
  type WebviewToHost,
} from '../engine/protocol/index';
import { playgroundHtml } from './html';
import { log } from './log';
import { modelManager, type ModelManager } from './models';
import { describeEnv, setBackend } from './status';
import { answerTokenizerRequest, attachTokenizerWebview } from './tokenizer-panel';
import { exportFile } from './export-file';

export const VIEW_ID = 'llmPlayground.playground';
export const PANEL_TYPE = 'llmPlayground.playgroundPanel';

export function bundledModelUri(ctx: vscode.ExtensionContext): vscode.Uri {
  return vscode.Uri.joinPath(ctx.extensionUri, 'models', 'stories260K.bin');
}

/**
 * The playground's webview keeps its context while hidden. Its engine worker holds the
 * active model (weights read from disk and, on the GPU path, uploaded to buffers) and may be
 * in the middle of a generation; a webview that VS Code destroys on hide would lose both, and
 * every show would load the model again (seconds for large models or a software adapter).
 * The memory this keeps is bounded instead by the webview itself: after the playground has
 * been hidden for a while it stops its worker (freeing the model) and loads the model again
 * when shown (webview/main.ts, RELEASE_AFTER_MS). The results on screen (generated text,
 * stats, BPE merges) are also kept, bounded, with the webview state API, so they come back
 * after a window reload or when VS Code drops the context anyway.
 */
export const RETAIN_CONTEXT = true;

function webviewOptions(ctx: vscode.ExtensionContext): vscode.WebviewOptions {
  return {
    enableScripts: true,
    // Only the built assets and the folders of the models in use.
    localResourceRoots: [vscode.Uri.joinPath(ctx.extensionUri, 'dist'), vscode.Uri.joinPath(ctx.extensionUri, 'models')],
  };
}

export function attachPlayground(ctx: vscode.ExtensionContext, webview: vscode.Webview, location: 'view' | 'panel', onVisibility?: vscode.Event<boolean>): vscode.Disposable {
  webview.options = webviewOptions(ctx);
  const asUri = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(ctx.extensionUri, ...p)).toString();
  webview.html = playgroundHtml({
    cspSource: webview.cspSource,
    scriptUri: asUri('dist', 'webview.js'),
    codiconUri: asUri('dist', 'codicons', 'codicon.css'),
    title: 'LLM Playground',
  });
  const bundled: ModelRef = {
    name: 'stories260K',
    uri: webview.asWebviewUri(bundledModelUri(ctx)).toString(),
    format: 'llama2c',
    bundled: true,
  };
  const post = (m: HostToWebview) => webview.postMessage(m);
  /** Posts a request's response: its result (typed by the protocol's ResultOf) or its error. */
  const answer = <M extends WebviewRequestMethod>(msg: RequestOf<M>, result: Promise<ResultOf<M>>, logFailure: boolean) =>
    result.then(
      (r) => post({ type: 'response', id: msg.id, ok: true, result: r }),
      (e: unknown) => {
        const error = e instanceof Error ? e.message : String(e);
        if (logFailure) log().error(`Playground request ${msg.method} failed: ${error}`);
        return post({ type: 'response', id: msg.id, ok: false, error });
      },
    );
  const onTokenizer = attachTokenizerWebview(post);

  const onConfig = vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('llmPlayground')) void post({ type: 'settings', settings: readSettings() });
  });
  const postModels = () => {
    const m = modelManager();
    if (m) void post({ type: 'models', models: m.summaries(), activeId: m.activeId });
  };
  const onModels = modelManager()?.onDidChange(postModels) ?? { dispose() {} };
  // The webview frees its model after a long hide (see RETAIN_CONTEXT).
  const onShown = onVisibility?.((visible) => void post({ type: 'visibility', visible })) ?? { dispose() {} };
  const onMessage = webview.onDidReceiveMessage((raw: unknown) => {
    let msg: WebviewToHost;
    try {
      msg = parseWebviewMessage(raw);
    } catch (e) {
      const why = e instanceof ProtocolError ? e.message : String(e);
      log().error(`Rejected a malformed message from the playground webview: ${why}`);
      const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : undefined;
      if (id !== undefined) void post({ type: 'response', id, ok: false, error: `Malformed message: ${why}` });
      else void post({ type: 'showError', message: `The extension rejected a malformed message: ${why}` });
      return;
    }
    switch (msg.type) {
      case 'ready':
        log().info(`Playground ${location} ready`);
        void post({
          type: 'init',
          location,
          workerUri: asUri('dist', 'worker.js'),
          bundledModel: bundled,
          extensionVersion: String(ctx.extension.packageJSON.version ?? ''),
          settings: readSettings(),
        });
        postModels();
        if (location === 'panel') {
          panelReady = true;
          if (pendingTab) void post({ type: 'showTab', tab: pendingTab });
          pendingTab = undefined;
        }
        break;
      case 'log':
        log()[msg.level](`[webview] ${msg.message}`);
        break;
      case 'env':
        log().info(`Engine: ${describeEnv(msg.env)}`);
        break;
      case 'backend':
        setBackend(msg.decision);
        log().info(`Runs on: ${msg.decision.label}. ${msg.decision.reason}`);
        break;
      case 'error':
        log().error(`[webview] ${msg.message}${msg.stack ? `\n${msg.stack}` : ''}`);
        break;
      case 'request':
        switch (msg.method) {
          case 'openLog':
            log().show(true);
            void answer(msg, Promise.resolve(null), false);
            break;
          case 'showModels':
          case 'useModel':
          case 'readModelRange':
            void answer(msg, answerModelRequest(msg), true);
            break;
          case 'tokenizerList':
          case 'tokenize':
          case 'trainBpe':
          case 'cancelTrainBpe':
          case 'exportBpe':
            void answer(msg, answerTokenizerRequest(msg), false);
            break;
          case 'exportFile':
            void answer(msg, exportFile(msg), true);
            break;
        }
        break;
    }
  });
  return vscode.Disposable.from(onConfig, onMessage, onModels, onTokenizer, onShown);
}

type ModelAnswer<M extends ModelRequest['method']> = (m: ModelManager, msg: RequestOf<M>) => Promise<ResultOf<M>>;

/** The model manager's requests (extension/models.ts), one answer each. */
const MODEL_ANSWERS: { [M in ModelRequest['method']]: ModelAnswer<M> } = {
  showModels: async () => {
    await vscode.commands.executeCommand('llmPlayground.models.focus');
    return null;
  },
  useModel: async (m, msg) => {
    const e = m.get(msg.modelId);
    if (!e) throw new Error(`no model with id ${msg.modelId}`);
    if (!m.summary(e).load) throw new Error(`${e.name} cannot be used: ${m.summary(e).problem?.message ?? 'not checked yet'}`);
    await m.setActive(e.id);
    return null;
  },
  readModelRange: (m, msg) => m.ranges.read(msg.modelId, msg.file, msg.offset, msg.length),
};

async function answerModelRequest<M extends ModelRequest['method']>(msg: RequestOf<M>): Promise<ResultOf<M>> {
  const m = modelManager();
  if (!m) throw new Error('the model manager is not running');
  const method = (msg as { method: M }).method;
  return (MODEL_ANSWERS[method] as ModelAnswer<M>)(m, msg);
}

export function readSettings(): PlaygroundSettings {
  const c = vscode.workspace.getConfiguration('llmPlayground');
  const backend = c.get<string>('backend', 'auto');
  return { backend: backend === 'cpu' || backend === 'webgpu' ? backend : 'auto' };
}

/** The side-bar view in the "LLM Playground" activity-bar container. */
export class PlaygroundViewProvider implements vscode.WebviewViewProvider {
  constructor(private readonly ctx: vscode.ExtensionContext) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    const visible = new vscode.EventEmitter<boolean>();
    view.onDidChangeVisibility(() => visible.fire(view.visible));
    const sub = vscode.Disposable.from(attachPlayground(this.ctx, view.webview, 'view', visible.event), visible);
    view.onDidDispose(() => sub.dispose());
  }
}

let panel: vscode.WebviewPanel | undefined;
/** The editor panel's webview has said `ready` (it takes messages). */
let panelReady = false;
/** A tab to show once the panel's webview is ready. */
let pendingTab: PlaygroundTab | undefined;
let pendingTimer: ReturnType<typeof setTimeout> | undefined;

/** Opens the playground panel on one of its tabs. */
export function openPlaygroundTab(ctx: vscode.ExtensionContext, tab: PlaygroundTab): vscode.WebviewPanel {
  const p = openPlaygroundPanel(ctx);
  if (panelReady) void p.webview.postMessage({ type: 'showTab', tab } satisfies HostToWebview);
  // A webview that has not said `ready` yet gets the tab when it does, however long it takes
  // (a slow machine); a ready one rebuilt on reveal says `ready` again: it gets the tab then,
  // for a few seconds.
  pendingTab = tab;
  clearTimeout(pendingTimer);
  if (panelReady) pendingTimer = setTimeout(() => (pendingTab = undefined), 5_000);
  return p;
}

function attachPanel(ctx: vscode.ExtensionContext, p: vscode.WebviewPanel): vscode.Disposable {
  const visible = new vscode.EventEmitter<boolean>();
  const onState = p.onDidChangeViewState((e) => visible.fire(e.webviewPanel.visible));
  return vscode.Disposable.from(attachPlayground(ctx, p.webview, 'panel', visible.event), onState, visible);
}

/** LLM Playground: Open Playground — the same UI in an editor panel (one at a time). */
export function openPlaygroundPanel(ctx: vscode.ExtensionContext): vscode.WebviewPanel {
  if (panel) {
    panel.reveal();
    return panel;
  }
  const p = vscode.window.createWebviewPanel(PANEL_TYPE, 'LLM Playground', vscode.ViewColumn.Active, { ...webviewOptions(ctx), retainContextWhenHidden: RETAIN_CONTEXT });
  p.iconPath = vscode.Uri.joinPath(ctx.extensionUri, 'media', 'icon.svg');
  panelReady = false;
  const sub = attachPanel(ctx, p);
  p.onDidDispose(() => {
    sub.dispose();
    panel = undefined;
    panelReady = false;
    pendingTab = undefined;
  });
  panel = p;
  return p;
}

/** Restores an editor panel after a window reload (its state comes back through getState). */
export class PlaygroundPanelSerializer implements vscode.WebviewPanelSerializer {
  constructor(private readonly ctx: vscode.ExtensionContext) {}

  async deserializeWebviewPanel(p: vscode.WebviewPanel): Promise<void> {
    p.webview.options = webviewOptions(this.ctx);
    const sub = attachPanel(this.ctx, p);
    p.onDidDispose(() => {
      sub.dispose();
      if (panel === p) panel = undefined;
    });
    panel = p;
  }
}
