/**
 * llama.cpp's samplers that have no Hugging Face counterpart, as logits processors with
 * llama.cpp's semantics and parameter names: top-n-sigma, XTC (exclude top choices), DRY
 * (don't repeat yourself) and Mirostat v2.
 *
 * XTC draws from an Rng and Mirostat v2 keeps a running target surprise `mu`: both are
 * stateful, so each generation builds its own processors (processorsFromSpecs does).
 * Mirostat also starts over on its own when the ids it is given are not its previous ids
 * plus one (a new prompt, another beam).
 */
import { checkInteger, checkNumber, type LogitsProcessor } from './processors';
import { Rng } from './rng';
import { softmax } from './samplers';
import { liveProbs, sparseLive, type LiveIds } from './sparse';

/**
 * Top-nσ: keeps the tokens whose score is ≥ max − n·σ, σ the standard deviation of the
 * unmasked scores. The cut scales with the scores, so it does not depend on temperature.
 */
export class TopNSigmaProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(readonly n: number) {
    checkNumber('topNSigma', n, 0, Infinity, { lo: true, hi: true });
    this.name = `top-n-sigma ${n}`;
  }
  process(_ids: readonly number[], s: Float32Array): void {
    const live = sparseLive(s);
    if (live) return this.processLive(s, live.ids);
    let max = -Infinity;
    let sum = 0;
    let k = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === -Infinity) continue;
      if (s[i] > max) max = s[i];
      sum += s[i];
      k++;
    }
    if (k <= 1) return;
    const mean = sum / k;
    let v = 0;
    for (let i = 0; i < s.length; i++) if (s[i] !== -Infinity) v += (s[i] - mean) ** 2;
    const cut = max - this.n * Math.sqrt(v / k);
    for (let i = 0; i < s.length; i++) if (s[i] < cut) s[i] = -Infinity;
  }
  /** The same sums over the live ids of a mostly masked row, in id order. */
  private processLive(s: Float32Array, ids: Int32Array): void {
    let max = -Infinity;
    let sum = 0;
    for (const i of ids) {
      if (s[i] > max) max = s[i];
      sum += s[i];
    }
    const k = ids.length;
    if (k <= 1) return;
    const mean = sum / k;
    let v = 0;
    for (const i of ids) v += (s[i] - mean) ** 2;
    const cut = max - this.n * Math.sqrt(v / k);
    for (const i of ids) if (s[i] < cut) s[i] = -Infinity;
  }
}

/**
 * XTC: with chance `probability`, when two or more tokens have probability ≥ `threshold`,
 * masks all of them but the least probable — it removes the obvious choices, keeping one.
 * A threshold above 0.5 can never hold two tokens and does nothing.
 */
export class XtcProcessor implements LogitsProcessor {
  readonly name: string;
  private readonly rng: Rng;
  constructor(
    readonly threshold: number,
    readonly probability: number,
    seed = 1,
    readonly minTokensToKeep = 1,
  ) {
    checkNumber('xtcThreshold', threshold, 0, 1);
    checkNumber('xtcProbability', probability, 0, 1);
    checkInteger('minTokensToKeep', minTokensToKeep, 1);
    this.rng = new Rng(seed);
    this.name = `xtc ${threshold} p=${probability}`;
  }
  process(_ids: readonly number[], s: Float32Array): void {
    if (this.probability <= 0 || this.threshold > 0.5) return;
    if (this.rng.next() > this.probability) return;
    const sparse = sparseLive(s);
    if (sparse) return this.processLive(s, sparse);
    let live = 0;
    for (let i = 0; i < s.length; i++) if (s[i] !== -Infinity) live++;
    if (live < 2) return;
    const p = softmax(s);
    // At most 1/threshold ids reach the threshold: sort only those.
    const above: number[] = [];
    for (let i = 0; i < s.length; i++) if (p[i] >= this.threshold && s[i] !== -Infinity) above.push(i);
    above.sort((a, b) => s[b] - s[a] || a - b);
    const last = above.length - 1; // the least probable one above the threshold stays
    if (last > 0 && live - last >= this.minTokensToKeep) for (let r = 0; r < last; r++) s[above[r]] = -Infinity;
  }
  /** The same over the live ids of a mostly masked row (after the draw). */
  private processLive(s: Float32Array, sparse: LiveIds): void {
    const { ids } = sparse;
    const live = ids.length;
    if (live < 2) return;
    const { p } = liveProbs(s, sparse);
    const above: number[] = [];
    for (let k = 0; k < live; k++) if (p[k] >= this.threshold) above.push(ids[k]);
    above.sort((a, b) => s[b] - s[a] || a - b);
    const last = above.length - 1;
    if (last > 0 && live - last >= this.minTokensToKeep) for (let r = 0; r < last; r++) s[above[r]] = -Infinity;
  }
}

/**
 * DRY: a token that would extend a repeat of the last n ids (ids[i−n..i) equal to the last
 * n ids and ids[i] that token) loses multiplier · base^(n − allowedLength) from its score,
 * n the longest such repeat, when n ≥ allowedLength. Only the last `lastN` ids are looked
 * at (0: all); a sequence breaker id ends a match.
 */
