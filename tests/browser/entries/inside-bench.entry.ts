/**
 * The Inside bench's page: runs the worker's forward on a 4,096-token input, then times
 * what the panel does — the first paint of a head's heatmap (tile request → worker rows →
 * bitmap → canvas), a zoomed-in tile, and pan/zoom frames that redraw the last tile moved
 * and scaled with the masks (webview/inside-draw.ts) — and reports the bytes the worker keeps.
 */
import { drawMasks, gridBitmap, themeRamp, type View } from '../../../webview/inside-draw';

const PX = 480;
const T = 4096;

interface Reply {
  type: string;
  [k: string]: unknown;
}

const worker = new Worker('/inside-worker.js');
let nextId = 1;
function ask(msg: Record<string, unknown>): Promise<Reply> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const on = (ev: MessageEvent<Reply>) => {
      if (ev.data.id !== id) return;
      worker.removeEventListener('message', on);
      if (ev.data.type === 'insideError') reject(new Error(String(ev.data.message)));
      else resolve(ev.data);
    };
    worker.addEventListener('message', on);
    worker.postMessage({ ...msg, id });
  });
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<Record<string, unknown>> {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = PX;
  document.body.append(canvas);
  const ctx = canvas.getContext('2d')!;
  const ramp = themeRamp();
  let x = 7;
  const ids = Array.from({ length: T }, () => (x = (x * 1103515245 + 12345) % 2 ** 31) % 512);
  const t0 = performance.now();
  const info = await ask({ type: 'insideRun', text: ids.join(',') });
  const runMs = performance.now() - t0;

  /** Tile request → bitmap → drawn: the time to a painted heatmap. */
  async function paint(v: View, layer: number, head: number): Promise<{ ms: number; bitmap: HTMLCanvasElement; tile: Reply }> {
    const s = performance.now();
    const n = Math.min(PX, v.span);
    const tile = await ask({ type: 'insideTile', layer, head, r0: v.row0, r1: v.row0 + v.span, c0: v.col0, c1: v.col0 + v.span, rows: n, cols: n });
    const bitmap = gridBitmap(tile.values as Float32Array, tile.rows as number, tile.cols as number, ramp);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(bitmap, 0, 0, PX, PX);
    drawMasks(ctx, v, PX, 0, ramp);
    ctx.getImageData(0, 0, 1, 1); // waits for the raster
    return { ms: performance.now() - s, bitmap, tile };
  }

  const full: View = { row0: 0, col0: 0, span: T };
  const first = await paint(full, 1, 2);
  const firsts = [first.ms];
  for (let i = 0; i < 4; i++) firsts.push((await paint(full, 0, i)).ms);
  const zoomed = await paint({ row0: 3000, col0: 2800, span: 256 }, 1, 2);
  const meanHeads = await paint(full, 1, -1);

  // pan/zoom frames: the last tile drawn where its cells now are, plus the masks (what the panel draws while the next tile comes)
  const frames: number[] = [];
  let v: View = { ...full };
  for (let f = 0; f < 100; f++) {
    const s = performance.now();
    const span = Math.max(64, v.span * (f % 20 < 10 ? 0.97 : 1.0));
    v = { span, row0: Math.min(T - span, v.row0 + (v.span - span) / 2 + (f % 3)), col0: Math.max(0, v.col0 + (v.span - span) / 2 - (f % 5)) };
    const sc = PX / v.span;
    ctx.fillStyle = 'rgb(30,30,30)';
    ctx.fillRect(0, 0, PX, PX);
    ctx.drawImage(first.bitmap, -v.col0 * sc, -v.row0 * sc, T * sc, T * sc);
    drawMasks(ctx, v, PX, 0, ramp);
    ctx.getImageData(0, 0, 1, 1);
    frames.push(performance.now() - s);
    await new Promise((r) => requestAnimationFrame(r));
  }
  const gridT = performance.now();
  await ask({ type: 'insideHeads', size: 32 });
  const gridMs = performance.now() - gridT;
  const lensT = performance.now();
  await ask({ type: 'insideLens', p0: 0, p1: 24, k: 3 });
  const lensMs = performance.now() - lensT;
  return {
    tokens: T,
    layers: info.layers,
    heads: info.heads,
    headDim: info.headDim,
    forwardMs: info.forwardMs,
    runMs,
    firstPaintMs: first.ms,
    firstPaintMedianMs: median(firsts),
    overviewExact: first.tile.exact,
    zoomedTileMs: zoomed.ms,
    zoomedExact: zoomed.tile.exact,
    meanOverHeadsMs: meanHeads.ms,
    frameMedianMs: median(frames),
    frameMaxMs: Math.max(...frames),
    headGridMs: gridMs,
    lens24Ms: lensMs,
    keptBytes: info.keptBytes,
  };
}

main().then(
  (r) => ((window as unknown as { __result: unknown }).__result = r),
  (e: unknown) => ((window as unknown as { __result: unknown }).__result = { error: String(e) }),
);
