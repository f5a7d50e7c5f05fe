/**
 * The step debugger's data: one row of raw logits run through a processor chain stage by
 * stage, with what each stage left (the most likely survivors, how many survive, the
 * entropy), where the chosen id stands, and the rank and probability of any ids the user
 * names before and after the chain — also when they are far outside the top candidates.
 */
import type { LogitsProcessor } from './processors';

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

/** A stage's distribution in sums against a reference score `ref`: z = Σ e^(s−ref), ez = Σ e^(s−ref)·(s − ref). */
interface Sums {
  ref: number;
  z: number;
  ez: number;
  surviving: number;
}

/** One pass over a row (ref: its maximum); with `head`, that pass also collects the best ids. */
function sumsOf(s: Float32Array, head?: TopList): Sums {
  let max = -Infinity;
  let surviving = 0;
  for (let i = 0; i < s.length; i++) {
    const v = s[i];
    if (v > max) max = v;
    if (v !== -Infinity) surviving++;
    if (head && v > head.floor) head.add(i);
  }
  let z = 0;
  let ez = 0;
  if (max !== -Infinity) {
    for (let i = 0; i < s.length; i++) {
      if (s[i] === -Infinity) continue;
      const d = s[i] - max;
      const e = Math.exp(d);
      z += e;
      ez += e * d;
    }
  }
  return { ref: max, z, ez, surviving };
}

/** The sums after a few entries changed (old values in `before`), without a pass over the row. */
function updateSums(m: Sums, changed: readonly number[], before: Float32Array, after: Float32Array): Sums | undefined {
  let { z, ez, surviving } = m;
  for (const i of changed) {
    for (let side = 0; side < 2; side++) {
      const v = side ? after[i] : before[i];
      const sign = side ? 1 : -1;
      if (v === -Infinity) continue;
      const d = v - m.ref;
      if (d > 600) return undefined; // would overflow against the old reference: recompute
      const e = Math.exp(d);
      z += sign * e;
      ez += sign * e * d;
      surviving += sign;
    }
  }
  // Cancellation can leave z meaningless when most of the mass moved: recompute then.
  return z > 1e-9 * m.z ? { ref: m.ref, z, ez, surviving } : undefined;
}

const logZOf = (m: Sums) => (m.surviving ? m.ref + Math.log(m.z) : -Infinity);
const entropyOf = (m: Sums) => (m.surviving ? Math.log(m.z) - m.ez / m.z : 0);

/** The best `n` ids, best first (lower id first on ties): one pass with a small sorted list. */
function topIds(s: Float32Array, n: number): number[] {
  const head = new TopList(s, n);
  for (let i = 0; i < s.length; i++) if (s[i] > head.floor) head.add(i);
  return head.ids;
}

/** A best-first list of at most n ids; `floor` is the score an id must beat to enter. */
class TopList {
  readonly ids: number[] = [];
  floor = -Infinity;
  constructor(
    private readonly s: Float32Array,
    private readonly n: number,
  ) {}
  add(i: number): void {
    const { s, ids, n } = this;
    const v = s[i];
    let j = ids.length < n ? ids.length : n - 1;
    if (ids.length < n) ids.push(i);
    while (j > 0 && s[ids[j - 1]] < v) {
      ids[j] = ids[j - 1];
      j--;
    }
    ids[j] = i;
    if (ids.length === n) this.floor = s[ids[n - 1]];
  }
}

/** The unmasked ids of `s` (among `from` when given). */
function liveIds(s: Float32Array, from: Int32Array | undefined, n: number): Int32Array {
  const out = new Int32Array(n);
  let j = 0;
  if (from) {
    for (const i of from) if (s[i] !== -Infinity) out[j++] = i;
  } else {
    for (let i = 0; i < s.length; i++) if (s[i] !== -Infinity) out[j++] = i;
  }
  return out.subarray(0, j);
}

/** sumsOf over the ids in `live` only (every other id is masked). */
function sumsOfLive(s: Float32Array, live: Int32Array): Sums {
  let max = -Infinity;
  let surviving = 0;
  for (const i of live) {
    if (s[i] > max) max = s[i];
    if (s[i] !== -Infinity) surviving++;
  }
  let z = 0;
  let ez = 0;
  if (max !== -Infinity) {
    for (const i of live) {
      if (s[i] === -Infinity) continue;
      const d = s[i] - max;
      const e = Math.exp(d);
      z += e;
      ez += e * d;
    }
  }
  return { ref: max, z, ez, surviving };
}

