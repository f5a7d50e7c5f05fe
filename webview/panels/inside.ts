/**
 * The Inside panel: one forward of the active model on an input, then what happens inside
 * it. A grid of every head of every layer (thumbnails, with entropy and BOS / previous /
 * self shares; query heads sharing a KV head grouped); one head's (or the mean / max over
 * heads) token × token heatmap on a canvas with pan and zoom, its rows computed by the
 * worker from the kept queries and keys for the part on screen; hovering a cell names the
 * query, the key and the probability; the logit lens (layer × position top-1 pieces
 * coloured by probability, the rank of a named token); for mixture-of-experts models the
 * router's choices, expert load and router entropy; the attention rollout beside mean / max
 * over heads; the flash kernel's online softmax of one row (inside-flash.ts). A token picked in any view is
 * selected in all of them. The heatmap exports as PNG and its values as CSV / JSON, saved
 * through the host's save dialog.
 */
import type { InsideRunInfo, ReplyOf } from '../../engine/protocol/index';
import { button, el } from '../dom';
import { askWorker } from '../engine';
import { getState, setState } from '../host';
import { activeSummary, initModels, modelsState, onModelsState } from '../models';
import { drawMasks, gridBitmap, themeRamp, type Ramp, type View } from '../inside-draw';
import { insideLensSection, insideRouterSection, lensState, refreshLens, refreshRouter, routerState } from './inside-lens';
import { drawHeadGrid, gqaText, gridHit, headSummaryText, THUMB } from './inside-grid';
import { insideExportRow } from './inside-export-row';
import { insideFlashSection, refreshFlash, syncFlash } from './inside-flash';
import { insideRopeSection, refreshRope } from './inside-rope';
import type { Panel } from './panel';

/** Canvas side of the heatmap, in CSS pixels. */
export const HEATMAP_PX = 480;

interface Form {
  text: string;
  layer: number;
  /** A head, or -1 the mean over heads, -2 the max, -3 the attention rollout through the layer. */
  head: number;
  view?: View;
  /** The token picked in any view (linked selection). */
  selected?: number;
}

const form: Form = { text: 'Once upon a time, there was a little girl named Lily.', layer: 0, head: 0, ...(getState<Form>('inside') ?? {}) };
const save = () => setState('inside', form);

/** What the last run produced (the worker keeps the arrays; this is the panel's copy of the answers). */
export interface InsideData {
  info?: InsideRunInfo;
  modelId?: string;
  running: boolean;
  error?: string;
  grid?: ReplyOf<'insideHeads'> & { type: 'insideHeadGrid' };
  tile?: ReplyOf<'insideTile'> & { type: 'insideTileData' };
  tileBitmap?: HTMLCanvasElement;
  /** Selected token: the keys it attends to most and the queries attending to it most. */
  attendsTo?: { index: number; p: number }[];
  attendedBy?: { index: number; p: number }[];
  /** Milliseconds from the tile request to its paint, for the bench. */
  lastPaintMs?: number;
}

export const data: InsideData = { running: false };
let els:
  | {
      empty: HTMLElement;
      body: HTMLElement;
      text: HTMLTextAreaElement;
      go: HTMLElement;
      why: HTMLElement;
      status: HTMLElement;
      error: HTMLElement;
      grid: HTMLCanvasElement;
      gqa: HTMLElement;
      headLine: HTMLElement;
      layerSel: HTMLSelectElement;
      headSel: HTMLSelectElement;
      heat: HTMLCanvasElement;
      readout: HTMLElement;
      links: HTMLElement;
      lens: HTMLElement;
      router: HTMLElement;
    }
  | undefined;
let root: HTMLElement | undefined;
let ramp: Ramp | undefined;
let hover: { r: number; c: number } | undefined;
let tileWanted = 0;

const piece = (i: number) => data.info?.tokens[i]?.piece ?? String(i);
const T = () => data.info?.tokens.length ?? 0;

