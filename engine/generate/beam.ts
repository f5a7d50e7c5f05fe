/**
 * Beam search with Hugging Face's semantics (BeamSearchScorer / BeamHypotheses, and
 * _group_beam_search for diverse beams): `numBeams` hypotheses grow together; each step
 * every beam's next-token log-probabilities (log_softmax of the logits, then the
 * processors, as Hugging Face applies them) are added to the beam's sum, the best
 * 2·numBeams continuations are ranked, those ending in an end-of-sequence id among the
 * first numBeams become finished hypotheses scored sum / length^lengthPenalty (length:
 * new ids, the end id included), and the best numBeams others continue. At the length
 * limit the running beams are finished too, and the best `numReturnSequences` are returned.
 *
 * Diverse beam search splits the beams into `numBeamGroups` groups searched one after the
 * other each step; a group's scores lose `diversityPenalty` × how often each id was
 * chosen by the earlier groups at this step (Hugging Face's Hamming diversity).
 *
 * Cost: the backend holds one KV cache, so each beam's logits come from truncating the
 * cache to the longest prefix that beam shares with what the cache holds and running the
 * rest (beams are visited in token order so neighbours share most). A step costs numBeams
 * forwards of up to t ids at step t: O(numBeams · t²) positions over a generation instead
 * of the O(numBeams · t) of a batched cache, which is what a single-sequence backend allows.
 */
import type { Backend } from '../backend/contract';
import { ParameterRangeError, type LogitsProcessor } from './processors';
import { Replayer } from './replay';

export interface BeamSearchOptions {
  numBeams: number;
  /** Default 1; ≤ numBeams. */
  numReturnSequences?: number;
  /** Exponent of the length in the score (default 1); > 0 favours longer hypotheses. */
  lengthPenalty?: number;
  /** true: stop once numBeams hypotheses are finished; false (default): when none running can beat them (heuristic); 'never': the exact test. */
  earlyStopping?: boolean | 'never';
  /** Default 1; divides numBeams. */
  numBeamGroups?: number;
  /** ≥ 0 (default 0): Hamming diversity between groups. */
  diversityPenalty?: number;
  maxNewTokens: number;
  /** Default: the model's stop ids. */
  eosIds?: readonly number[];
  /** Applied to each beam's log-probabilities (Hugging Face's order: after log_softmax). */
  processors?: readonly LogitsProcessor[];
  signal?: { readonly aborted: boolean };
}

export interface BeamTreeNode {
  /** Index in `tree`; parent -1 for the prompt's root. */
  index: number;
  parent: number;
  token: number;
  step: number;
  /** Cumulative log-probability of the hypothesis ending here. */
  logProb: number;
  /** 'alive' while in the beam, 'finished' when ended by EOS or length, 'pruned' when dropped. */
  state: 'alive' | 'finished' | 'pruned';
}

export interface BeamSearchResult {
  /** Best first; ids after the prompt (an end-of-sequence id that finished a hypothesis is not included: see `eos`). */
  sequences: number[][];
  /** Hugging Face's sequences_scores: sum of log-probabilities / length^lengthPenalty. */
  scores: number[];
  /** Per returned sequence: the end-of-sequence id that finished it, or null (length). */
  eos: (number | null)[];
  /** Per returned sequence: its last node in `tree`. */
  nodes: number[];
  tree: BeamTreeNode[];
}

interface Beam {
  ids: number[]; // new ids
  sum: number;
  node: number;
}

interface Hypothesis {
  score: number;
  ids: number[];
  eos: number | null;
  node: number;
}

