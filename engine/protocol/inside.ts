/**
 * Inside the forward pass: the worker runs one forward of the active model on the
 * input, keeps the queries, keys, residual stream and router choices, then answers the
 * Inside panel's requests for head thumbnails, heatmap tiles, the logit lens grid and
 * the MoE routing, the attention rollout and the flash kernel's online softmax of a row
 * (engine/worker/inside.ts). Attention rows are recomputed on request,
 * so no message carries L × H × T × T floats.
 */
import type { HeadSummary } from '../model/attention-rows';
import type { RopeScaling } from '../model/types';
import { num, str, ProtocolError, type MessageParsers, type Raw, type ReplyTable } from './validate';

export type { HeadSummary };

/** Longest input the panel sends (characters). */
export const MAX_INSIDE_TEXT = 64 * 1024;

/** Webview -> worker. `head`: a head index, -1 the mean over heads, -2 the max, -3 the attention rollout through `layer`. */
export type InsideWorkerRequest =
  | { type: 'insideRun'; id: number; text: string }
  | { type: 'insideHeads'; id: number; size: number }
  | { type: 'insideTile'; id: number; layer: number; head: number; r0: number; r1: number; c0: number; c1: number; rows: number; cols: number }
  /** target: a token (its piece, or text whose first token is taken) ranked at every layer. */
  | { type: 'insideLens'; id: number; p0: number; p1: number; k: number; target?: string }
  | { type: 'insideRouter'; id: number }
  /** The flash kernel's online softmax for query `row` of a head, beside the naive softmax; both paths timed over the head. */
  | { type: 'insideFlash'; id: number; layer: number; head: number; row: number };

/** One key tile of the online softmax (null: the mask hides every key of the tile from the row so far). */
export interface FlashStep {
  k0: number;
  k1: number;
  tileMax: number | null;
  runningMax: number | null;
  runningSum: number;
  correction: number;
}

/** The flash view's answer: the row's walk over key tiles, both final rows, and both paths measured over the head. */
export interface FlashView {
  layer: number;
  head: number;
  row: number;
  BQ: number;
  BK: number;
  q0: number;
  q1: number;
  tiles: FlashStep[];
  flash: Float32Array; // [T]
  naive: Float32Array; // [T]
  naiveMax: number;
  naiveSum: number;
  /** Median milliseconds of each path over every row of the head, and the bytes of scores each allocated. */
  naiveMs: number;
  tiledMs: number;
  naiveBytes: number;
  tiledBytes: number;
  /** Largest difference of a row's log-sum-exp between the paths. */
  lseDiff: number;
}

/** What the forward found: the tokens and the model's shape. */
export interface InsideRunInfo {
  tokens: { id: number; piece: string }[];
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Per layer: the sliding window, or 0 for full causal attention. */
  windows: number[];
  /** MoE: experts and how many each token uses (0 when the model has none). */
  experts: number;
  topK: number;
  contextLength: number;
  backend: string;
  /** Bytes the worker keeps for the views (queries, keys, residuals, routing). */
  keptBytes: number;
  forwardMs: number;
  /** Rotary positions: theta, the trained context and the scaling (absent for learned positions). */
  rope?: { theta: number; maxPositions: number; scaling: RopeScaling };
}

const ROPE_TYPES: readonly RopeScaling['type'][] = ['default', 'linear', 'dynamic', 'llama3'];

function rope(v: unknown): InsideRunInfo['rope'] {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null) throw new ProtocolError('field "rope" must be an object');
  const r = v as Raw;
  const sc = r.scaling as Raw;
  if (typeof sc !== 'object' || sc === null || !ROPE_TYPES.includes(sc.type as RopeScaling['type']))
    throw new ProtocolError(`field "rope.scaling.type" must be one of ${ROPE_TYPES.join(', ')}`);
  const scaling: RopeScaling = { type: sc.type as RopeScaling['type'] };
  for (const k of ['factor', 'lowFreqFactor', 'highFreqFactor', 'originalMaxPositions'] as const) if (sc[k] !== undefined) scaling[k] = num(sc, k);
  return { theta: num(r, 'theta')!, maxPositions: num(r, 'maxPositions')!, scaling };
}

