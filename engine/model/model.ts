/**
 * The CPU reference transformer: one forward pass for every architecture in
 * ModelConfig (Llama, Qwen2, Qwen3, Mistral, Mixtral, GPT-2), with a static KV
 * cache so that a prefill of many tokens and token-by-token decode give the same
 * logits, opt-in captures for visualisation (attention probabilities, residual
 * stream, final hidden state, MoE routing, KV cache size). engine/backend/cpu.ts puts it
 * behind the backend contract; engine/generate/ decodes with it.
 *
 * Matches HF transformers (eager attention) to float32 rounding: the TypeScript ops sum in f64
 * (JavaScript numbers) and round to f32 on store; the WebAssembly kernels (the default) sum the
 * linear layers, attention's softmax and weighted sum of V and SwiGLU in f32, each op within f32
 * rounding of its reference (its `<op>.wasm.test.ts`), the same kernels for prefill and decode.
 */
import { activate } from '../ops/activations/activations';
import { attention, attentionInt8, type AttentionArgs } from '../ops/attention/attention';
import { WasmAttention } from '../ops/attention/attention.wasm';
import { embedding, embeddingAdd } from '../ops/embedding/embedding';
import { loraAdd } from '../ops/lora/lora';
import { matmul } from '../ops/matmul/matmul';
import { WasmMatmul } from '../ops/matmul/matmul.wasm';
import { align16, sharedMemoryAvailable, WasmArena } from '../ops/wasm';
import { quantizeInt8Rows } from '../ops/kvquant/kvquant';
import { expertTokens, gatherRows, routeTopK, scatterAddRows } from '../ops/moe/moe';
import { ropeCosSin, ropeInvFreq, type RopeParams } from '../ops/rope/rope';
import { validateWeights } from './shapes';
import { addInto, ARENA_ROWS, RowOps, Scratch } from './scratch';
import { kvRowBytes, type KvCacheDtype } from './kv/layout';
import type { CaptureOptions, ForwardResult, KvCacheBytes, QueriesKeys, RouterChoice } from '../backend/contract';
import type { LoadedModel, ModelConfig, WeightMap } from './types';

export type { KvCacheDtype } from './kv/layout';

/** An unmerged low-rank adapter on a linear layer: y += scale · (x·Aᵀ)·Bᵀ. */
export interface LoraSlot {
  A: Float32Array; // [r, in]
  B: Float32Array; // [out, r]
  r: number;
  scale: number;
}

/** A linear layer y = x·Wᵀ + b, by canonical weight name. `w` may be swapped (LoRA merge). */
export interface Linear {
  readonly name: string;
  w: Float32Array; // [out, in]
  readonly b?: Float32Array; // [out]
  readonly out: number;
  readonly in: number;
  /** Unmerged adapters, applied after the frozen weight. */
  lora: LoraSlot[];
}

interface Norm {
  w: Float32Array; // [D]
  b?: Float32Array; // [D]
}

interface Expert {
  gate: Linear;
  up: Linear;
  down: Linear;
}

interface Layer {
  attnNorm: Norm;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  qNorm?: Float32Array; // [headDim]
  kNorm?: Float32Array; // [headDim]
  mlpNorm: Norm;
  gate?: Linear; // gated MLP
  up?: Linear;
  down?: Linear;
  router?: Linear; // MoE [E, D]
  experts?: Expert[];
  window?: number;
  kv: LayerKv;
}

/**
 * One layer's static KV cache: f32 rows, or int8 rows with one f32 scale per (token, KV head)
 * (symmetric, s = max|row| / 127, quantised on write: ops/kvquant). An f32 cache in the
 * WebAssembly memory is in the attention kernel's layout instead (WasmAttention.write).
 */
export type LayerKv =
  | { dtype: 'f32'; k: Float32Array; v: Float32Array } // [ctx, nKvHeads, headDim] each (the kernel's: K [nKvHeads, ctx/8, headDim, 8], V [nKvHeads, headDim/16, ctx, 16]: attention.wat)
  | { dtype: 'int8'; k: Int8Array; v: Int8Array; kScale: Float32Array; vScale: Float32Array }; // [ctx, nKvHeads, headDim], scales [ctx, nKvHeads]

