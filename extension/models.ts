/**
 * The host's model manager: the Models tree view (bundled stories260K first,
 * then the user's models, then any found in the workspace), the commands that
 * add/remove/reveal/copy/use them, header checks on add and on change (file
 * watchers), opt-in discovery (trusted workspaces only), byte-range serving of
 * model files to the worker, and the active model (`activeModel()` +
 * `onDidChangeActiveModel`) for other parts of the extension.
 *
 * The logic that needs no `vscode` lives in engine/catalog/ (inspect, discover,
 * range serving) and is unit-tested there.
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatById, isRunnableFormat, LISTED_PATHS } from '../engine/formats/registry';
import { discoverModels, discoveryAllowed, DEFAULT_DISCOVER_LIMITS } from '../engine/catalog/discover-node';
import { fmtCount, modelDetailRows } from '../engine/catalog/describe';
import type { ModelCheck } from '../engine/catalog/inspect';
import { inspectPath, whyNotListablePath, type ModelLocation } from '../engine/catalog/inspect-node';
import { ModelRangeServer } from '../engine/catalog/range-node';
import type { ModelLoadSpec, ModelSummary } from '../engine/protocol/index';
import { exportModel } from './export-model';
import { log } from './log';
import type { TokenizerSpec } from './tokenizer-jobs';

const STATE_MODELS = 'llmPlayground.models';
const STATE_ACTIVE = 'llmPlayground.activeModel';
export const MODELS_VIEW_ID = 'llmPlayground.models';
const BUNDLED_ID = 'bundled:stories260K';

export interface ModelEntry {
  id: string;
  name: string;
  /** Absolute path (file or folder). */
  path: string;
  origin: ModelSummary['origin'];
  check?: ModelCheck & { location?: ModelLocation };
}

/** The model the playground runs, for other features (tokenizer hover, status-bar token count). */
export interface ActiveModel {
  id: string;
  name: string;
  path: string;
  format: string;
  summary: ModelSummary;
  /** Where the host's tokenizer worker (tokenizer-jobs.ts) reads the model's tokenizer; undefined when it has none. */
  tokenizerSpec(): TokenizerSpec | undefined;
}

function idFor(p: string): string {
  return `file:${path.resolve(p)}`;
}

/** The path with symlinks resolved (itself when it cannot be), to tell one file under two names apart from two files. */
function realPath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function displayName(p: string): string {
  return path.basename(p);
}

