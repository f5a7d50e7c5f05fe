/**
 * The Inside panel's worker side: one forward of the active model on the input with the
 * captures the views need (queries and keys per layer, the residual stream, the MoE
 * router), kept until the next input or model; then answers for head thumbnails with
 * per-head summaries, heatmap tiles (rows recomputed from Q and K, engine/model/attention-rows.ts),
 * the logit lens over a range of positions, the router's choices, the attention rollout
 * (engine/model/attention-rollout.ts, kept for the last layer asked) and the flash view of
 * a row with both attention paths timed on this input (engine/model/flash-view.ts).
 */
import type { Backend, RouterChoice } from '../backend/contract';
import { attentionTile, headSummary, type AttentionInputs, type HeadSelect } from '../model/attention-rows';
import { attentionRollout } from '../model/attention-rollout';
import { flashTrace, naivePath, tiledPath } from '../model/flash-view';
import { lensCell, lensLogits, type LensWeights } from '../model/logit-lens';
import type { ModelConfig } from '../model/types';
import type { Tokenizer } from '../tokenizer/types';
import type { FlashView, InsideRunInfo, InsideWorkerRequest } from '../protocol/inside';
import type { WorkerToWebview } from '../protocol/index';

/** What the session has loaded, when it has a model. */
export interface InsideModel {
  backend: Backend;
  tokenizer?: Tokenizer;
  /** The final norm and head on the host, for the logit lens (undefined: no lens). */
  lens?: LensWeights;
  /** Why the backend cannot run a forward now (a generation holds it). */
  busy?: string;
}

/** Largest thumbnail side, lens width (positions) and top-k the worker answers. */
export const MAX_THUMB = 128;
export const MAX_LENS_POSITIONS = 512;
export const MAX_LENS_K = 10;
/** Multiply-adds a zoomed-out tile aims at (its rows are sampled past it). */
const TILE_WORK = 3e7;
/** Grid cells a tile may have. */
export const MAX_TILE_CELLS = 4096 * 4096;

/** The sliding window of layer i, or undefined for full causal attention (as the CPU model decides). */
export function layerWindow(c: ModelConfig, i: number): number | undefined {
  return c.slidingWindow !== undefined && (c.slidingWindowLayers?.[i] ?? true) ? c.slidingWindow : undefined;
}

interface Kept {
  ids: number[];
  layers: AttentionInputs[];
  residuals?: Float32Array[]; // [L + 1] × [T, D]
  router?: RouterChoice[];
  /** The attention rollout through one layer, [T, T], computed when first asked for. */
  rollout?: { layer: number; matrix: Float32Array };
}

/** Runs of each path timed for the flash view (the median is shown). */
const FLASH_RUNS = 3;

export class InsideSession {
  private kept: Kept | undefined;
  private keptFor: Backend | undefined;

  constructor(
    private readonly post: (m: WorkerToWebview) => void,
    private readonly model: () => InsideModel | undefined,
  ) {}

  /** Drops what the last forward kept (a new model was loaded). */
  clear(): void {
    this.kept = undefined;
    this.keptFor = undefined;
  }

  /** True when the message was the Inside panel's. */
  handle(msg: { type: string }): boolean {
    if (!msg.type.startsWith('inside')) return false;
    const m = msg as InsideWorkerRequest;
    void this.answer(m).catch((e: unknown) => this.post({ type: 'insideError', id: m.id, message: e instanceof Error ? e.message : String(e) }));
    return true;
  }

  private async answer(m: InsideWorkerRequest): Promise<void> {
    switch (m.type) {
      case 'insideRun':
        return this.post({ type: 'insideReady', id: m.id, ...(await this.run(m.text)) });
      case 'insideHeads': {
        const g = this.headGrid(m.size);
        return this.post({ type: 'insideHeadGrid', id: m.id, size: m.size, ...g });
      }
      case 'insideTile': {
        const t = this.tile(m.layer, m.head, m);
        return this.post({
          type: 'insideTileData',
          id: m.id,
          layer: m.layer,
          head: m.head,
          r0: m.r0,
          r1: m.r1,
          c0: m.c0,
          c1: m.c1,
          rows: t.rows,
          cols: t.cols,
          values: t.values,
          exact: t.exact,
        });
      }
      case 'insideLens':
        return this.post({ type: 'insideLensGrid', id: m.id, p0: m.p0, p1: m.p1, k: m.k, ...this.lens(m.p0, m.p1, m.k, m.target) });
      case 'insideRouter':
        return this.post({ type: 'insideRouting', id: m.id, ...this.routing() });
      case 'insideFlash':
        return this.post({ type: 'insideFlashTrace', id: m.id, ...this.flash(m.layer, m.head, m.row) });
    }
  }

