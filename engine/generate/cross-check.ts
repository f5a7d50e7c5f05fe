/**
 * Cross-check: the same model on two backends (the engine's own, and onnxruntime-web running
 * the model's ONNX graph), fed the same prompt. Compared are the logits at every position the
 * two saw the same ids — the prompt's, then each greedy step while both paths agree — and the
 * greedy paths themselves, each backend following its own argmax for `steps` ids; each
 * decode step is timed on its backend.
 *
 * Pure: it drives two Backends; the worker (engine/worker/xcheck.ts) builds them.
 */
import type { Backend } from '../backend/contract';
import { argmax } from './samplers';

export interface CrossCheckOptions {
  /** Greedy ids each backend produces (the prompt's next token counts as the first); at least 2. */
  steps: number;
  /** Checked between forward passes; when set, the run stops with an AbortError. */
  signal?: { readonly aborted: boolean };
  /** Called after the prefill (done 0) and after each decode step of both backends. */
  onStep?: (done: number, total: number) => void | Promise<void>;
}

/** What one backend did. */
export interface CrossCheckRun {
  /** Its greedy ids, `steps` of them (fewer when the context filled). */
  ids: number[];
  /** The prompt's forward pass, ms. */
  prefillMs: number;
  /** Mean time of one decode step (one token in, logits out), ms. */
  msPerToken: number;
}

export interface CrossCheckResult {
  promptTokens: number;
  /**
   * max |a − b| over the vocabulary at each compared position: the prompt's positions, then
   * one per greedy step while both paths had fed the same ids.
   */
  maxAbsPerPosition: number[];
  /** The largest of maxAbsPerPosition. */
  maxAbs: number;
  /** Largest |logit| of backend a at the compared positions (the scale the differences are read against). */
  logitScale: number;
  a: CrossCheckRun;
  b: CrossCheckRun;
  /** Index of the first greedy id where the paths differ; -1 when they agree throughout. */
  firstDivergence: number;
}

function abortError(): Error {
  const e = new Error('The cross-check was cancelled.');
  e.name = 'AbortError';
  return e;
}

/** max |a − b| of row `row` of two [rows, V] logit arrays, and the largest |a| of that row. */
function rowDiff(a: Float32Array, b: Float32Array, row: number, V: number): { d: number; scale: number } {
  let d = 0;
  let scale = 0;
  for (let i = row * V; i < (row + 1) * V; i++) {
    const x = Math.abs(a[i] - b[i]);
    d = x > d || Number.isNaN(x) ? x : d;
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return { d: Number.isNaN(d) ? Infinity : d, scale };
}

/** Runs the prompt and `steps` greedy ids on both backends (each reset first, and reset after). */
export async function crossCheck(a: Backend, b: Backend, promptIds: number[], opts: CrossCheckOptions): Promise<CrossCheckResult> {
  const V = a.config.vocabSize;
  if (b.config.vocabSize !== V) throw new RangeError(`cross-check: the backends' vocabularies differ (${V} and ${b.config.vocabSize})`);
  const T = promptIds.length;
  if (T === 0) throw new RangeError('cross-check: the prompt is empty');
  const { steps } = opts;
  if (!Number.isSafeInteger(steps) || steps < 2) throw new RangeError(`cross-check: steps must be an integer of at least 2, got ${steps}`);
  const ctx = Math.min(a.contextLength, b.contextLength);
  if (T >= ctx) throw new RangeError(`cross-check: the prompt is ${T} tokens; the context holds ${ctx}`);
  const check = () => {
    if (opts.signal?.aborted) throw abortError();
  };
  const timed = async (be: Backend, ids: number[]) => {
    const t0 = performance.now();
    const r = await be.forward(ids, undefined, { lastOnly: ids.length === 1 });
    return { logits: r.logits, rows: r.rows, ms: performance.now() - t0 };
  };
  a.reset();
  b.reset();
  try {
    const perPos: number[] = [];
    let scale = 0;
    const pa = await timed(a, promptIds); // [T, V]
    check();
    const pb = await timed(b, promptIds); // [T, V]
    for (let t = 0; t < T; t++) {
      const r = rowDiff(pa.logits, pb.logits, t, V);
      perPos.push(r.d);
      scale = Math.max(scale, r.scale);
    }
    let nextA = argmax(pa.logits, (T - 1) * V, V);
    let nextB = argmax(pb.logits, (T - 1) * V, V);
    const idsA: number[] = [];
    const idsB: number[] = [];
    let msA = 0;
    let msB = 0;
    let decodes = 0;
    let diverged = -1;
    const total = Math.min(steps, ctx - T + 1); // the last id is not fed back
    await opts.onStep?.(0, total);
    for (let s = 0; s < total; s++) {
      idsA.push(nextA);
      idsB.push(nextB);
      if (diverged < 0 && nextA !== nextB) diverged = s;
      if (s === total - 1) break;
      check();
      const ra = await timed(a, [nextA]); // [1, V]
      check();
      const rb = await timed(b, [nextB]); // [1, V]
      msA += ra.ms;
      msB += rb.ms;
      decodes++;
      if (diverged < 0) {
        const r = rowDiff(ra.logits, rb.logits, 0, V);
        perPos.push(r.d);
        scale = Math.max(scale, r.scale);
      }
      nextA = argmax(ra.logits, 0, V);
      nextB = argmax(rb.logits, 0, V);
      await opts.onStep?.(s + 1, total);
    }
    return {
      promptTokens: T,
      maxAbsPerPosition: perPos,
      maxAbs: perPos.reduce((m, x) => Math.max(m, x), 0),
      logitScale: scale,
      a: { ids: idsA, prefillMs: pa.ms, msPerToken: decodes ? msA / decodes : 0 },
      b: { ids: idsB, prefillMs: pb.ms, msPerToken: decodes ? msB / decodes : 0 },
      firstDivergence: diverged,
    };
  } finally {
    a.reset();
    b.reset();
  }
}
