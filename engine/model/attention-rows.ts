/**
 * Attention probabilities on demand: softmax rows of one head, recomputed from the
 * queries and keys a forward captured (CaptureOptions.qk), so a view of a long input never
 * holds L × H × T × T floats — only the rows on screen. The arithmetic is the CPU
 * reference's (engine/ops/attention/attention.ts: f64 dot products, scale, max-shifted
 * exp, one division), so a row equals the full capture's row.
 *
 * Also: a tile of the T × T matrix reduced to a pixel grid (max or mean per block: the
 * zoomed-out overview), mean and max over heads, and per-head summaries (entropy, share
 * of attention to the first token, the previous token and itself).
 */

/** One layer's captured queries and keys, from a forward that started at cache slot 0. */
export interface AttentionInputs {
  q: Float32Array; // [T, H, hd] after q-norm and RoPE
  k: Float32Array; // [T, Kv, hd] after k-norm and RoPE
  T: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Multiplies q·k (usually headDim^−½). */
  scale: number;
  /** Sliding window: a row attends to at most this many slots, itself included. */
  window?: number;
}

/** Which keys row r sees: [lo, r]. */
export function visibleKeys(a: AttentionInputs, r: number): number {
  return a.window === undefined ? 0 : Math.max(0, r - a.window + 1);
}

function checkHead(a: AttentionInputs, head: number): void {
  if (!Number.isInteger(head) || head < 0 || head >= a.nHeads) throw new RangeError(`head must be an integer in [0, ${a.nHeads - 1}], got ${head}`);
}

function checkRows(a: AttentionInputs, r0: number, r1: number): void {
  if (!Number.isInteger(r0) || !Number.isInteger(r1) || r0 < 0 || r1 > a.T || r0 >= r1) throw new RangeError(`rows must satisfy 0 ≤ r0 < r1 ≤ ${a.T}, got ${r0}..${r1}`);
}

/**
 * Softmax row r of `head` into out[0..T) (zeros outside the causal / sliding-window mask).
 * `scores` is scratch of at least T.
 */
export function attentionRow(a: AttentionInputs, head: number, r: number, out: Float32Array, scores: Float64Array): void {
  const { q, k, T, nHeads, nKvHeads, headDim, scale } = a;
  const kvh = (head / (nHeads / nKvHeads)) | 0;
  const kvStride = nKvHeads * headDim;
  const qo = (r * nHeads + head) * headDim;
  const lo = visibleKeys(a, r);
  out.fill(0, 0, T);
  let max = -Infinity;
  for (let j = lo; j <= r; j++) {
    const ko = j * kvStride + kvh * headDim;
    let s = 0;
    for (let d = 0; d < headDim; d++) s += q[qo + d] * k[ko + d];
    s *= scale;
    scores[j] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let j = lo; j <= r; j++) {
    const e = Math.exp(scores[j] - max);
    scores[j] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let j = lo; j <= r; j++) out[j] = scores[j] * inv;
}

/** Rows r0..r1 (exclusive) of `head`: [r1 − r0, T]. */
export function attentionRows(a: AttentionInputs, head: number, r0: number, r1: number): Float32Array {
  checkHead(a, head);
  checkRows(a, r0, r1);
  const out = new Float32Array((r1 - r0) * a.T); // [r1 − r0, T]
  const scores = new Float64Array(a.T);
  for (let r = r0; r < r1; r++) attentionRow(a, head, r, out.subarray((r - r0) * a.T, (r - r0 + 1) * a.T), scores);
  return out;
}

/** A head, or the mean / max over a layer's heads. */
export type HeadSelect = number | 'mean' | 'max';

/** Row r of a head selection into out[0..T). `tmp` is scratch of T floats. */
function selectedRow(a: AttentionInputs, sel: HeadSelect, r: number, out: Float32Array, tmp: Float32Array, scores: Float64Array): void {
  if (typeof sel === 'number') return attentionRow(a, sel, r, out, scores);
  out.fill(0, 0, a.T);
  for (let h = 0; h < a.nHeads; h++) {
    attentionRow(a, h, r, tmp, scores);
    if (sel === 'mean') for (let j = 0; j <= r; j++) out[j] += tmp[j] / a.nHeads;
    else for (let j = 0; j <= r; j++) if (tmp[j] > out[j]) out[j] = tmp[j];
  }
}

export interface TileRequest {
  head: HeadSelect;
  /** Query rows r0..r1 and key columns c0..c1 (exclusive) of the T × T matrix. */
  r0: number;
  r1: number;
  c0: number;
  c1: number;
  /** The grid it is reduced to (at most the rows / columns it covers). */
  rows: number;
  cols: number;
  /** How a block of cells becomes one: its largest value (default) or its mean. */
  reduce?: 'max' | 'mean';
  /** Most query rows computed per grid row; past it, rows are sampled evenly (default: all). */
  maxRowsPerCell?: number;
}

