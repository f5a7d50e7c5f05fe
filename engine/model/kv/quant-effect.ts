/**
 * What a quantised KV cache does to a model's output: the logits of the same tokens run with
 * the f32 cache and with the quantised one, compared position by position (max |Δ logits| and
 * KL(f32 ‖ quantised) of the next-token distributions), and the perplexity of the text under
 * each. Rows arrive a chunk at a time (add), so a long text never needs all of its [T, V]
 * logits in memory at once.
 */

/** log softmax of one row of logits, in f64. */
export function logSoftmax(row: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  const ls = Math.log(s) + m;
  return Float64Array.from(row, (v) => v - ls);
}

export interface QuantEffect {
  /** Positions compared. */
  positions: number;
  /** max |Δ logits| of each position. */
  maxAbsPerPosition: number[];
  /** KL(f32 ‖ quantised) of each position's next-token distribution, in nats. */
  klPerPosition: number[];
  maxAbs: number;
  maxKl: number;
  meanKl: number;
  /** The largest |logit| of the f32 run (the scale max |Δ| is judged against). */
  logitScale: number;
  /** Next tokens scored for perplexity (0: no targets were given). */
  predicted: number;
  /** exp(mean NLL of the next tokens); NaN without targets. */
  perplexityF32: number;
  perplexityQuant: number;
  /** (quantised − f32) / f32. */
  perplexityChange: number;
}

/** Accumulates the comparison of f32-cache and quantised-cache logits over chunks of rows. */
export class QuantEffectMeter {
  private readonly maxAbsRows: number[] = [];
  private readonly klRows: number[] = [];
  private scale = 0;
  private nllF32 = 0;
  private nllQuant = 0;
  private n = 0;

  constructor(readonly vocabSize: number) {
    if (!Number.isSafeInteger(vocabSize) || vocabSize < 1) throw new RangeError(`vocab size must be a positive integer, got ${vocabSize}`);
  }

  /**
   * Adds rows [T, V] of both runs for the same T positions; `next[t]` is the id that follows
   * row t (scored for perplexity), or a negative number / absent for a row with none.
   */
  add(f32: Float32Array, quant: Float32Array, next: ArrayLike<number> = []): void {
    const V = this.vocabSize;
    if (f32.length !== quant.length || f32.length % V !== 0) throw new RangeError(`logits must be two [T, ${V}] arrays of one shape, got ${f32.length} and ${quant.length} values`);
    for (let t = 0; t < f32.length / V; t++) {
      const a = f32.subarray(t * V, (t + 1) * V);
      const b = quant.subarray(t * V, (t + 1) * V);
      const p = logSoftmax(a);
      const q = logSoftmax(b);
      let kl = 0;
      let maxAbs = 0;
      for (let i = 0; i < V; i++) {
        kl += Math.exp(p[i]) * (p[i] - q[i]);
        maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
        this.scale = Math.max(this.scale, Math.abs(a[i]));
      }
      this.maxAbsRows.push(maxAbs);
      this.klRows.push(kl);
      const id = t < next.length ? next[t] : -1;
      if (id >= 0) {
        if (!Number.isInteger(id) || id >= V) throw new RangeError(`next token ${id} at row ${t} is outside the vocabulary [0, ${V})`);
        this.nllF32 -= p[id];
        this.nllQuant -= q[id];
        this.n++;
      }
    }
  }

  result(): QuantEffect {
    const kl = this.klRows;
    const a = Math.exp(this.nllF32 / this.n);
    const b = Math.exp(this.nllQuant / this.n);
    return {
      positions: kl.length,
      maxAbsPerPosition: [...this.maxAbsRows],
      klPerPosition: [...kl],
      maxAbs: this.maxAbsRows.reduce((m, x) => Math.max(m, x), 0),
      maxKl: kl.reduce((m, x) => Math.max(m, x), 0),
      meanKl: kl.length ? kl.reduce((s, x) => s + x, 0) / kl.length : 0,
      logitScale: this.scale,
      predicted: this.n,
      perplexityF32: this.n ? a : NaN,
      perplexityQuant: this.n ? b : NaN,
      perplexityChange: this.n ? (b - a) / a : NaN,
    };
  }
}
