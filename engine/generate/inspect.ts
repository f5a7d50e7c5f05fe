/**
 * The step debugger's data: one row of raw logits run through a processor chain stage by
 * stage, with what each stage left (the most likely survivors, how many survive, the
 * entropy), where the chosen id stands, and the rank and probability of any ids the user
 * names before and after the chain — also when they are far outside the top candidates.
 */
import type { LogitsProcessor } from './processors';
import { orderedHead } from './truncation';

export interface StageCandidate {
  id: number;
  prob: number;
  score: number;
}

export interface StageRecord {
  /** 'logits' for the raw row, then each processor's `name` in chain order. */
  name: string;
  /** Most likely surviving candidates after this stage, most likely first (at most `top`). */
  top: StageCandidate[];
  /** How many ids are not masked after this stage. */
  surviving: number;
  /** Entropy (nats) of softmax(scores) after this stage. */
  entropy: number;
}

export interface NamedTokenRecord {
  id: number;
  /** Before the chain (raw logits): 0-based rank and probability. */
  before: { rank: number; prob: number };
  /** After the whole chain; null when masked. */
  after: { rank: number; prob: number } | null;
}

export interface StepInspection {
  stages: StageRecord[];
  chosen: { id: number; rank: number; prob: number };
  named: NamedTokenRecord[];
}

export interface InspectOptions {
  /** Candidates per stage (default 10). */
  top?: number;
  /** Ids whose rank and probability to report before and after the chain. */
  named?: readonly number[];
}

/** One pass over a row: the normaliser, the entropy and how many ids survive. */
function summary(s: Float32Array): { max: number; logZ: number; entropy: number; surviving: number } {
  let max = -Infinity;
  let surviving = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] > max) max = s[i];
    if (s[i] !== -Infinity) surviving++;
  }
  if (max === -Infinity) return { max, logZ: -Infinity, entropy: 0, surviving: 0 };
  let z = 0;
  let ez = 0; // Σ e^(s−max) · (s − max)
  for (let i = 0; i < s.length; i++) {
    if (s[i] === -Infinity) continue;
    const d = s[i] - max;
    const e = Math.exp(d);
    z += e;
    ez += e * d;
  }
  // H = log Z − E[s − max] with Z = Σ e^(s−max)
  return { max, logZ: max + Math.log(z), entropy: Math.log(z) - ez / z, surviving };
}

/** The best `n` ids, best first (lower id first on ties). */
function topIds(s: Float32Array, n: number): Uint32Array {
  const key = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) key[i] = -s[i];
  return orderedHead(key, null, Math.min(n, s.length), 0).subarray(0, Math.min(n, s.length));
}

/** 0-based rank of `id` (ids with a higher score, or an equal score and a lower id, come first). */
function rankOf(s: Float32Array, id: number): number {
  const v = s[id];
  let r = 0;
  for (let i = 0; i < s.length; i++) if (s[i] > v || (s[i] === v && i < id)) r++;
  return r;
}

/**
 * Runs `processors` over a copy of `logits` ([V]) in order, recording each stage, then
 * places `chosen` and the named ids. `ids`: the prompt and the ids generated so far.
 * Cost: one pass per stage plus each processor's own; a stateful processor (Mirostat, XTC)
 * advances as it would in generation, so give it a fresh chain or use `inspectStages`
 * inside generation, which processes the row once.
 */
export function inspectStep(ids: readonly number[], logits: Float32Array, processors: readonly LogitsProcessor[], chosen: number, opts: InspectOptions = {}): StepInspection {
  return inspectStages(ids, logits, processors, opts).finish(chosen);
}

/**
 * The chain applied once with a record after each stage: `scores` is the processed row
 * (for the sampler), `finish(chosen)` the inspection once the id is picked.
 */
export function inspectStages(
  ids: readonly number[],
  logits: Float32Array,
  processors: readonly LogitsProcessor[],
  opts: InspectOptions = {},
): { scores: Float32Array; finish(chosen: number): StepInspection } {
  const top = opts.top ?? 10;
  const named = opts.named ?? [];
  const V = logits.length;
  const checkId = (id: number) => {
    if (!Number.isSafeInteger(id) || id < 0 || id >= V) throw new RangeError(`inspect: token id ${id} is outside the vocabulary [0, ${V})`);
  };
  named.forEach(checkId);
  const stages: StageRecord[] = [];
  const record = (name: string, s: Float32Array) => {
    const m = summary(s);
    const head = m.surviving ? topIds(s, Math.min(top, m.surviving)) : new Uint32Array(0);
    stages.push({ name, top: Array.from(head, (id) => ({ id, prob: Math.exp(s[id] - m.logZ), score: s[id] })), surviving: m.surviving, entropy: m.entropy });
    return m;
  };
  const raw = record('logits', logits);
  const s = logits.slice();
  let last = raw;
  for (const p of processors) {
    p.process(ids, s);
    last = record(p.name, s);
  }
  const place = (row: Float32Array, logZ: number, id: number) => (row[id] === -Infinity ? null : { rank: rankOf(row, id), prob: Math.exp(row[id] - logZ) });
  return {
    scores: s,
    finish(chosen: number): StepInspection {
      checkId(chosen);
      const c = place(s, last.logZ, chosen) ?? { rank: rankOf(s, chosen), prob: 0 };
      return {
        stages,
        chosen: { id: chosen, ...c },
        named: named.map((id) => ({ id, before: place(logits, raw.logZ, id) ?? { rank: rankOf(logits, id), prob: 0 }, after: place(s, last.logZ, id) })),
      };
    },
  };
}
