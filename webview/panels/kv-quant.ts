/**
 * The KV tab's "int8 cache: what it costs in accuracy" section: a text (a Shakespeare excerpt
 * by default) run by the worker with the f32 and the int8 KV cache (kvQuantEffect,
 * engine/worker/kv.ts); shown are the cache bytes of the model's context both ways, max
 * |Δ logits|, the KL per position (a bar chart: arrow keys move along it) and the perplexity
 * with each cache. The text and the last result survive hide/show.
 */
import type { KvQuantEffectView, ReplyOf } from '../../engine/protocol/index';
import { button, el, fmtBytes, kvTable, setDisabled } from '../dom';
import { askWorker } from '../engine';
import { getState, setState } from '../host';
import { SHAKESPEARE_EXCERPT } from './kv-quant-text';

interface Saved {
  text: string;
  result?: KvQuantEffectView;
  error?: string;
  /** The position the chart's readout shows. */
  at?: number;
}

const saved = getState<Saved>('kvQuant');
let text = saved?.text ?? SHAKESPEARE_EXCERPT;
let result = saved?.result;
let error = saved?.error;
let at = saved?.at ?? 0;
let running = false;

function save(): void {
  setState('kvQuant', { text, result, error, at } satisfies Saved);
}

/** True while the accuracy run is in the worker (the tab's other measurements wait). */
export function quantRunning(): boolean {
  return running;
}

let box: HTMLElement | undefined;
let runBtn: HTMLElement;
let why: HTMLElement;
let out: HTMLElement;
let onChange: () => void = () => {};

/** Why the run cannot start now, given the tab's own reason (no model, loading, a measurement running). */
function blocked(base: string | undefined): string | undefined {
  if (base) return base;
  if (running) return 'The accuracy run is running.';
  if (!text.trim()) return 'The text is empty: type or paste a text to score.';
  return undefined;
}

function start(): void {
  running = true;
  error = undefined;
  const id = askWorker({ type: 'kvQuantEffect', text }, (m: ReplyOf<'kvQuantEffect'>) => {
    running = false;
    if (m.type === 'kvQuantEffectResult') {
      result = m.result;
      at = 0;
    } else error = m.message;
    save();
    onChange();
  });
  if (id === undefined) {
    running = false;
    error = 'The engine worker is not running.';
  }
  onChange();
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

const BAR = 'var(--vscode-charts-orange, var(--vscode-editorWarning-foreground))';
const SEL = 'var(--vscode-focusBorder, var(--vscode-foreground))';

/** KL per position as bars; focusable, ←/→ (Home/End) move the selected position, whose values the readout says. */
function klChart(r: KvQuantEffectView): HTMLElement {
  const W = 520;
  const H = 150;
  const P = 30;
  const n = r.klPerPosition.length;
  const yMax = Math.max(1e-12, r.maxKl);
  const w = (W - 2 * P) / n;
  const root = svg('svg', {
    id: 'kv-quant-chart',
    viewBox: `0 0 ${W} ${H}`,
    width: '100%',
    role: 'img',
    tabindex: '0',
    'aria-label': `KL(f32 ‖ int8) at each of ${n} positions, largest ${r.maxKl.toExponential(2)} nats: left and right arrows move along the positions`,
    class: 'kv-chart',
  });
  const axis = 'var(--vscode-widget-border, var(--vscode-foreground))';
  root.append(svg('line', { x1: String(P), y1: String(H - P), x2: String(W - P), y2: String(H - P), stroke: axis }));
  const label = (x: number, y: number, s: string, anchor = 'start') => {
    const e = svg('text', { x: String(x), y: String(y), fill: 'var(--vscode-descriptionForeground)', 'font-size': '10', 'text-anchor': anchor });
    e.textContent = s;
    return e;
  };
  root.append(label(W - P, H - 10, `position (0 – ${n - 1})`, 'end'), label(2, P - 12, `KL, nats (max ${r.maxKl.toExponential(2)})`));
  const bars = r.klPerPosition.map((kl, t) => {
    const h = ((H - 2 * P) * kl) / yMax;
    const b = svg('rect', { x: (P + t * w).toFixed(2), y: (H - P - h).toFixed(2), width: Math.max(0.5, w * 0.9).toFixed(2), height: Math.max(0.5, h).toFixed(2), fill: BAR });
    root.append(b);
    return b;
  });
  const readout = el('p', { id: 'kv-quant-readout', class: 'muted', 'aria-live': 'polite' });
  const show = () => {
    at = Math.min(Math.max(0, at), n - 1);
    bars.forEach((b, t) => b.setAttribute('fill', t === at ? SEL : BAR));
    readout.textContent = `Position ${at}: KL ${r.klPerPosition[at].toExponential(2)} nats, max |Δ logits| ${r.maxAbsPerPosition[at].toExponential(2)}`;
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
    const x = (((e as MouseEvent).clientX - rect.left) / rect.width) * W;
    at = Math.floor((x - P) / w);
    show();
    save();
  });
  show();
  const fig = el('figure', { class: 'kv-figure' });
  fig.append(root as unknown as Node, el('figcaption', { class: 'sr-only' }, 'KL divergence of the int8 cache from the f32 cache at each position'));
  return el('div', {}, fig, readout);
}

