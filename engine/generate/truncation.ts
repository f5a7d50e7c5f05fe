/**
 * Truncation processors: each masks (sets to -Infinity) the tokens outside a set it
 * chooses from softmax(scores) and leaves the others' scores as they are — Hugging Face's
 * TopK / TopP / MinP / Typical / Epsilon / Eta warpers, with their parameters,
 * `minTokensToKeep` and their comparisons (strict or not) as theirs.
 *
 * Probabilities are computed in f64 (Hugging Face: f32), so a token whose cumulative or
 * relative probability lies within f32 rounding of a threshold may fall the other way.
 *
 * Ties. Where Hugging Face compares values (top-k, min-p, epsilon and eta thresholds,
 * typical's cut-off) every tied token is kept or masked together, as here. Where it
 * depends on a sort order (top-p's cumulative mass, typical's cumulative mass, and which
 * tokens `minTokensToKeep` saves), torch.sort / torch.topk leave the order of equal
 * values unspecified; here it is fixed: among equal scores the lower id counts as the more
 * probable (as argmax picks the first), so it is kept first.
 */
import { checkInteger, checkNumber, type LogitsProcessor } from './processors';
import { byScore, kthLargest, liveProbs, sparseLive, type LiveIds } from './sparse';

/** Buckets of the head search: 1/8 nat wide, the last one open-ended. */
const BUCKETS = 512;
const PER_UNIT = 8;
/** Extra mass the head must hold so f64 rounding between two summation orders cannot matter. */
const MASS_MARGIN = 1e-9;

/** The row's maximum; -Infinity when every token is masked. */
function maxOf(s: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < s.length; i++) if (s[i] > m) m = s[i];
  return m;
}

/** softmax(s) in f64 (masked tokens 0) and its normaliser; assumes max > -Infinity. */
function probs(s: Float32Array, max: number): { p: Float64Array; logZ: number } {
  const p = new Float64Array(s.length);
  let sum = 0;
  for (let i = 0; i < s.length; i++) if (s[i] !== -Infinity) sum += p[i] = Math.exp(s[i] - max); // masked: 0, no exp call
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return { p, logZ: max + Math.log(sum) };
}

/**
 * The start of the order "key ascending, then id ascending" — at least `minCount` ids and
 * at least `minMass` of `p` (or every id) — sorted in that order. Ids are bucketed by key
 * and only the buckets needed are sorted, so the result is always a prefix of the full
 * order (ties never straddle its end) while a large vocabulary costs one pass and a small
 * sort instead of a sort of every id with a comparator, which dominates a decode step there.
 */
export function orderedHead(key: Float64Array, p: Float64Array | null, minCount: number, minMass: number): Uint32Array {
  const V = key.length;
  let lo = Infinity;
  for (let i = 0; i < V; i++) if (key[i] < lo) lo = key[i];
  const bucket = new Uint16Array(V);
  const count = new Uint32Array(BUCKETS);
  const mass = new Float64Array(BUCKETS);
  for (let i = 0; i < V; i++) {
    const x = (key[i] - lo) * PER_UNIT; // NaN (no finite key) and Infinity go to the last bucket
    const b = x < BUCKETS - 1 ? Math.floor(x) : BUCKETS - 1;
    bucket[i] = b;
    count[b]++;
    if (p) mass[b] += p[i];
  }
  let last = 0;
  let n = count[0];
  let m = mass[0];
  while (last < BUCKETS - 1 && (n < minCount || m < minMass)) {
    last++;
    n += count[last];
    m += mass[last];
  }
  const ids = new Uint32Array(n);
  for (let i = 0, j = 0; i < V; i++) if (bucket[i] <= last) ids[j++] = i;
  ids.sort((a, b) => (key[a] < key[b] ? -1 : key[a] > key[b] ? 1 : a - b));
  return ids;
}

/** -score per id: ascending key = most probable first. */
function negated(s: Float32Array): Float64Array {
  const k = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) k[i] = -s[i];
  return k;
}

/** Up to this many best, a heap finds the n-th best score in one pass; past it the bucketed head does. */
const HEAP_MAX = 4096;