/** Why Run cannot start now (undefined: it can). */
export function runBlocked(): string | undefined {
  const m = activeSummary();
  const load = modelsState().load;
  if (!m) return 'No model is active.';
  if (data.running) return 'Running the forward pass…';
  if (!m.load) return `${m.name} cannot run: ${m.problem?.message ?? 'it cannot be used'}.`;
  if (load.modelId !== m.id || load.phase === 'idle') return `${m.name} is not loaded yet (see the Model tab).`;
  if (load.phase === 'loading') return `${m.name} is loading (see the Model tab).`;
  if (load.phase === 'error') return `${m.name} could not be loaded: ${load.message ?? 'see the Model tab'}.`;
  if (!form.text.trim()) return 'Type an input first.';
  return undefined;
}

function run(): void {
  if (runBlocked()) return refresh();
  data.running = true;
  data.error = undefined;
  const modelId = activeSummary()?.id;
  const id = askWorker({ type: 'insideRun', text: form.text }, (m) => {
    data.running = false;
    if (m.type === 'insideError') {
      data.error = m.message;
      data.info = undefined;
      return refresh();
    }
    const { type: _t, id: _i, ...info } = m;
    data.info = info;
    data.modelId = modelId;
    data.grid = data.tile = data.tileBitmap = data.attendsTo = data.attendedBy = undefined;
    lensState.grid = routerState.routing = undefined;
    form.layer = Math.min(form.layer, info.layers - 1);
    form.head = Math.min(form.head, info.heads - 1);
    if (form.selected !== undefined && form.selected >= info.tokens.length) form.selected = undefined;
    form.view = { row0: 0, col0: 0, span: Math.min(info.tokens.length, 4096) };
    save();
    askWorker({ type: 'insideHeads', size: THUMB }, (g) => {
      if (g.type === 'insideHeadGrid') data.grid = g;
      else data.error = g.message;
      drawGrid();
    });
    requestTile();
    refreshLens(true);
    refreshRouter(true);
    syncFlash(true);
    refresh();
  });
  if (id === undefined) {
    data.running = false;
    data.error = 'The engine worker is not running.';
  }
  refresh();
}

// ------------------------------------------------------------------ head grid

function drawGrid(): void {
  if (!els || !data.info) return;
  ramp ??= themeRamp();
  drawHeadGrid(els.grid, data.info, data.grid, form.layer, form.head, ramp);
  els.headLine.textContent =
    form.head >= 0
      ? headSummaryText(data.info, data.grid, form.layer, form.head)
      : form.head === -3
        ? `Attention rollout through layers 0–${form.layer}: how much of each input token reaches each position (per layer ½·mean over heads + ½·identity, rows renormalised, multiplied).`
        : `Layer ${form.layer}, ${form.head === -1 ? 'mean' : 'max'} over ${data.info.heads} heads`;
  els.gqa.textContent = gqaText(data.info);
}

function pick(l: number, h: number): void {
  form.layer = l;
  form.head = h;
  save();
  drawGrid();
  syncSelects();
  requestTile();
  requestLinks();
  refreshFlash();
}

// ------------------------------------------------------------------ heatmap

function clampView(v: View): View {
  const n = T();
  const span = Math.max(1, Math.min(n, Math.round(v.span)));
  const lim = (x: number) => Math.max(0, Math.min(n - span, Math.round(x)));
  return { row0: lim(v.row0), col0: lim(v.col0), span };
}

/** Asks for the tile on screen; until it comes, the last one is drawn moved and scaled. */
export function requestTile(): void {
  if (!data.info || !form.view) return;
  const v = (form.view = clampView(form.view));
  const n = Math.min(HEATMAP_PX, v.span);
  const want = ++tileWanted;
  const t0 = performance.now();
  askWorker({ type: 'insideTile', layer: form.layer, head: form.head, r0: v.row0, r1: v.row0 + v.span, c0: v.col0, c1: v.col0 + v.span, rows: n, cols: n }, (m) => {
    if (want !== tileWanted) return;
    if (m.type === 'insideError') {
      data.error = m.message;
      return refresh();
    }
    data.tile = m;
    if (data.error && data.info) {
      // a tile came: an earlier tile's error (the rollout's token limit) no longer applies
      data.error = undefined;
      refresh();
    }
    ramp ??= themeRamp();
    data.tileBitmap = gridBitmap(m.values, m.rows, m.cols, ramp);
    drawHeat();
    data.lastPaintMs = performance.now() - t0;
    els?.heat.setAttribute('data-paint-ms', data.lastPaintMs.toFixed(1));
  });
  drawHeat();
}