function renderOut(): void {
  out.replaceChildren();
  if (error) out.append(el('div', { class: 'error', role: 'alert', id: 'kv-quant-error' }, error));
  if (running) out.append(el('p', { class: 'muted' }, el('vscode-progress-ring', { 'aria-label': 'running' }), ' Running the text with the f32 cache and with the int8 cache…'));
  const r = result;
  if (!r) return;
  const saving = 1 - r.bytesInt8 / r.bytesF32;
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  const status = el(
    'p',
    {
      id: 'kv-quant-status',
      'data-tokens': String(r.tokens),
      'data-bytes-f32': String(r.bytesF32),
      'data-bytes-int8': String(r.bytesInt8),
      'data-saving': String(saving),
      'data-ppl-f32': String(r.perplexityF32),
      'data-ppl-int8': String(r.perplexityInt8),
      'data-ppl-change': String(r.perplexityChange),
    },
    `${r.backend}, ${r.tokens} tokens${r.textTokens > r.tokens ? ` (the text is ${r.textTokens} tokens: cut to the context of ${r.context})` : ''}: the int8 cache saves ${pct(saving)} of the bytes and moves perplexity by ${r.perplexityChange >= 0 ? '+' : ''}${pct(r.perplexityChange)}.`,
  );
  const rows: [string, string][] = [
    [
      `KV cache at the context (${r.context} tokens)`,
      `${r.bytesF32.toLocaleString('en')} B (${fmtBytes(r.bytesF32)}) f32 → ${r.bytesInt8.toLocaleString('en')} B (${fmtBytes(r.bytesInt8)}) int8: ${pct(saving)} saved`,
    ],
    ['max |Δ logits|', `${r.maxAbs.toExponential(3)} (largest |logit| ${r.logitScale.toFixed(2)})`],
    ['KL(f32 ‖ int8) per position', `max ${r.maxKl.toExponential(3)}, mean ${r.meanKl.toExponential(3)} nats`],
    ['Perplexity', `f32 ${r.perplexityF32.toFixed(3)} vs int8 ${r.perplexityInt8.toFixed(3)} (${r.perplexityChange >= 0 ? '+' : ''}${pct(r.perplexityChange)})`],
  ];
  out.append(status, kvTable(rows, 'kv-quant-table'), klChart(r));
}

/** Re-renders the section with the tab's reason for blocking runs (undefined: none). */
export function refreshQuant(base: string | undefined): void {
  if (!box) return;
  const b = blocked(base);
  setDisabled(runBtn, !!b);
  runBtn.title = b ?? '';
  why.textContent = b ?? '';
  renderOut();
}

/** The section, built once; `changed` re-renders the whole tab (the other buttons wait while this runs). */
export function quantSection(changed: () => void): HTMLElement {
  if (box) return box;
  onChange = changed;
  const area = el('textarea', { id: 'kv-quant-text', rows: '6', 'aria-label': 'Text to score with the f32 and the int8 cache' }) as HTMLTextAreaElement;
  area.value = text;
  area.addEventListener('input', () => {
    text = area.value;
    save();
    onChange();
  });
  runBtn = button('Run f32 and int8', 'beaker', start, false);
  runBtn.id = 'kv-quant-run';
  why = el('span', { class: 'why', id: 'kv-quant-why' });
  out = el('div', { id: 'kv-quant-out' });
  box = el(
    'div',
    { id: 'kv-quant' },
    el('h3', {}, 'int8 cache: what it costs in accuracy'),
    el(
      'p',
      { class: 'muted' },
      'The text (cut to the model’s context) runs once with the f32 cache and once with the int8 cache (one scale per token and KV head) on the same weights and backend; the logits are compared at every position.',
    ),
    area,
    el('div', { class: 'row' }, runBtn, why),
    out,
  );
  return box;
}
