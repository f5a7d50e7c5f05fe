/**
 * Speculative decoding: a small draft model proposes `draftTokens` ids one by one, the
 * target model scores them all in one forward pass, and the longest acceptable prefix is
 * kept plus one id of the target's own — so each target pass yields 1 to draftTokens + 1 ids.
 *
 *   greedy:  a drafted id is accepted while it is the target's argmax; the first mismatch
 *            is replaced by the target's argmax (the output equals the target's greedy output).
 *   sampled: (Leviathan et al., Chen et al.) drafted x ~ q is accepted with probability
 *            min(1, p(x) / q(x)); on the first rejection the id is drawn from
 *            normalise(max(0, p − q)); when all are accepted a bonus id is drawn from p.
 *            Every id is then distributed exactly as sampling the target alone.
 * p and q are softmax of the processed scores (the request's processors run on both rows;
 * stateful processors such as Mirostat see rows that may be discarded, so leave them out).
 */
import type { Backend } from '../backend/contract';
import type { GenerateRequest, GenerateSummary } from './generate';
import { ParameterRangeError, type LogitsProcessor } from './processors';
import { Replayer } from './replay';
import { Rng } from './rng';
import { argmax, softmax } from './samplers';

export interface SpeculativeStep {
  drafted: number[];
  /** How many drafted ids the target accepted (a prefix of `drafted`). */
  accepted: number;
  /** drafted.length − accepted. */
  rejected: number;
  /** Ids appended this step (the accepted ones + the target's own), cut at the budget or an end id. */
  ids: number[];
}

export type SpeculativeRequest = GenerateRequest & {
  /** Ids the draft proposes per step (≥ 1). */
  draftTokens: number;
  /** Draws for sampling and the accept test (default: seed 1). Greedy when the request's sampler is greedy (or absent). */
  rng?: Rng;
};

/** The draft must share the target's vocabulary. */
export function checkDraft(target: Backend, draft: Backend): void {
  const V = target.config.vocabSize;
  if (draft.config.vocabSize !== V)
    throw new ParameterRangeError('draft model', `a model with the target's vocabulary (${V} ids)`, `a vocabulary of ${draft.config.vocabSize} ids`);
}

function processed(processors: readonly LogitsProcessor[], ids: readonly number[], row: Float32Array): Float32Array {
  const s = row.slice();
  for (const p of processors) p.process(ids, s);
  return s;
}

function draw(p: Float64Array, rng: Rng): number {
  let r = rng.next();
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] <= 0) continue;
    last = i;
    if ((r -= p[i]) < 0) return i;
  }
  if (last < 0) throw new RangeError('speculative: every token is masked');
  return last;
}

/** Generates with a draft model; yields one record per target pass and returns the summary. */
export async function* speculative(target: Backend, draft: Backend, req: SpeculativeRequest): AsyncGenerator<SpeculativeStep, GenerateSummary, void> {
  checkDraft(target, draft);
  if (!Number.isSafeInteger(req.draftTokens) || req.draftTokens < 1) throw new ParameterRangeError('draftTokens', 'an integer ≥ 1', req.draftTokens);
  if (!Number.isSafeInteger(req.maxNewTokens) || req.maxNewTokens < 0) throw new RangeError(`maxNewTokens must be an integer ≥ 0, got ${req.maxNewTokens}`);
  if (req.promptIds.length === 0) throw new RangeError('the prompt has no tokens');
  const limit = Math.min(target.contextLength, draft.contextLength);
  if (req.promptIds.length > limit) throw new RangeError(`the prompt is ${req.promptIds.length} tokens; the context holds ${limit}`);
  const sampling = !(req.sampler?.greedy ?? true);
  const rng = req.rng ?? new Rng(1);
  const eos = new Set(req.eosIds ?? target.config.stopTokenIds ?? target.config.eosTokenIds);
  const procs = req.processors ?? [];
  const T = new Replayer(target);
  const D = new Replayer(draft);
  const ctx = [...req.promptIds];
  const ids: number[] = [];
  const t0 = performance.now();
  let tFirst = 0;
  let stopReason: GenerateSummary['stopReason'] = 'length';
  let stopId: number | undefined;

  while (ids.length < req.maxNewTokens) {
    if (req.signal?.aborted) {
      stopReason = 'cancelled';
      break;
    }
    if (ctx.length >= limit) {
      stopReason = 'context';
      break;
    }
    // Draft k ids (fewer near the budget or the context's end: the target scores k + 1 rows).
    const k = Math.min(req.draftTokens, req.maxNewTokens - ids.length - 1, limit - ctx.length - 1);
    const drafted: number[] = [];
    const q: Float64Array[] = [];
    for (let i = 0; i < k; i++) {
      const seq = [...ctx, ...drafted];
      const s = processed(procs, seq, await D.logits(seq));
      const qi = softmax(s);
      q.push(qi);
      drafted.push(sampling ? draw(qi, rng) : argmax(s));
    }
    // The target's rows after ctx, ctx + x1, …, ctx + x1..xk.
    const seq = [...ctx, ...drafted];
    const rows = await T.rows(seq, ctx.length - 1);
    const V = target.config.vocabSize;
    const out: number[] = [];
    let accepted = 0;
    for (let i = 0; i <= k; i++) {
      const s = processed(procs, seq.slice(0, ctx.length + i), rows.subarray(i * V, (i + 1) * V));
      if (!sampling) {
        const best = argmax(s);
        if (i < k && best === drafted[i]) {
          accepted++;
          out.push(best);
          continue;
        }
        out.push(best);
        break;
      }
      const p = softmax(s);
      if (i < k) {
        const x = drafted[i];
        if (rng.next() < Math.min(1, p[x] / q[i][x])) {
          accepted++;
          out.push(x);
          continue;
        }
        const res = new Float64Array(V);
        let z = 0;
        for (let j = 0; j < V; j++) z += res[j] = Math.max(0, p[j] - q[i][j]);
        for (let j = 0; j < V; j++) res[j] /= z;
        out.push(draw(z > 0 ? res : p, rng));
        break;
      }
      out.push(draw(p, rng)); // every drafted id accepted: a bonus id from the target
    }
    if (!tFirst) tFirst = performance.now();
    // Keep ids up to the budget and before an end id.
    const kept: number[] = [];
    for (const id of out) {
      if (ids.length + kept.length >= req.maxNewTokens) break;
      if (eos.has(id)) {
        stopReason = 'stop';
        stopId = id;
        break;
      }
      kept.push(id);
    }
    ids.push(...kept);
    ctx.push(...kept);
    yield { drafted, accepted, rejected: drafted.length - accepted, ids: kept };
    if (stopId !== undefined) break;
  }
  const tEnd = performance.now();
  const text = req.tokenizer ? req.tokenizer.decode(ids) : '';
  const decodeMs = ids.length > 1 ? tEnd - tFirst : 0;
  const summary: GenerateSummary = {
    promptIds: req.promptIds,
    ids,
    text,
    tail: '',
    stopReason,
    path: 'host-logits',
    prefillMs: (tFirst || tEnd) - t0,
    decodeMs,
    decodeTokensPerSec: decodeMs > 0 ? ((ids.length - 1) * 1000) / decodeMs : 0,
  };
  if (stopId !== undefined) summary.stopId = stopId;
  return summary;
}