/** Draws the heatmap: the last tile placed where its cells are in the current view, masks, hover and selection. */
export function drawHeat(): void {
  if (!els || !data.info || !form.view) return;
  const ctx = els.heat.getContext('2d')!;
  const v = form.view;
  const s = HEATMAP_PX / v.span;
  ramp ??= themeRamp();
  ctx.fillStyle = `rgb(${ramp.bg.join(',')})`;
  ctx.fillRect(0, 0, HEATMAP_PX, HEATMAP_PX);
  const t = data.tile;
  if (t && data.tileBitmap && t.layer === form.layer && t.head === form.head) {
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(data.tileBitmap, (t.c0 - v.col0) * s, (t.r0 - v.row0) * s, (t.c1 - t.c0) * s, (t.r1 - t.r0) * s);
  }
  drawMasks(ctx, v, HEATMAP_PX, data.info.windows[form.layer], ramp);
  ctx.strokeStyle = `rgb(${ramp.fg.join(',')})`;
  ctx.lineWidth = 1;
  const mark = form.selected ?? hover?.r;
  if (mark !== undefined) {
    ctx.strokeRect(0, (mark - v.row0) * s, HEATMAP_PX, Math.max(1, s)); // what it attends to: its row
    ctx.strokeRect((mark - v.col0) * s, 0, Math.max(1, s), HEATMAP_PX); // what attends to it: its column
  }
  if (hover) {
    ctx.strokeStyle = `rgb(${ramp.hi.join(',')})`;
    ctx.strokeRect((hover.c - v.col0) * s, (hover.r - v.row0) * s, Math.max(2, s), Math.max(2, s));
  }
}

/** The value shown for a cell: exact from the tile at full resolution, else the block's max. */
export function cellValue(r: number, c: number): { value: number; exact: boolean } | undefined {
  const t = data.tile;
  if (!t || t.layer !== form.layer || t.head !== form.head || r < t.r0 || r >= t.r1 || c < t.c0 || c >= t.c1) return undefined;
  const gr = Math.floor(((r - t.r0) * t.rows) / (t.r1 - t.r0));
  const gc = Math.floor(((c - t.c0) * t.cols) / (t.c1 - t.c0));
  return { value: t.values[gr * t.cols + gc], exact: t.exact && t.rows === t.r1 - t.r0 && t.cols === t.c1 - t.c0 };
}

function onHeatMove(ev: MouseEvent): void {
  if (!els || !form.view) return;
  const rect = els.heat.getBoundingClientRect();
  const v = form.view;
  const r = v.row0 + Math.floor(((ev.clientY - rect.top) / rect.height) * v.span);
  const c = v.col0 + Math.floor(((ev.clientX - rect.left) / rect.width) * v.span);
  if (drag) {
    const dx = ((ev.clientX - drag.x) / rect.width) * v.span;
    const dy = ((ev.clientY - drag.y) / rect.height) * v.span;
    form.view = clampView({ ...drag.view, col0: drag.view.col0 - dx, row0: drag.view.row0 - dy });
    drawHeat();
    scheduleTile();
    return;
  }
  hover = { r, c };
  showReadout();
  drawHeat();
}

function showReadout(): void {
  if (!els || !hover) return;
  const { r, c } = hover;
  const cell = cellValue(r, c);
  const d = els.readout.dataset;
  d.row = String(r);
  d.col = String(c);
  if (c > r || (data.info!.windows[form.layer] && c <= r - data.info!.windows[form.layer])) {
    els.readout.textContent = `“${piece(r)}” (${r}) cannot see “${piece(c)}” (${c}): masked`;
    d.value = '0';
  } else if (cell) {
    const what = form.head === -3 ? 'rollout share' : 'p';
    els.readout.textContent = `“${piece(r)}” (${r}) → “${piece(c)}” (${c}): ${cell.exact ? what : `max ${what} in this block`} = ${cell.value.toFixed(4)}`;
    d.value = String(cell.value);
    d.exact = String(cell.exact);
  }
}