export class ModelManager implements vscode.Disposable {
  private readonly entries = new Map<string, ModelEntry>();
  private discovered: string[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly activeChanged = new vscode.EventEmitter<ActiveModel | undefined>();
  private readonly watchers = new Map<string, vscode.FileSystemWatcher>();
  private readonly recheckTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Each check of a model gives its tokenizer a new key (the file may have changed). */
  private readonly tokenizerKeys = new Map<string, string>();
  private checks = 0;
  private readonly disposables: vscode.Disposable[] = [];
  readonly ranges: ModelRangeServer;
  /** Fires when the list or any model's check changes. */
  readonly onDidChange = this.changed.event;
  /** Fires when the active model changes (undefined: none). */
  readonly onDidChangeActiveModel = this.activeChanged.event;

  constructor(private readonly ctx: vscode.ExtensionContext) {
    this.ranges = new ModelRangeServer((id) => {
      const e = this.entries.get(id);
      const loc = e?.check?.location;
      const files = e?.check?.info?.files;
      return loc && files ? { root: loc.root, files: files.map((f) => f.name) } : undefined;
    });
    const bundled = vscode.Uri.joinPath(ctx.extensionUri, 'models', 'stories260K.bin').fsPath;
    this.entries.set(BUNDLED_ID, { id: BUNDLED_ID, name: 'stories260K (bundled)', path: bundled, origin: 'bundled' });
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('llmPlayground.models')) this.syncList();
        if (e.affectsConfiguration('llmPlayground.discoverModels') && this.discoveryAllowed().allowed) void this.discover(false);
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        if (this.discoveryAllowed().allowed) void this.discover(false);
      }),
    );
    this.syncList();
    if (this.discoveryAllowed().allowed) void this.discover(false);
  }

  // ------------------------------------------------------------ the list

  private storedPaths(): string[] {
    return this.ctx.globalState.get<string[]>(STATE_MODELS, []);
  }

  private settingPaths(): string[] {
    const v = vscode.workspace.getConfiguration('llmPlayground').get<unknown>('models', []);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.trim() !== '') : [];
  }

  /** Rebuilds the entries from globalState, the setting and discovery; checks new ones. */
  private syncList(): void {
    const want = new Map<string, ModelEntry>();
    want.set(BUNDLED_ID, this.entries.get(BUNDLED_ID)!);
    const bundledReal = realPath(this.entries.get(BUNDLED_ID)!.path);
    const add = (p: string, origin: ModelEntry['origin']) => {
      const abs = path.resolve(p);
      // the bundled model found again (discovery in the extension's own folder, or added by path) is listed once
      if (realPath(abs) === bundledReal) return;
      const id = idFor(abs);
      if (want.has(id)) return;
      want.set(id, this.entries.get(id) ?? { id, name: displayName(abs), path: abs, origin });
      want.get(id)!.origin = origin;
    };
    for (const p of this.storedPaths()) add(p, 'user');
    for (const p of this.settingPaths()) add(p, 'setting');
    for (const p of this.discovered) add(p, 'discovered');
    for (const id of [...this.entries.keys()]) {
      if (!want.has(id)) {
        this.entries.delete(id);
        this.unwatch(id);
      }
    }
    for (const [id, e] of want) {
      if (!this.entries.has(id)) this.entries.set(id, e);
      if (!e.check) void this.check(e);
    }
    // The bundled model is the default: on the first run, and when the active model leaves the list.
    if (!this.entries.has(this.activeId ?? '')) void this.setActive(BUNDLED_ID);
    this.changed.fire();
  }

  list(): ModelEntry[] {
    const order: Record<ModelEntry['origin'], number> = { bundled: 0, user: 1, setting: 1, discovered: 2 };
    return [...this.entries.values()].sort((a, b) => order[a.origin] - order[b.origin]);
  }

  get(id: string): ModelEntry | undefined {
    return this.entries.get(id) ?? this.entries.get(idFor(id));
  }

  /** Adds a path (file or folder) to the user's list and checks it; returns the entry. */
  async add(p: string): Promise<ModelEntry> {
    const abs = path.resolve(p);
    const bundled = this.entries.get(BUNDLED_ID)!;
    if (realPath(abs) === realPath(bundled.path)) return bundled;
    const id = idFor(abs);
    const stored = this.storedPaths();
    if (!stored.includes(abs) && !this.settingPaths().some((s) => path.resolve(s) === abs)) await this.ctx.globalState.update(STATE_MODELS, [...stored, abs]);
    this.syncList();
    const e = this.entries.get(id)!;
    if (e.origin === 'discovered') e.origin = 'user';
    await this.check(e);
    return e;
  }

  async remove(id: string): Promise<void> {
    const e = this.get(id);
    if (!e || e.origin === 'bundled') return;
    await this.ctx.globalState.update(
      STATE_MODELS,
      this.storedPaths().filter((p) => path.resolve(p) !== e.path),
    );
    const cfg = vscode.workspace.getConfiguration('llmPlayground');
    const inSetting = this.settingPaths();
    if (inSetting.some((p) => path.resolve(p) === e.path)) {
      await cfg.update(
        'models',
        inSetting.filter((p) => path.resolve(p) !== e.path),
        vscode.ConfigurationTarget.Global,
      );
    }
    this.discovered = this.discovered.filter((p) => path.resolve(p) !== e.path);
    if (this.activeId === e.id) await this.setActive(BUNDLED_ID);
    this.syncList();
  }

  // ------------------------------------------------------------ checks

  /** Reads the model's headers (never its weights) and records the result. */
  async check(e: ModelEntry): Promise<void> {
    e.check = undefined;
    this.changed.fire();
    const t0 = Date.now();
    const result = await inspectPath(e.path);
    if (!this.entries.has(e.id)) return;
    e.check = result;
    this.tokenizerKeys.set(e.id, `${e.id}#${++this.checks}`);
    if (result.problem) {
      const level = result.status === 'error' ? 'error' : 'warn';
      log()[level](`Model ${e.name}: ${result.problem.message}\n  ${result.problem.detail}`);
    } else {
      log().info(`Model ${e.name}: ready (${result.info?.format}, ${result.info?.parameters} parameters; checked in ${Date.now() - t0} ms)`);
    }
    if (e.origin !== 'bundled') this.watch(e);
    this.changed.fire();
    if (this.activeId === e.id) this.activeChanged.fire(this.activeModel());
  }

  async checkAll(): Promise<void> {
    await this.ranges.closeAll();
    await Promise.all([...this.entries.values()].map((e) => this.check(e)));
  }

  private watch(e: ModelEntry): void {
    const root = e.check?.location?.root ?? path.dirname(e.path);
    if (this.watchers.has(e.id)) return;
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(root), '*'));
    const files = () => new Set((e.check?.info?.files.map((f) => f.name) ?? []).concat([path.basename(e.path), 'config.json', 'tokenizer.json', 'tokenizer.bin']));
    const onChange = (uri: vscode.Uri) => {
      if (!files().has(path.basename(uri.fsPath)) && !/^tok.*\.bin$/i.test(path.basename(uri.fsPath))) return;
      clearTimeout(this.recheckTimers.get(e.id));
      this.recheckTimers.set(
        e.id,
        setTimeout(() => {
          log().info(`Model ${e.name}: ${path.basename(uri.fsPath)} changed on disk; checking again`);
          void this.ranges.closeAll().then(() => this.check(e));
        }, 400),
      );
    };
    w.onDidChange(onChange);
    w.onDidCreate(onChange);
    w.onDidDelete(onChange);
    this.watchers.set(e.id, w);
  }

  private unwatch(id: string): void {
    this.watchers.get(id)?.dispose();
    this.watchers.delete(id);
    clearTimeout(this.recheckTimers.get(id));
  }

  // ------------------------------------------------------------ discovery

  discoveryAllowed(): { allowed: boolean; reason?: string } {
    return discoveryAllowed({
      setting: vscode.workspace.getConfiguration('llmPlayground').get<boolean>('discoverModels', false),
      trusted: vscode.workspace.isTrusted,
    });
  }

  /** Looks for models in the workspace folders (bounded, cancellable). `explicit`: the user ran the command. */
  async discover(explicit: boolean): Promise<void> {
    const gate = discoveryAllowed({
      setting: explicit || vscode.workspace.getConfiguration('llmPlayground').get<boolean>('discoverModels', false),
      trusted: vscode.workspace.isTrusted,
    });
    if (!gate.allowed) {
      if (explicit) void vscode.window.showInformationMessage(`LLM Playground: models are not searched for: ${gate.reason}.`);
      return;
    }
    const roots = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    if (!roots.length) {
      if (explicit) void vscode.window.showInformationMessage('LLM Playground: open a folder to search it for models.');
      return;
    }
    const c = vscode.workspace.getConfiguration('llmPlayground.discovery');
    await vscode.window.withProgress(
      { location: explicit ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window, title: 'LLM Playground: looking for models', cancellable: true },
      async (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        const r = await discoverModels(roots, {
          maxFiles: c.get<number>('maxFiles', DEFAULT_DISCOVER_LIMITS.maxFiles),
          maxDepth: c.get<number>('maxDepth', DEFAULT_DISCOVER_LIMITS.maxDepth),
          timeoutMs: c.get<number>('timeoutMs', DEFAULT_DISCOVER_LIMITS.timeoutMs),
          signal: ac.signal,
          onProgress: (seen, found) => progress.report({ message: `${seen} entries, ${found} models` }),
        });
        this.discovered = r.found;
        const why = r.stoppedBy
          ? ` (stopped early: ${r.stoppedBy === 'maxFiles' ? 'llmPlayground.discovery.maxFiles reached' : r.stoppedBy === 'timeout' ? 'llmPlayground.discovery.timeoutMs reached' : 'cancelled'})`
          : '';
        log().info(`Discovery: ${r.found.length} models in ${r.seen} entries${why}; symlink loops skipped ${r.skipped.loops}, folders too deep ${r.skipped.tooDeep}`);
        this.syncList();
      },
    );
  }

  // ------------------------------------------------------------ active model

  get activeId(): string | undefined {
    return this.ctx.globalState.get<string>(STATE_ACTIVE);
  }

  async setActive(id: string | undefined): Promise<void> {
    if (id !== undefined && !this.entries.has(id)) throw new Error(`no model with id ${id}`);
    if (id === this.activeId) return;
    await this.ctx.globalState.update(STATE_ACTIVE, id);
    const e = id ? this.entries.get(id) : undefined;
    log().info(e ? `Active model: ${e.name} (${e.path})` : 'No active model');
    this.changed.fire();
    this.activeChanged.fire(this.activeModel());
  }

  /** The active model, or undefined when none is chosen. */
  activeModel(): ActiveModel | undefined {
    const id = this.activeId;
    const e = id ? this.entries.get(id) : undefined;
    if (!e) return undefined;
    return {
      id: e.id,
      name: e.name,
      path: e.path,
      format: e.check?.info?.format ?? 'unknown',
      summary: this.summary(e),
      tokenizerSpec: () => this.tokenizerSpecOf(e),
    };
  }

  private tokenizerSpecOf(e: ModelEntry): TokenizerSpec | undefined {
    const info = e.check?.info;
    const root = e.check?.location?.root;
    if (!info?.tokenizer || !root) return undefined;
    const source = info.tokenizer.source;
    // The format registry reads it in the worker: embedded in the weights file (GGUF) or a file beside it.
    return {
      key: this.tokenizerKeys.get(e.id) ?? e.id,
      file: source === 'embedded' ? path.join(root, info.files[0].name) : path.join(root, source),
      source: { kind: 'model', format: info.format, root, main: info.files[0].name, source },
    };
  }

  // ------------------------------------------------------------ for the webview

  summary(e: ModelEntry): ModelSummary {
    const c = e.check;
    const s: ModelSummary = { id: e.id, name: e.name, path: e.path, origin: e.origin, status: c ? c.status : 'checking' };
    if (c?.problem) s.problem = c.problem;
    if (c?.info) s.info = c.info;
    const info = c?.info;
    if (info && c.status !== 'error' && isRunnableFormat(info.format)) {
      const load: ModelLoadSpec = {
        modelId: e.id,
        name: e.name,
        format: info.format,
        files: info.files,
        weights: info.files[0].name,
        tokenizer: info.tokenizer?.source,
      };
      s.load = load;
    }
    return s;
  }

  summaries(): ModelSummary[] {
    return this.list().map((e) => this.summary(e));
  }

  dispose(): void {
    for (const id of [...this.watchers.keys()]) this.unwatch(id);
    for (const d of this.disposables) d.dispose();
    void this.ranges.closeAll();
    this.changed.dispose();
    this.activeChanged.dispose();
  }
}

