/**
 * The Cross-check tab: a model on the engine's backend against an ONNX graph on
 * onnxruntime-web, for a text the user gives. Two pairings (xcheck-pair.ts, xcheck-pair-rules.ts): the active model
 * and its ONNX export, which the worker (engine/worker/xcheck.ts) makes in memory; or a pair of
 * models from the Models list, one ONNX and one the engine runs, which the worker reads through
 * the host. onnxruntime-web runs its WebGPU execution provider where the worker has WebGPU,
 * else wasm (the view says which ran); both run the text and N greedy steps. Shown: max
 * |Δ logit| per position (a bar chart: arrow keys move along it; every value as text too), the
 * overall max, both greedy paths side by side with the first divergence marked, and each
 * backend's time per token. The pairing, the picks, the text, the steps and the last result
 * survive hide/show; a run shows progress and can be cancelled.
 */
import { MAX_XCHECK_STEPS, XCHECK_ONNX_REFUSAL, type ReplyOf, type XcheckView } from '../../engine/protocol/index';
import { button, el, kvTable, setDisabled } from '../dom';
import { askWorker, postToWorker } from '../engine';
import { getState, setState } from '../host';
import { activeSummary, modelsState, onModelsState, showModelsView } from '../models';
import type { Panel } from './panel';
import { pairControls, type PairControls } from './xcheck-pair';
import { pairBlocked, pairEmpty, resolvePair, type PairPicks } from './xcheck-pair-rules';

interface Saved {
  text: string;
  steps: string;
  /** The pairing and a pair's picks. */
  picks?: PairPicks;
  result?: XcheckView;
  /** What the result is of: the model's id (export), or "pair:<onnx id>|<engine id>". */
  modelId?: string;
  error?: string;
  /** The position the chart's readout shows. */
  at?: number;
}

const DEFAULT_TEXT = 'Once upon a time, there was a little girl.';
const saved = getState<Saved>('xcheck');
let text = saved?.text ?? DEFAULT_TEXT;
let steps = saved?.steps ?? '16';
let result = saved?.result;
let resultModel = saved?.modelId;
let error = saved?.error;
let at = saved?.at ?? 0;
let picks: PairPicks = saved?.picks ?? { pairing: 'export' };
let running: { id: number; phase: string; done: number; total: number } | undefined;

function save(): void {
  setState('xcheck', { text, steps, picks, result, modelId: resultModel, error, at } satisfies Saved);
}

/** The pair the picks name now (defaults filled in). */
function currentPair() {
  const s = modelsState();
  return resolvePair(s.models, s.activeId, picks);
}

/** What a result would be of if run now (compared with the shown one's to say it is stale). */
function currentKey(): string | undefined {
  if (picks.pairing === 'export') return activeSummary()?.id;
  const p = currentPair();
  return `pair:${p.onnx?.id ?? ''}|${p.engine?.id ?? ''}`;
}

let root: HTMLElement | undefined;
let empty: HTMLElement;
let body: HTMLElement;
let runBtn: HTMLElement;
let cancelBtn: HTMLElement;
let why: HTMLElement;
let cancelWhy: HTMLElement;
let progress: HTMLElement;
let out: HTMLElement;
let pairUi: PairControls;

function stepsValue(): number | undefined {
  const n = Number(steps);
  return Number.isInteger(n) && n >= 2 && n <= MAX_XCHECK_STEPS ? n : undefined;
}

/** Why a run cannot start now; undefined: it can. */
function blocked(): string | undefined {
  if (picks.pairing === 'pair') {
    const b = pairBlocked(modelsState().models, currentPair());
    if (b) return b;
    return inputBlocked();
  }
  const m = activeSummary();
  if (!m) return 'No active model: choose one in the Models view.';
  if (!m.load) return `${m.name} cannot be loaded: ${m.problem?.message ?? 'unknown problem'}.`;
  if (m.load.format === 'onnx') return XCHECK_ONNX_REFUSAL;
  const load = modelsState().load;
  if (load.phase === 'loading') return 'The model is loading (Model tab).';
  if (load.phase !== 'ready' || load.modelId !== m.id) return 'The model is not loaded: open the Generate or Model tab to load it.';
  if (!load.summary?.tokenizerKind) return 'This model has no tokenizer, so the text cannot be turned into tokens.';
  return inputBlocked();
}

