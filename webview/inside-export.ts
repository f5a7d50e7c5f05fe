/**
 * What the Inside tab exports of the heatmap on screen: the tile's values as CSV (a row
 * per query row, a column per key column, labelled with positions and pieces) or JSON
 * (the tile's place in the T × T matrix, its labels and its values), and the file names.
 * Values are written in full (the f32 the worker computed, as its shortest decimal), so
 * a parsed export equals the engine's numbers. The host saves the file (export.ts).
 */

/** The heatmap tile the panel shows: rows r0..r1 × columns c0..c1 reduced to a rows × cols grid. */
export interface ExportTile {
  layer: number;
  /** A head, or -1 the mean over heads, -2 the max, -3 the attention rollout. */
  head: number;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
  rows: number;
  cols: number;
  values: Float32Array; // [rows, cols]
  exact: boolean;
}

/** A head selection as words: "head 3", "mean over heads", "max over heads", "rollout". */
export function headName(head: number): string {
  return head >= 0 ? `head ${head}` : head === -1 ? 'mean over heads' : head === -2 ? 'max over heads' : 'rollout';
}

/** A file name for the tile: attention-L2-H3.png, attention-L2-mean.csv, attention-L4-rollout.json. */
export function exportName(t: Pick<ExportTile, 'layer' | 'head'>, ext: 'png' | 'csv' | 'json'): string {
  const h = t.head >= 0 ? `H${t.head}` : t.head === -1 ? 'mean' : t.head === -2 ? 'max' : 'rollout';
  return `attention-L${t.layer}-${h}.${ext}`;
}

/** Label of grid row r / column c: the position and piece when the grid is at full resolution, else the range it pools. */
function labels(a0: number, a1: number, n: number, piece: (i: number) => string): string[] {
  if (n === a1 - a0) return Array.from({ length: n }, (_, i) => `${a0 + i} ${piece(a0 + i)}`);
  return Array.from({ length: n }, (_, i) => `${a0 + Math.floor(((a1 - a0) * i) / n)}..${a0 + Math.floor(((a1 - a0) * (i + 1)) / n) - 1}`);
}

const num = (v: number) => String(v);

/** CSV: a header of key labels, then a row per query label with its values, one line each. */
export function tileCsv(t: ExportTile, piece: (i: number) => string): string {
  // labels quoted; a piece's line breaks written as \n so that each CSV row is one line
  const q = (s: string) => `"${s.replace(/"/g, '""').replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`;
  const rowL = labels(t.r0, t.r1, t.rows, piece);
  const colL = labels(t.c0, t.c1, t.cols, piece);
  const lines = [['query \\ key', ...colL.map(q)].join(',')];
  for (let r = 0; r < t.rows; r++) lines.push([q(rowL[r]), ...Array.from(t.values.subarray(r * t.cols, (r + 1) * t.cols), num)].join(','));
  return lines.join('\n') + '\n';
}

/** JSON: the tile's place, labels and values ([rows][cols]); `exact` false when the cells pool sampled rows (max per block). */
export function tileJson(t: ExportTile, piece: (i: number) => string, model?: string): string {
  const values = Array.from({ length: t.rows }, (_, r) => Array.from(t.values.subarray(r * t.cols, (r + 1) * t.cols)));
  return (
    JSON.stringify({
      model,
      layer: t.layer,
      head: t.head,
      headName: headName(t.head),
      rows: [t.r0, t.r1],
      cols: [t.c0, t.c1],
      grid: [t.rows, t.cols],
      fullResolution: t.rows === t.r1 - t.r0 && t.cols === t.c1 - t.c0,
      exact: t.exact,
      rowLabels: labels(t.r0, t.r1, t.rows, piece),
      colLabels: labels(t.c0, t.c1, t.cols, piece),
      values,
    }) + '\n'
  );
}

/** A canvas data URL's base64 payload (what the host decodes into the PNG's bytes). */
export function dataUrlBase64(url: string): string {
  const i = url.indexOf(';base64,');
  if (i < 0) throw new Error('the canvas did not give a base64 PNG');
  return url.slice(i + ';base64,'.length);
}