// ------------------------------------------------------------------ tree view

/** The model's details as Markdown (tooltip). */
export function detailsMarkdown(s: ModelSummary, active: boolean): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escapeMd(s.name)}**${active ? ' — active' : ''}\n\n`);
  md.appendText(s.path);
  md.appendMarkdown('\n\n');
  if (s.problem) md.appendMarkdown(`${s.status === 'error' ? '$(error)' : '$(warning)'} ${escapeMd(s.problem.message)}\n\n`);
  if (s.info)
    md.appendMarkdown(
      '| | |\n|---|---|\n' +
        modelDetailRows(s.info)
          .map(([k, v]) => `| ${k} | ${escapeMd(v)} |`)
          .join('\n') +
        '\n',
    );
  if (s.problem) {
    md.appendMarkdown('\n');
    md.appendCodeblock(
      s.problem.detail.replace(/`{3,}/g, (f) => "'".repeat(f.length)),
      'text',
    ); // a fence inside would end the block early
  }
  return md;
}

/** Text from a model file or folder name as literal Markdown: every syntax character escaped, `$(…)` theme icons too. */
export function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>$~&:]/g, (c) => `\\${c}`);
}

export class ModelTreeProvider implements vscode.TreeDataProvider<string> {
  private readonly emitter = new vscode.EventEmitter<string | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  constructor(private readonly m: ModelManager) {
    m.onDidChange(() => this.emitter.fire(undefined));
  }

