/**
 * Logits processors: each changes a row of next-token scores in place before the sampler
 * picks an id, as Hugging Face's LogitsProcessor / LogitsWarper do. A score of -Infinity
 * masks a token; no processor ever unmasks one. They run in the order given (a
 * LogitsProcessorList).
 *
 * This file holds the interface, the parameter checks and the processors that change
 * values or mask by history (temperature, repetition penalty, no-repeat n-gram);
 * truncation.ts holds the ones that cut the distribution (top-k, top-p, min-p, typical,
 * epsilon, eta); options.ts builds a list in Hugging Face's order from plain options.
 */
export interface LogitsProcessor {
  /** For people and records: "temperature 0.7", "top-k 40". */
  readonly name: string;
  /** Changes `scores` ([V]) in place. `ids`: the prompt and every id generated so far. */
  process(ids: readonly number[], scores: Float32Array): void;
}

/** Runs processors in order over one row. */
export function applyProcessors(processors: readonly LogitsProcessor[], ids: readonly number[], scores: Float32Array): void {
  for (const p of processors) p.process(ids, scores);
}

/**
 * A processor parameter outside its range. `parameter` is the option's name as in
 * ProcessorOptions (topP, minTokensToKeep…), so a caller (the CLI) can name its own flag.
 */
export class ParameterRangeError extends RangeError {
  constructor(
    readonly parameter: string,
    /** The range in words: "a number in [0, 1]". */
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`${parameter} must be ${expected}, got ${String(got)}`);
    this.name = 'ParameterRangeError';
  }
}

/** An integer ≥ min, or a ParameterRangeError. */
export function checkInteger(parameter: string, v: number, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new ParameterRangeError(parameter, `an integer ≥ ${min}`, v);
  return v;
}

/** A number in the interval lo..hi, each end open or closed, or a ParameterRangeError. */
export function checkNumber(parameter: string, v: number, lo: number, hi: number, open: { lo?: boolean; hi?: boolean } = {}): number {
  const okLo = open.lo ? v > lo : v >= lo;
  const okHi = open.hi ? v < hi : v <= hi;
  if (typeof v !== 'number' || Number.isNaN(v) || !okLo || !okHi) {
    const range = hi === Infinity ? `${open.lo ? '>' : '≥'} ${lo}` : `in ${open.lo ? '(' : '['}${lo}, ${hi}${open.hi ? ')' : ']'}`;
    throw new ParameterRangeError(parameter, `a number ${range}`, v);
  }
  return v;
}

/** scores / t (t > 0): below 1 sharpens the distribution, above 1 flattens it. */
export class TemperatureProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(readonly temperature: number) {
    checkNumber('temperature', temperature, 0, Infinity, { lo: true, hi: true });
    this.name = `temperature ${temperature}`;
  }
  process(_ids: readonly number[], scores: Float32Array): void {
    const t = Math.fround(this.temperature); // Hugging Face divides by the f32 value: the same quotient to the bit
    for (let i = 0; i < scores.length; i++) scores[i] = scores[i] / t;
  }
}

let seenScratch = new Uint8Array(0);

/**
 * Hugging Face's repetition penalty (CTRL): every id already in `ids` (the prompt
 * included), once however often it occurs, has its score divided by `penalty` when it is
 * ≥ 0 and multiplied by it when it is < 0 — so penalty > 1 makes it less likely either
 * way and penalty < 1 more likely.
 */
export class RepetitionPenaltyProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(readonly penalty: number) {
    checkNumber('repetitionPenalty', penalty, 0, Infinity, { lo: true, hi: true });
    this.name = `repetition penalty ${penalty}`;
  }
  process(ids: readonly number[], scores: Float32Array): void {
    const V = scores.length;
    for (const id of ids) if (!(id >= 0 && id < V)) throw new RangeError(`repetition penalty: id ${id} is outside the vocabulary [0, ${V})`);
    // Marks in a buffer kept across calls, cleared again after: no vocabulary-sized allocation per step.
    if (seenScratch.length < V) seenScratch = new Uint8Array(V);
    const seen = seenScratch;
    const r = Math.fround(this.penalty); // the f32 value, as Hugging Face's torch.where
    for (const id of ids) {
      if (seen[id]) continue;
      seen[id] = 1;
      const s = scores[id];
      scores[id] = s < 0 ? s * r : s / r;
    }
    for (const id of ids) seen[id] = 0;
  }
}

/**
 * Hugging Face's no-repeat n-gram: masks every id that would complete an n-gram already
 * present in `ids` (the prompt included). The last n − 1 ids are the prefix; every earlier
 * window of n ids that starts with that prefix bans its last id. n = 1 bans every id seen.
 */
export class NoRepeatNgramProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(readonly ngramSize: number) {
    checkInteger('noRepeatNgramSize', ngramSize, 1);
    this.name = `no-repeat-ngram ${ngramSize}`;
  }
  process(ids: readonly number[], scores: Float32Array): void {
    const n = this.ngramSize;
    const len = ids.length;
    if (len < n) return; // no complete n-gram yet
    const p0 = len - n + 1; // the prefix is ids[p0 .. len)
    for (let w = 0; w + n <= len; w++) {
      let match = true;
      for (let j = 0; j < n - 1 && match; j++) match = ids[w + j] === ids[p0 + j];
      if (!match) continue;
      const banned = ids[w + n - 1];
      if (banned >= 0 && banned < scores.length) scores[banned] = -Infinity;
    }
  }
}