/** topIds over the ids in `live` (ascending), best first. */
function topIdsOf(s: Float32Array, live: Int32Array, n: number): number[] {
  const head = new TopList(s, n);
  for (const i of live) if (s[i] > head.floor) head.add(i);
  return head.ids;
}

/**
 * 0-based rank of `id` (ids with a higher score, or an equal score and a lower id, come
 * first). With `live` (every other id masked) and `id` unmasked, only the live ids can rank above it.
 */
function rankOf(s: Float32Array, id: number, live?: Int32Array): number {
  const v = s[id];
  let r = 0;
  if (live && v !== -Infinity) {
    for (const i of live) if (s[i] > v || (s[i] === v && i < id)) r++;
    return r;
  }
  for (let i = 0; i < s.length; i++) if (s[i] > v || (s[i] === v && i < id)) r++;
  return r;
}

/** The row before the current stage, reused across updates of the same size (one update runs at a time). */
let prevScratch = new Float32Array(0);

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
  const push = (name: string, row: Float32Array, m: Sums, head: number[]) => {
    const logZ = logZOf(m);
    stages.push({ name, top: head.map((id) => ({ id, prob: Math.exp(row[id] - logZ), score: row[id] })), surviving: m.surviving, entropy: entropyOf(m) });
  };
  // A dense pass collects the best ids on the way (a masked id never enters a TopList, so it holds min(top, surviving)).
  const denseSums = (row: Float32Array): { m: Sums; head: TopList | undefined } => {
    const head = top > 0 ? new TopList(row, top) : undefined;
    return { m: sumsOf(row, head), head };
  };
  // A stage that changes few entries (penalties, biases, bans) updates the sums instead of
  // passing over the row again; `prev` holds the row before the stage to find them. Once
  // most ids are masked, only the live ones are visited (a processor never unmasks one).
  const first = denseSums(logits);
  const raw = first.m;
  push('logits', logits, raw, raw.surviving ? (first.head?.ids ?? topIds(logits, Math.min(top, raw.surviving))) : []);
  const s = logits.slice();
  if (prevScratch.length !== V) prevScratch = new Float32Array(V);
  const prev = prevScratch;
  prev.set(logits);
  const few = Math.max(64, V >> 6);
  let last = raw;
  let live: Int32Array | undefined;
  for (const p of processors) {
    p.process(ids, s);
    const changed: number[] = [];
    if (live) {
      for (const i of live) if (s[i] !== prev[i]) changed.push(i);
    } else {
      for (let i = 0; i < V && changed.length <= few; i++) if (s[i] !== prev[i]) changed.push(i);
    }
    let fused: TopList | undefined;
    const dense = () => {
      const d = denseSums(s);
      fused = d.head;
      return d.m;
    };
    if (changed.length <= few) {
      last = updateSums(last, changed, prev, s) ?? (live ? sumsOfLive(s, live) : dense());
      for (const i of changed) prev[i] = s[i];
    } else {
      last = live ? sumsOfLive(s, live) : dense();
      if (live) for (const i of live) prev[i] = s[i];
      else prev.set(s);
    }
    if (last.surviving < V >> 3 && (!live || last.surviving < live.length)) live = liveIds(s, live, last.surviving);
    const head = !last.surviving ? [] : fused ? (fused as TopList).ids : live ? topIdsOf(s, live, Math.min(top, last.surviving)) : topIds(s, Math.min(top, last.surviving));
    push(p.name, s, last, head);
  }
  const rawLogZ = logZOf(raw);
  const lastLogZ = logZOf(last);
  const place = (row: Float32Array, logZ: number, id: number, ids?: Int32Array) => (row[id] === -Infinity ? null : { rank: rankOf(row, id, ids), prob: Math.exp(row[id] - logZ) });
  return {
    scores: s,
    finish(chosen: number): StepInspection {
      checkId(chosen);
      const c = place(s, lastLogZ, chosen, live) ?? { rank: rankOf(s, chosen), prob: 0 };
      return {
        stages,
        chosen: { id: chosen, ...c },
        named: named.map((id) => ({ id, before: place(logits, rawLogZ, id) ?? { rank: rankOf(logits, id), prob: 0 }, after: place(s, lastLogZ, id, live) })),
      };
    },
  };
}
