/**
 * The Inside panel's logit lens and MoE router views: a layer × position grid of the
 * top-1 piece of lm_head(final_norm(h_l)) coloured by its probability, with the rank of a
 * token the user names at every layer; and, for mixture-of-experts models, the experts
 * each token went to at each layer with their weights, the load per expert and the
 * router's entropy. Both follow the token selected in any Inside view.
 */
import type { ReplyOf } from '../../engine/protocol/index';
import { button, el } from '../dom';
import { askWorker } from '../engine';
import { getState, setState } from '../host';
import { insideInfo, selectedToken, selectToken } from './inside';

/** Positions shown at once in the lens and router tables. */
export const LENS_WINDOW = 24;

const form = { p0: 0, target: '', ...(getState<{ p0: number; target: string }>('insideLens') ?? {}) };
const save = () => setState('insideLens', form);

export const lensState: { grid?: ReplyOf<'insideLens'> & { type: 'insideLensGrid' }; error?: string } = {};
export const routerState: { routing?: ReplyOf<'insideRouter'> & { type: 'insideRouting' }; error?: string } = {};

let lensEls: { table: HTMLTableElement; range: HTMLElement; target: HTMLInputElement; error: HTMLElement } | undefined;
let routerEls: { table: HTMLTableElement; load: HTMLElement; error: HTMLElement } | undefined;

const piece = (i: number) => insideInfo()?.tokens[i]?.piece ?? String(i);
/** A piece drawn so that spaces and newlines can be seen. */
const show = (s: string) => s.replace(/ /g, '·').replace(/\n/g, '↵').replace(/^▁/, '·') || '∅';

function windowOf(): { p0: number; p1: number } {
  const T = insideInfo()?.tokens.length ?? 0;
  const p0 = Math.max(0, Math.min(form.p0, Math.max(0, T - LENS_WINDOW)));
  return { p0, p1: Math.min(T, p0 + LENS_WINDOW) };
}

function page(d: number): void {
  form.p0 = Math.max(0, form.p0 + d * LENS_WINDOW);
  save();
  refreshLens(true);
  refreshRouter(false);
}

export function insideLensSection(): HTMLElement {
  const table = el('table', { id: 'inside-lens', class: 'inside-grid' }) as HTMLTableElement;
  const range = el('span', { id: 'inside-lens-range', class: 'muted' });
  const target = el('input', { id: 'inside-lens-target', type: 'text', 'aria-label': 'Token to rank at every layer', placeholder: 'a token, e.g. ▁girl' }) as HTMLInputElement;
  target.value = form.target;
  target.addEventListener('change', () => {
    form.target = target.value;
    save();
    refreshLens(true);
  });
  const error = el('div', { class: 'error', role: 'alert' });
  lensEls = { table, range, target, error };
  return el(
    'div',
    { id: 'inside-lens-box' },
    el('h2', {}, 'Logit lens'),
    el(
      'p',
      { class: 'muted' },
      'What the model would predict if it stopped after each layer: the top piece of lm_head(final_norm(h)) per layer and position, shaded by its probability.',
    ),
    el(
      'div',
      { class: 'row' },
      button('Earlier', 'arrow-left', () => page(-1)),
      button('Later', 'arrow-right', () => page(1)),
      range,
      el('label', { class: 'field' }, 'Rank of ', target),
    ),
    error,
    el('div', { class: 'inside-scroll' }, table),
  );
}

/** Re-asks the worker for the lens (fetch) or only redraws the selection. */
export function refreshLens(fetch: boolean): void {
  const info = insideInfo();
  if (!lensEls || !info) return;
  const { p0, p1 } = windowOf();
  if (fetch || !lensState.grid || lensState.grid.p0 !== p0 || lensState.grid.p1 !== p1) {
    askWorker({ type: 'insideLens', p0, p1, k: 3, ...(form.target ? { target: form.target } : {}) }, (m) => {
      if (m.type === 'insideError') {
        lensState.error = m.message;
        lensState.grid = undefined;
      } else {
        lensState.grid = m;
        lensState.error = undefined;
      }
      drawLens();
    });
  }
  drawLens();
}