  getChildren(el?: string): string[] {
    return el ? [] : this.m.list().map((e) => e.id);
  }

  getTreeItem(id: string): vscode.TreeItem {
    const e = this.m.get(id)!;
    const s = this.m.summary(e);
    const active = this.m.activeId === id;
    const item = new vscode.TreeItem(e.name, vscode.TreeItemCollapsibleState.None);
    item.id = id;
    const parts: string[] = [];
    if (active) parts.push('● active');
    if (s.status === 'checking') parts.push('checking…');
    else if (s.status === 'error' || s.status === 'warning') parts.push(s.problem?.message ?? s.status);
    else if (s.info) parts.push(`${s.info.architecture} · ${fmtCount(s.info.parameters)} · ${s.info.dtypes.join('/')}`);
    if (e.origin === 'discovered') parts.push('found in workspace');
    item.description = parts.join(' — ');
    item.tooltip = detailsMarkdown(s, active);
    item.iconPath =
      s.status === 'checking'
        ? new vscode.ThemeIcon('loading~spin')
        : s.status === 'error'
          ? new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'))
          : s.status === 'warning'
            ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
            : new vscode.ThemeIcon(active ? 'star-full' : 'pass', new vscode.ThemeColor(active ? 'charts.yellow' : 'testing.iconPassed'));
    item.contextValue = ['llmModel', e.origin, s.load ? 'usable' : 'unusable', active ? 'active' : ''].filter(Boolean).join('.');
    item.accessibilityInformation = { label: `${e.name}, ${item.description}` };
    return item;
  }
}