/** Why the text, the steps or a run in flight block a run (either pairing). */
function inputBlocked(): string | undefined {
  if (running) return 'The cross-check is running.';
  if (!text.trim()) return 'The text is empty: type a text to run on both backends.';
  if (stepsValue() === undefined) return `Greedy steps must be a whole number from 2 to ${MAX_XCHECK_STEPS}.`;
  return undefined;
}

function start(): void {
  const n = stepsValue();
  if (n === undefined || blocked()) return;
  error = undefined;
  const modelId = currentKey();
  const p = currentPair();
  const pair = picks.pairing === 'pair' && p.onnx?.load && p.engine?.load ? { onnx: p.onnx.load, engine: p.engine.load } : undefined;
  const id = askWorker({ type: 'xcheckRun', text, steps: n, ...(pair ? { pair } : {}) }, (m: ReplyOf<'xcheckRun'>) => {
    if (m.type === 'xcheckProgress') {
      if (running) running = { ...running, phase: m.phase, done: m.done, total: m.total };
      renderProgress();
      return;
    }
    running = undefined;
    if (m.type === 'xcheckResult') {
      result = m.result;
      resultModel = modelId;
      at = 0;
    } else error = m.message;
    save();
    refresh();
  });
  if (id === undefined) error = 'The engine worker is not running.';
  else running = { id, phase: 'starting', done: 0, total: 0 };
  save();
  refresh();
}

function cancel(): void {
  if (running) postToWorker({ type: 'xcheckCancel', id: running.id });
}

const PHASES: Record<string, string> = {
  starting: 'Starting…',
  loading: 'Reading the models through the host: model',
  exporting: 'Exporting the model to ONNX in memory',
  opening: 'Opening the export in onnxruntime-web…',
  running: 'Running both backends: greedy step',
};

function renderProgress(): void {
  progress.replaceChildren();
  if (!running) return;
  const r = running;
  const detail =
    r.phase === 'exporting' && r.total
      ? ` (${Math.round((100 * r.done) / r.total)} % of the weights)`
      : (r.phase === 'running' || r.phase === 'loading') && r.total
        ? ` ${r.phase === 'loading' ? r.done + 1 : r.done} of ${r.total}`
        : '';
  progress.append(el('vscode-progress-ring', { 'aria-label': 'running' }), ` ${PHASES[r.phase] ?? r.phase}${detail}`);
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}
const BAR = 'var(--vscode-charts-blue, var(--vscode-foreground))';
const SEL = 'var(--vscode-focusBorder, var(--vscode-foreground))';
const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : 'NaN');

/** What position t of the chart is: a prompt token or a greedy step. */
function positionName(r: XcheckView, t: number): string {
  return t < r.promptTokens ? `prompt token ${t}` : `greedy step ${t - r.promptTokens + 1} (position ${t})`;
}