export interface Tile {
  values: Float32Array; // [rows, cols]
  rows: number;
  cols: number;
  /** False when rows were sampled (maxRowsPerCell). */
  exact: boolean;
}

/**
 * A block of the attention matrix reduced to a rows × cols grid: exact cells when the grid
 * is as fine as the block. `rowOf`, when given, supplies row r of another T × T matrix
 * (the attention rollout) in place of the head selection's.
 */
export function attentionTile(a: AttentionInputs, t: TileRequest, rowOf?: (r: number, out: Float32Array) => void): Tile {
  if (typeof t.head === 'number') checkHead(a, t.head);
  checkRows(a, t.r0, t.r1);
  if (!Number.isInteger(t.c0) || !Number.isInteger(t.c1) || t.c0 < 0 || t.c1 > a.T || t.c0 >= t.c1)
    throw new RangeError(`columns must satisfy 0 ≤ c0 < c1 ≤ ${a.T}, got ${t.c0}..${t.c1}`);
  const rows = Math.min(t.rows, t.r1 - t.r0);
  const cols = Math.min(t.cols, t.c1 - t.c0);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) throw new RangeError(`tile grid must be positive integers, got ${t.rows} × ${t.cols}`);
  const mean = t.reduce === 'mean';
  const values = new Float32Array(rows * cols); // [rows, cols]
  const row = new Float32Array(a.T);
  const tmp = new Float32Array(a.T);
  const scores = new Float64Array(a.T);
  const maxPer = t.maxRowsPerCell ?? Infinity;
  let exact = true;
  const span = t.c1 - t.c0;
  for (let gr = 0; gr < rows; gr++) {
    const b0 = t.r0 + Math.floor(((t.r1 - t.r0) * gr) / rows);
    const b1 = t.r0 + Math.floor(((t.r1 - t.r0) * (gr + 1)) / rows);
    const n = b1 - b0;
    const take = Math.min(n, maxPer);
    if (take < n) exact = false;
    const out = values.subarray(gr * cols, (gr + 1) * cols);
    for (let s = 0; s < take; s++) {
      const r = take === n ? b0 + s : b0 + Math.floor(((s + 0.5) * n) / take);
      if (rowOf) rowOf(r, row);
      else selectedRow(a, t.head, r, row, tmp, scores);
      for (let gc = 0; gc < cols; gc++) {
        const j0 = t.c0 + Math.floor((span * gc) / cols);
        const j1 = t.c0 + Math.floor((span * (gc + 1)) / cols);
        let v = mean ? 0 : -Infinity;
        for (let j = j0; j < j1; j++) v = mean ? v + row[j] : Math.max(v, row[j]);
        if (mean) out[gc] += v / ((j1 - j0) * take);
        else if (s === 0 || v > out[gc]) out[gc] = v;
      }
    }
  }
  return { values, rows, cols, exact };
}

/** What one head does, averaged over query rows. */
export interface HeadSummary {
  /** Mean entropy of a row's distribution, in nats (0: all on one key). */
  entropy: number;
  /** Mean probability on the first token (BOS), the previous token and the row's own token. */
  bos: number;
  prev: number;
  self: number;
  /** Query rows averaged over (all T, or an even sample of them). */
  rowsUsed: number;
}

/** Per-head summary from up to `maxRows` evenly spaced query rows (all rows when T ≤ maxRows). */
export function headSummary(a: AttentionInputs, head: number, maxRows = 256): HeadSummary {
  checkHead(a, head);
  const n = Math.min(a.T, maxRows);
  const row = new Float32Array(a.T);
  const scores = new Float64Array(a.T);
  let entropy = 0;
  let bos = 0;
  let prev = 0;
  let prevRows = 0;
  let self = 0;
  for (let s = 0; s < n; s++) {
    const r = n === a.T ? s : Math.floor(((s + 0.5) * a.T) / n);
    attentionRow(a, head, r, row, scores);
    let H = 0;
    for (let j = visibleKeys(a, r); j <= r; j++) if (row[j] > 0) H -= row[j] * Math.log(row[j]);
    entropy += H;
    bos += row[0];
    self += row[r];
    if (r > 0) {
      prev += row[r - 1];
      prevRows++;
    }
  }
  return { entropy: entropy / n, bos: bos / n, prev: prevRows ? prev / prevRows : 0, self: self / n, rowsUsed: n };
}

/** Which query heads read each KV head (grouped-query attention): [Kv] × head ids. */
export function kvGroups(nHeads: number, nKvHeads: number): number[][] {
  const g = nHeads / nKvHeads;
  return Array.from({ length: nKvHeads }, (_, kv) => Array.from({ length: g }, (_, i) => kv * g + i));
}