// ------------------------------------------------------------------ commands

let manager: ModelManager | undefined;

/** The model manager (undefined before activation). */
/** Makes the bundled stories260K the active model (the walkthrough's Generate step). */
export async function useBundledModel(): Promise<void> {
  await manager?.setActive(BUNDLED_ID);
}

export function modelManager(): ModelManager | undefined {
  return manager;
}

/** The active model, for other features of the extension (tokenizer hover, status bar…). */
export function activeModel(): ActiveModel | undefined {
  return manager?.activeModel();
}

const activeEmitter = new vscode.EventEmitter<ActiveModel | undefined>();
/** Fires when the active model changes or is checked again. Subscribe any time (even before activation). */
export const onDidChangeActiveModel = activeEmitter.event;

/** Resolves a command argument (tree element id, path string, Uri) or asks with a quick pick. */
async function pickModel(arg: unknown, placeHolder: string, filter: (e: ModelEntry) => boolean = () => true): Promise<ModelEntry | undefined> {
  const m = manager!;
  if (typeof arg === 'string') return m.get(arg);
  if (arg instanceof vscode.Uri) return m.get(arg.fsPath);
  const items = m
    .list()
    .filter(filter)
    .map((e) => ({ label: e.name, description: m.summary(e).problem?.message ?? m.summary(e).info?.architecture ?? '', detail: e.path, id: e.id }));
  if (!items.length) {
    void vscode.window.showInformationMessage('LLM Playground: no model fits. Add one with "LLM Playground: Add Model…".');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDetail: true });
  return picked ? m.get(picked.id) : undefined;
}

/** Adds a path unless it is no model (README.md, a folder without config.json…): then says why, and adds nothing. */
async function addWithProgress(p: string): Promise<ModelEntry | undefined> {
  const refused = await whyNotListablePath(path.resolve(p));
  if (refused) {
    log().warn(`Add Model refused ${p}: ${refused}`);
    void vscode.window.showErrorMessage(`LLM Playground: ${refused}`);
    return undefined;
  }
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `LLM Playground: adding ${path.basename(p)}`, cancellable: true },
    async (_progress, token) => {
      const e = await manager!.add(p);
      if (token.isCancellationRequested) {
        await manager!.remove(e.id);
        return undefined;
      }
      const s = manager!.summary(e);
      if (s.status === 'error') void vscode.window.showWarningMessage(`LLM Playground: ${e.name} was added, but it cannot be used: ${s.problem?.message}`);
      return e;
    },
  );
}