/** The CPU model's forward options: the contract's, less the device-side top-k. */
export interface ForwardOptions {
  /** Only the last row of logits ([1, V]): what decoding needs. */
  lastOnly?: boolean;
  capture?: CaptureOptions;
}

export interface ModelOptions {
  /** KV cache capacity in tokens (default: min(maxPositions, 2048)). */
  contextLength?: number;
  /**
   * Linear-layer kernel: 'wasm' (WebAssembly SIMD, f32 accumulation, weights copied
   * once into its memory; the default where available and the weights fit in 2 GiB)
   * or 'js' (the plain-TypeScript reference, f64 accumulation). With 'wasm' an f32 KV cache
   * lives in the same memory and attention runs in WebAssembly too, when it fits, and so do the
   * activations of forwards of up to 16 tokens, with RMSNorm, RoPE and SwiGLU run on them there.
   */
  kernel?: 'wasm' | 'js';
  /**
   * How many threads will run the WebAssembly kernels (default 1). Above 1 the memory is put
   * on a SharedArrayBuffer, so that worker threads can run the kernels on it, and attention
   * keeps a scratch set per thread; the threads themselves are the caller's (engine/cli/threads.ts).
   */
  threads?: number;
  /**
   * 'int8': the KV cache is int8, K and V of [ctx, nKvHeads, headDim] per layer plus one f32
   * scale per (token, KV head) each; every row is quantised when written (ops/kvquant) and
   * attention reads q · s. Default 'f32'.
   */
  kvQuant?: KvCacheDtype;
}

/** The static KV cache's bytes per layer (K and V of [ctx, nKvHeads, headDim] each, and int8's scales) holding `len` tokens. */
export function kvCacheReport(c: ModelConfig, contextLength: number, len: number, dtype: KvCacheDtype = 'f32'): KvCacheBytes[] {
  const perToken = 2 * kvRowBytes(c, dtype);
  return Array.from({ length: c.numLayers }, (_, layer) => ({
    layer,
    allocated: contextLength * perToken,
    used: len * perToken,
    tokens: len,
    capacity: contextLength,
  }));
}

/** A cache length to truncate to: n, checked against the `len` tokens held. */
export function checkedTruncate(n: number, len: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > len) throw new RangeError(`truncate(${n}): cache holds ${len} tokens`);
  return n;
}

export class Model {
  readonly config: ModelConfig;
  readonly contextLength: number;
  private readonly layers: Layer[];
  private readonly linearsByName = new Map<string, Linear>();
  private embed: Float32Array; // [V, D]
  private readonly posEmbed?: Float32Array; // [P, D]
  private readonly finalNorm: Norm;
  private lmHead: Float32Array; // [V, D]
  /** The WebAssembly SIMD kernel and the memory holding the weights, when used. */
  readonly wasm?: WasmMatmul;
  /** Attention in WebAssembly over the f32 cache in the same memory, when it fits there. */
  readonly wasmAttention?: WasmAttention;
  /** The norms (with the residual add before them), RoPE and SwiGLU: in the same memory, on the rows there, when it is used. */
  private readonly ops: RowOps;
  /** Activations for forwards of up to ARENA_ROWS tokens, in the same memory. */
  private readonly arenaScratch?: Scratch;
  private readonly ropeParams?: RopeParams;
  private readonly staticInvFreq?: Float64Array; // [hd/2]
  private scratch?: Scratch;
  private readonly scores: Float64Array; // [ctx]
  private readonly acc: Float64Array; // [hd]
  private len = 0;
  /** The KV cache's element type. */
  readonly kvDtype: KvCacheDtype;