function drawLens(): void {
  const info = insideInfo();
  if (!lensEls || !info) return;
  const g = lensState.grid;
  lensEls.error.hidden = !lensState.error;
  lensEls.error.textContent = lensState.error ?? '';
  if (!g) return lensEls.table.replaceChildren();
  const P = g.p1 - g.p0;
  lensEls.range.textContent = `positions ${g.p0}–${g.p1 - 1} of ${info.tokens.length}`;
  const sel = selectedToken();
  const head = el('tr', {}, el('th', {}, 'layer \\ input'));
  for (let p = 0; p < P; p++) {
    const th = el('th', { class: g.p0 + p === sel ? 'sel' : '', tabindex: '0', title: `position ${g.p0 + p}` }, show(piece(g.p0 + p)));
    th.addEventListener('click', () => selectToken(g.p0 + p));
    head.append(th);
  }
  const rows = [head];
  const L = g.ids.length / (P * g.k);
  for (let l = L - 1; l >= 0; l--) {
    const tr = el('tr', {}, el('th', {}, `L${l}`));
    for (let p = 0; p < P; p++) {
      const o = (l * P + p) * g.k;
      const prob = g.probs[o];
      const td = el('td', {
        class: g.p0 + p === sel ? 'sel' : '',
        'data-layer': String(l),
        'data-pos': String(g.p0 + p),
        'data-id': String(g.ids[o]),
        'data-prob': String(prob),
        title: Array.from({ length: g.k }, (_, j) => `${show(g.pieces[o + j])} ${(100 * g.probs[o + j]).toFixed(1)}%`).join('\n'),
      });
      td.style.background = `color-mix(in srgb, var(--vscode-charts-blue) ${Math.round(100 * prob)}%, transparent)`;
      td.append(show(g.pieces[o]));
      if (g.targetRank && g.targetProb) {
        td.append(el('span', { class: 'rank', 'data-rank': String(g.targetRank[l * P + p]) }, ` #${g.targetRank[l * P + p] + 1}`));
        td.title += `\n“${form.target}”: rank ${g.targetRank[l * P + p] + 1}, ${(100 * g.targetProb[l * P + p]).toFixed(2)}%`;
      }
      td.addEventListener('click', () => selectToken(g.p0 + p));
      tr.append(td);
    }
    rows.push(tr);
  }
  lensEls.table.replaceChildren(...rows);
}

export function insideRouterSection(): HTMLElement {
  const table = el('table', { id: 'inside-router', class: 'inside-grid' }) as HTMLTableElement;
  const load = el('div', { id: 'inside-router-load' });
  const error = el('div', { class: 'error', role: 'alert' });
  routerEls = { table, load, error };
  return el(
    'div',
    { id: 'inside-router-box' },
    el('h2', {}, 'Mixture-of-experts routing'),
    el('p', { class: 'muted' }, 'The experts each token was sent to at each layer, with their mixing weights, and the router’s entropy over all experts (nats).'),
    error,
    el('div', { class: 'inside-scroll' }, table),
    load,
  );
}

export function refreshRouter(fetch: boolean): void {
  const info = insideInfo();
  if (!routerEls || !info || info.experts === 0) return;
  if (fetch || !routerState.routing) {
    askWorker({ type: 'insideRouter' }, (m) => {
      if (m.type === 'insideError') routerState.error = m.message;
      else routerState.routing = m;
      drawRouter();
    });
  }
  drawRouter();
}

function drawRouter(): void {
  const info = insideInfo();
  const r = routerState.routing;
  if (!routerEls || !info) return;
  routerEls.error.hidden = !routerState.error;
  routerEls.error.textContent = routerState.error ?? '';
  if (!r) return;
  const T = info.tokens.length;
  const E = r.numExperts;
  const k = r.k;
  const L = r.experts.length / (T * k);
  const { p0, p1 } = windowOf();
  const sel = selectedToken();
  const head = el('tr', {}, el('th', {}, 'token'));
  for (let l = 0; l < L; l++) head.append(el('th', {}, `L${l} experts`), el('th', {}, `L${l} entropy`));
  const rows = [head];
  for (let t = p0; t < p1; t++) {
    const tr = el('tr', { class: t === sel ? 'sel' : '' }, el('th', { tabindex: '0' }, `${t} ${show(piece(t))}`));
    tr.addEventListener('click', () => selectToken(t));
    for (let l = 0; l < L; l++) {
      const o = (l * T + t) * k;
      const picks = Array.from({ length: k }, (_, j) => `e${r.experts[o + j]} ${r.weights[o + j].toFixed(2)}`).join(', ');
      let H = 0;
      for (let e = 0; e < E; e++) {
        const p = r.probs[(l * T + t) * E + e];
        if (p > 0) H -= p * Math.log(p);
      }
      tr.append(el('td', { 'data-layer': String(l), 'data-experts': Array.from(r.experts.subarray(o, o + k)).join(',') }, picks), el('td', {}, H.toFixed(3)));
    }
    rows.push(tr);
  }
  routerEls.table.replaceChildren(...rows);
  // load per expert over the whole input: the share of the T·k picks each expert got
  const loads = [];
  for (let l = 0; l < L; l++) {
    const n = new Array(E).fill(0);
    for (let i = 0; i < T * k; i++) n[r.experts[l * T * k + i]]++;
    loads.push(el('p', { class: 'muted', 'data-layer': String(l) }, `Layer ${l} load: ${n.map((c, e) => `e${e} ${((100 * c) / (T * k)).toFixed(0)}%`).join(' · ')}`));
  }
  routerEls.load.replaceChildren(...loads);
}