/** Worker -> webview. */
export type InsideWorkerMessage =
  | ({ type: 'insideReady'; id: number } & InsideRunInfo)
  | { type: 'insideHeadGrid'; id: number; size: number; thumbs: Float32Array; summaries: HeadSummary[] }
  | {
      type: 'insideTileData';
      id: number;
      layer: number;
      head: number;
      r0: number;
      r1: number;
      c0: number;
      c1: number;
      rows: number;
      cols: number;
      values: Float32Array;
      exact: boolean;
    }
  | {
      type: 'insideLensGrid';
      id: number;
      p0: number;
      p1: number;
      k: number;
      /** [L, P, k] top tokens per layer and position, their pieces and softmax probabilities. */
      ids: Int32Array;
      pieces: string[];
      probs: Float32Array;
      /** The named token and, per layer and position ([L, P]), its 0-based rank and probability. */
      targetId?: number;
      targetRank?: Int32Array;
      targetProb?: Float32Array;
    }
  | { type: 'insideRouting'; id: number; experts: Int32Array; weights: Float32Array; probs: Float32Array; k: number; numExperts: number }
  | ({ type: 'insideFlashTrace'; id: number } & FlashView)
  | { type: 'insideError'; id: number; message: string };

export interface InsideWorkerReplies {
  insideRun: 'insideReady' | 'insideError';
  insideHeads: 'insideHeadGrid' | 'insideError';
  insideTile: 'insideTileData' | 'insideError';
  insideLens: 'insideLensGrid' | 'insideError';
  insideRouter: 'insideRouting' | 'insideError';
  insideFlash: 'insideFlashTrace' | 'insideError';
}

export const INSIDE_REPLIES: ReplyTable<InsideWorkerReplies> = {
  insideRun: { replies: ['insideReady', 'insideError'], last: ['insideReady', 'insideError'] },
  insideHeads: { replies: ['insideHeadGrid', 'insideError'], last: ['insideHeadGrid', 'insideError'] },
  insideTile: { replies: ['insideTileData', 'insideError'], last: ['insideTileData', 'insideError'] },
  insideLens: { replies: ['insideLensGrid', 'insideError'], last: ['insideLensGrid', 'insideError'] },
  insideRouter: { replies: ['insideRouting', 'insideError'], last: ['insideRouting', 'insideError'] },
  insideFlash: { replies: ['insideFlashTrace', 'insideError'], last: ['insideFlashTrace', 'insideError'] },
};

function int(o: Raw, key: string): number {
  const v = num(o, key)!;
  if (!Number.isInteger(v)) throw new ProtocolError(`field "${key}" must be an integer, got ${v}`);
  return v;
}

function typed<T extends Float32Array | Int32Array>(o: Raw, key: string, ctor: new (n: number) => T, optional = false): T | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (!(v instanceof ctor)) throw new ProtocolError(`field "${key}" must be a ${ctor.name}`);
  return v;
}

function summaries(v: unknown): HeadSummary[] {
  if (!Array.isArray(v)) throw new ProtocolError('field "summaries" must be an array');
  return v.map((s: Raw) => ({ entropy: num(s, 'entropy')!, bos: num(s, 'bos')!, prev: num(s, 'prev')!, self: num(s, 'self')!, rowsUsed: int(s, 'rowsUsed') }));
}

function tokens(v: unknown): { id: number; piece: string }[] {
  if (!Array.isArray(v)) throw new ProtocolError('field "tokens" must be an array');
  return v.map((t: Raw) => ({ id: int(t, 'id'), piece: str(t, 'piece')! }));
}

function strings(v: unknown, key: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ProtocolError(`field "${key}" must be an array of strings`);
  return v as string[];
}

function ints(v: unknown, key: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) throw new ProtocolError(`field "${key}" must be an array of integers`);
  return v as number[];
}

function nullable(o: Raw, key: string): number | null {
  return o[key] === null ? null : num(o, key)!;
}

function flashSteps(v: unknown): FlashStep[] {
  if (!Array.isArray(v)) throw new ProtocolError('field "tiles" must be an array');
  return v.map((t: Raw) => ({
    k0: int(t, 'k0'),
    k1: int(t, 'k1'),
    tileMax: nullable(t, 'tileMax'),
    runningMax: nullable(t, 'runningMax'),
    runningSum: num(t, 'runningSum')!,
    correction: num(t, 'correction')!,
  }));
}

