/**
 * Flash attention, shown: the prefill kernel's online softmax (engine/ops/attention/
 * attention.wgsl.ts attnFlash, tiled by flashTile) replayed for one query row on the CPU,
 * beside the naive softmax that materialises every score.
 *
 * The kernel gives a workgroup BQ query rows [qb, qb + BQ) of one head and walks the keys
 * [lowSlot(qb), qb + BQ) in tiles of BK. Per tile it takes the new running max
 * m = max(m, tile scores), rescales the running sum by c = exp(m_old − m) and adds the
 * tile's exp(s − m). After the last tile p_j = exp(s_j − m) / l, which is the naive row.
 *
 * Also both paths over every row of a head (each row's max and sum of exponentials, the
 * softmax's normaliser), timed, with the bytes of score storage each allocates: the naive
 * path a T × T matrix, the tiled one a BQ × BK tile and BQ running maxima and sums.
 */
import { flashTile } from '../ops/attention/attention.wgsl';
import { attentionRow, visibleKeys, type AttentionInputs } from './attention-rows';

/** One key tile of the walk, as the row sees it. */
export interface FlashTileStep {
  /** Keys k0..k1 (exclusive) of this tile. */
  k0: number;
  k1: number;
  /** Largest score of the tile's keys this row sees (−Infinity when the mask hides all of them). */
  tileMax: number;
  /** Running max and sum of exp(score − running max) after the tile; c rescaled the sum before it. */
  runningMax: number;
  runningSum: number;
  correction: number;
}

export interface FlashTrace {
  BQ: number;
  BK: number;
  /** The query block the row's workgroup holds: rows q0..q1 (exclusive). */
  q0: number;
  q1: number;
  tiles: FlashTileStep[];
  /** The row from the online softmax (exp(s − m) / l after the last tile) and the naive row: [T] each. */
  flash: Float32Array;
  naive: Float32Array;
  /** The naive softmax's max and sum of exp(s − max). */
  naiveMax: number;
  naiveSum: number;
}

function rowScores(a: AttentionInputs, head: number, r: number, out: Float64Array): void {
  const kvh = (head / (a.nHeads / a.nKvHeads)) | 0;
  const qo = (r * a.nHeads + head) * a.headDim;
  const kvStride = a.nKvHeads * a.headDim;
  for (let j = visibleKeys(a, r); j <= r; j++) {
    const ko = j * kvStride + kvh * a.headDim;
    let s = 0;
    for (let d = 0; d < a.headDim; d++) s += a.q[qo + d] * a.k[ko + d];
    out[j] = s * a.scale;
  }
}

/** The tiled online softmax of query row r of `head`, step by step, beside the naive row. */
export function flashTrace(a: AttentionInputs, head: number, r: number): FlashTrace {
  if (!Number.isInteger(head) || head < 0 || head >= a.nHeads) throw new RangeError(`head must be an integer in [0, ${a.nHeads - 1}], got ${head}`);
  if (!Number.isInteger(r) || r < 0 || r >= a.T) throw new RangeError(`row must be an integer in [0, ${a.T - 1}], got ${r}`);
  const { BQ, BK } = flashTile(a.headDim);
  const T = a.T;
  const q0 = Math.floor(r / BQ) * BQ;
  const q1 = Math.min(T, q0 + BQ);
  const lo = visibleKeys(a, r);
  const s = new Float64Array(T); // [T] scores of the keys row r sees
  rowScores(a, head, r, s);
  const tiles: FlashTileStep[] = [];
  let m = -Infinity;
  let l = 0;
  for (let k0 = visibleKeys(a, q0); k0 < q1; k0 += BK) {
    const k1 = Math.min(q1, k0 + BK);
    let tileMax = -Infinity;
    for (let j = Math.max(k0, lo); j < k1 && j <= r; j++) tileMax = Math.max(tileMax, s[j]);
    const mNew = Math.max(m, tileMax);
    const correction = m === -Infinity ? 0 : Math.exp(m - mNew);
    let ps = 0;
    for (let j = Math.max(k0, lo); j < k1 && j <= r; j++) ps += Math.exp(s[j] - mNew);
    l = l * correction + ps;
    m = mNew;
    tiles.push({ k0, k1, tileMax, runningMax: m, runningSum: l, correction });
  }
  const flash = new Float32Array(T); // [T]
  for (let j = lo; j <= r; j++) flash[j] = Math.exp(s[j] - m) / l;
  const naive = new Float32Array(T); // [T]
  attentionRow(a, head, r, naive, new Float64Array(T));
  let naiveMax = -Infinity;
  for (let j = lo; j <= r; j++) naiveMax = Math.max(naiveMax, s[j]);
  let naiveSum = 0;
  for (let j = lo; j <= r; j++) naiveSum += Math.exp(s[j] - naiveMax);
  return { BQ, BK, q0, q1, tiles, flash, naive, naiveMax, naiveSum };
}