/** max |Δ logit| per position as bars; focusable, ←/→ (Home/End, PageUp/PageDown) move the readout. */
function diffChart(r: XcheckView): HTMLElement {
  const W = 520;
  const H = 150;
  const P = 30;
  const v = r.maxAbsPerPosition;
  const n = v.length;
  const finite = v.filter(Number.isFinite);
  const yMax = Math.max(1e-30, ...finite);
  const w = (W - 2 * P) / n;
  const root = svg('svg', {
    id: 'xcheck-chart',
    viewBox: `0 0 ${W} ${H}`,
    width: '100%',
    role: 'img',
    tabindex: '0',
    'aria-label': `max |Δ logit| at each of ${n} positions, largest ${fmt(r.maxAbs)}: left and right arrows move along the positions`,
    class: 'kv-chart',
  });
  const label = (x: number, y: number, s: string, anchor = 'start') => {
    const e = svg('text', { x: String(x), y: String(y), fill: 'var(--vscode-descriptionForeground)', 'font-size': '10', 'text-anchor': anchor });
    e.textContent = s;
    return e;
  };
  root.append(svg('line', { x1: String(P), y1: String(H - P), x2: String(W - P), y2: String(H - P), stroke: 'var(--vscode-widget-border, var(--vscode-foreground))' }));
  const px = P + r.promptTokens * w;
  if (r.promptTokens < n)
    root.append(svg('line', { x1: px.toFixed(2), y1: String(P), x2: px.toFixed(2), y2: String(H - P), stroke: 'var(--vscode-descriptionForeground)', 'stroke-dasharray': '3 3' }));
  root.append(label(W - P, H - 10, `position (prompt 0 – ${r.promptTokens - 1}, then greedy steps)`, 'end'), label(2, P - 12, `max |Δ logit| (max ${fmt(r.maxAbs)})`));
  const bars = v.map((d, t) => {
    const h = Number.isFinite(d) ? ((H - 2 * P) * d) / yMax : H - 2 * P;
    const b = svg('rect', { x: (P + t * w).toFixed(2), y: (H - P - h).toFixed(2), width: Math.max(0.5, w * 0.9).toFixed(2), height: Math.max(0.5, h).toFixed(2), fill: BAR });
    root.append(b);
    return b;
  });
  const readout = el('p', { id: 'xcheck-readout', class: 'muted', 'aria-live': 'polite' });
  const show = () => {
    at = Math.min(Math.max(0, at), n - 1);
    bars.forEach((b, t) => b.setAttribute('fill', t === at ? SEL : BAR));
    readout.textContent = `${positionName(r, at)}: max |Δ logit| ${fmt(v[at])}`;
    readout.dataset.at = String(at);
  };
  root.addEventListener('keydown', (e) => {
    const k = (e as KeyboardEvent).key;
    const step = { ArrowLeft: -1, ArrowRight: 1, PageDown: 10, PageUp: -10 }[k];
    if (step !== undefined) at += step;
    else if (k === 'Home') at = 0;
    else if (k === 'End') at = n - 1;
    else return;
    e.preventDefault();
    show();
    save();
  });
  root.addEventListener('click', (e) => {
    const rect = (root as unknown as Element).getBoundingClientRect();
    at = Math.floor(((((e as MouseEvent).clientX - rect.left) / rect.width) * W - P) / w);
    show();
    save();
  });
  show();
  const fig = el('figure', { class: 'kv-figure' });
  fig.append(root as unknown as Node, el('figcaption', { class: 'sr-only' }, 'Largest logit difference between the engine and onnxruntime-web at each position'));
  const numbers = el('details', { id: 'xcheck-numbers' }, el('summary', {}, 'Every position’s max |Δ logit| as text'));
  numbers.append(
    kvTable(
      v.map((d, t): [string, string] => [positionName(r, t), fmt(d)]),
      'xcheck-numbers-table',
    ),
  );
  return el('div', {}, fig, readout, numbers);
}