  private current(): { model: InsideModel; kept: Kept } {
    const model = this.model();
    if (!model) throw new Error('No model is loaded yet.');
    if (!this.kept || this.keptFor !== model.backend) throw new Error('Run the model on an input first.');
    return { model, kept: this.kept };
  }

  /** The input's ids: the tokenizer's, or comma-separated ids for a model without one. */
  private inputIds(text: string, model: InsideModel): number[] {
    const V = model.backend.config.vocabSize;
    let ids: number[];
    if (model.tokenizer) {
      ids = model.tokenizer.encodeIds(text);
      if (ids.length === 0 && model.tokenizer.bosId !== null) ids = [model.tokenizer.bosId];
    } else {
      if (!/^\s*\d+(\s*,\s*\d+)*\s*$/.test(text)) throw new Error('This model has no tokenizer: give the input as token ids, e.g. "1, 403, 9".');
      ids = text.split(',').map((s) => Number(s.trim()));
    }
    if (ids.length === 0) throw new Error('The input is empty.');
    const bad = ids.find((i) => !Number.isInteger(i) || i < 0 || i >= V);
    if (bad !== undefined) throw new Error(`Token id ${bad} is outside the vocabulary [0, ${V - 1}].`);
    return ids;
  }

  /** One forward from an empty cache, keeping the captures. */
  async run(text: string): Promise<InsideRunInfo> {
    const model = this.model();
    if (!model) throw new Error('No model is loaded yet.');
    const b = model.backend;
    const c = b.config;
    if (!b.capabilities.captures.qk) throw new Error(`The ${b.label} backend cannot capture queries and keys, so attention cannot be shown for this model.`);
    if (model.busy) throw new Error(model.busy);
    const ids = this.inputIds(text, model);
    if (ids.length > b.contextLength) throw new Error(`The input is ${ids.length} tokens; the context holds ${b.contextLength}. Shorten it or raise the context length.`);
    this.clear();
    const t0 = Date.now();
    b.reset();
    let r;
    try {
      r = await b.forward(ids, undefined, { lastOnly: true, logits: false, capture: { qk: true, residuals: model.lens !== undefined, router: c.moe !== undefined } });
    } finally {
      b.reset();
    }
    const forwardMs = Date.now() - t0;
    const T = ids.length;
    const layers: AttentionInputs[] = r.qk!.map(({ q, k }, l) => ({
      q,
      k,
      T,
      nHeads: c.numHeads,
      nKvHeads: c.numKvHeads,
      headDim: c.headDim,
      scale: 1 / Math.sqrt(c.headDim),
      window: layerWindow(c, l),
    }));
    this.kept = { ids, layers, residuals: r.residuals, router: r.router };
    this.keptFor = b;
    let keptBytes = 0;
    for (const a of layers) keptBytes += a.q.byteLength + a.k.byteLength;
    for (const x of r.residuals ?? []) keptBytes += x.byteLength;
    for (const rc of r.router ?? []) keptBytes += rc.experts.byteLength + rc.weights.byteLength + rc.probs.byteLength + (rc.logits?.byteLength ?? 0);
    const tok = model.tokenizer;
    return {
      tokens: ids.map((id) => ({ id, piece: tok?.idToToken(id) ?? String(id) })),
      layers: c.numLayers,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      headDim: c.headDim,
      windows: layers.map((a) => a.window ?? 0),
      experts: c.moe?.numExperts ?? 0,
      topK: c.moe?.topK ?? 0,
      contextLength: b.contextLength,
      backend: b.label,
      keptBytes,
      forwardMs,
      rope: c.positions === 'rope' && c.rope ? { theta: c.rope.theta, maxPositions: c.maxPositions, scaling: c.rope.scaling } : undefined,
    };
  }

  private layer(l: number): AttentionInputs {
    const { kept } = this.current();
    if (!Number.isInteger(l) || l < 0 || l >= kept.layers.length) throw new RangeError(`layer must be an integer in [0, ${kept.layers.length - 1}], got ${l}`);
    return kept.layers[l];
  }