export class DryProcessor implements LogitsProcessor {
  readonly name: string;
  private readonly breakers: Set<number>;
  constructor(
    readonly multiplier: number,
    readonly base = 1.75,
    readonly allowedLength = 2,
    readonly lastN = 0,
    sequenceBreakers: readonly number[] = [],
  ) {
    checkNumber('dryMultiplier', multiplier, 0, Infinity, { hi: true });
    checkNumber('dryBase', base, 1, Infinity, { hi: true });
    checkInteger('dryAllowedLength', allowedLength, 1);
    checkInteger('dryPenaltyLastN', lastN, 0);
    this.breakers = new Set(sequenceBreakers);
    this.name = `dry ${multiplier} base ${base} allowed ${allowedLength}`;
  }
  process(all: readonly number[], s: Float32Array): void {
    if (this.multiplier === 0) return;
    const ids = this.lastN > 0 ? all.slice(-this.lastN) : all;
    const L = ids.length;
    const longest = new Map<number, number>();
    for (let i = 1; i < L; i++) {
      // Match the ids before position i against the end of the sequence.
      let n = 0;
      while (n < i && ids[i - 1 - n] === ids[L - 1 - n] && !this.breakers.has(ids[L - 1 - n])) n++;
      if (n === 0) continue;
      const t = ids[i];
      if (this.breakers.has(t)) continue;
      if (n > (longest.get(t) ?? 0)) longest.set(t, n);
    }
    for (const [t, n] of longest) if (n >= this.allowedLength && t >= 0 && t < s.length) s[t] -= this.multiplier * this.base ** (n - this.allowedLength);
  }
}

/**
 * Mirostat v2: keeps a running target surprise mu (start 2·tau). Each step masks the
 * tokens whose surprise −log2 p exceeds mu (keeping the most probable), the sampler draws
 * from what remains, and at the next step mu moves by −eta · (s − tau), s the chosen
 * token's surprise under the renormalised distribution of the step that chose it.
 */
export class MirostatV2Processor implements LogitsProcessor {
  readonly name: string;
  private mu: number;
  /** The previous step: its ids' length and the renormalised probabilities of the kept tokens. */
  private prev: { length: number; p: Map<number, number> } | undefined;
  constructor(
    readonly tau: number,
    readonly eta: number,
  ) {
    checkNumber('mirostatTau', tau, 0, Infinity, { lo: true, hi: true });
    checkNumber('mirostatEta', eta, 0, 1, { lo: true });
    this.mu = 2 * tau;
    this.name = `mirostat v2 tau ${tau} eta ${eta}`;
  }
  /** The current target surprise (bits). */
  get targetSurprise(): number {
    return this.mu;
  }
  /** Forgets the running state (a new generation). */
  reset(): void {
    this.mu = 2 * this.tau;
    this.prev = undefined;
  }
  process(ids: readonly number[], s: Float32Array): void {
    if (this.prev && ids.length === this.prev.length + 1) {
      const q = this.prev.p.get(ids[ids.length - 1]);
      if (q !== undefined) this.mu -= this.eta * (-Math.log2(q) - this.tau);
    } else if (this.prev) {
      this.reset();
    }
    const sparse = sparseLive(s);
    if (sparse) return this.cutLive(ids, s, sparse);
    // Surprise −log2 p ≤ mu is p ≥ 2^−mu: llama.cpp's sorted prefix, found without a sort.
    const p = softmax(s);
    const floor = 2 ** -this.mu;
    let best = -1;
    let mass = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === -Infinity) continue;
      if (best < 0 || s[i] > s[best]) best = i;
      if (p[i] >= floor) mass += p[i];
    }
    if (best < 0) return;
    const kept = new Map<number, number>();
    if (mass === 0) {
      kept.set(best, 1); // nothing within mu: the most probable alone
      for (let i = 0; i < s.length; i++) if (i !== best) s[i] = -Infinity;
    } else {
      for (let i = 0; i < s.length; i++) {
        if (s[i] === -Infinity) continue;
        if (p[i] >= floor) kept.set(i, p[i] / mass);
        else s[i] = -Infinity;
      }
    }
    this.prev = { length: ids.length, p: kept };
  }
  /** The same cut over the live ids of a mostly masked row, in id order. */
  private cutLive(ids: readonly number[], s: Float32Array, sparse: LiveIds): void {
    const live = sparse.ids;
    if (!live.length) return;
    const { p } = liveProbs(s, sparse);
    const floor = 2 ** -this.mu;
    let best = -1;
    let mass = 0;
    for (let k = 0; k < live.length; k++) {
      if (best < 0 || s[live[k]] > s[live[best]]) best = k;
      if (p[k] >= floor) mass += p[k];
    }
    const kept = new Map<number, number>();
    if (mass === 0) {
      kept.set(live[best], 1);
      for (let k = 0; k < live.length; k++) if (k !== best) s[live[k]] = -Infinity;
    } else {
      for (let k = 0; k < live.length; k++) {
        if (p[k] >= floor) kept.set(live[k], p[k] / mass);
        else s[live[k]] = -Infinity;
      }
    }
    this.prev = { length: ids.length, p: kept };
  }
}