/** Hugging Face's BeamHypotheses: the best `size` finished hypotheses. */
class Hypotheses {
  readonly list: Hypothesis[] = [];
  worst = Infinity;
  constructor(
    private readonly size: number,
    private readonly lengthPenalty: number,
    private readonly earlyStopping: boolean | 'never',
    private readonly maxNew: number,
  ) {}
  add(h: Omit<Hypothesis, 'score'>, sum: number, len: number): boolean {
    const score = sum / len ** this.lengthPenalty;
    if (this.list.length >= this.size && score <= this.worst) return false;
    this.list.push({ ...h, score });
    if (this.list.length > this.size) {
      let w = 0;
      for (let i = 1; i < this.list.length; i++) if (this.list[i].score < this.list[w].score) w = i;
      this.list.splice(w, 1);
    }
    this.worst = Math.min(...this.list.map((x) => x.score));
    return true;
  }
  isDone(bestSum: number, len: number): boolean {
    if (this.list.length < this.size) return false;
    if (this.earlyStopping === true) return true;
    const l = this.earlyStopping === 'never' && this.lengthPenalty > 0 ? this.maxNew : len;
    return this.worst >= bestSum / l ** this.lengthPenalty;
  }
}

/** log_softmax in f64, stored as f32 as Hugging Face's processors expect. */
function logSoftmax(x: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of x) if (v > max) max = v;
  let z = 0;
  for (const v of x) z += Math.exp(v - max);
  const lz = max + Math.log(z);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] - lz;
  return out;
}

