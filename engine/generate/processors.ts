/**
 * Logits processors: each changes a row of next-token scores in place before the sampler
 * picks an id, as Hugging Face's LogitsProcessor / LogitsWarper do. A score of -Infinity
 * masks a token. They run in the order given (a LogitsProcessorList).
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

/** scores / t (t > 0). */
export class TemperatureProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(readonly temperature: number) {
    if (!Number.isFinite(temperature) || temperature <= 0) throw new RangeError(`temperature must be a number > 0, got ${temperature}`);
    this.name = `temperature ${temperature}`;
  }
  process(_ids: readonly number[], scores: Float32Array): void {
    const t = this.temperature;
    for (let i = 0; i < scores.length; i++) scores[i] = scores[i] / t;
  }
}
