/**
 * The Inside panel's flash attention view: for one query row of the open head, the flash
 * kernel's walk over key tiles (each tile's max, the running max, the correction that
 * rescales the running sum, the running sum), then the row it ends with beside the naive
 * softmax, and both paths measured by the worker over every row of the head on this input
 * (the bytes of scores each holds, the median time).
 */
import type { ReplyOf } from '../../engine/protocol/index';
import { button, el } from '../dom';
import { askWorker } from '../engine';
import { currentHead, insideInfo, selectedToken } from './inside';

/** Most keys listed beside each other (the row's last ones). */
const MAX_KEYS = 48;

export const flashState: { trace?: ReplyOf<'insideFlash'> & { type: 'insideFlashTrace' }; error?: string; busy: boolean } = { busy: false };

let els:
  | {
      box: HTMLElement;
      row: HTMLInputElement;
      go: HTMLElement;
      why: HTMLElement;
      note: HTMLElement;
      tiles: HTMLTableElement;
      rows: HTMLTableElement;
      measured: HTMLElement;
      error: HTMLElement;
    }
  | undefined;

const fmt = (x: number | null, d = 4) => (x === null ? '−∞' : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : x.toFixed(d));
const bytes = (b: number) => (b >= 1048576 ? `${(b / 1048576).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`);

/** Why the trace cannot run now (undefined: it can). */
function blocked(): string | undefined {
  const info = insideInfo();
  if (!info) return 'Run the model first.';
  if (currentHead().head < 0) return 'Choose one head above: the flash kernel runs per head.';
  if (flashState.busy) return 'Measuring…';
  const r = Number(els?.row.value);
  if (!Number.isInteger(r) || r < 0 || r >= info.tokens.length) return `The query row must be an integer in [0, ${info.tokens.length - 1}].`;
  return undefined;
}

function trace(): void {
  if (!els || blocked()) return refreshFlash();
  const { layer, head } = currentHead();
  flashState.busy = true;
  flashState.error = undefined;
  askWorker({ type: 'insideFlash', layer, head, row: Number(els.row.value) }, (m) => {
    flashState.busy = false;
    if (m.type === 'insideError') {
      flashState.error = m.message;
      flashState.trace = undefined;
    } else flashState.trace = m;
    refreshFlash();
  });
  refreshFlash();
}

export function insideFlashSection(): HTMLElement {
  const row = el('input', { id: 'inside-flash-row', type: 'number', min: '0', step: '1', 'aria-label': 'Query row' }) as HTMLInputElement;
  row.addEventListener('input', () => refreshFlash());
  row.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') trace();
  });
  const go = button('Trace row', 'debug-step-into', trace, false);
  go.id = 'inside-flash-go';
  const why = el('span', { id: 'inside-flash-why', class: 'why', 'aria-live': 'polite' });
  const note = el('p', { id: 'inside-flash-note', class: 'muted' });
  const tiles = el('table', { id: 'inside-flash-tiles', class: 'inside-grid' }) as HTMLTableElement;
  const rows = el('table', { id: 'inside-flash-rows', class: 'inside-grid' }) as HTMLTableElement;
  const measured = el('p', { id: 'inside-flash-measured' });
  const error = el('div', { class: 'error', role: 'alert' });
  const box = el(
    'div',
    { id: 'inside-flash-box' },
    el('h2', {}, 'Flash attention'),
    el(
      'p',
      { class: 'muted' },
      'The prefill kernel never holds a row’s scores at once: it walks the keys in tiles, keeping a running max m and a running sum l of exp(score − m); when a tile raises m, l is rescaled by exp(m_old − m). After the last tile, p = exp(score − m) / l is the naive softmax.',
    ),
    el('div', { class: 'row' }, el('label', { class: 'field', for: 'inside-flash-row' }, 'Query row'), row, go, why),
    error,
    note,
    el('div', { class: 'inside-scroll' }, tiles),
    el('div', { class: 'inside-scroll' }, rows),
    measured,
  );
  els = { box, row, go, why, note, tiles, rows, measured, error };
  return box;
}