let drag: { x: number; y: number; view: View } | undefined;
let tileTimer: number | undefined;
function scheduleTile(): void {
  if (tileTimer !== undefined) return;
  tileTimer = window.setTimeout(() => {
    tileTimer = undefined;
    requestTile();
  }, 30);
}

/** Zooms by `factor` (< 1 in) around the cell at fractions (fx, fy) of the canvas. */
export function zoom(factor: number, fx = 0.5, fy = 0.5): void {
  if (!form.view) return;
  const v = form.view;
  const span = Math.max(4, Math.min(T(), v.span * factor));
  form.view = clampView({ span, row0: v.row0 + fy * (v.span - span), col0: v.col0 + fx * (v.span - span) });
  save();
  drawHeat();
  scheduleTile();
}

/** Pans by (dx, dy) cells. */
export function pan(dx: number, dy: number): void {
  if (!form.view) return;
  form.view = clampView({ ...form.view, col0: form.view.col0 + dx, row0: form.view.row0 + dy });
  save();
  drawHeat();
  scheduleTile();
}

/** Selects a token in every view: its row and column here, its column in the lens, its row in the router view. */
export function selectToken(i: number | undefined): void {
  form.selected = i;
  save();
  drawHeat();
  requestLinks();
  refreshLens(false);
  refreshRouter(false);
  syncFlash(false);
}

export function selectedToken(): number | undefined {
  return form.selected;
}

/** The layer and head selection the heatmap shows. */
export function currentHead(): { layer: number; head: number } {
  return { layer: form.layer, head: form.head };
}

/** The selected token's strongest keys (its row) and strongest queries (its column). */
function requestLinks(): void {
  const i = form.selected;
  data.attendsTo = data.attendedBy = undefined;
  showLinks();
  if (i === undefined || !data.info) return;
  const n = T();
  const top = (vals: Float32Array, off: number) =>
    Array.from(vals, (p, k) => ({ index: off + k, p }))
      .sort((a, b) => b.p - a.p)
      .slice(0, 5);
  askWorker({ type: 'insideTile', layer: form.layer, head: form.head, r0: i, r1: i + 1, c0: 0, c1: n, rows: 1, cols: n }, (m) => {
    if (m.type === 'insideTileData') data.attendsTo = top(m.values, 0);
    showLinks();
  });
  askWorker({ type: 'insideTile', layer: form.layer, head: form.head, r0: i, r1: n, c0: i, c1: i + 1, rows: n - i, cols: 1 }, (m) => {
    if (m.type === 'insideTileData') data.attendedBy = top(m.values, i);
    showLinks();
  });
}

function showLinks(): void {
  if (!els) return;
  const i = form.selected;
  if (i === undefined || !data.info) {
    els.links.textContent = 'Click a cell or a token to see what it attends to and what attends to it.';
    return;
  }
  const fmt = (xs?: { index: number; p: number }[]) => (xs ? xs.map((x) => `“${piece(x.index)}” (${x.index}) ${x.p.toFixed(3)}`).join(', ') : '…');
  els.links.textContent = `Token ${i} “${piece(i)}” attends to ${fmt(data.attendsTo)}. Attended to by ${fmt(data.attendedBy)}.`;
}

// ------------------------------------------------------------------ the panel

function syncSelects(): void {
  if (!els || !data.info) return;
  const info = data.info;
  if (els.layerSel.options.length !== info.layers) els.layerSel.replaceChildren(...Array.from({ length: info.layers }, (_, l) => el('option', { value: String(l) }, `Layer ${l}`)));
  if (els.headSel.options.length !== info.heads + 3) {
    els.headSel.replaceChildren(
      ...Array.from({ length: info.heads }, (_, h) => el('option', { value: String(h) }, `Head ${h} (KV ${Math.floor(h / (info.heads / info.kvHeads))})`)),
      el('option', { value: '-1' }, 'Mean over heads'),
      el('option', { value: '-2' }, 'Max over heads'),
      el('option', { value: '-3' }, 'Attention rollout (layers 0 to this one)'),
    );
  }
  els.layerSel.value = String(form.layer);
  els.headSel.value = String(form.head);
}