export function registerModels(ctx: vscode.ExtensionContext): vscode.Disposable {
  const m = new ModelManager(ctx);
  manager = m;
  const tree = vscode.window.createTreeView(MODELS_VIEW_ID, { treeDataProvider: new ModelTreeProvider(m), showCollapseAll: false });
  const cmd = (id: string, fn: (...args: unknown[]) => unknown) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        log().error(`${id}: ${msg}`);
        void vscode.window.showErrorMessage(`LLM Playground: ${msg}`);
        return undefined;
      }
    });
  return vscode.Disposable.from(
    m,
    tree,
    m.onDidChangeActiveModel((a) => activeEmitter.fire(a)),
    cmd('llmPlayground.addModel', async (arg) => {
      let p: string | undefined;
      if (typeof arg === 'string') p = arg;
      else if (arg instanceof vscode.Uri) p = arg.fsPath;
      else {
        const picked = await vscode.window.showOpenDialog({
          canSelectFiles: true,
          canSelectFolders: true,
          canSelectMany: false,
          openLabel: 'Add Model',
          title: `Add a model: ${LISTED_PATHS}`,
        });
        p = picked?.[0]?.fsPath;
      }
      if (!p) return undefined;
      return (await addWithProgress(p))?.id;
    }),
    cmd('llmPlayground.addModelFromPath', async (arg) => {
      const p =
        typeof arg === 'string'
          ? arg
          : await vscode.window.showInputBox({
              title: 'Add Model from Path',
              prompt: `Path of ${LISTED_PATHS}`,
              placeHolder: '/path/to/model.gguf',
              ignoreFocusOut: true,
              // a missing path or one that is no model is refused here, with the reason
              validateInput: async (v) => (v.trim() ? whyNotListablePath(path.resolve(v.trim())) : 'Enter a path'),
            });
      if (!p?.trim()) return undefined;
      return (await addWithProgress(p.trim()))?.id;
    }),
    cmd('llmPlayground.removeModel', async (arg) => {
      const e = await pickModel(arg, 'Remove which model from the list? (files stay on disk)', (x) => x.origin !== 'bundled');
      if (e) await m.remove(e.id);
    }),
    cmd('llmPlayground.useModel', async (arg) => {
      const e = await pickModel(arg, 'Use which model in the playground?', (x) => !!m.summary(x).load);
      if (!e) return;
      const s = m.summary(e);
      if (!s.load) {
        const notRunnable = s.info && formatById(s.info.format).notRunnable;
        void vscode.window.showWarningMessage(
          notRunnable ? `LLM Playground: ${e.name} is ${notRunnable.editor}.` : `LLM Playground: ${e.name} cannot be used: ${s.problem?.message ?? 'it is still being checked'}.`,
        );
        return;
      }
      await m.setActive(e.id);
      await vscode.commands.executeCommand('llmPlayground.openPlayground');
    }),
    cmd('llmPlayground.exportModel', async (arg) => {
      const e = await pickModel(arg, 'Export which model?');
      if (e) await exportModel(ctx, e.path, e.name);
    }),
    cmd('llmPlayground.revealModel', async (arg) => {
      const e = await pickModel(arg, 'Reveal which model?');
      if (!e) return;
      const uri = vscode.Uri.file(e.path);
      if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
      else await vscode.commands.executeCommand('revealFileInOS', uri);
    }),
    cmd('llmPlayground.copyModelPath', async (arg) => {
      const e = await pickModel(arg, 'Copy the path of which model?');
      if (e) await vscode.env.clipboard.writeText(e.path);
    }),
    cmd('llmPlayground.refreshModels', () => m.checkAll()),
    cmd('llmPlayground.discoverModels', () => m.discover(true)),
    { dispose: () => (manager = undefined) },
  );
}
