/**
 * The playground UI (browser; never imports `vscode` or Node): a tab per panel
 * (panels/index.ts), the engine worker (engine.ts), the host connection (host.ts).
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-table/index.js';
import '@vscode-elements/elements/dist/vscode-table-body/index.js';
import '@vscode-elements/elements/dist/vscode-table-row/index.js';
import '@vscode-elements/elements/dist/vscode-table-cell/index.js';
import { adoptStyle, el } from './dom';
import { configureEngine, engineBusy, engineSettings, onEngineState, releaseEngine, startEngine, updateEngineSettings } from './engine';
import { getState, onHostMessage, send, setState } from './host';
import { currentBackend, forgetLoad, onModelsState } from './models';
import { PANELS } from './panels/index';
import { STYLE } from './style';

const hosts = new Map<string, HTMLElement>();

/** A dismissible error above the tabs, for problems that belong to no panel (e.g. a rejected message). */
export function showBanner(message: string): void {
  const box = document.getElementById('banner');
  if (!box) return;
  const close = el('vscode-button', { icon: 'close', secondary: '', 'aria-label': 'Dismiss' });
  const item = el('div', { class: 'error', role: 'alert' }, el('span', {}, message), close);
  close.addEventListener('click', () => item.remove());
  box.append(item);
}

function renderPanel(id: string): void {
  const host = hosts.get(id);
  const panel = PANELS.find((p) => p.id === id);
  if (host && panel) host.replaceChildren(panel.render());
}

/** Brings a tab to the front (the host asks: a command or a walkthrough step). */
function showTab(id: string): void {
  const tabs = document.getElementById('tabs') as (HTMLElement & { selectedIndex?: number }) | null;
  const i = PANELS.findIndex((p) => p.id === id);
  if (!tabs || i < 0) return;
  tabs.selectedIndex = i;
  tabs.setAttribute('selected-index', String(i));
  setState('tab', id);
}

function shell(): void {
  const app = document.getElementById('app')!;
  const selected = Math.max(
    0,
    PANELS.findIndex((p) => p.id === getState<string>('tab')),
  );
  const tabs = el('vscode-tabs', { 'selected-index': String(selected), id: 'tabs' });
  for (const p of PANELS) {
    tabs.append(el('vscode-tab-header', { slot: 'header', 'data-tab': p.id }, p.title));
    const host = el('vscode-tab-panel', { 'data-panel': p.id });
    hosts.set(p.id, host);
    tabs.append(host);
  }
  tabs.addEventListener('vsc-tabs-select', (ev) => {
    const i = (ev as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
    setState('tab', PANELS[i]?.id);
  });
  app.replaceChildren(el('h1', { class: 'sr-only' }, 'LLM Playground'), el('div', { id: 'banner' }), tabs);
  for (const p of PANELS) {
    p.init?.(() => renderPanel(p.id));
    renderPanel(p.id);
  }
}

/**
 * How long a hidden playground keeps its engine worker (and the model in it) before stopping
 * it to free the memory; it starts again, loading the model, when shown. The webview's context
 * is retained while hidden (extension/playground.ts, RETAIN_CONTEXT) so that quick switches
 * cost nothing.
 */
const RELEASE_AFTER_MS = 10 * 60_000;
let releaseTimer: number | undefined;
let released = false;

function releaseWhenIdle(): void {
  // Never in the middle of a load or a generation: look again a minute later.
  if (engineBusy()) {
    releaseTimer = window.setTimeout(releaseWhenIdle, 60_000);
    return;
  }
  if (releaseEngine()) {
    released = true;
    forgetLoad();
  }
}

onEngineState(() => renderPanel('engine'));

/** Tells the host which backend runs and why (its status bar shows the same answer as the tabs), when that changes. */
let sentBackend = '';
function reportBackend(): void {
  const d = currentBackend();
  if (!d || JSON.stringify(d) === sentBackend) return;
  sentBackend = JSON.stringify(d);
  send({ type: 'backend', decision: d });
}
onEngineState(reportBackend);
onModelsState(reportBackend);
onHostMessage((msg) => {
  switch (msg.type) {
    case 'init':
      configureEngine(msg.workerUri, msg.settings);
      void startEngine();
      break;
    case 'settings':
      if (msg.settings.backend !== engineSettings().backend) {
        updateEngineSettings(msg.settings);
        void startEngine();
      }
      break;
    case 'visibility':
      window.clearTimeout(releaseTimer);
      if (!msg.visible) releaseTimer = window.setTimeout(releaseWhenIdle, RELEASE_AFTER_MS);
      else if (released) {
        released = false;
        void startEngine();
      }
      break;
    case 'showError':
      showBanner(msg.message);
      break;
    case 'showTab':
      showTab(msg.tab);
      break;
    default:
      break;
  }
});

adoptStyle(STYLE);
shell();
send({ type: 'ready' });
