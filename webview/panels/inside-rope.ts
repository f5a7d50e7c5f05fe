/**
 * The Inside panel's RoPE view: the rotation angle of every position of the input and every
 * frequency pair (cos of the angle, as a picture: fast pairs on the left stripe quickly,
 * slow pairs on the right barely turn), and the wavelength of each pair under the model's
 * own scaling and the default, linear, dynamic-NTK and Llama-3 scalings side by side. Pairs
 * whose wavelength is longer than the trained context never made a full turn in training;
 * the scalings stretch exactly those.
 */
import type { InsideRunInfo } from '../../engine/protocol/index';
import { ropeAngles, ropeScalings, type RopeConfigView } from '../../engine/model/rope-view';
import { el } from '../dom';
import { gridBitmap, themeRamp } from '../inside-draw';

/** Most positions drawn in the angle picture. */
const MAX_ROWS = 512;
/** The picture is at least this wide and tall (CSS pixels), short inputs and few pairs scaled up. */
const MIN_PX = 256;

let els: { box: HTMLElement; canvas: HTMLCanvasElement; table: HTMLTableElement; note: HTMLElement } | undefined;

export function insideRopeSection(): HTMLElement {
  const canvas = el('canvas', { id: 'inside-rope-angles', 'aria-label': 'cos(position × frequency) for each position (rows) and frequency pair (columns)' }) as HTMLCanvasElement;
  const table = el('table', { id: 'inside-rope', class: 'inside-grid' }) as HTMLTableElement;
  const note = el('p', { class: 'muted', id: 'inside-rope-note' });
  const box = el(
    'div',
    { id: 'inside-rope-box' },
    el('h2', {}, 'RoPE'),
    el('p', { class: 'muted' }, 'cos of the rotation angle, position × frequency, for each input position (rows) and frequency pair (columns: fastest on the left).'),
    canvas,
    note,
    el('div', { class: 'inside-scroll' }, table),
  );
  els = { box, canvas, table, note };
  return box;
}

export function refreshRope(info: InsideRunInfo | undefined, headDim: number): void {
  if (!els) return;
  els.box.hidden = !info?.rope;
  if (!info?.rope) return;
  const c: RopeConfigView = { theta: info.rope.theta, headDim, maxPositions: info.rope.maxPositions, scaling: info.rope.scaling };
  const T = Math.min(info.tokens.length, MAX_ROWS);
  const half = headDim >> 1;
  const angles = ropeAngles(c, 0, T); // [T, hd/2]
  const shade = angles.map((a) => (Math.cos(a) + 1) / 2);
  const w = half * Math.max(1, Math.ceil(MIN_PX / half));
  const h = T * Math.max(1, Math.ceil(MIN_PX / T));
  els.canvas.width = w;
  els.canvas.height = h;
  const ctx = els.canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(gridBitmap(shade, T, half, themeRamp()), 0, 0, w, h);
  const seqLen = 2 * c.maxPositions;
  const rows = ropeScalings(c, seqLen);
  const step = Math.max(1, Math.ceil(half / 16));
  const pairs = Array.from({ length: Math.ceil(half / step) }, (_, k) => k * step);
  const head = el('tr', {}, el('th', {}, 'wavelength (tokens) \\ pair'), ...pairs.map((i) => el('th', {}, String(i))));
  const body = rows.map((r, v) =>
    el(
      'tr',
      {},
      el('th', {}, r.label),
      ...pairs.map((i) => {
        const w = r.wavelengths[i];
        const td = el('td', { 'data-variant': String(v), 'data-pair': String(i), 'data-wavelength': String(w) }, w < 1e4 ? w.toFixed(1) : w.toExponential(1));
        if (w > c.maxPositions) td.classList.add('long');
        return td;
      }),
    ),
  );
  els.table.replaceChildren(head, ...body);
  const longPairs = rows[0].wavelengths.filter((w) => w > c.maxPositions).length;
  els.note.textContent = `theta ${c.theta}, ${half} pairs, trained context ${c.maxPositions}. ${longPairs} of ${half} pairs turn less than once within the trained context (marked): past position ${c.maxPositions} they reach angles never seen in training. Linear scaling slows every pair, dynamic NTK raises theta once the input outgrows the context, Llama-3 slows only the slow pairs.`;
}