  /** Every head of every layer as a size × size max-pooled thumbnail ([L, H, size, size]) with its summary. */
  headGrid(size: number): { thumbs: Float32Array; summaries: ReturnType<typeof headSummary>[] } {
    const { kept } = this.current();
    if (!Number.isInteger(size) || size < 1 || size > MAX_THUMB) throw new RangeError(`thumbnail size must be an integer in [1, ${MAX_THUMB}], got ${size}`);
    const T = kept.ids.length;
    const n = Math.min(size, T);
    const H = kept.layers[0].nHeads;
    const thumbs = new Float32Array(kept.layers.length * H * size * size); // [L, H, size, size]
    const summaries = [];
    for (let l = 0; l < kept.layers.length; l++) {
      const a = kept.layers[l];
      for (let h = 0; h < H; h++) {
        // a few rows per thumbnail row keep the grid cheap on long inputs
        const t = attentionTile(a, { head: h, r0: 0, r1: T, c0: 0, c1: T, rows: n, cols: n, maxRowsPerCell: 4 });
        const o = (l * H + h) * size * size;
        for (let r = 0; r < n; r++) thumbs.set(t.values.subarray(r * n, (r + 1) * n), o + r * size);
        summaries.push(headSummary(a, h));
      }
    }
    return { thumbs, summaries };
  }

  /** A heatmap tile: head ≥ 0, or -1 for the mean over heads, -2 for the max, -3 for the rollout through the layer. */
  tile(layer: number, head: number, g: { r0: number; r1: number; c0: number; c1: number; rows: number; cols: number }): ReturnType<typeof attentionTile> {
    const a = this.layer(layer);
    if (g.rows * g.cols > MAX_TILE_CELLS) throw new RangeError(`a tile has at most ${MAX_TILE_CELLS} cells, got ${g.rows} × ${g.cols}`);
    if (head === -3) {
      const m = this.rollout(layer);
      const T = a.T;
      return attentionTile(a, { r0: g.r0, r1: g.r1, c0: g.c0, c1: g.c1, rows: g.rows, cols: g.cols, head: 0 }, (r, out) => out.set(m.subarray(r * T, (r + 1) * T)));
    }
    if (head < -3) throw new RangeError(`head must be a head index, -1 (mean), -2 (max) or -3 (rollout), got ${head}`);
    const sel: HeadSelect = head === -1 ? 'mean' : head === -2 ? 'max' : head;
    // A grid coarser than the rows pools sampled rows (exact when zoomed in): as many per
    // grid row as keep the tile near TILE_WORK multiply-adds, between 1 and 8.
    const work = g.rows * (g.c1 - g.c0) * a.headDim * (typeof sel === 'number' ? 1 : a.nHeads);
    const maxRowsPerCell = Math.max(1, Math.min(8, Math.floor(TILE_WORK / work)));
    return attentionTile(a, { r0: g.r0, r1: g.r1, c0: g.c0, c1: g.c1, rows: g.rows, cols: g.cols, head: sel, maxRowsPerCell });
  }

  /** The rollout through `layer` ([T, T]), kept for the last layer asked. */
  private rollout(layer: number): Float32Array {
    const { kept } = this.current();
    if (kept.rollout?.layer !== layer) kept.rollout = { layer, matrix: attentionRollout(kept.layers, layer) };
    return kept.rollout.matrix;
  }

