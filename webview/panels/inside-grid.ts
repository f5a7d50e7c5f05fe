/**
 * The Inside panel's head grid: every head of every layer as a thumbnail of its attention
 * (rows: layers; columns: heads, a gap between the groups that share a KV head), the
 * selected head outlined, and the words for a head (entropy; shares to the first token, the
 * previous token and itself; its KV head and the query heads sharing it; its window).
 */
import type { HeadSummary, InsideRunInfo } from '../../engine/protocol/index';
import { gridBitmap, type Ramp } from '../inside-draw';

/** Side of one thumbnail (CSS pixels, and the size the worker pools each head to). */
export const THUMB = 32;
const GAP = 4;

interface Thumbs {
  thumbs: Float32Array; // [L, H, THUMB, THUMB]
  summaries: HeadSummary[]; // [L · H]
}

function geometry(info: InsideRunInfo) {
  const group = info.heads / info.kvHeads;
  const x = (h: number) => 28 + h * (THUMB + 2) + Math.floor(h / group) * GAP;
  const y = (l: number) => 16 + l * (THUMB + 2);
  return { x, y, w: x(info.heads - 1) + THUMB + 2, h: y(info.layers - 1) + THUMB + 2 };
}

export function drawHeadGrid(cv: HTMLCanvasElement, info: InsideRunInfo, grid: Thumbs | undefined, layer: number, head: number, ramp: Ramp): void {
  const g = geometry(info);
  cv.width = g.w;
  cv.height = g.h;
  const ctx = cv.getContext('2d')!;
  ctx.clearRect(0, 0, g.w, g.h);
  ctx.fillStyle = `rgb(${ramp.fg.join(',')})`;
  ctx.font = '10px sans-serif';
  for (let h = 0; h < info.heads; h++) ctx.fillText(String(h), g.x(h) + THUMB / 2 - 3, 11);
  for (let l = 0; l < info.layers; l++) ctx.fillText(`L${l}`, 2, g.y(l) + THUMB / 2 + 3);
  if (grid) {
    const n = Math.min(THUMB, info.tokens.length);
    ctx.imageSmoothingEnabled = false;
    for (let l = 0; l < info.layers; l++)
      for (let h = 0; h < info.heads; h++) {
        const o = (l * info.heads + h) * THUMB * THUMB;
        const vals = new Float32Array(n * n); // [n, n]
        for (let r = 0; r < n; r++) vals.set(grid.thumbs.subarray(o + r * THUMB, o + r * THUMB + n), r * n);
        ctx.drawImage(gridBitmap(vals, n, n, ramp), g.x(h), g.y(l), THUMB, THUMB);
      }
  }
  if (head >= 0) {
    ctx.strokeStyle = `rgb(${ramp.hi.join(',')})`;
    ctx.lineWidth = 2;
    ctx.strokeRect(g.x(head) - 1, g.y(layer) - 1, THUMB + 2, THUMB + 2);
  }
}

/** The layer and head under the mouse, if any. */
export function gridHit(cv: HTMLCanvasElement, info: InsideRunInfo, ev: MouseEvent): { l: number; h: number } | undefined {
  const g = geometry(info);
  const rect = cv.getBoundingClientRect();
  const px = ev.clientX - rect.left;
  const py = ev.clientY - rect.top;
  for (let l = 0; l < info.layers; l++) for (let h = 0; h < info.heads; h++) if (px >= g.x(h) && px < g.x(h) + THUMB && py >= g.y(l) && py < g.y(l) + THUMB) return { l, h };
  return undefined;
}

/** One head in words: its summary, its KV head and the query heads sharing it, its window. */
export function headSummaryText(info: InsideRunInfo, grid: Thumbs | undefined, l: number, h: number): string {
  const s = grid?.summaries[l * info.heads + h];
  const group = info.heads / info.kvHeads;
  const kv = Math.floor(h / group);
  const mates = Array.from({ length: group }, (_, i) => kv * group + i).filter((x) => x !== h);
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  const parts = [`Layer ${l}, head ${h}`];
  if (s) {
    parts.push(`entropy ${s.entropy.toFixed(2)} nats`, `BOS ${pct(s.bos)}`, `previous ${pct(s.prev)}`, `itself ${pct(s.self)}`);
    const top = (
      [
        ['the first token', s.bos],
        ['the previous token', s.prev],
        ['itself', s.self],
      ] as const
    ).reduce((a, b) => (b[1] > a[1] ? b : a));
    if (top[1] > 0.5) parts.push(`attends mostly to ${top[0]}`);
  }
  parts.push(mates.length ? `KV head ${kv}, shared with head${mates.length > 1 ? 's' : ''} ${mates.join(', ')}` : `KV head ${kv}`);
  if (info.windows[l]) parts.push(`sliding window ${info.windows[l]}`);
  return parts.join(' · ');
}

/** Which query heads read which KV head. */
export function gqaText(info: InsideRunInfo): string {
  const group = info.heads / info.kvHeads;
  return group > 1
    ? `Grouped-query attention: ${info.heads} query heads read ${info.kvHeads} KV heads, ${group} each (${Array.from({ length: info.kvHeads }, (_, k) => `KV ${k} ← ${k * group}–${k * group + group - 1}`).join(', ')}).`
    : `Every query head has its own KV head (${info.heads} heads).`;
}