export const insideWorkerParsers: MessageParsers<InsideWorkerMessage> = {
  insideReady: (raw) => ({
    type: 'insideReady',
    id: int(raw, 'id'),
    tokens: tokens(raw.tokens),
    layers: int(raw, 'layers'),
    heads: int(raw, 'heads'),
    kvHeads: int(raw, 'kvHeads'),
    headDim: int(raw, 'headDim'),
    windows: ints(raw.windows, 'windows'),
    experts: int(raw, 'experts'),
    topK: int(raw, 'topK'),
    contextLength: int(raw, 'contextLength'),
    backend: str(raw, 'backend')!,
    keptBytes: num(raw, 'keptBytes')!,
    forwardMs: num(raw, 'forwardMs')!,
    rope: rope(raw.rope),
  }),
  insideHeadGrid: (raw) => ({
    type: 'insideHeadGrid',
    id: int(raw, 'id'),
    size: int(raw, 'size'),
    thumbs: typed(raw, 'thumbs', Float32Array)!,
    summaries: summaries(raw.summaries),
  }),
  insideTileData: (raw) => ({
    type: 'insideTileData',
    id: int(raw, 'id'),
    layer: int(raw, 'layer'),
    head: int(raw, 'head'),
    r0: int(raw, 'r0'),
    r1: int(raw, 'r1'),
    c0: int(raw, 'c0'),
    c1: int(raw, 'c1'),
    rows: int(raw, 'rows'),
    cols: int(raw, 'cols'),
    values: typed(raw, 'values', Float32Array)!,
    exact: raw.exact === true,
  }),
  insideLensGrid: (raw) => ({
    type: 'insideLensGrid',
    id: int(raw, 'id'),
    p0: int(raw, 'p0'),
    p1: int(raw, 'p1'),
    k: int(raw, 'k'),
    ids: typed(raw, 'ids', Int32Array)!,
    pieces: strings(raw.pieces, 'pieces'),
    probs: typed(raw, 'probs', Float32Array)!,
    targetId: raw.targetId === undefined ? undefined : int(raw, 'targetId'),
    targetRank: typed(raw, 'targetRank', Int32Array, true),
    targetProb: typed(raw, 'targetProb', Float32Array, true),
  }),
  insideRouting: (raw) => ({
    type: 'insideRouting',
    id: int(raw, 'id'),
    experts: typed(raw, 'experts', Int32Array)!,
    weights: typed(raw, 'weights', Float32Array)!,
    probs: typed(raw, 'probs', Float32Array)!,
    k: int(raw, 'k'),
    numExperts: int(raw, 'numExperts'),
  }),
  insideFlashTrace: (raw) => ({
    type: 'insideFlashTrace',
    id: int(raw, 'id'),
    layer: int(raw, 'layer'),
    head: int(raw, 'head'),
    row: int(raw, 'row'),
    BQ: int(raw, 'BQ'),
    BK: int(raw, 'BK'),
    q0: int(raw, 'q0'),
    q1: int(raw, 'q1'),
    tiles: flashSteps(raw.tiles),
    flash: typed(raw, 'flash', Float32Array)!,
    naive: typed(raw, 'naive', Float32Array)!,
    naiveMax: num(raw, 'naiveMax')!,
    naiveSum: num(raw, 'naiveSum')!,
    naiveMs: num(raw, 'naiveMs')!,
    tiledMs: num(raw, 'tiledMs')!,
    naiveBytes: num(raw, 'naiveBytes')!,
    tiledBytes: num(raw, 'tiledBytes')!,
    lseDiff: num(raw, 'lseDiff')!,
  }),
  insideError: (raw) => ({ type: 'insideError', id: int(raw, 'id'), message: str(raw, 'message')! }),
};

/** Checks a request to the worker (the worker's own guard; the webview builds them typed). */
export function parseInsideRequest(raw: Raw): InsideWorkerRequest {
  const id = int(raw, 'id');
  switch (raw.type) {
    case 'insideRun': {
      const text = str(raw, 'text')!;
      if (text.length > MAX_INSIDE_TEXT) throw new ProtocolError(`field "text" is longer than ${MAX_INSIDE_TEXT} characters`);
      return { type: 'insideRun', id, text };
    }
    case 'insideHeads':
      return { type: 'insideHeads', id, size: int(raw, 'size') };
    case 'insideTile':
      return {
        type: 'insideTile',
        id,
        layer: int(raw, 'layer'),
        head: int(raw, 'head'),
        r0: int(raw, 'r0'),
        r1: int(raw, 'r1'),
        c0: int(raw, 'c0'),
        c1: int(raw, 'c1'),
        rows: int(raw, 'rows'),
        cols: int(raw, 'cols'),
      };
    case 'insideLens':
      return { type: 'insideLens', id, p0: int(raw, 'p0'), p1: int(raw, 'p1'), k: int(raw, 'k'), target: str(raw, 'target', true) };
    case 'insideRouter':
      return { type: 'insideRouter', id };
    case 'insideFlash':
      return { type: 'insideFlash', id, layer: int(raw, 'layer'), head: int(raw, 'head'), row: int(raw, 'row') };
    default:
      throw new ProtocolError(`unknown inside request ${String(raw.type)}`);
  }
}
