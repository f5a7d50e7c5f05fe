/**
 * The forward plan of a GpuModel: activations pooled for the largest T seen, every
 * dispatch built once for them (pipelines cached by code; rebuilt only when the row
 * capacity grows or a LoRA adapter changes), and the encoding of one forward (embedding →
 * layers → final norm → head) with its captures, plus GPU top-k so a decode step reads
 * back only what the sampler needs. Decode rows (T ≤ MATVEC_MAX_ROWS) take the fused
 * matvec paths and split-K attention; longer forwards the prefill matmul (SwiGLU fused into
 * gate|up where the layer allows) and flash attention.
 */
import { ACT_ID, activationWgsl } from '../ops/activations/activations.wgsl';
import { embeddingWgsl } from '../ops/embedding/embedding.wgsl';
import { layernormRowsWgsl } from '../ops/layernorm/layernorm.wgsl';
import { moeCombineWgsl, moeRouteWgsl } from '../ops/moe/moe.wgsl';
import { rmsnormRowsWgsl } from '../ops/rmsnorm/rmsnorm.wgsl';
import { ROPE_STYLE } from '../ops/rope/rope.wgsl';
import { TOPK_CHUNK, topkFinalWgsl, topkPartialWgsl } from '../ops/topk/topk.wgsl';
import type { CaptureOptions, ForwardOptions, ForwardResult, QueriesKeys, RouterChoice } from '../backend/contract';
import { kvCacheReport } from '../model/model';
import { M_FROM_HEAD, M_FROM_T, M_STATIC, type KernelSource } from '../wgsl/kernel-source';
import { attentionOps, attnProbsDispatch, forwardKeys } from './attention-ops';
import { createStorage, Dispatch } from './kernel';
import type { ModelCore } from './lifecycle';
import { LinearOp, MATVEC_MAX_ROWS, type KernelBuilder } from './linear-op';
import type { StepTimestamps } from './profiling';
import { decodeTop, type ReadBack, type ReadRequest } from './readback';
import type { Act, ForwardCaptures, LayerOps, Ops } from './forward-types';
import type { StepInputs } from './step-inputs';
import type { LayerWeights, ModelWeights } from './weights';

export type { Act, ForwardCaptures } from './forward-types';

/** Most candidates GPU top-k returns. */
export const TOPK_MAX = 256;

export class ForwardPlan implements KernelBuilder {
  /** The activations (undefined until the first ensureCapacity, and after free). */
  act?: Act;
  private ops?: Ops;
  private dispatches: Dispatch[] = [];
  /** Top-k dispatch pairs for k > 1, by k (built on first use for the current activations). */
  private topkDispatch = new Map<number, [Dispatch, Dispatch]>();
  private onesBuf?: GPUBuffer;
  /** See StepTimestamps (profiling.ts); read by decode steps' forward passes. */
  stepTimestamps?: StepTimestamps;

  constructor(
    readonly core: ModelCore,
    private readonly w: ModelWeights,
    private readonly inputs: StepInputs,
    private readonly readback: ReadBack,
  ) {}

  /** A dispatch owned by the plan (rebuilt with the activations). */
  dispatch(k: KernelSource, values: Record<string, number>, buffers: Record<string, GPUBuffer>): Dispatch {
    const d = new Dispatch(this.core.device, this.core.cache, k, this.core.step, values, buffers);
    this.dispatches.push(d);
    return d;
  }

  /** [D] ones: the weight of a norm whose own weight is folded into the next matrix. */
  private ones(): GPUBuffer {
    return (this.onesBuf ??= this.core.own(createStorage(this.core.device, new Float32Array(this.core.config.hiddenSize).fill(1), 'ones')));
  }

  /** Writes the Step uniform of a forward of T rows from `start`. */
  private writeStep(T: number, start: number, headRows: number): void {
    this.core.device.queue.writeBuffer(this.core.step, 0, this.inputs.stepRecord(T, start, headRows));
  }

