/**
 * The decoding lab: the worker runs up to four decoding strategies on one prompt and seed
 * (each a plain description: a processor chain in order and a sampler) and streams a record
 * per step with the step debugger's inspection (engine/generate/inspect.ts); a column may
 * start from forced ids (a branch from an alternative token); beam search answers with its
 * sequences and tree. An exported run is saved through the host (export.ts).
 */
import type { BeamTreeNode } from '../generate/beam';
import type { ProcessorSpec } from '../generate/chain';
import type { StageCandidate, StepInspection } from '../generate/inspect';
import type { ModelLoadSpec } from './models';
import { ProtocolError, describe, isRecord, num, str, type MessageParsers, type Raw, type ReplyTable } from './validate';

/** At most this many columns run in one lab request. */
export const MAX_LAB_COLUMNS = 4;
/** At most this many new tokens per column. */
export const MAX_LAB_TOKENS = 512;
/** Candidates per stage in the inspection. */
export const MAX_LAB_TOP = 20;

export type LabSampler =
  | { kind: 'greedy' }
  /** Multinomial sampling from the column's seeded Rng. */
  | { kind: 'sample' }
  /** Hugging Face beam search (engine/generate/beam.ts). */
  | { kind: 'beam'; numBeams: number; numReturnSequences?: number; lengthPenalty?: number; earlyStopping?: boolean; numBeamGroups?: number; diversityPenalty?: number }
  /**
   * Speculative decoding (engine/generate/speculative.ts): the draft proposes `draftTokens`
   * ids per target pass; greedy, or sampled with the accept/reject rule. The draft is another
   * registered model (`draftModel`, same vocabulary; the worker reads it through the host like
   * the loaded one and keeps it on the CPU), or else an early-exit one: the loaded model cut
   * after its first `draftLayers` layers.
   */
  | { kind: 'speculative'; draftLayers: number; draftTokens: number; sample: boolean; draftModel?: ModelLoadSpec };

export type LabSamplerKind = LabSampler['kind'];
export const LAB_SAMPLER_KINDS: readonly LabSamplerKind[] = ['greedy', 'sample', 'beam', 'speculative'];

/** One column's strategy: what it is called, its processor chain (in order) and its sampler. */
export interface LabStrategy {
  label: string;
  processors: ProcessorSpec[];
  sampler: LabSampler;
}

export interface LabColumn {
  strategy: LabStrategy;
  /** Ids after the prompt that the column starts from (a branch: the parent's ids up to a step, then the alternative). */
  forced?: number[];
}

/** Webview -> worker. */
export type LabWorkerRequest =
  | {
      type: 'labRun';
      id: number;
      prompt: string;
      seed: number;
      maxTokens: number;
      columns: LabColumn[];
      /** Candidates per stage. */
      top: number;
      /** A token the user names (as text; its first token is followed), pinned in every step's bars. */
      named?: string;
      /** Run only these column indices (the others are not touched); default all. */
      only?: number[];
    }
  /** Stops the lab run with this id (0: whichever runs). */
  | { type: 'labStop'; id: number };

/** A token as the lab shows it: its id and the text it stands for. */
export type LabPieces = Record<string, string>;

export interface LabStepMessage {
  type: 'labStep';
  id: number;
  column: number;
  step: number;
  token: number;
  /** Text this token makes printable (streaming detokenizer). */
  text: string;
  /** True for a forced id (a branch's prefix). */
  forced?: boolean;
  inspection?: StepInspection;
  /**
   * Speculative decoding, on the first record of each target pass: what the draft proposed and
   * how many of those the target accepted (this record and the next accepted − 1 are those; the
   * record after them is the target's own id).
   */
  drafted?: { tokens: number[]; accepted: number };
  /** Text of every id the record names (the token, its candidates, the named token). */
  pieces: LabPieces;
}

/** Worker -> webview. */
export type LabWorkerMessage =
  | { type: 'labStart'; id: number; promptIds: number[]; promptText: string; named?: { text: string; id: number } }
  | LabStepMessage
  | { type: 'labBeam'; id: number; column: number; sequences: number[][]; scores: number[]; texts: string[]; tree: BeamTreeNode[]; pieces: LabPieces }
  | { type: 'labColumnDone'; id: number; column: number; tokens: number; stopReason: string; ms: number; error?: string }
  | { type: 'labDone'; id: number }
  | { type: 'labError'; id: number; message: string };

export interface LabWorkerReplies {
  labRun: LabWorkerMessage['type'];
  /** Answered by the run's own labColumnDone (stopReason 'cancelled') and labDone. */
  labStop: never;
}

export const LAB_REPLIES: ReplyTable<LabWorkerReplies> = {
  labRun: { replies: ['labStart', 'labStep', 'labBeam', 'labColumnDone', 'labDone', 'labError'], last: ['labDone', 'labError'] },
  labStop: { replies: [], last: [] },
};

// ---------------------------------------------------------------- validation of worker messages

function ints(raw: Raw, key: string, optional = false): number[] | undefined {
  const v = raw[key];
  if (v === undefined && optional) return undefined;
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x))) throw new ProtocolError(`field "${key}" must be an array of integers, got ${describe(v)}`);
  return v as number[];
}

