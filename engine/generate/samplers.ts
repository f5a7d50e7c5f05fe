/**
 * Samplers: pick the next id from a row of processed scores. Greedy takes the argmax;
 * multinomial draws from softmax(scores) with the engine's seeded Rng.
 */
import { Rng } from './rng';
import { liveProbs, sparseLive, type LiveIds } from './sparse';

export interface Sampler {
  readonly name: string;
  /** True when the pick is the argmax of the raw logits (the device can pick it). */
  readonly greedy: boolean;
  sample(scores: Float32Array): number;
}

/** Index of the largest value (first one on ties, as torch.argmax). */
export function argmax(x: Float32Array, offset = 0, n = x.length - offset): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i];
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/** softmax(scores) in f64: -Infinity scores get probability 0. */
export function softmax(scores: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of scores) if (v > max) max = v;
  const p = new Float64Array(scores.length);
  if (max === -Infinity) return p;
  let sum = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] !== -Infinity) sum += p[i] = Math.exp(scores[i] - max); // masked: 0, no exp call
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

export class GreedySampler implements Sampler {
  readonly name = 'greedy';
  readonly greedy = true;
  sample(scores: Float32Array): number {
    return argmax(scores);
  }
}

export class MultinomialSampler implements Sampler {
  readonly name = 'sample';
  readonly greedy = false;
  constructor(private readonly rng: Rng = new Rng(1)) {}
  sample(scores: Float32Array): number {
    const live = sparseLive(scores);
    if (live) return this.sampleLive(scores, live);
    const p = softmax(scores);
    let r = this.rng.next();
    let last = -1;
    for (let i = 0; i < p.length; i++) {
      if (p[i] === 0) continue;
      last = i;
      if ((r -= p[i]) < 0) return i;
    }
    if (last < 0) throw new RangeError('sample: every token is masked (all scores are -Infinity)');
    return last; // rounding left a sliver of r
  }
  /** The same walk over the live ids of a mostly masked row (their probabilities are the same to the bit). */
  private sampleLive(scores: Float32Array, live: LiveIds): number {
    const p = live.max === -Infinity ? new Float64Array(0) : liveProbs(scores, live).p;
    let r = this.rng.next();
    let last = -1;
    for (let k = 0; k < p.length; k++) {
      if (p[k] === 0) continue;
      last = live.ids[k];
      if ((r -= p[k]) < 0) return live.ids[k];
    }
    if (last < 0) throw new RangeError('sample: every token is masked (all scores are -Infinity)');
    return last;
  }
}