function build(): HTMLElement {
  const box = el('section', { id: 'inside', 'aria-labelledby': 'inside-h' });
  box.append(el('h2', { id: 'inside-h' }, 'Inside the forward pass'));
  const empty = el(
    'div',
    { id: 'inside-empty', class: 'empty' },
    el('p', {}, 'No model is active. Choose one in the Models view; the Inside tab runs it on your input and shows each head.'),
  );
  const text = el('textarea', {
    id: 'inside-text',
    rows: '3',
    'aria-label': 'Input',
    placeholder: 'Text to run the model on (token ids, comma-separated, for a model without a tokenizer)',
  }) as HTMLTextAreaElement;
  text.value = form.text;
  text.addEventListener('input', () => {
    form.text = text.value;
    save();
    refresh();
  });
  const go = button('Run', 'play', run, false);
  go.id = 'inside-run';
  const why = el('span', { id: 'inside-why', class: 'why', 'aria-live': 'polite' });
  const status = el('p', { id: 'inside-status', class: 'muted' });
  const error = el('div', { id: 'inside-error', class: 'error', role: 'alert' });
  const grid = el('canvas', { id: 'inside-grid', tabindex: '0', 'aria-label': 'All heads of all layers: arrow keys move, Enter opens the head' }) as HTMLCanvasElement;
  grid.addEventListener('click', (ev) => {
    const hit = data.info && gridHit(grid, data.info, ev);
    if (hit) pick(hit.l, hit.h);
  });
  grid.addEventListener('mousemove', (ev) => {
    const hit = data.info && gridHit(grid, data.info, ev);
    grid.title = hit && data.info ? headSummaryText(data.info, data.grid, hit.l, hit.h) : '';
  });
  grid.addEventListener('keydown', (ev) => {
    if (!data.info) return;
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const m = moves[ev.key];
    if (!m) return;
    ev.preventDefault();
    const h = Math.max(0, form.head);
    pick(Math.max(0, Math.min(data.info.layers - 1, form.layer + m[0])), Math.max(0, Math.min(data.info.heads - 1, h + m[1])));
  });
  const layerSel = el('select', { id: 'inside-layer', 'aria-label': 'Layer' }) as HTMLSelectElement;
  const headSel = el('select', { id: 'inside-head', 'aria-label': 'Head' }) as HTMLSelectElement;
  layerSel.addEventListener('change', () => pick(Number(layerSel.value), form.head));
  headSel.addEventListener('change', () => pick(form.layer, Number(headSel.value)));
  const heat = el('canvas', {
    id: 'inside-heat',
    width: String(HEATMAP_PX),
    height: String(HEATMAP_PX),
    tabindex: '0',
    'aria-label': 'Attention heatmap: arrows pan, + and - zoom',
  }) as HTMLCanvasElement;
  heat.style.width = heat.style.height = `${HEATMAP_PX}px`;
  heat.addEventListener('mousemove', onHeatMove);
  heat.addEventListener('mouseleave', () => {
    hover = undefined;
    drag = undefined;
    drawHeat();
  });
  heat.addEventListener('mousedown', (ev) => {
    if (form.view) drag = { x: ev.clientX, y: ev.clientY, view: { ...form.view } };
  });
  heat.addEventListener('mouseup', (ev) => {
    const moved = drag && Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 3;
    drag = undefined;
    if (!moved && hover) selectToken(hover.r);
  });
  heat.addEventListener(
    'wheel',
    (ev) => {
      ev.preventDefault();
      const rect = heat.getBoundingClientRect();
      zoom(ev.deltaY > 0 ? 1.25 : 0.8, (ev.clientX - rect.left) / rect.width, (ev.clientY - rect.top) / rect.height);
    },
    { passive: false },
  );
  heat.addEventListener('keydown', (ev) => {
    const step = Math.max(1, Math.round((form.view?.span ?? 8) / 8));
    const keys: Record<string, () => void> = {
      ArrowLeft: () => pan(-step, 0),
      ArrowRight: () => pan(step, 0),
      ArrowUp: () => pan(0, -step),
      ArrowDown: () => pan(0, step),
      '+': () => zoom(0.8),
      '=': () => zoom(0.8),
      '-': () => zoom(1.25),
    };
    const f = keys[ev.key];
    if (f) {
      ev.preventDefault();
      f();
    }
  });
  const readout = el('p', { id: 'inside-readout', class: 'muted', 'aria-live': 'polite' }, 'Hover a cell for its probability.');
  const links = el('p', { id: 'inside-links', class: 'muted' });
  const gqa = el('p', { id: 'inside-gqa', class: 'muted' });
  const headLine = el('p', { id: 'inside-head-line' });
  const lens = insideLensSection();
  const router = insideRouterSection();
  const rope = insideRopeSection();
  const flash = insideFlashSection();
  const body = el(
    'div',
    { id: 'inside-body' },
    el('label', { for: 'inside-text', class: 'field' }, 'Input'),
    text,
    el('div', { class: 'row' }, go, why),
    status,
    error,
    el('h2', {}, 'Heads'),
    el('p', { class: 'muted' }, 'Every head of every layer (rows: layers; columns: heads, grouped by the KV head they share). Click one to open it.'),
    grid,
    gqa,
    el('h2', {}, 'Attention'),
    el(
      'div',
      { class: 'row' },
      layerSel,
      headSel,
      button('Zoom in', 'zoom-in', () => zoom(0.5)),
      button('Zoom out', 'zoom-out', () => zoom(2)),
      button('Fit', 'screen-full', () => {
        form.view = { row0: 0, col0: 0, span: T() };
        requestTile();
      }),
    ),
    insideExportRow(heat),
    headLine,
    heat,
    readout,
    links,
    lens,
    router,
    flash,
    rope,
  );
  box.append(empty, body);
  els = { empty, body, text, go, why, status, error, grid, gqa, headLine, layerSel, headSel, heat, readout, links, lens, router };
  return box;
}