/** Each row's softmax normaliser by one path: log-sum-exp of its visible scores ([T]). */
export interface PathRun {
  lse: Float64Array; // [T]
  /** Bytes of score storage the path allocated. */
  scoreBytes: number;
  ms: number;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Naive: every score of the head into a T × T matrix, then each row's max and sum. */
export function naivePath(a: AttentionInputs, head: number): PathRun {
  const t0 = now();
  const T = a.T;
  const S = new Float32Array(T * T); // [T, T] every score
  const row = new Float64Array(T);
  for (let r = 0; r < T; r++) {
    rowScores(a, head, r, row);
    for (let j = visibleKeys(a, r); j <= r; j++) S[r * T + j] = row[j];
  }
  const lse = new Float64Array(T);
  for (let r = 0; r < T; r++) {
    let m = -Infinity;
    for (let j = visibleKeys(a, r); j <= r; j++) m = Math.max(m, S[r * T + j]);
    let sum = 0;
    for (let j = visibleKeys(a, r); j <= r; j++) sum += Math.exp(S[r * T + j] - m);
    lse[r] = m + Math.log(sum);
  }
  return { lse, scoreBytes: S.byteLength, ms: now() - t0 };
}

/** Tiled: per block of BQ rows, key tiles of BK through a BQ × BK score tile with running max and sum. */
export function tiledPath(a: AttentionInputs, head: number): PathRun {
  const t0 = now();
  const { BQ, BK } = flashTile(a.headDim);
  const T = a.T;
  const S = new Float32Array(BQ * BK); // [BQ, BK] one tile's scores
  const mrow = new Float64Array(BQ); // [BQ]
  const lrow = new Float64Array(BQ); // [BQ]
  const kvh = (head / (a.nHeads / a.nKvHeads)) | 0;
  const kvStride = a.nKvHeads * a.headDim;
  const lse = new Float64Array(T);
  for (let q0 = 0; q0 < T; q0 += BQ) {
    const nq = Math.min(BQ, T - q0);
    mrow.fill(-Infinity);
    lrow.fill(0);
    for (let k0 = visibleKeys(a, q0); k0 < q0 + nq; k0 += BK) {
      const nk = Math.min(BK, q0 + nq - k0);
      for (let qi = 0; qi < nq; qi++) {
        const r = q0 + qi;
        const lo = visibleKeys(a, r);
        const qo = (r * a.nHeads + head) * a.headDim;
        let mt = mrow[qi];
        for (let jj = 0; jj < nk; jj++) {
          const j = k0 + jj;
          let v = -Infinity;
          if (j <= r && j >= lo) {
            const ko = j * kvStride + kvh * a.headDim;
            let d = 0;
            for (let x = 0; x < a.headDim; x++) d += a.q[qo + x] * a.k[ko + x];
            v = d * a.scale;
          }
          S[qi * BK + jj] = v;
          if (v > mt) mt = v;
        }
        let ps = 0;
        for (let jj = 0; jj < nk; jj++) if (S[qi * BK + jj] !== -Infinity) ps += Math.exp(S[qi * BK + jj] - mt);
        lrow[qi] = (mrow[qi] === -Infinity ? 0 : lrow[qi] * Math.exp(mrow[qi] - mt)) + ps;
        mrow[qi] = mt;
      }
    }
    for (let qi = 0; qi < nq; qi++) lse[q0 + qi] = mrow[qi] + Math.log(lrow[qi]);
  }
  return { lse, scoreBytes: S.byteLength + mrow.byteLength + lrow.byteLength, ms: now() - t0 };
}