/** The score of the n-th best token (n ≥ 1, clamped to V). */
function nthBestScore(s: Float32Array, n: number): number {
  const m = Math.min(n, s.length);
  const fast = m <= HEAP_MAX ? kthLargest(s, m) : undefined;
  if (fast !== undefined) return fast;
  const head = orderedHead(negated(s), null, m, 0);
  return s[head[m - 1]];
}

/** The n-th best score among the live ids (-Infinity when fewer are live). */
function nthBestLive(s: Float32Array, ids: Int32Array, n: number): number {
  if (n > ids.length) return -Infinity;
  const v = new Float32Array(ids.length);
  for (let k = 0; k < ids.length; k++) v[k] = s[ids[k]];
  return nthBestScore(v, n);
}

/** The entropy of softmax over the live ids, summed in id order. */
function liveEntropy(s: Float32Array, ids: Int32Array, p: Float64Array, logZ: number): number {
  let h = 0;
  for (let k = 0; k < ids.length; k++) if (p[k] > 0) h -= p[k] * (s[ids[k]] - logZ);
  return h;
}

/** Masks every token for which `drop(i)` holds. */
function maskWhere(s: Float32Array, drop: (i: number) => boolean): void {
  for (let i = 0; i < s.length; i++) if (drop(i)) s[i] = -Infinity;
}

function keepName(minTokensToKeep: number): string {
  return minTokensToKeep > 1 ? ` (keep ≥ ${minTokensToKeep})` : '';
}

/**
 * Keeps the tokens whose score is ≥ the k-th best score (k raised to minTokensToKeep): all
 * tokens tied with the k-th are kept, so more than k may survive.
 */
export class TopKProcessor implements LogitsProcessor {
  readonly name: string;
  private readonly k: number;
  constructor(
    readonly topK: number,
    readonly minTokensToKeep = 1,
  ) {
    checkInteger('topK', topK, 1);
    checkInteger('minTokensToKeep', minTokensToKeep, 1);
    this.k = Math.max(topK, minTokensToKeep);
    this.name = `top-k ${topK}${keepName(minTokensToKeep)}`;
  }
  process(_ids: readonly number[], s: Float32Array): void {
    const t = nthBestScore(s, this.k);
    for (let i = 0; i < s.length; i++) if (s[i] < t) s[i] = -Infinity;
  }
}

/**
 * Nucleus sampling: keeps the smallest set of most probable tokens whose probability
 * reaches topP — a token is kept while the mass strictly above it (in the order most
 * probable first) is < topP, which is Hugging Face's "cumulative mass from the least
 * probable ≤ 1 − topP is removed" — and always the first minTokensToKeep.
 */
export class TopPProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly topP: number,
    readonly minTokensToKeep = 1,
  ) {
    checkNumber('topP', topP, 0, 1);
    checkInteger('minTokensToKeep', minTokensToKeep, 1);
    this.name = `top-p ${topP}${keepName(minTokensToKeep)}`;
  }
  process(_ids: readonly number[], s: Float32Array): void {
    const live = sparseLive(s);
    if (live) return this.processLive(s, live);
    const max = maxOf(s);
    if (max === -Infinity) return;
    const { p } = probs(s, max);
    const order = orderedHead(negated(s), p, this.minTokensToKeep, this.topP + MASS_MARGIN);
    const keep = new Uint8Array(s.length);
    let above = 0;
    for (let r = 0; r < order.length; r++) {
      const i = order[r];
      if (r < this.minTokensToKeep || above < this.topP) keep[i] = 1;
      above += p[i];
    }
    maskWhere(s, (i) => !keep[i]);
  }
  /** The same over the live ids of a mostly masked row: the whole order is the head's order continued. */
  private processLive(s: Float32Array, live: LiveIds): void {
    if (live.max === -Infinity) return;
    const { ids } = live;
    const { p } = liveProbs(s, live);
    const order = byScore(s, ids);
    const keep = new Uint8Array(ids.length);
    let above = 0;
    for (let r = 0; r < order.length; r++) {
      const k = order[r];
      if (r < this.minTokensToKeep || above < this.topP) keep[k] = 1;
      above += p[k];
    }
    for (let k = 0; k < ids.length; k++) if (!keep[k]) s[ids[k]] = -Infinity;
  }
}