function refresh(): void {
  if (!els) return;
  const m = activeSummary();
  els.empty.hidden = !!m;
  els.body.hidden = !m;
  if (data.info && m && data.modelId !== m.id) {
    // another model's internals would read as this one's
    data.info = data.grid = data.tile = undefined;
  }
  const blocked = runBlocked();
  if (blocked) els.go.setAttribute('disabled', '');
  else els.go.removeAttribute('disabled');
  els.why.textContent = blocked ?? '';
  els.error.hidden = !data.error;
  els.error.textContent = data.error ?? '';
  const info = data.info;
  for (const e of [els.grid, els.heat, els.lens, els.router, els.layerSel, els.headSel]) e.hidden = !info;
  if (!info) {
    refreshRope(undefined, 0);
    refreshFlash();
    els.status.textContent = data.running ? 'Running…' : 'Run the model on an input to see inside it.';
    return;
  }
  els.status.textContent = `${info.tokens.length} tokens · ${info.layers} layers × ${info.heads} heads (${info.kvHeads} KV heads, head dim ${info.headDim}) · ${info.backend} · forward ${info.forwardMs} ms · the worker keeps ${(info.keptBytes / 1048576).toFixed(1)} MiB for these views`;
  els.status.dataset.tokens = String(info.tokens.length);
  els.router.hidden = info.experts === 0;
  refreshRope(info, info.headDim);
  refreshFlash();
  syncSelects();
  drawGrid();
  drawHeat();
  showLinks();
}

export function insideInfo(): InsideRunInfo | undefined {
  return data.info;
}

export const insidePanel: Panel = {
  id: 'inside',
  title: 'Inside',
  init(rerender) {
    initModels();
    onModelsState(() => {
      if (!root) rerender();
      else refresh();
    });
  },
  render(): HTMLElement {
    root ??= build();
    refresh();
    return root;
  },
};