function nums(raw: Raw, key: string): number[] {
  const v = raw[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new ProtocolError(`field "${key}" must be an array of numbers, got ${describe(v)}`);
  return v as number[];
}

function record(v: unknown, key: string): Raw {
  if (!isRecord(v)) throw new ProtocolError(`field "${key}" must be an object, got ${describe(v)}`);
  return v;
}

function list(raw: Raw, key: string): unknown[] {
  const v = raw[key];
  if (!Array.isArray(v)) throw new ProtocolError(`field "${key}" must be an array, got ${describe(v)}`);
  return v;
}

/** A probability or score that may be −∞ (a masked entry) or NaN-free. */
function real(o: Raw, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || Number.isNaN(v)) throw new ProtocolError(`field "${key}" must be a number, got ${describe(v)}`);
  return v;
}

function pieces(raw: Raw): LabPieces {
  const p = record(raw.pieces, 'pieces');
  const out: LabPieces = {};
  for (const [k, v] of Object.entries(p)) {
    if (!/^\d+$/.test(k) || typeof v !== 'string') throw new ProtocolError('field "pieces" must map token ids to strings');
    out[k] = v;
  }
  return out;
}

function rankProb(v: unknown, key: string): { rank: number; prob: number } {
  const o = record(v, key);
  return { rank: num(o, 'rank')!, prob: real(o, 'prob') };
}

function inspection(v: unknown): StepInspection {
  const o = record(v, 'inspection');
  const stages = list(o, 'stages').map((s) => {
    const r = record(s, 'stages');
    const top: StageCandidate[] = list(r, 'top').map((c) => {
      const x = record(c, 'top');
      return { id: num(x, 'id')!, prob: real(x, 'prob'), score: real(x, 'score') };
    });
    return { name: str(r, 'name')!, top, surviving: num(r, 'surviving')!, entropy: real(r, 'entropy') };
  });
  const c = record(o.chosen, 'chosen');
  const named = list(o, 'named').map((n) => {
    const x = record(n, 'named');
    return { id: num(x, 'id')!, before: rankProb(x.before, 'before'), after: x.after === null ? null : rankProb(x.after, 'after') };
  });
  return { stages, chosen: { id: num(c, 'id')!, rank: num(c, 'rank')!, prob: real(c, 'prob') }, named };
}

const TREE_STATES: readonly BeamTreeNode['state'][] = ['alive', 'finished', 'pruned'];

function tree(raw: Raw): BeamTreeNode[] {
  return list(raw, 'tree').map((n) => {
    const x = record(n, 'tree');
    const state = x.state as BeamTreeNode['state'];
    if (!TREE_STATES.includes(state)) throw new ProtocolError(`field "state" must be one of ${TREE_STATES.join(', ')}, got ${describe(x.state)}`);
    return { index: num(x, 'index')!, parent: num(x, 'parent')!, token: num(x, 'token')!, step: num(x, 'step')!, logProb: real(x, 'logProb'), state };
  });
}

export const labWorkerParsers: MessageParsers<LabWorkerMessage> = {
  labStart: (raw) => {
    const named = raw.named === undefined ? undefined : record(raw.named, 'named');
    return {
      type: 'labStart',
      id: num(raw, 'id')!,
      promptIds: ints(raw, 'promptIds')!,
      promptText: str(raw, 'promptText')!,
      ...(named ? { named: { text: str(named, 'text')!, id: num(named, 'id')! } } : {}),
    };
  },
  labStep: (raw) => {
    const m: LabStepMessage = {
      type: 'labStep',
      id: num(raw, 'id')!,
      column: num(raw, 'column')!,
      step: num(raw, 'step')!,
      token: num(raw, 'token')!,
      text: str(raw, 'text')!,
      pieces: pieces(raw),
    };
    if (raw.forced === true) m.forced = true;
    if (raw.inspection !== undefined) m.inspection = inspection(raw.inspection);
    if (raw.drafted !== undefined) {
      const d = record(raw.drafted, 'drafted');
      m.drafted = { tokens: ints(d, 'tokens')!, accepted: num(d, 'accepted')! };
    }
    return m;
  },
  labBeam: (raw) => ({
    type: 'labBeam',
    id: num(raw, 'id')!,
    column: num(raw, 'column')!,
    sequences: list(raw, 'sequences').map((s) => ints({ sequences: s }, 'sequences')!),
    scores: nums(raw, 'scores'),
    texts: list(raw, 'texts').map((t) => str({ t }, 't')!),
    tree: tree(raw),
    pieces: pieces(raw),
  }),
  labColumnDone: (raw) => ({
    type: 'labColumnDone',
    id: num(raw, 'id')!,
    column: num(raw, 'column')!,
    tokens: num(raw, 'tokens')!,
    stopReason: str(raw, 'stopReason')!,
    ms: num(raw, 'ms')!,
    ...(raw.error !== undefined ? { error: str(raw, 'error')! } : {}),
  }),
  labDone: (raw) => ({ type: 'labDone', id: num(raw, 'id')! }),
  labError: (raw) => ({ type: 'labError', id: num(raw, 'id')!, message: str(raw, 'message')! }),
};