/**
 * Keeps the tokens whose probability is ≥ minP × the top token's probability (computed as
 * exp(score − max) ≥ minP, the same ratio without the normaliser) and always the
 * minTokensToKeep most probable.
 */
export class MinPProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly minP: number,
    readonly minTokensToKeep = 1,
  ) {
    checkNumber('minP', minP, 0, 1);
    checkInteger('minTokensToKeep', minTokensToKeep, 1);
    this.name = `min-p ${minP}${keepName(minTokensToKeep)}`;
  }
  process(_ids: readonly number[], s: Float32Array): void {
    const live = sparseLive(s);
    if (live) return this.processLive(s, live);
    const max = maxOf(s);
    if (max === -Infinity) return;
    const saved = new Uint8Array(s.length);
    const m = Math.min(this.minTokensToKeep, s.length);
    if (m === 1)
      saved[s.indexOf(max)] = 1; // the head of the order: the first id with the best score
    else
      orderedHead(negated(s), null, m, 0)
        .subarray(0, m)
        .forEach((i) => (saved[i] = 1));
    const minP = this.minP;
    for (let i = 0; i < s.length; i++) if (s[i] !== -Infinity && !saved[i] && Math.exp(s[i] - max) < minP) s[i] = -Infinity;
  }
  private processLive(s: Float32Array, { ids, max }: LiveIds): void {
    if (max === -Infinity) return;
    const saved = new Uint8Array(ids.length);
    const m = Math.min(this.minTokensToKeep, ids.length);
    if (m === 1) {
      let k = 0;
      while (s[ids[k]] !== max) k++;
      saved[k] = 1;
    } else
      byScore(s, ids)
        .subarray(0, m)
        .forEach((k) => (saved[k] = 1));
    const minP = this.minP;
    for (let k = 0; k < ids.length; k++) if (!saved[k] && Math.exp(s[ids[k]] - max) < minP) s[ids[k]] = -Infinity;
  }
}

/**
 * Locally typical sampling: with H the entropy of softmax(scores), orders tokens by
 * |−log p − H| (closest to the expected information first), takes the shortest such
 * prefix whose mass reaches typicalP, and keeps every token whose distance is ≤ that of
 * the prefix's last token (ties included), plus the first minTokensToKeep of the order.
 */
export class TypicalProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly typicalP: number,
    readonly minTokensToKeep = 1,
  ) {
    checkNumber('typicalP', typicalP, 0, 1, { lo: true, hi: true });
    checkInteger('minTokensToKeep', minTokensToKeep, 1);
    this.name = `typical-p ${typicalP}${keepName(minTokensToKeep)}`;
  }
  process(_ids: readonly number[], s: Float32Array): void {
    const live = sparseLive(s);
    if (live) return this.processLive(s, live);
    const max = maxOf(s);
    if (max === -Infinity) return;
    const { p, logZ } = probs(s, max);
    let h = 0;
    for (let i = 0; i < s.length; i++) if (p[i] > 0) h -= p[i] * (s[i] - logZ);
    const dist = new Float64Array(s.length);
    for (let i = 0; i < s.length; i++) dist[i] = s[i] === -Infinity ? Infinity : Math.abs(logZ - s[i] - h);
    const order = orderedHead(dist, p, this.minTokensToKeep, this.typicalP + MASS_MARGIN);
    // The first position where the cumulative mass reaches typicalP (the last one if none does).
    let cut = order.length - 1;
    let cum = 0;
    for (let r = 0; r < order.length; r++) {
      cum += p[order[r]];
      if (cum >= this.typicalP) {
        cut = r;
        break;
      }
    }
    const limit = dist[order[cut]];
    const saved = new Uint8Array(s.length);
    for (let r = 0; r < Math.min(this.minTokensToKeep, order.length); r++) saved[order[r]] = 1;
    maskWhere(s, (i) => !saved[i] && dist[i] > limit);
  }
  /** The same over the live ids (a masked id's distance is Infinity: it is never in the cut or the keep). */
  private processLive(s: Float32Array, live: LiveIds): void {
    if (live.max === -Infinity) return;
    const { ids } = live;
    const { p, logZ } = liveProbs(s, live);
    const h = liveEntropy(s, ids, p, logZ);
    const dist = new Float64Array(ids.length);
    for (let k = 0; k < ids.length; k++) dist[k] = Math.abs(logZ - s[ids[k]] - h);
    const order = new Int32Array(ids.length);
    for (let k = 0; k < order.length; k++) order[k] = k;
    order.sort((a, b) => (dist[a] < dist[b] ? -1 : dist[a] > dist[b] ? 1 : ids[a] - ids[b]));
    let cut = order.length - 1;
    let cum = 0;
    for (let r = 0; r < order.length; r++) {
      cum += p[order[r]];
      if (cum >= this.typicalP) {
        cut = r;
        break;
      }
    }
    const limit = dist[order[cut]];
    const saved = new Uint8Array(ids.length);
    for (let r = 0; r < Math.min(this.minTokensToKeep, order.length); r++) saved[order[r]] = 1;
    for (let k = 0; k < ids.length; k++) if (!saved[k] && dist[k] > limit) s[ids[k]] = -Infinity;
  }
}