/** A new run or a new selection: point the row at the selected token (or the last one), and trace again if a trace was shown. */
export function syncFlash(fetch: boolean): void {
  const info = insideInfo();
  if (!els || !info) return;
  const sel = selectedToken();
  els.row.max = String(info.tokens.length - 1);
  const want = sel ?? Math.min(Number(els.row.value) || info.tokens.length - 1, info.tokens.length - 1);
  if (fetch) flashState.trace = undefined;
  els.row.value = String(want);
  if (!fetch && flashState.trace && flashState.trace.row !== want) trace();
  refreshFlash();
}

export function refreshFlash(): void {
  const info = insideInfo();
  if (!els) return;
  els.box.hidden = !info;
  const why = blocked();
  if (why) els.go.setAttribute('disabled', '');
  else els.go.removeAttribute('disabled');
  els.why.textContent = why ?? '';
  els.error.hidden = !flashState.error;
  els.error.textContent = flashState.error ?? '';
  const t = flashState.trace;
  const { layer, head } = currentHead();
  if (!info || !t || t.layer !== layer || t.head !== head) {
    els.note.textContent = info ? 'Pick a row (or click a token) and Trace row.' : '';
    els.tiles.replaceChildren();
    els.rows.replaceChildren();
    els.measured.textContent = '';
    return;
  }
  const T = info.tokens.length;
  const piece = (i: number) => info.tokens[i]?.piece ?? String(i);
  els.note.textContent = `Layer ${t.layer}, head ${t.head}, query row ${t.row} “${piece(t.row)}”: its workgroup holds query rows ${t.q0}–${t.q1 - 1} (BQ = ${t.BQ}) and walks keys in tiles of BK = ${t.BK}.`;
  const th = (...cells: string[]) => el('tr', {}, ...cells.map((c) => el('th', {}, c)));
  els.tiles.replaceChildren(
    th('tile', 'keys', 'tile max', 'running max m', 'rescale exp(m_old − m)', 'running sum l'),
    ...t.tiles.map((s, i) =>
      el(
        'tr',
        { 'data-tile': String(i), 'data-k0': String(s.k0), 'data-k1': String(s.k1), 'data-running-max': String(s.runningMax), 'data-running-sum': String(s.runningSum) },
        el('td', {}, String(i)),
        el('td', {}, `${s.k0}–${s.k1 - 1}`),
        el('td', {}, s.tileMax === null ? 'masked' : fmt(s.tileMax)),
        el('td', {}, fmt(s.runningMax)),
        el('td', {}, i === 0 ? '—' : fmt(s.correction)),
        el('td', {}, fmt(s.runningSum)),
      ),
    ),
  );
  let diff = 0;
  for (let j = 0; j < T; j++) diff = Math.max(diff, Math.abs(t.flash[j] - t.naive[j]));
  const j0 = Math.max(0, t.row + 1 - MAX_KEYS);
  const keys = Array.from({ length: t.row + 1 - j0 }, (_, i) => j0 + i);
  els.rows.dataset.maxDiff = String(diff);
  els.rows.replaceChildren(
    el('tr', {}, el('th', {}, 'key'), ...keys.map((j) => el('th', { title: `position ${j}` }, piece(j)))),
    el('tr', {}, el('th', {}, 'online (flash)'), ...keys.map((j) => el('td', { 'data-key': String(j), 'data-p': String(t.flash[j]) }, t.flash[j].toFixed(4)))),
    el('tr', {}, el('th', {}, 'naive softmax'), ...keys.map((j) => el('td', { 'data-key': String(j), 'data-p': String(t.naive[j]) }, t.naive[j].toFixed(4)))),
  );
  els.measured.dataset.naiveBytes = String(t.naiveBytes);
  els.measured.dataset.tiledBytes = String(t.tiledBytes);
  els.measured.textContent =
    `Max |online − naive| over the row: ${diff.toExponential(2)}${j0 > 0 ? ` (keys ${j0}–${t.row} listed)` : ''}. ` +
    `Measured in the worker over all ${T} rows of this head on this input (CPU, median of 3): naive, ${T} × ${T} scores held = ${bytes(t.naiveBytes)}, ${t.naiveMs.toFixed(2)} ms; ` +
    `tiled, one ${t.BQ} × ${t.BK} tile and ${t.BQ} running maxima and sums = ${bytes(t.tiledBytes)}, ${t.tiledMs.toFixed(2)} ms. Rows’ log-sum-exp agree to ${t.lseDiff.toExponential(1)}.`;
}