/** Both greedy paths side by side; the first divergence and every step after it are marked. */
function pathTable(r: XcheckView): HTMLElement {
  const t = el('table', { id: 'xcheck-paths', class: 'kv' });
  t.append(el('tr', {}, el('th', {}, 'step'), el('th', {}, r.engine.label), el('th', {}, r.ort.label), el('th', {}, '')));
  const cell = (id: number | undefined, piece: string | undefined) => (id === undefined ? '—' : `${id} ${JSON.stringify(piece ?? '')}`);
  const n = Math.max(r.engine.ids.length, r.ort.ids.length);
  for (let s = 0; s < n; s++) {
    const differs = r.engine.ids[s] !== r.ort.ids[s];
    const mark = s === r.firstDivergence ? '≠ first divergence' : differs ? '≠' : '';
    const row = el('tr', { 'data-step': String(s), ...(differs ? { class: 'diverge' } : {}) }, el('td', {}, String(s + 1)));
    row.append(el('td', {}, cell(r.engine.ids[s], r.engine.pieces[s])), el('td', {}, cell(r.ort.ids[s], r.ort.pieces[s])), el('td', {}, mark));
    t.append(row);
  }
  return t;
}

function renderOut(): void {
  out.replaceChildren();
  if (error) out.append(el('div', { class: 'error', role: 'alert', id: 'xcheck-error' }, error));
  const r = result;
  if (!r) {
    if (!error) out.append(el('p', { class: 'muted', id: 'xcheck-none' }, 'No cross-check yet: type a text and press Run on both.'));
    return;
  }
  const stale = resultModel !== currentKey();
  const agree = r.firstDivergence < 0;
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  out.append(
    el(
      'p',
      {
        id: 'xcheck-status',
        'data-max-abs': String(r.maxAbs),
        'data-positions': String(r.maxAbsPerPosition.length),
        'data-prompt-tokens': String(r.promptTokens),
        'data-steps': String(r.engine.ids.length),
        'data-first-divergence': String(r.firstDivergence),
        'data-provider': r.provider,
        'data-source': r.source,
        'data-engine-ids': r.engine.ids.join(','),
        'data-ort-ids': r.ort.ids.join(','),
      },
      `${what(r)}: max |Δ logit| ${fmt(r.maxAbs)} over ${r.maxAbsPerPosition.length} positions (largest |logit| ${r.logitScale.toFixed(2)}); ` +
        (agree ? `the greedy paths agree on all ${r.engine.ids.length} steps.` : `the greedy paths first differ at step ${r.firstDivergence + 1}.`),
    ),
  );
  if (stale)
    out.append(
      el(
        'p',
        { class: 'warning', id: 'xcheck-stale' },
        picks.pairing === 'pair'
          ? 'This result is of another pairing or pair than the one chosen: run again to compare the chosen pair.'
          : 'This result is of another model or pairing than the active model’s export: run again to compare the active model.',
      ),
    );
  if (r.tokenizerNote) out.append(el('p', { class: 'warning', id: 'xcheck-tokenizer-note' }, r.tokenizerNote));
  if (r.providerNote) out.append(el('p', { class: 'muted', id: 'xcheck-provider-note' }, r.providerNote));
  out.append(
    kvTable(
      [
        ...(r.models
          ? ([
              ['Engine model', `${r.models.engine} on ${r.engine.label}`],
              ['ONNX model', `${r.models.onnx} on ${r.ort.label} (${r.onnxBytes.toLocaleString('en')} B)`],
            ] as [string, string][])
          : []),
        ['Overall max |Δ logit|', `${fmt(r.maxAbs)} (largest |logit| ${r.logitScale.toFixed(2)})`],
        ['Greedy path', agree ? `agree on all ${r.engine.ids.length} steps` : `first divergence at step ${r.firstDivergence + 1}`],
        [`Time per token, ${r.engine.label}`, `${ms(r.engine.msPerToken)} (prompt of ${r.promptTokens}: ${ms(r.engine.prefillMs)})`],
        [`Time per token, ${r.ort.label}`, `${ms(r.ort.msPerToken)} (prompt of ${r.promptTokens}: ${ms(r.ort.prefillMs)})`],
      ],
      'xcheck-table',
    ),
    diffChart(r),
    el('h3', {}, 'Greedy paths'),
    pathTable(r),
  );
}