function compareIds(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function checkBeamOptions(o: BeamSearchOptions, vocabSize: number): void {
  const int = (parameter: string, v: number, lo: number, hi: number) => {
    if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new ParameterRangeError(parameter, `an integer in [${lo}, ${hi}]`, v);
  };
  int('num_beams', o.numBeams, 1, vocabSize);
  int('num_return_sequences', o.numReturnSequences ?? 1, 1, o.numBeams);
  const g = o.numBeamGroups ?? 1;
  int('num_beam_groups', g, 1, o.numBeams);
  if (o.numBeams % g !== 0) throw new ParameterRangeError('num_beam_groups', `a divisor of num_beams (${o.numBeams})`, g);
  const lp = o.lengthPenalty ?? 1;
  if (!Number.isFinite(lp)) throw new ParameterRangeError('length_penalty', 'a finite number', lp);
  const dp = o.diversityPenalty ?? 0;
  if (!Number.isFinite(dp) || dp < 0) throw new ParameterRangeError('diversity_penalty', 'a number ≥ 0', dp);
  if (dp > 0 && g === 1) throw new ParameterRangeError('diversity_penalty', '0 unless num_beam_groups > 1', dp);
  if (![true, false, 'never', undefined].includes(o.earlyStopping as never)) throw new ParameterRangeError('early_stopping', 'true, false or "never"', o.earlyStopping);
  int('max_new_tokens', o.maxNewTokens, 1, Number.MAX_SAFE_INTEGER);
}

/** Beam search from `promptIds`: the best `numReturnSequences` hypotheses and the tree of every candidate ranked. */
export async function beamSearch(backend: Backend, promptIds: readonly number[], opts: BeamSearchOptions): Promise<BeamSearchResult> {
  const V = backend.config.vocabSize;
  checkBeamOptions(opts, V);
  if (promptIds.length === 0) throw new RangeError('the prompt has no tokens');
  if (promptIds.length + opts.maxNewTokens > backend.contextLength)
    throw new RangeError(`the prompt (${promptIds.length} tokens) + max_new_tokens ${opts.maxNewTokens} exceed the context ${backend.contextLength}`);
  const G = opts.numBeamGroups ?? 1;
  const size = opts.numBeams / G;
  const lp = opts.lengthPenalty ?? 1;
  const eos = new Set(opts.eosIds ?? backend.config.stopTokenIds ?? backend.config.eosTokenIds);
  const processors = opts.processors ?? [];
  const tree: BeamTreeNode[] = [{ index: 0, parent: -1, token: -1, step: -1, logProb: 0, state: 'alive' }];
  const node = (parent: number, token: number, step: number, logProb: number, state: BeamTreeNode['state']) => {
    tree.push({ index: tree.length, parent, token, step, logProb, state });
    return tree.length - 1;
  };
  const hyps = Array.from({ length: G }, () => new Hypotheses(size, lp, opts.earlyStopping ?? false, opts.maxNewTokens));
  const done = new Array<boolean>(G).fill(false);
  // Each group starts from the prompt alone (Hugging Face: the other beams start at -1e9).
  let groups: Beam[][] = Array.from({ length: G }, () => [{ ids: [], sum: 0, node: 0 }]);
  const replay = new Replayer(backend);

  for (let t = 0; t < opts.maxNewTokens && !done.every(Boolean); t++) {
    if (opts.signal?.aborted) break;
    const chosenNow = new Map<number, number>(); // id → how many earlier groups' beams took it this step
    for (let g = 0; g < G; g++) {
      if (done[g]) continue;
      const K = Math.max(2, 1 + eos.size) * size;
      const cand: { total: number; beam: number; token: number }[] = [];
      const beams = groups[g];
      const order = beams.map((_, i) => i).sort((a, b) => compareIds(beams[a].ids, beams[b].ids));
      for (const b of order) {
        const beam = beams[b];
        const seq = [...promptIds, ...beam.ids];
        const scores = logSoftmax(await replay.logits(seq));
        if (opts.diversityPenalty) for (const [id, c] of chosenNow) scores[id] -= opts.diversityPenalty * c;
        for (const p of processors) p.process(seq, scores);
        // The best K of this beam (ties: lower id first), merged below.
        for (let v = 0; v < V; v++) {
          const total = beam.sum + scores[v];
          if (total === -Infinity || (cand.length >= K && total <= cand[K - 1].total)) continue;
          let i = Math.min(cand.length, K - 1);
          if (cand.length < K) cand.push({ total, beam: b, token: v });
          while (i > 0 && (cand[i - 1].total < total || (cand[i - 1].total === total && cand[i - 1].beam * V + cand[i - 1].token > b * V + v))) {
            cand[i] = cand[i - 1];
            i--;
          }
          cand[i] = { total, beam: b, token: v };
        }
      }
      const next: Beam[] = [];
      const len = t + 1;
      cand.forEach((c, rank) => {
        const parent = beams[c.beam];
        if (next.length >= size) {
          node(parent.node, c.token, t, c.total, 'pruned');
        } else if (eos.has(c.token)) {
          const kept = rank < size && hyps[g].add({ ids: parent.ids, eos: c.token, node: tree.length }, c.total, len);
          node(parent.node, c.token, t, c.total, kept ? 'finished' : 'pruned');
        } else {
          next.push({ ids: [...parent.ids, c.token], sum: c.total, node: node(parent.node, c.token, t, c.total, 'alive') });
        }
      });
      for (const b of next) chosenNow.set(b.ids[b.ids.length - 1], (chosenNow.get(b.ids[b.ids.length - 1]) ?? 0) + 1);
      // Beams not continued are dropped.
      for (const b of beams)
        if (!next.some((n) => tree[n.node].parent === b.node)) tree[b.node].state = tree[b.node].state === 'alive' && b.node !== 0 ? 'pruned' : tree[b.node].state;
      groups[g] = next;
      if (next.length === 0 || hyps[g].isDone(cand.length ? cand[0].total : -Infinity, len)) done[g] = true;
    }
  }
  // Finalise: the running beams of groups not done join their hypotheses.
  groups.forEach((beams, g) => {
    if (done[g]) return;
    for (const b of beams) tree[b.node].state = hyps[g].add({ ids: b.ids, eos: null, node: b.node }, b.sum, b.ids.length) ? 'finished' : 'pruned';
  });
  groups = [];
  const all = hyps.flatMap((h) => h.list).sort((a, b) => b.score - a.score);
  const best = all.slice(0, opts.numReturnSequences ?? 1);
  return { sequences: best.map((h) => h.ids), scores: best.map((h) => h.score), eos: best.map((h) => h.eos), nodes: best.map((h) => h.node), tree };
}