/** Masks tokens with probability < `cutoff`, except those scoring ≥ the minTokensToKeep-th best. */
function maskBelow(s: Float32Array, p: Float64Array, cutoff: number, minTokensToKeep: number): void {
  const floor = nthBestScore(s, minTokensToKeep);
  maskWhere(s, (i) => p[i] < cutoff && s[i] < floor);
}

/** maskBelow over the live ids (p[k] for ids[k]). */
function maskBelowLive(s: Float32Array, ids: Int32Array, p: Float64Array, cutoff: number, minTokensToKeep: number): void {
  const floor = nthBestLive(s, ids, minTokensToKeep);
  for (let k = 0; k < ids.length; k++) if (p[k] < cutoff && s[ids[k]] < floor) s[ids[k]] = -Infinity;
}

/** Epsilon sampling: masks tokens with probability < epsilon (keeping the minTokensToKeep best). */
export class EpsilonProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly epsilon: number,
    readonly minTokensToKeep = 1,
  ) {
    checkNumber('epsilon', epsilon, 0, 1, { lo: true, hi: true });
    checkInteger('minTokensToKeep', minTokensToKeep, 1);
    this.name = `epsilon ${epsilon}${keepName(minTokensToKeep)}`;
  }
  process(_ids: readonly number[], s: Float32Array): void {
    const live = sparseLive(s);
    if (live) {
      if (live.max !== -Infinity) maskBelowLive(s, live.ids, liveProbs(s, live).p, this.epsilon, this.minTokensToKeep);
      return;
    }
    const max = maxOf(s);
    if (max === -Infinity) return;
    maskBelow(s, probs(s, max).p, this.epsilon, this.minTokensToKeep);
  }
}

/**
 * Eta sampling: masks tokens with probability < min(eta, √eta · e^−H), H the entropy of
 * softmax(scores) (keeping the minTokensToKeep best). This is Hugging Face's code; its
 * docstring's √(eta · e^−H) is not what it computes.
 */
export class EtaProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly eta: number,
    readonly minTokensToKeep = 1,
  ) {
    checkNumber('eta', eta, 0, 1, { lo: true, hi: true });
    checkInteger('minTokensToKeep', minTokensToKeep, 1);
    this.name = `eta ${eta}${keepName(minTokensToKeep)}`;
  }
  process(_ids: readonly number[], s: Float32Array): void {
    const live = sparseLive(s);
    if (live) {
      if (live.max === -Infinity) return;
      const { p, logZ } = liveProbs(s, live);
      const h = liveEntropy(s, live.ids, p, logZ);
      maskBelowLive(s, live.ids, p, Math.min(this.eta, Math.sqrt(this.eta) * Math.exp(-h)), this.minTokensToKeep);
      return;
    }
    const max = maxOf(s);
    if (max === -Infinity) return;
    const { p, logZ } = probs(s, max);
    let h = 0;
    for (let i = 0; i < s.length; i++) if (p[i] > 0) h -= p[i] * (s[i] - logZ);
    maskBelow(s, p, Math.min(this.eta, Math.sqrt(this.eta) * Math.exp(-h)), this.minTokensToKeep);
  }
}