  /** Row `row` of a head through the flash kernel's tiles beside the naive softmax; both paths over the head, timed. */
  flash(layer: number, head: number, row: number): FlashView {
    const a = this.layer(layer);
    const t = flashTrace(a, head, row);
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1];
    const naive = Array.from({ length: FLASH_RUNS }, () => naivePath(a, head));
    const tiled = Array.from({ length: FLASH_RUNS }, () => tiledPath(a, head));
    let lseDiff = 0;
    for (let r = 0; r < a.T; r++) lseDiff = Math.max(lseDiff, Math.abs(naive[0].lse[r] - tiled[0].lse[r]));
    const fin = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      layer,
      head,
      row,
      BQ: t.BQ,
      BK: t.BK,
      q0: t.q0,
      q1: t.q1,
      tiles: t.tiles.map((s) => ({ ...s, tileMax: fin(s.tileMax), runningMax: fin(s.runningMax) })),
      flash: t.flash,
      naive: t.naive,
      naiveMax: t.naiveMax,
      naiveSum: t.naiveSum,
      naiveMs: median(naive.map((p) => p.ms)),
      tiledMs: median(tiled.map((p) => p.ms)),
      naiveBytes: naive[0].scoreBytes,
      tiledBytes: tiled[0].scoreBytes,
      lseDiff,
    };
  }

  /** Logit lens for positions p0..p1: top-k per layer and position ([L, P, k]) and the rank of `target`. */
  lens(
    p0: number,
    p1: number,
    k: number,
    targetText?: string,
  ): { ids: Int32Array; pieces: string[]; probs: Float32Array; targetId?: number; targetRank?: Int32Array; targetProb?: Float32Array } {
    const { model, kept } = this.current();
    if (!model.lens || !kept.residuals) throw new Error('The logit lens needs the final norm and head on the host; this session has none.');
    const T = kept.ids.length;
    if (!Number.isInteger(p0) || !Number.isInteger(p1) || p0 < 0 || p1 > T || p0 >= p1 || p1 - p0 > MAX_LENS_POSITIONS) {
      throw new RangeError(`positions must satisfy 0 ≤ p0 < p1 ≤ ${T} and p1 − p0 ≤ ${MAX_LENS_POSITIONS}, got ${p0}..${p1}`);
    }
    if (!Number.isInteger(k) || k < 1 || k > MAX_LENS_K) throw new RangeError(`k must be an integer in [1, ${MAX_LENS_K}], got ${k}`);
    const c = model.backend.config;
    const target = targetText ? this.targetId(targetText, model) : undefined;
    const L = kept.residuals.length - 1;
    const P = p1 - p0;
    const D = c.hiddenSize;
    const V = c.vocabSize;
    const ids = new Int32Array(L * P * k); // [L, P, k]
    const probs = new Float32Array(L * P * k); // [L, P, k]
    const targetRank = target === undefined ? undefined : new Int32Array(L * P); // [L, P]
    const targetProb = target === undefined ? undefined : new Float32Array(L * P); // [L, P]
    for (let l = 0; l < L; l++) {
      const logits = lensLogits(c, model.lens, kept.residuals[l + 1].subarray(p0 * D, p1 * D)); // [P, V]
      for (let p = 0; p < P; p++) {
        const cell = lensCell(logits.subarray(p * V, (p + 1) * V), k, target);
        const o = (l * P + p) * k;
        ids.set(cell.ids, o);
        probs.set(cell.probs, o);
        if (targetRank && targetProb) {
          targetRank[l * P + p] = cell.targetRank!;
          targetProb[l * P + p] = cell.targetProb!;
        }
      }
    }
    const tok = model.tokenizer;
    const pieces = Array.from(ids, (id) => tok?.idToToken(id) ?? String(id));
    return { ids, pieces, probs, targetId: target, targetRank, targetProb };
  }

  /** A named token: its piece, a number (an id), or the first token of the text. */
  private targetId(text: string, model: InsideModel): number {
    const V = model.backend.config.vocabSize;
    const tok = model.tokenizer;
    let id = tok?.tokenToId(text);
    if (id === undefined && /^\d+$/.test(text.trim())) id = Number(text.trim());
    if (id === undefined && tok) id = tok.encodeIds(text).find((i) => i !== tok.bosId);
    if (id === undefined || id < 0 || id >= V) throw new RangeError(`"${text}" is not a token of this model (ids 0..${V - 1})`);
    return id;
  }

  /** The router's choices per MoE layer: experts and weights [L, T, k], probabilities [L, T, E]. */
  routing(): { experts: Int32Array; weights: Float32Array; probs: Float32Array; k: number; numExperts: number } {
    const { model, kept } = this.current();
    const moe = model.backend.config.moe;
    if (!moe || !kept.router) throw new Error('This model has no mixture-of-experts layers, so there is no routing to show.');
    const T = kept.ids.length;
    const { numExperts: E, topK: k } = moe;
    const experts = new Int32Array(kept.router.length * T * k);
    const weights = new Float32Array(kept.router.length * T * k);
    const probs = new Float32Array(kept.router.length * T * E);
    kept.router.forEach((rc, l) => {
      experts.set(rc.experts, l * T * k);
      weights.set(rc.weights, l * T * k);
      probs.set(rc.probs, l * T * E);
    });
    return { experts, weights, probs, k, numExperts: E };
  }
}