  constructor(loaded: LoadedModel | { config: ModelConfig; weights: WeightMap }, opts: ModelOptions = {}) {
    const c = loaded.config;
    this.config = c;
    validateWeights(c, loaded.weights, 'source' in loaded ? loaded.source.files.join(', ') : 'weights');
    const ctx = opts.contextLength ?? Math.min(c.maxPositions, 2048);
    if (!Number.isSafeInteger(ctx) || ctx < 1) throw new RangeError(`contextLength ${ctx} must be a positive integer`);
    if (c.positions === 'learned' && ctx > c.maxPositions) throw new RangeError(`contextLength ${ctx} exceeds the ${c.maxPositions} learned positions`);
    this.contextLength = ctx;
    const kvDtype = opts.kvQuant ?? 'f32';
    if (kvDtype !== 'f32' && kvDtype !== 'int8') throw new RangeError(`kvQuant must be 'f32' or 'int8', got ${String(kvDtype)}`);
    this.kvDtype = kvDtype;
    const W = (name: string) => loaded.weights.get(name)!.data;
    const opt = (name: string) => loaded.weights.get(name)?.data;
    const lin = (name: string): Linear => {
      const t = loaded.weights.get(`${name}.weight`)!;
      const l: Linear = { name: `${name}.weight`, w: t.data, b: opt(`${name}.bias`), out: t.shape[0], in: t.shape[1], lora: [] };
      this.linearsByName.set(l.name, l);
      return l;
    };
    const norm = (name: string): Norm => ({ w: W(`${name}.weight`), b: opt(`${name}.bias`) });
    const kvSize = ctx * c.numKvHeads * c.headDim;
    const layers: Omit<Layer, 'kv'>[] = [];
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      const layer: Omit<Layer, 'kv'> = {
        attnNorm: norm(`${p}input_layernorm`),
        q: lin(`${p}self_attn.q_proj`),
        k: lin(`${p}self_attn.k_proj`),
        v: lin(`${p}self_attn.v_proj`),
        o: lin(`${p}self_attn.o_proj`),
        qNorm: c.qkNorm ? W(`${p}self_attn.q_norm.weight`) : undefined,
        kNorm: c.qkNorm ? W(`${p}self_attn.k_norm.weight`) : undefined,
        mlpNorm: norm(`${p}post_attention_layernorm`),
        window: c.slidingWindow !== undefined && (c.slidingWindowLayers?.[i] ?? true) ? c.slidingWindow : undefined,
      };
      if (c.moe) {
        layer.router = lin(`${p}mlp.router`);
        layer.experts = Array.from({ length: c.moe.numExperts }, (_, e) => ({
          gate: lin(`${p}mlp.experts.${e}.gate_proj`),
          up: lin(`${p}mlp.experts.${e}.up_proj`),
          down: lin(`${p}mlp.experts.${e}.down_proj`),
        }));
      } else {
        if (c.mlp === 'gated') layer.gate = lin(`${p}mlp.gate_proj`);
        layer.up = lin(`${p}mlp.up_proj`);
        layer.down = lin(`${p}mlp.down_proj`);
      }
      layers.push(layer);
    }
    this.embed = W('model.embed_tokens.weight');
    this.posEmbed = c.positions === 'learned' ? W('model.embed_positions.weight') : undefined;
    this.finalNorm = norm('model.norm');
    this.lmHead = c.tieEmbeddings ? this.embed : W('lm_head.weight');
    if (c.positions === 'rope') {
      if (!c.rope) throw new RangeError('rotary positions without rope settings');
      this.ropeParams = { rotaryDim: c.headDim, theta: c.rope.theta, scaling: c.rope.scaling, maxPositions: c.maxPositions };
      if (c.rope.scaling.type !== 'dynamic') this.staticInvFreq = ropeInvFreq(this.ropeParams);
    }
    this.scores = new Float64Array(ctx);
    this.acc = new Float64Array(c.headDim);
    const threads = opts.threads ?? 1;
    if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    const kvInArena = kvDtype === 'f32' ? c.numLayers * WasmAttention.cacheBytes(kvSize) + WasmAttention.stagingBytes(ctx, c.numHeads, c.headDim, undefined, threads) : 0;
    const arena = (opts.kernel ?? 'wasm') === 'wasm' ? this.moveWeightsToWasm(loaded.weights, kvInArena, threads > 1 && sharedMemoryAvailable()) : undefined;
    if (arena) {
      this.wasm = arena.mm;
      const a = this.wasm.arena;
      if (arena.withKv) this.wasmAttention = WasmAttention.create(a, ctx, c.numHeads, c.headDim, undefined, threads);
      this.arenaScratch = new Scratch(ARENA_ROWS, c, (n, what) => a.alloc(n, what));
      if (c.norm.kind === 'rms') {
        // the kernel reads its weight in the arena too
        for (const L of layers) {
          L.attnNorm.w = a.adopt(L.attnNorm.w, 'norm weights');
          L.mlpNorm.w = a.adopt(L.mlpNorm.w, 'norm weights');
          if (L.qNorm) L.qNorm = a.adopt(L.qNorm, 'norm weights');
          if (L.kNorm) L.kNorm = a.adopt(L.kNorm, 'norm weights');
        }
        this.finalNorm.w = a.adopt(this.finalNorm.w, 'norm weights');
      }
    }
    this.ops = new RowOps(c, this.wasm?.arena);
    const wa = this.wasmAttention;
    this.layers = layers.map((l, i): Layer => ({
      ...l,
      kv:
        kvDtype === 'int8'
          ? { dtype: 'int8', k: new Int8Array(kvSize), v: new Int8Array(kvSize), kScale: new Float32Array(ctx * c.numKvHeads), vScale: new Float32Array(ctx * c.numKvHeads) }
          : wa
            ? { dtype: 'f32', ...wa.allocCache(c.numKvHeads, `layer ${i}`) }
            : { dtype: 'f32', k: new Float32Array(kvSize), v: new Float32Array(kvSize) },
    }));
  }

  /**
   * Copies every linear weight (and the logits head) into one WebAssembly memory
   * for the SIMD kernel, and points the model — and the caller's weight map, so the
   * originals can be collected — at those copies. The memory also gets `kvBytes` for the
   * KV cache and attention's staging when it can hold them (withKv). Undefined when SIMD is
   * missing or the weights do not fit.
   */
  private moveWeightsToWasm(weights: WeightMap, kvBytes: number, shared: boolean): { mm: WasmMatmul; withKv: boolean } | undefined {
    const c = this.config;
    const lins = [...this.linearsByName.values()];
    let bytes = align16(this.lmHead.length * 4);
    let maxK = c.hiddenSize;
    let maxN = c.vocabSize;
    for (const l of lins) {
      bytes += align16(l.w.length * 4);
      maxK = Math.max(maxK, l.in);
      maxN = Math.max(maxN, l.out);
    }
    bytes += WasmMatmul.stagingBytes(maxK, maxN);
    // the activations for short forwards, SwiGLU's staging, the norm weights
    bytes +=
      Scratch.arenaBytes(ARENA_ROWS, c) + RowOps.arenaBytes() + (2 * c.numLayers + 1) * align16(c.hiddenSize * 4) + (c.qkNorm ? 2 * c.numLayers * align16(c.headDim * 4) : 0) + 64;
    let withKv = kvBytes > 0;
    let arena = withKv ? WasmArena.create(bytes + kvBytes, shared) : undefined;
    if (!arena) {
      withKv = false;
      arena = WasmArena.create(bytes, shared);
    }
    const mm = arena && WasmMatmul.on(arena, maxK, maxN);
    if (!mm) return undefined;
    for (const l of lins) {
      l.w = mm.adopt(l.w);
      const t = weights.get(l.name);
      if (t) weights.set(l.name, { shape: t.shape, data: l.w });
    }
    const head = mm.adopt(this.lmHead);
    if (this.lmHead === this.embed) {
      this.embed = head;
      const t = weights.get('model.embed_tokens.weight')!;
      weights.set('model.embed_tokens.weight', { shape: t.shape, data: head });
    } else {
      const t = weights.get('lm_head.weight')!;
      weights.set('lm_head.weight', { shape: t.shape, data: head });
    }
    this.lmHead = head;
    return { mm, withKv };
  }

  /** out = x·Wᵀ (+ bias): the SIMD kernel when W lives in its memory, else the reference. */
  private mm(out: Float32Array, x: Float32Array, w: Float32Array, T: number, K: number, N: number, bias?: Float32Array): void {
    if (this.wasm?.owns(w)) this.wasm.matmul(out, x, w, T, K, N, bias);
    else matmul(out, x, w, T, K, N, bias);
  }

  /** Tokens held in the KV cache. */
  get length(): number {
    return this.len;
  }

  /** Empties the KV cache. */
  reset(): void {
    this.len = 0;
  }

  /** Keeps only the first n cached tokens (n ≤ length); the next forward continues at slot n. */
  truncate(n: number): void {
    this.len = checkedTruncate(n, this.len);
  }

  /** The linear layer with this canonical weight name (LoRA attaches here). */
  getLinear(name: string): Linear | undefined {
    return this.linearsByName.get(name);
  }

  /** All linear layers, by canonical weight name. */
  linears(): IterableIterator<Linear> {
    return this.linearsByName.values();
  }

  /** KV cache bytes per layer, read from the K and V arrays (and int8's scales) this model allocated. */
  kvCacheBytes(): KvCacheBytes[] {
    return this.layers.map((L, layer) => {
      const kv = L.kv;
      const allocated = kv.k.byteLength + kv.v.byteLength + (kv.dtype === 'int8' ? kv.kScale.byteLength + kv.vScale.byteLength : 0);
      return { layer, allocated, used: (allocated / this.contextLength) * this.len, tokens: this.len, capacity: this.contextLength };
    });
  }

  /** The K and V arrays (and int8's scales) of each layer (tests check that decoding never replaces them). */
  kvCacheArrays(): LayerKv[] {
    return this.layers.map((L) => L.kv);
  }

  private scratchFor(T: number): Scratch {
    if (this.arenaScratch && T <= this.arenaScratch.cap) return this.arenaScratch;
    if (!this.scratch || this.scratch.cap < T) this.scratch = new Scratch(T, this.config);
    return this.scratch;
  }

  /** y = x·Wᵀ + b, then any unmerged adapters. x [T, in], out [T, out]. */
  private linear(out: Float32Array, x: Float32Array, T: number, l: Linear, s: Scratch): void {
    this.mm(out, x, l.w, T, l.in, l.out, l.b);
    for (const a of l.lora) {
      if (s.lora.length < T * a.r) s.lora = new Float32Array(T * a.r);
      loraAdd(out, x, a.A, a.B, T, l.in, l.out, a.r, a.scale, s.lora);
    }
  }

  /** x += residual when given, then the config's norm over rows of width dim. x, out: [rows, dim] exactly. */
  private norm(out: Float32Array, x: Float32Array, n: Norm, dim: number, residual?: Float32Array): void {
    this.ops.norm(out, x, n.w, n.b, dim, residual);
  }

  /**
   * Runs `tokens` at the next cache slots. positions: absolute positions for the
   * rotary/learned embeddings (default: the cache slots). Returns logits [T, V]
   * (or [1, V] with lastOnly) and whatever `capture` asks for.
   */
  forward(tokens: number[], positions?: number[], opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const T = tokens.length;
    if (T === 0) throw new RangeError('forward: no tokens');
    const start = this.len;
    if (start + T > this.contextLength) throw new RangeError(`forward: ${start} cached + ${T} new tokens exceed the context length ${this.contextLength}`);
    const pos = positions ?? Array.from({ length: T }, (_, i) => start + i); // [T]
    if (pos.length !== T || !pos.every((p) => Number.isSafeInteger(p) && p >= 0)) throw new RangeError('forward: positions must be T non-negative integers');
    const cap = opts.capture ?? {};
    const D = c.hiddenSize;
    const H = c.numHeads;
    const Kv = c.numKvHeads;
    const hd = c.headDim;
    const I = c.intermediateSize;
    const Tk = start + T;
    const s = this.scratchFor(T);
    const x = s.x.subarray(0, T * D); // [T, D] residual stream
    const h = s.h.subarray(0, T * D); // [T, D]

    embedding(x, this.embed, tokens, D);
    if (this.posEmbed) embeddingAdd(x, this.posEmbed, pos, D);

    const residuals = cap.residuals ? [x.slice()] : undefined;
    const attentions: Float32Array[] | undefined = cap.attentions ? [] : undefined;
    const router: RouterChoice[] | undefined = cap.router && c.moe ? [] : undefined;
    const qk: QueriesKeys[] | undefined = cap.qk ? [] : undefined;

    let cos: Float32Array | undefined;
    let sin: Float32Array | undefined;
    if (this.ropeParams) {
      const inv = this.staticInvFreq ?? ropeInvFreq(this.ropeParams, Math.max(...pos) + 1); // [hd/2]
      cos = s.cos.subarray(0, T * (hd >> 1)); // [T, hd/2]
      sin = s.sin.subarray(0, T * (hd >> 1)); // [T, hd/2]
      ropeCosSin(cos, sin, inv, pos);
    }

    const q = s.q.subarray(0, T * H * hd); // [T, H, hd]
    const k = s.k.subarray(0, T * Kv * hd); // [T, Kv, hd]
    const v = s.v.subarray(0, T * Kv * hd); // [T, Kv, hd]
    const att = s.att.subarray(0, T * H * hd); // [T, H, hd]
    const o = s.o.subarray(0, T * D); // [T, D]
    const m = s.m.subarray(0, T * D); // [T, D]

    let pending: Float32Array | undefined; // the last MLP output, added into x by the next norm
    for (let li = 0; li < this.layers.length; li++) {
      const L = this.layers[li];
      // --- attention block
      this.norm(h, x, L.attnNorm, D, pending); // x += pending; h = norm(x)
      pending = undefined;
      this.linear(q, h, T, L.q, s);
      this.linear(k, h, T, L.k, s);
      this.linear(v, h, T, L.v, s);
      if (L.qNorm && L.kNorm) {
        this.ops.rms(q, q, L.qNorm, hd); // per head: [T·H, hd]
        this.ops.rms(k, k, L.kNorm, hd); // per head: [T·Kv, hd]
      }
      if (cos && sin) {
        this.ops.rope(q, cos, sin, T, H); // [T, H, hd]
        this.ops.rope(k, cos, sin, T, Kv); // [T, Kv, hd]
      }
      if (qk) qk.push({ q: q.slice(), k: k.slice() }); // [T, H, hd], [T, Kv, hd]
      const kv = L.kv;
      const probs = attentions ? new Float32Array(H * T * Tk) : undefined; // [H, T, Tk]
      const scale = 1 / Math.sqrt(hd);
      if (kv.dtype === 'f32') {
        const wa = this.wasmAttention;
        if (wa)
          wa.write(kv.k, kv.v, k, v, start, T, Kv); // slots [start, start+T), in the kernel's layout
        else {
          kv.k.set(k, start * Kv * hd); // slots [start, start+T)
          kv.v.set(v, start * Kv * hd);
        }
        const args: AttentionArgs = {
          out: att,
          q,
          kCache: kv.k,
          vCache: kv.v,
          T,
          start,
          nHeads: H,
          nKvHeads: Kv,
          headDim: hd,
          scale,
          window: L.window,
          probs,
          scores: this.scores,
          acc: this.acc,
        };
        if (wa) wa.run(args);
        else attention(args);
      } else {
        quantizeInt8Rows(k, 0, T * Kv, hd, kv.k, kv.kScale, start * Kv); // [T·Kv, hd] rows into slots [start, start+T), one scale each
        quantizeInt8Rows(v, 0, T * Kv, hd, kv.v, kv.vScale, start * Kv);
        const { kScale, vScale } = kv;
        attentionInt8({
          out: att,
          q,
          kCache: kv.k,
          vCache: kv.v,
          kScale,
          vScale,
          T,
          start,
          nHeads: H,
          nKvHeads: Kv,
          headDim: hd,
          scale,
          window: L.window,
          probs,
          scores: this.scores,
          acc: this.acc,
        });
      }
      if (attentions && probs) attentions.push(probs);
      this.linear(o, att, T, L.o, s);
      // --- MLP block
      this.norm(h, x, L.mlpNorm, D, o); // x += o; h = norm(x)
      if (L.experts && L.router) {
        this.moe(m, h, T, L, s, li, router);
      } else if (L.gate) {
        const g = s.g.subarray(0, T * I); // [T, I]
        const u = s.u.subarray(0, T * I); // [T, I]
        this.linear(g, h, T, L.gate, s);
        this.linear(u, h, T, L.up!, s);
        this.ops.glu(g, u, T * I); // g = act(g)·u
        this.linear(m, g, T, L.down!, s);
      } else {
        const u = s.u.subarray(0, T * I); // [T, I]
        this.linear(u, h, T, L.up!, s);
        activate(u, T * I, c.activation);
        this.linear(m, u, T, L.down!, s);
      }
      if (residuals) {
        addInto(x, m);
        residuals.push(x.slice());
      } else pending = m;
    }
    this.len = start + T;

    // --- final norm and head
    const rows = opts.lastOnly ? 1 : T;
    const first = T - rows;
    let finalHidden: Float32Array | undefined;
    let hid: Float32Array; // [rows, D]
    if (cap.finalHidden) {
      finalHidden = new Float32Array(T * D); // [T, D]
      this.norm(finalHidden, x, this.finalNorm, D, pending);
      hid = finalHidden.subarray(first * D);
    } else {
      if (pending && first > 0) {
        addInto(x, pending);
        pending = undefined;
      }
      hid = h.subarray(0, rows * D);
      this.norm(hid, x.subarray(first * D), this.finalNorm, D, pending);
    }
    const logits = new Float32Array(rows * c.vocabSize); // [rows, V]
    this.mm(logits, hid, this.lmHead, rows, D, c.vocabSize);

    const result: ForwardResult = { logits, rows, vocab: c.vocabSize, start, keys: Tk };
    if (attentions) result.attentions = attentions;
    if (residuals) result.residuals = residuals;
    if (finalHidden) result.finalHidden = finalHidden;
    if (router) result.router = router;
    if (cap.kvBytes) result.kvBytes = this.kvCacheBytes();
    if (qk) result.qk = qk;
    return result;
  }

  /** Sparse MoE MLP: route each row to its top-k experts, run them, mix by the router weights. */
  private moe(m: Float32Array, h: Float32Array, T: number, L: Layer, s: Scratch, layer: number, capture?: RouterChoice[]): void {
    const c = this.config;
    const { numExperts: E, topK: k, normTopKProb } = c.moe!;
    const D = c.hiddenSize;
    const I = c.intermediateSize;
    const rl = s.rl.subarray(0, T * E); // [T, E]
    this.linear(rl, h, T, L.router!, s);
    const ids = new Int32Array(T * k); // [T, k]
    const weights = new Float32Array(T * k); // [T, k]
    const probs = new Float32Array(T * E); // [T, E]
    routeTopK(ids, weights, rl, T, E, k, normTopKProb, probs);
    if (capture) capture.push({ layer, topK: k, experts: ids, weights, probs, logits: rl.slice() });
    m.fill(0);
    const groups = expertTokens(ids, weights, T, k, E);
    for (let e = 0; e < E; e++) {
      const grp = groups[e];
      const n = grp.rows.length;
      if (n === 0) continue;
      const ex = L.experts![e];
      const xs = s.xs.subarray(0, n * D); // [n, D]
      gatherRows(xs, h, grp.rows, D);
      const g = s.g.subarray(0, n * I); // [n, I]
      const u = s.u.subarray(0, n * I); // [n, I]
      this.linear(g, xs, n, ex.gate, s);
      this.linear(u, xs, n, ex.up, s);
      this.ops.glu(g, u, n * I);
      const ys = s.ys.subarray(0, n * D); // [n, D]
      this.linear(ys, g, n, ex.down, s);
      scatterAddRows(m, ys, grp.rows, grp.weights, D);
    }
  }

  /**
   * Logit lens: the final norm and the head applied to any residual snapshot
   * (e.g. `residuals[l]` from a forward capture). residual [rows, D] → logits [rows, V].
   */
  logitLens(residual: Float32Array): Float32Array {
    const c = this.config;
    const D = c.hiddenSize;
    const rows = residual.length / D;
    const hid = new Float32Array(rows * D); // [rows, D]
    this.norm(hid, residual, this.finalNorm, D);
    const logits = new Float32Array(rows * c.vocabSize); // [rows, V]
    this.mm(logits, hid, this.lmHead, rows, D, c.vocabSize);
    return logits;
  }
}
