/**
 * Canvas drawing for the Inside panel: theme colours read from the VS Code CSS variables,
 * a probability → colour ramp, a values grid to an offscreen canvas, and the masks
 * (causal, sliding window) drawn over the heatmap.
 */

export type Rgb = [number, number, number];

let probe: CanvasRenderingContext2D | null | undefined;

/** A CSS colour (a theme variable's value) as RGB; the fallback when it cannot be read. */
export function cssRgb(varName: string, fallback: Rgb): Rgb {
  const v = getComputedStyle(document.body).getPropertyValue(varName).trim();
  if (!v) return fallback;
  probe ??= document.createElement('canvas').getContext('2d');
  if (!probe) return fallback;
  probe.fillStyle = '#000';
  probe.fillStyle = v;
  const s = String(probe.fillStyle);
  const hex = /^#([0-9a-f]{6})$/i.exec(s);
  if (hex) {
    const n = parseInt(hex[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(s);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : fallback;
}

/** The ramp from the editor background (0) to the chart accent (1), in the current theme. */
export interface Ramp {
  bg: Rgb;
  hi: Rgb;
  masked: Rgb;
  fg: Rgb;
}

export function themeRamp(): Ramp {
  const bg = cssRgb('--vscode-editor-background', [30, 30, 30]);
  const fg = cssRgb('--vscode-foreground', [204, 204, 204]);
  return { bg, fg, hi: cssRgb('--vscode-charts-orange', [209, 134, 22]), masked: mix(bg, fg, 0.12) };
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** p in [0, 1] → colour; a square root so that small probabilities still show. */
export function rampColour(r: Ramp, p: number): Rgb {
  return mix(r.bg, r.hi, Math.sqrt(Math.min(1, Math.max(0, p))));
}

/** values [rows, cols] → an offscreen canvas of rows × cols pixels. */
export function gridBitmap(values: Float32Array, rows: number, cols: number, ramp: Ramp): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = cols;
  c.height = rows;
  const ctx = c.getContext('2d')!;
  const img = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const [R, G, B] = rampColour(ramp, values[i]);
    img.data[4 * i] = R;
    img.data[4 * i + 1] = G;
    img.data[4 * i + 2] = B;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** What part of the T × T matrix a canvas shows: rows row0.., columns col0.., span cells each way. */
export interface View {
  row0: number;
  col0: number;
  span: number;
}

/**
 * Shades the cells no query may see: above the diagonal (causal), and left of the sliding
 * window (window > 0), for the view on a canvas of `size` pixels.
 */
export function drawMasks(ctx: CanvasRenderingContext2D, v: View, size: number, window: number, ramp: Ramp): void {
  const px = (cells: number) => (cells * size) / v.span;
  ctx.save();
  ctx.fillStyle = `rgba(${ramp.masked.map(Math.round).join(',')},0.85)`;
  // causal: key c > query r, i.e. x > y after shifting by the view's origin
  const d = v.col0 - v.row0; // cells: column index minus row index at the origin
  ctx.beginPath();
  ctx.moveTo(px(-d + 1), 0);
  ctx.lineTo(size + px(v.span), 0);
  ctx.lineTo(size + px(v.span), size);
  ctx.lineTo(px(v.span - d + 1), size);
  ctx.closePath();
  ctx.fill();
  if (window > 0) {
    // key c < r − window + 1
    ctx.beginPath();
    ctx.moveTo(-px(v.span), 0);
    ctx.lineTo(px(-d - window + 1), 0);
    ctx.lineTo(px(v.span - d - window + 1), size);
    ctx.lineTo(-px(v.span), size);
    ctx.closePath();
    ctx.fill();
  }
  ctx.restore();
}