/** What ran against what, for the status line. */
function what(r: XcheckView): string {
  if (r.models) return `${r.models.engine} on ${r.engine.label} against ${r.models.onnx} on ${r.ort.label} (a pair from the list, ONNX file ${r.onnxBytes.toLocaleString('en')} B)`;
  return `${r.engine.label} against ${r.ort.label} (the model exported to ONNX in memory, ${r.onnxBytes.toLocaleString('en')} B)`;
}

function refresh(): void {
  if (!root) return;
  const m = activeSummary();
  const s = modelsState();
  pairUi.update(s.models, s.activeId, picks);
  const exportEmpty = picks.pairing === 'export' && !m;
  empty.hidden = !exportEmpty;
  body.hidden = exportEmpty || (picks.pairing === 'pair' && !!pairEmpty(s.models));
  const b = blocked();
  setDisabled(runBtn, !!b);
  runBtn.title = b ?? '';
  why.textContent = b ?? '';
  setDisabled(cancelBtn, !running);
  cancelWhy.textContent = running ? '' : 'Cancel: nothing is running.';
  renderProgress();
  renderOut();
}

function build(): HTMLElement {
  const box = el('section', { id: 'xcheck', 'aria-labelledby': 'xcheck-h' });
  box.append(el('h2', { id: 'xcheck-h' }, 'Cross-check: our engine against onnxruntime-web'));
  pairUi = pairControls((patch) => {
    picks = { ...picks, ...patch };
    save();
    refresh();
  }, showModelsView);
  const pick = button('Choose a model', 'list-selection', showModelsView, false);
  empty = el(
    'div',
    { id: 'xcheck-empty' },
    el('p', { class: 'muted' }, 'No active model. Choose one in the Models view: the cross-check runs it on the engine and on onnxruntime-web.'),
    pick,
  );
  const area = el('textarea', { id: 'xcheck-text', rows: '3', 'aria-label': 'Text to run on both backends' }) as HTMLTextAreaElement;
  area.value = text;
  area.addEventListener('input', () => {
    text = area.value;
    save();
    refresh();
  });
  const n = el('input', { id: 'xcheck-steps', type: 'number', min: '2', max: String(MAX_XCHECK_STEPS), step: '1', 'aria-label': 'Greedy steps' }) as HTMLInputElement;
  n.value = steps;
  n.addEventListener('input', () => {
    steps = n.value;
    save();
    refresh();
  });
  runBtn = button('Run on both', 'beaker', start, false);
  runBtn.id = 'xcheck-run';
  cancelBtn = button('Cancel', 'close', cancel);
  cancelBtn.id = 'xcheck-cancel';
  why = el('span', { class: 'why', id: 'xcheck-why' });
  cancelWhy = el('span', { class: 'why', id: 'xcheck-cancel-why' });
  cancelBtn.setAttribute('aria-describedby', 'xcheck-cancel-why');
  progress = el('p', { class: 'muted', id: 'xcheck-progress', 'aria-live': 'polite' });
  out = el('div', { id: 'xcheck-out' });
  body = el(
    'div',
    {},
    el(
      'p',
      { class: 'muted' },
      'The engine runs one model and onnxruntime-web an ONNX graph (its WebGPU execution provider where this webview has WebGPU, else wasm): the active model and its export to ONNX made in memory, or a pair picked from the Models list (a model other than the loaded one runs on the CPU engine). Both read the text — in the engine model tokenizer’s ids — then each follows its own greedy path; the logits are compared wherever both have read the same ids.',
    ),
    area,
    el('div', { class: 'row' }, el('label', {}, 'Greedy steps ', n), runBtn, cancelBtn, why, cancelWhy),
    progress,
    out,
  );
  box.append(pairUi.pairing, pairUi.pair, empty, body);
  return box;
}

export const xcheckPanel: Panel = {
  id: 'xcheck',
  title: 'Cross-check',
  init() {
    onModelsState(() => refresh());
  },
  render(): HTMLElement {
    root ??= build();
    refresh();
    return root;
  },
};