  /** Writes the token ids, positions (learned) and cos|sin rows (RoPE) of a forward. */
  private writeInputs(tokens: number[] | undefined, pos: number[]): void {
    const a = this.act!;
    const q = this.core.device.queue;
    if (tokens) q.writeBuffer(a.ids, 0, new Uint32Array(tokens));
    if (this.w.posEmbed) q.writeBuffer(a.pos, 0, new Uint32Array(pos));
    if (this.inputs.ropeParams) q.writeBuffer(a.cs, 0, this.inputs.cosSin(pos));
  }

  /**
   * Runs `tokens` at the next cache slots (positions default to the slots): logits [T, V]
   * (or [1, V] with lastOnly; empty with logits: false), `top` with topK, and the captures
   * asked for. One submission; awaits the read-back. `onSubmitted`: called once the forward
   * is submitted, before its read-back is awaited (greedy decoding queues steps behind it).
   */
  async run(tokens: number[], positions: number[] | undefined, opts: ForwardOptions, onSubmitted?: () => void): Promise<ForwardResult> {
    const c = this.core.config;
    const T = tokens.length;
    if (T === 0) throw new RangeError('forward: no tokens');
    const start = this.core.len;
    if (start + T > this.core.contextLength) throw new RangeError(`forward: ${start} cached + ${T} new tokens exceed the context length ${this.core.contextLength}`);
    const pos = positions ?? Array.from({ length: T }, (_, i) => start + i); // [T]
    if (pos.length !== T || !pos.every((p) => Number.isSafeInteger(p) && p >= 0)) throw new RangeError('forward: positions must be T non-negative integers');
    tokens.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new RangeError(`embedding: id ${id} at ${t} is outside [0, ${c.vocabSize})`);
    });
    if (this.w.posEmbed)
      pos.forEach((p, t) => {
        if (p >= c.maxPositions) throw new RangeError(`embeddingAdd: index ${p} at ${t} is outside [0, ${c.maxPositions})`);
      });
    const k = opts.topK ?? 0;
    if (!Number.isInteger(k) || k < 0 || k > Math.min(TOPK_MAX, c.vocabSize)) throw new RangeError(`topK must be an integer in [0, ${Math.min(TOPK_MAX, c.vocabSize)}]`);
    const cap = opts.capture ?? {};
    const rows = opts.lastOnly ? 1 : T;
    const wantLogits = opts.logits ?? true;
    this.ensureCapacity(T, rows);
    this.writeInputs(tokens, pos);
    this.writeStep(T, start, rows);
    const act = this.act!;
    const enc = this.core.device.createCommandEncoder();
    const reads: ReadRequest[] = [];
    const captures = this.encodeForward(enc, T, start, rows, cap, reads);
    if (k > 0) this.encodeTopK(enc, k);
    const V = c.vocabSize;
    const result: ForwardResult = { logits: new Float32Array(0), rows, vocab: V, start, keys: start + T };
    if (wantLogits) reads.push({ src: act.logits, size: rows * V * 4, then: (b) => (result.logits = new Float32Array(b)) });
    if (k > 0) reads.push({ src: act.res, size: k * 8, then: (b) => (result.top = decodeTop(b, k)) });
    // bench diagnosis: when a long forward went in and when its read-back came
    const long = T >= 64;
    await this.readback.submitAndRead(enc, reads, () => {
      if (long) this.core.stats.longSubmitAt = performance.now();
      onSubmitted?.();
    });
    if (long) this.core.stats.longReadAt = performance.now();
    for (const b of captures.free) b.destroy();
    this.core.len = start + T;
    if (captures.attentions) result.attentions = captures.attentions;
    if (captures.residuals) result.residuals = captures.residuals;
    if (captures.finalHidden) result.finalHidden = captures.finalHidden;
    if (captures.router) result.router = captures.router;
    if (captures.qk) result.qk = captures.qk;
    if (cap.kvBytes) result.kvBytes = kvCacheReport(this.core.config, this.core.contextLength, this.core.len, this.core.kvDtype);
    return result;
  }

  /** Frees the activations, their dispatches and the staging buffers. */
  free(): void {
    for (const d of this.dispatches) d.destroy();
    this.dispatches = [];
    if (this.act) for (const v of Object.values(this.act)) if (typeof v === 'object') (v as GPUBuffer).destroy();
    this.readback.free();
    this.act = undefined;
    this.ops = undefined;
  }

  /** Reallocates the activations at their current capacity (the LoRA scratch is sized by the adapter's largest rank). */
  reallocate(): void {
    if (!this.act) return;
    const { rows, headRows } = this.act;
    this.free();
    this.ensureCapacity(rows, headRows);
  }

  /** Activations for `rows` rows and `headRows` logits rows; rebuilds bind groups when they grow. */
  ensureCapacity(rows: number, headRows: number): void {
    if (this.act && this.act.rows >= rows && this.act.headRows >= headRows) return;
    const c = this.core.config;
    const prev = this.act;
    rows = Math.max(rows, prev?.rows ?? 1);
    headRows = Math.max(headRows, prev?.headRows ?? 1);
    this.free();
    const d = this.core.device;
    const D = c.hiddenSize;
    const H = c.numHeads;
    const Kv = c.numKvHeads;
    const hd = c.headDim;
    const I = c.intermediateSize;
    const E = c.moe?.numExperts ?? 0;
    const k = c.moe?.topK ?? 0;
    const mr = Math.max(rows, k);
    let rMax = 1;
    for (const L of this.w.layers) for (const l of L.lora.values()) rMax = Math.max(rMax, l.r);
    const f = (n: number, label: string) => createStorage(d, Math.max(1, n) * 4, label);
    const G = Math.ceil(c.vocabSize / TOPK_CHUNK);
    this.act = {
      rows,
      headRows,
      x: f(rows * D, 'x'),
      h: f(Math.max(rows, headRows) * D, 'h'),
      qkv: f(rows * (H + 2 * Kv) * hd, 'qkv'),
      q: f(rows * H * hd, 'q'),
      att: f(rows * H * hd, 'att'),
      gu: f(mr * 2 * I, 'gu'),
      act: f(mr * I, 'act'),
      Y: f(E ? Math.max(E * rows, k) * D : 1, 'moe-Y'),
      rl: f(rows * E, 'router-logits'),
      rIds: f(rows * k, 'router-ids'),
      rWk: f(rows * k, 'router-wk'),
      rWd: f(rows * E, 'router-wd'),
      rProbs: f(rows * E, 'router-probs'),
      loraTmp: f(rows * rMax, 'lora-tmp'),
      ids: f(rows, 'ids'),
      pos: f(rows, 'pos'),
      cs: f(rows * hd, 'cos-sin'),
      kNew: f(this.core.kvDtype === 'int8' ? rows * Kv * hd : 1, 'k-new'),
      vNew: f(this.core.kvDtype === 'int8' ? rows * Kv * hd : 1, 'v-new'),
      part: f(MATVEC_MAX_ROWS * H * this.core.maxSplit * (hd + 2), 'attn-partials'),
      logits: f(headRows * c.vocabSize, 'logits'),
      cand: f(G * TOPK_MAX * 2, 'topk-cand'),
      res: f(TOPK_MAX * 2, 'topk-res'),
    };
    this.build();
  }

  /** Builds every dispatch (pipelines cached by code) for the current activations. */
  private build(): void {
    for (const d of this.dispatches) d.destroy();
    this.dispatches = [];
    const c = this.core.config;
    const a = this.act!;
    const D = c.hiddenSize;
    const H = c.numHeads;
    const Kv = c.numKvHeads;
    const hd = c.headDim;
    const I = c.intermediateSize;
    const QKV = (H + 2 * Kv) * hd;
    const eps = c.norm.eps;
    const normK = c.norm.kind === 'rms' ? rmsnormRowsWgsl(D) : layernormRowsWgsl(D);
    const norm = (w: GPUBuffer, b: GPUBuffer | undefined, x: GPUBuffer, y: GPUBuffer, mSel: number, fromHead: boolean) =>
      this.dispatch(normK, { D, mSel, mFixed: 0, srcFromHead: fromHead ? 1 : 0, eps, hasBias: b ? 1 : 0 }, { x, weight: w, bias: b ?? this.core.dummy, y });
    const loraOps = (L: LayerWeights, names: string[], x: GPUBuffer, K: number, y: GPUBuffer, yRowStride: number, offsets: number[], mSel = M_FROM_T) =>
      names.flatMap((n, i) => {
        const l = L.lora.get(n);
        if (!l) return [];
        const r = l.r;
        return [
          {
            a: new LinearOp(this, { w: l.A, x, y: a.loraTmp, N: r, K, mSel, xRowStride: K, yRowStride: r }),
            b: new LinearOp(this, { w: l.B, x: a.loraTmp, y, N: l.B.rows, K: r, mSel, xRowStride: r, yRowStride, yOffset: offsets[i], accumulate: true, alpha: l.scale }),
          },
        ];
      });
    const actVals = (rowsSel: number, mFixed: number, gated: boolean) => ({
      I,
      mSel: rowsSel,
      mFixed,
      inStride: gated ? 2 * I : I,
      gated: gated ? 1 : 0,
      act: ACT_ID[c.activation],
    });

    const layers: LayerOps[] = this.w.layers.map((L) => {
      const ops: LayerOps = {
        attnNorm: norm(L.attnNorm, L.attnNormB, a.x, a.h, M_FROM_T, false),
        qkv: new LinearOp(this, { w: L.qkv, bias: L.qkvBias, x: a.h, y: a.qkv, N: QKV, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: QKV }),
        lora: loraOps(L, ['q', 'k', 'v'], a.h, D, a.qkv, QKV, [0, H * hd, (H + Kv) * hd]),
        ...attentionOps(this.core, this.inputs, (k, v, b) => this.dispatch(k, v, b), a, L),
        o: new LinearOp(this, { w: L.o, bias: L.oBias, x: a.att, y: a.x, N: D, K: H * hd, mSel: M_FROM_T, xRowStride: H * hd, yRowStride: D, accumulate: true }),
        oLora: loraOps(L, ['o'], a.att, H * hd, a.x, D, [0]),
        mlpNorm: norm(L.mlpNormIn ? this.ones() : L.mlpNorm, L.mlpNormB, a.x, a.h, M_FROM_T, false),
        guLora: [],
        downLora: [],
      };
      if (c.moe && L.router && L.expGu && L.expDown) {
        const E = c.moe.numExperts;
        const k = c.moe.topK;
        ops.router = new LinearOp(this, { w: L.router, x: a.h, y: a.rl, N: E, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: E });
        ops.route = this.dispatch(moeRouteWgsl(), { E, k, normalize: c.moe.normTopKProb ? 1 : 0 }, { logits: a.rl, ids: a.rIds, wk: a.rWk, wd: a.rWd, probs: a.rProbs });
        const guS = L.expGu.rowStride * 2 * I;
        const dnS = L.expDown.rowStride * D;
        ops.expDense = Array.from({ length: E }, (_, e) => ({
          gu: new LinearOp(this, { w: L.expGu!, x: a.h, y: a.gu, N: 2 * I, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: 2 * I, wOffset: e * guS }),
          down: new LinearOp(this, { w: L.expDown!, x: a.act, y: a.Y, N: D, K: I, mSel: M_FROM_T, xRowStride: I, yRowStride: D, wOffset: e * dnS, yOffset: e * a.rows * D }),
        }));
        ops.actDense = this.dispatch(activationWgsl(), actVals(M_FROM_T, 0, true), { gu: a.gu, o: a.act });
        ops.combineDense = this.dispatch(moeCombineWgsl(), { D, nE: E, eStride: a.rows * D, wStride: E, mSel: M_FROM_T, mFixed: 0 }, { Y: a.Y, wts: a.rWd, x: a.x });
        ops.expGuSparse = new LinearOp(this, {
          w: L.expGu,
          x: a.h,
          y: a.gu,
          N: 2 * I,
          K: D,
          mSel: M_STATIC,
          mFixed: k,
          xRowStride: 0,
          yRowStride: 2 * I,
          expertStride: guS,
          ids: a.rIds,
          matvecOnly: true,
        });
        ops.actSparse = this.dispatch(activationWgsl(), actVals(M_STATIC, k, true), { gu: a.gu, o: a.act });
        ops.expDownSparse = new LinearOp(this, {
          w: L.expDown,
          x: a.act,
          y: a.Y,
          N: D,
          K: I,
          mSel: M_STATIC,
          mFixed: k,
          xRowStride: I,
          yRowStride: D,
          expertStride: dnS,
          ids: a.rIds,
          matvecOnly: true,
        });
        ops.combineSparse = this.dispatch(moeCombineWgsl(), { D, nE: k, eStride: D, wStride: k, mSel: M_FROM_T, mFixed: 0 }, { Y: a.Y, wts: a.rWk, x: a.x });
      } else {
        const gated = c.mlp === 'gated';
        const guN = gated ? 2 * I : I;
        ops.gu = new LinearOp(this, { w: L.gu!, bias: L.guBias, x: a.h, y: a.gu, N: guN, K: D, mSel: M_FROM_T, xRowStride: D, yRowStride: guN });
        ops.guLora = gated ? loraOps(L, ['gate', 'up'], a.h, D, a.gu, guN, [0, I]) : loraOps(L, ['up'], a.h, D, a.gu, guN, [0]);
        ops.act = this.dispatch(activationWgsl(), actVals(M_FROM_T, 0, gated), { gu: a.gu, o: a.act });
        ops.down = new LinearOp(this, { w: L.down!, bias: L.downBias, x: a.act, y: a.x, N: D, K: I, mSel: M_FROM_T, xRowStride: I, yRowStride: D, accumulate: true });
        ops.downLora = loraOps(L, ['down'], a.act, I, a.x, D, [0]);
        if (gated && L.gu!.parts.length === 1 && ops.guLora.length === 0 && this.core.prefill !== 'tile64')
          ops.guMM = new LinearOp(this, {
            w: L.gu!,
            bias: L.guBias,
            x: a.h,
            y: a.act,
            N: guN,
            K: D,
            mSel: M_FROM_T,
            xRowStride: D,
            yRowStride: I,
            matmulOnly: true,
            epi: { kind: 'act', act: ACT_ID[c.activation] },
          });
        if (c.norm.kind === 'rms' && !L.mlpNormB && L.lora.size === 0) {
          // gated: gate|up → act(gate)·up straight into a.act (the down projection's x)
          ops.guAct = gated && L.gu!.parts.length === 1;
          ops.guF = ops.guAct
            ? new LinearOp(this, {
                w: L.gu!,
                bias: L.guBias,
                x: a.x,
                y: a.act,
                N: guN,
                K: D,
                mSel: M_FROM_T,
                xRowStride: D,
                yRowStride: I,
                matvecOnly: true,
                pro: { kind: 'rms', weighted: !L.mlpNormIn },
                nw: L.mlpNorm,
                eps,
                epi: { kind: 'act', act: ACT_ID[c.activation] },
              })
            : new LinearOp(this, {
                w: L.gu!,
                bias: L.guBias,
                x: a.x,
                y: a.gu,
                N: guN,
                K: D,
                mSel: M_FROM_T,
                xRowStride: D,
                yRowStride: guN,
                matvecOnly: true,
                pro: { kind: 'rms', weighted: !L.mlpNormIn },
                nw: L.mlpNorm,
                eps,
              });
        }
      }
      if (c.norm.kind === 'rms' && !L.attnNormB && L.lora.size === 0) {
        // RoPE + KV write fused after the matvec (not with Qwen3's per-head q/k norm; not into the int8 cache, which kvQuant writes)
        ops.qkvRope = c.positions === 'rope' && !c.qkNorm && L.qkv.parts.length === 1 && this.core.kvDtype === 'f32';
        const rope = ops.qkvRope ? { H, Kv, hd, style: ROPE_STYLE[c.rope!.style], cs: a.cs, q: a.q, kc: L.kc, vc: L.vc } : undefined;
        ops.qkvF = new LinearOp(this, {
          w: L.qkv,
          bias: L.qkvBias,
          x: a.x,
          y: a.qkv,
          N: QKV,
          K: D,
          mSel: M_FROM_T,
          xRowStride: D,
          yRowStride: QKV,
          matvecOnly: true,
          pro: { kind: 'rms' },
          nw: L.attnNorm,
          eps,
          epi: rope && { kind: 'rope' },
          rope,
        });
      }
      return ops;
    });
    const V = c.vocabSize;
    this.ops = {
      embed: this.w.embed.parts.map((p) =>
        this.dispatch(
          embeddingWgsl(this.core.read(this.w.embed.dtype)),
          { D, rowStride: this.w.embed.rowStride, rowStart: p.rowStart, rowCount: p.rows, add: 0 },
          { ids: a.ids, table: p.buffer, x: a.x },
        ),
      ),
      posEmbed: (this.w.posEmbed?.parts ?? []).map((p) =>
        this.dispatch(embeddingWgsl('f32'), { D, rowStride: this.w.posEmbed!.rowStride, rowStart: p.rowStart, rowCount: p.rows, add: 1 }, { ids: a.pos, table: p.buffer, x: a.x }),
      ),
      layers,
      finalNorm: norm(this.w.finalNorm, this.w.finalNormB, a.x, a.h, M_FROM_HEAD, true),
      head: new LinearOp(this, { w: this.w.head, x: a.h, y: a.logits, N: V, K: D, mSel: M_FROM_HEAD, xRowStride: D, yRowStride: V }),
      headF:
        this.core.tuning.fuseHeadNorm && c.norm.kind === 'rms' && !this.w.finalNormB
          ? new LinearOp(this, {
              w: this.w.head,
              x: a.x,
              y: a.logits,
              N: V,
              K: D,
              mSel: M_FROM_HEAD,
              xRowStride: D,
              yRowStride: V,
              matvecOnly: true,
              pro: { kind: 'rms' },
              nw: this.w.finalNorm,
              eps,
              xHead: true,
            })
          : undefined,
      topkPartial: this.dispatch(topkPartialWgsl(), { n: V, chunk: TOPK_CHUNK, k: 1, lastRow: 1 }, { src: a.logits, cand: a.cand }),
      topkFinal: this.dispatch(topkFinalWgsl(), { n: Math.ceil(V / TOPK_CHUNK), chunk: 0, k: 1, lastRow: 0 }, { cand: a.cand, res: a.res, next: a.ids }),
    };
  }

  /** Encodes top-k (k ≤ TOPK_MAX) of the last logits row into res [k, 2] (value bits, id); the best id also goes to ids[0], the next step's token. */
  encodeTopK(enc: GPUCommandEncoder, k: number): void {
    const a = this.act!;
    const V = this.core.config.vocabSize;
    const G = Math.ceil(V / TOPK_CHUNK);
    let pair: [Dispatch, Dispatch];
    if (k === 1) pair = [this.ops!.topkPartial, this.ops!.topkFinal];
    else {
      const key = k;
      let p = this.topkDispatch.get(key);
      if (!p || !this.dispatches.includes(p[0])) {
        p = [
          this.dispatch(topkPartialWgsl(), { n: V, chunk: TOPK_CHUNK, k, lastRow: 1 }, { src: a.logits, cand: a.cand }),
          this.dispatch(topkFinalWgsl(), { n: G * k, chunk: 0, k, lastRow: 0 }, { cand: a.cand, res: a.res, next: a.ids }),
        ];
        this.topkDispatch.set(key, p);
      }
      pair = p;
    }
    const pass = enc.beginComputePass();
    pair[0].encode(pass, G);
    pair[1].encode(pass, 1);
    pass.end();
  }

  /**
   * Encodes one forward (embedding → layers → final norm → head) of T rows from cache slot
   * `start`, logits for the last `headRows`, into `enc`; the captures asked for are copied
   * out between passes and added to `reads`.
   */
  encodeForward(enc: GPUCommandEncoder, T: number, start: number, headRows: number, cap: CaptureOptions, reads: ReadRequest[]): ForwardCaptures {
    const c = this.core.config;
    const a = this.act!;
    const o = this.ops!;
    const D = c.hiddenSize;
    const H = c.numHeads;
    const I = c.intermediateSize;
    const Tk = start + T;
    const out: ForwardCaptures = { free: [] };
    const ts = T === 1 ? this.stepTimestamps : undefined;
    let pass =
      ts && ts.n < ts.cap
        ? enc.beginComputePass({ timestampWrites: { querySet: ts.set, beginningOfPassWriteIndex: 2 * ts.n, endOfPassWriteIndex: 2 * ts.n++ + 1 } })
        : enc.beginComputePass();
    const copyOut = (src: GPUBuffer, size: number, then: (b: ArrayBuffer) => void, offset = 0) => {
      pass.end();
      const tmp = createStorage(this.core.device, size, 'capture');
      out.free.push(tmp);
      enc.copyBufferToBuffer(src, offset, tmp, 0, Math.ceil(size / 4) * 4);
      reads.push({ src: tmp, size, then });
      pass = enc.beginComputePass();
    };
    const dx = Math.ceil(D / 64);
    for (const e of o.embed) e.encode(pass, dx, T);
    for (const e of o.posEmbed) e.encode(pass, dx, T);
    if (cap.residuals) {
      out.residuals = new Array(c.numLayers + 1);
      copyOut(a.x, T * D * 4, (b) => (out.residuals![0] = new Float32Array(b)));
    }
    if (cap.attentions) out.attentions = new Array(c.numLayers);
    if (cap.router && c.moe) out.router = [];
    if (cap.qk) out.qk = [];
    const useRows = T <= MATVEC_MAX_ROWS;
    const { nSplit: stepSplit, gqa } = this.inputs.splitKeys(Tk, T);
    this.w.layers.forEach((L, li) => {
      const op = o.layers[li];
      if (useRows && op.qkvF) op.qkvF.encode(pass, T);
      else {
        op.attnNorm.encode(pass, T);
        op.qkv.encode(pass, T);
      }
      for (const l of op.lora) {
        l.a.encode(pass, T);
        l.b.encode(pass, T);
      }
      if (!(useRows && op.qkvF && op.qkvRope)) op.rope.encode(pass, Math.ceil(((H + 2 * c.numKvHeads) * c.headDim) / 2 / 64), T);
      op.kvQuant?.encode(pass, Math.ceil((T * 2 * c.numKvHeads) / 64));
      if (useRows) {
        if (gqa) op.rowsGqa!.encode(pass, c.numKvHeads, T, stepSplit);
        else op.rows.encode(pass, H, T, stepSplit);
        if (stepSplit > 1) op.combine.encode(pass, H, T);
      } else {
        op.flash.encode(pass, ...op.flashGrid(T));
      }
      if (out.qk) {
        const kvRow = c.numKvHeads * c.headDim;
        const layer: QueriesKeys = { q: new Float32Array(T * H * c.headDim), k: new Float32Array(T * kvRow) };
        out.qk.push(layer);
        copyOut(a.q, T * H * c.headDim * 4, (b) => layer.q.set(new Float32Array(b))); // [T, H, hd] rotated
        const keys = forwardKeys(this.core, a, L, start); // cache slots [start, start+T), or the int8 cache's scratch rows
        copyOut(keys.src, T * kvRow * 4, (b) => layer.k.set(new Float32Array(b)), keys.offset);
      }
      if (cap.attentions) {
        const probs = createStorage(this.core.device, H * T * Tk * 4, 'attn-probs');
        out.free.push(probs);
        const d = attnProbsDispatch(this.core, a, L, probs);
        d.encode(pass, T, H);
        out.free.push(d.params);
        copyOut(probs, H * T * Tk * 4, (b) => (out.attentions![li] = new Float32Array(b)));
      }
      op.o.encode(pass, T);
      for (const l of op.oLora) {
        l.a.encode(pass, T);
        l.b.encode(pass, T);
      }
      const guFused = useRows && op.guF !== undefined;
      if (!guFused) op.mlpNorm.encode(pass, T);
      if (op.router && c.moe) {
        const { numExperts: E, topK: k } = c.moe;
        op.router.encode(pass, T);
        op.route!.encode(pass, Math.ceil(T / 64));
        if (out.router) {
          const rc: RouterChoice = {
            layer: li,
            topK: k,
            experts: new Int32Array(T * k),
            weights: new Float32Array(T * k),
            probs: new Float32Array(T * E),
            logits: new Float32Array(T * E),
          };
          out.router.push(rc);
          copyOut(a.rl, T * E * 4, (b) => rc.logits!.set(new Float32Array(b)));
          copyOut(a.rIds, T * k * 4, (b) => rc.experts.set(new Int32Array(b)));
          copyOut(a.rWk, T * k * 4, (b) => rc.weights.set(new Float32Array(b)));
          copyOut(a.rProbs, T * E * 4, (b) => rc.probs.set(new Float32Array(b)));
        }
        if (T === 1) {
          op.expGuSparse!.encode(pass, k);
          op.actSparse!.encode(pass, Math.ceil(I / 256), k);
          op.expDownSparse!.encode(pass, k);
          op.combineSparse!.encode(pass, Math.ceil(D / 64), T);
        } else {
          for (const ex of op.expDense!) {
            ex.gu.encode(pass, T);
            op.actDense!.encode(pass, Math.ceil(I / 256), T);
            ex.down.encode(pass, T);
          }
          op.combineDense!.encode(pass, Math.ceil(D / 64), T);
        }
      } else {
        const guMM = !useRows && op.guMM;
        (guMM ? op.guMM! : guFused ? op.guF! : op.gu!).encode(pass, T);
        for (const l of op.guLora) {
          l.a.encode(pass, T);
          l.b.encode(pass, T);
        }
        if (!guMM && !(guFused && op.guAct)) op.act!.encode(pass, Math.ceil(I / 256), T);
        op.down!.encode(pass, T);
        for (const l of op.downLora) {
          l.a.encode(pass, T);
          l.b.encode(pass, T);
        }
      }
      if (out.residuals) copyOut(a.x, T * D * 4, (b) => (out.residuals![li + 1] = new Float32Array(b)));
    });
    if (cap.finalHidden) {
      const fh = createStorage(this.core.device, T * D * 4, 'final-hidden');
      out.free.push(fh);
      const d = new Dispatch(
        this.core.device,
        this.core.cache,
        c.norm.kind === 'rms' ? rmsnormRowsWgsl(D) : layernormRowsWgsl(D),
        this.core.step,
        { D, mSel: M_FROM_T, mFixed: 0, srcFromHead: 0, eps: c.norm.eps, hasBias: this.w.finalNormB ? 1 : 0 },
        { x: a.x, weight: this.w.finalNorm, bias: this.w.finalNormB ?? this.core.dummy, y: fh },
      );
      d.encode(pass, T);
      out.free.push(d.params);
      copyOut(fh, T * D * 4, (b) => (out.finalHidden = new Float32Array(b)));
    }
    if (useRows && o.headF) o.headF.encode(pass, headRows);
    else {
      o.finalNorm.encode(pass, headRows);
      o.head.encode(pass, headRows);
    }
    pass.end();
    return out;
  }
}
