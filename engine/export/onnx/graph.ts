/**
 * The decoder graph in ONNX ops (opset 17, ai.onnx only), mirroring the CPU reference forward
 * pass (engine/model/model.ts) op for op, with the KV cache as graph inputs and outputs in the
 * Optimum layout:
 *   inputs  input_ids [batch, seq] int64, attention_mask [batch, past+seq] int64,
 *           position_ids [batch, seq] int64, past_key_values.{i}.key|value [batch, kv_heads, past, head_dim] f32
 *   outputs logits [batch, seq, vocab] f32, present.{i}.key|value [batch, kv_heads, past+seq, head_dim] f32
 * The causal mask is aligned bottom-right: query row t sits at cache slot past + t, as in the
 * engine; a slot whose attention_mask is 0 (padding) is masked too. Masked scores are set to
 * f32's lowest value rather than −∞, so that a row with every slot masked (a padding query)
 * gives a uniform softmax, not NaN. position_ids drive RoPE or the learned positions.
 */
import type { LoadedModel, Tensor } from '../../model/types';
import { ropeInvFreq } from '../../ops/rope/rope';
import { DT, valueInfo, type Lazy, type Message } from './protobuf';
import { GraphBuilder, type ExternalData } from './builder';

/** Makes a weight's bytes on demand; `transpose` turns a [rows, cols] tensor into [cols, rows]. */
export type WeightBytes = (name: string, t: Tensor, transpose: boolean) => Lazy;

export interface DecoderGraph {
  nodes: Message[];
  initializers: Message[];
  inputs: Message[];
  outputs: Message[];
}

const BATCH = 'batch_size';
const SEQ = 'sequence_length';
const PAST = 'past_sequence_length';
const TOTAL = 'total_sequence_length';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** The largest finite f32. */
const F32_MAX = 3.4028234663852886e38;

/** The graph of `m`; with `external`, its weights are placed in that external data file. */
export function decoderGraph(m: LoadedModel, bytes: WeightBytes, external?: ExternalData): DecoderGraph {
  const c = m.config;
  const W = m.weights;
  const g = new GraphBuilder(external);
  const D = c.hiddenSize;
  const H = c.numHeads;
  const Kv = c.numKvHeads;
  const hd = c.headDim;
  const group = H / Kv;
  const half = hd >> 1;
  const axisLast = g.i64([-1]);

  /** A weight as stored (or transposed), added once. */
  const added = new Map<string, string>();
  const weight = (name: string, transpose = false): string => {
    const key = `${name}${transpose ? '^T' : ''}`;
    const have = added.get(key);
    if (have) return have;
    const t = W.get(name)!;
    const dims = transpose ? [t.shape[1], t.shape[0]] : t.shape;
    const out = g.weight(transpose ? `${name}_t` : name, dims, bytes(name, t, transpose));
    added.set(key, out);
    return out;
  };

  /** y = x·Wᵀ + b for the linear layer `name` (weight [out, in], stored as [in, out]). x [B, S, in] → [B, S, out] */
  const linear = (x: string, name: string, scope: string): string => {
    const y = g.op('MatMul', [x, weight(`${name}.weight`, true)], scope);
    return W.has(`${name}.bias`) ? g.op('Add', [y, weight(`${name}.bias`)], scope) : y;
  };

  /** RMSNorm over the last axis, weight w [n]: x [..., n] → [..., n] */
  const rms = (x: string, w: string, scope: string): string => {
    const ms = g.op('ReduceMean', [g.op('Mul', [x, x], scope)], scope, { axes: [-1], keepdims: 1 }); // [..., 1]
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, g.f32(c.norm.eps)], scope)], scope)], scope); // [..., 1]
    return g.op('Mul', [g.op('Mul', [x, inv], scope), w], scope);
  };
  /** The config's norm (RMSNorm, or LayerNorm with its bias) with the weights under `name`: x [B, S, D] → [B, S, D] */
  const norm = (x: string, name: string, scope: string): string => {
    if (c.norm.kind === 'rms') return rms(x, weight(`${name}.weight`), scope);
    const bias = W.has(`${name}.bias`) ? weight(`${name}.bias`) : g.f32(new Array<number>(D).fill(0));
    return g.op('LayerNormalization', [x, weight(`${name}.weight`), bias], scope, { axis: -1, epsilon: { float: c.norm.eps } });
  };

  /** The config's activation, element-wise. */
  const act = (x: string, scope: string): string => {
    switch (c.activation) {
      case 'silu':
        return g.op('Mul', [x, g.op('Sigmoid', [x], scope)], scope);
      case 'gelu_new': {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        const x3 = g.op('Mul', [x, g.op('Mul', [x, x], scope)], scope);
        const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [x3, g.f32(0.044715)], scope)], scope), g.f32(SQRT_2_OVER_PI)], scope);
        const t = g.op('Add', [g.op('Tanh', [inner], scope), g.f32(1)], scope);
        return g.op('Mul', [g.op('Mul', [x, g.f32(0.5)], scope), t], scope);
      }
      case 'gelu': {
        // 0.5·x·(1 + erf(x/√2))
        const e = g.op('Add', [g.op('Erf', [g.op('Mul', [x, g.f32(Math.SQRT1_2)], scope)], scope), g.f32(1)], scope);
        return g.op('Mul', [g.op('Mul', [x, g.f32(0.5)], scope), e], scope);
      }
    }
  };

  /** Gated MLP with the weights under `p` (gate_proj, up_proj, down_proj): down(act(gate(x))·up(x)). */
  const gated = (x: string, p: string, scope: string): string => {
    const gt = linear(x, `${p}.gate_proj`, scope); // [B, S, I]
    const up = linear(x, `${p}.up_proj`, scope); // [B, S, I]
    return linear(g.op('Mul', [act(gt, scope), up], scope), `${p}.down_proj`, scope); // [B, S, D]
  };

  // ---- inputs
  const inputs = [valueInfo('input_ids', DT.INT64, [BATCH, SEQ]), valueInfo('attention_mask', DT.INT64, [BATCH, TOTAL]), valueInfo('position_ids', DT.INT64, [BATCH, SEQ])];
  const outputs = [valueInfo('logits', DT.FLOAT, [BATCH, SEQ, c.vocabSize])];
  for (let i = 0; i < c.numLayers; i++) {
    for (const kv of ['key', 'value']) {
      inputs.push(valueInfo(`past_key_values.${i}.${kv}`, DT.FLOAT, [BATCH, Kv, PAST, hd]));
      outputs.push(valueInfo(`present.${i}.${kv}`, DT.FLOAT, [BATCH, Kv, TOTAL, hd]));
    }
  }

  // ---- embeddings
  let x = g.op('Gather', [weight('model.embed_tokens.weight'), 'input_ids'], 'embed', { axis: 0 }); // [B, S, D]
  if (c.positions === 'learned') {
    const pe = g.op('Gather', [weight('model.embed_positions.weight'), 'position_ids'], 'embed', { axis: 0 }); // [B, S, D]
    x = g.op('Add', [x, pe], 'embed');
  }

  // ---- rotary cos/sin from position_ids and the (scaled) inverse frequencies
  let cos: string | undefined; // [B, 1, S, hd/2] ('half') or [B, 1, S, hd/2, 1] ('interleaved')
  let sin: string | undefined;
  if (c.positions === 'rope') {
    const posf = g.op('Cast', ['position_ids'], 'rope', { to: DT.FLOAT }); // [B, S]
    const pos = g.op('Unsqueeze', [posf, axisLast], 'rope'); // [B, S, 1]
    const angle = g.op('Mul', [pos, invFreq(posf)], 'rope'); // [B, S, hd/2]
    const axes = c.rope!.style === 'half' ? g.i64([1]) : g.i64([1, 4]);
    cos = g.op('Unsqueeze', [g.op('Cos', [angle], 'rope'), axes], 'rope');
    sin = g.op('Unsqueeze', [g.op('Sin', [angle], 'rope'), axes], 'rope');
  }
  /**
   * The inverse frequencies [hd/2]: a constant (default, linear and llama3 scalings folded in),
   * or for dynamic NTK computed from the forward's largest position as the engine does: while
   * L = max(position_ids) + 1 exceeds the original context L₀, theta becomes
   * theta · ((factor · L / L₀) − (factor − 1))^(d / (d − 2)).
   */
  function invFreq(posf: string): string {
    const r = c.rope!;
    const params = { rotaryDim: hd, theta: r.theta, scaling: r.scaling, maxPositions: c.maxPositions };
    const fixed = g.f32(Array.from(ropeInvFreq(params))); // [hd/2]
    if (r.scaling.type !== 'dynamic') return fixed;
    const factor = r.scaling.factor ?? 1;
    const orig = r.scaling.originalMaxPositions ?? c.maxPositions;
    const len = g.op('Add', [g.op('ReduceMax', [posf], 'rope', { keepdims: 0 }), g.f32(1)], 'rope'); // []
    const ratio = g.op('Sub', [g.op('Div', [g.op('Mul', [len, g.f32(factor)], 'rope'), g.f32(orig)], 'rope'), g.f32(factor - 1)], 'rope'); // []
    const base = g.op('Mul', [g.op('Pow', [ratio, g.f32(hd / (hd - 2))], 'rope'), g.f32(r.theta)], 'rope'); // []
    const exps = Array.from({ length: half }, (_, i) => Math.fround((2 * i) / hd)); // [hd/2]
    const scaled = g.op('Reciprocal', [g.op('Pow', [base, g.f32(exps)], 'rope')], 'rope'); // [hd/2]
    return g.op('Where', [g.op('Greater', [len, g.f32(orig)], 'rope'), scaled, fixed], 'rope');
  }

  /** Rotates every head: x [B, n, S, hd] → [B, n, S, hd] */
  const rope = (xh: string, scope: string): string => {
    const rot = (a: string, b: string): [string, string] => [
      g.op('Sub', [g.op('Mul', [a, cos!], scope), g.op('Mul', [b, sin!], scope)], scope), // a·cos − b·sin
      g.op('Add', [g.op('Mul', [b, cos!], scope), g.op('Mul', [a, sin!], scope)], scope), // b·cos + a·sin
    ];
    if (c.rope!.style === 'half') {
      const a = g.op('Slice', [xh, g.i64([0]), g.i64([half]), axisLast], scope); // [B, n, S, hd/2]
      const b = g.op('Slice', [xh, g.i64([half]), g.i64([hd]), axisLast], scope); // [B, n, S, hd/2]
      return g.op('Concat', rot(a, b), scope, { axis: -1 });
    }
    const pairs = g.op('Reshape', [xh, g.i64([0, 0, 0, half, 2])], scope); // [B, n, S, hd/2, 2]
    const a = g.op('Slice', [pairs, g.i64([0]), g.i64([1]), axisLast], scope); // [B, n, S, hd/2, 1]
    const b = g.op('Slice', [pairs, g.i64([1]), g.i64([2]), axisLast], scope); // [B, n, S, hd/2, 1]
    return g.op('Reshape', [g.op('Concat', rot(a, b), scope, { axis: -1 }), g.i64([0, 0, 0, hd])], scope); // [B, n, S, hd]
  };

  // ---- masks: query row t at slot past + t sees slots [slot − window + 1, slot]
  const seq = g.op('Shape', ['input_ids'], 'mask', { start: 1, end: 2 }); // [1]
  const past = g.op('Shape', ['past_key_values.0.key'], 'mask', { start: 2, end: 3 }); // [1]
  const scalar = (v: string) => g.op('Squeeze', [v, g.i64([0])], 'mask'); // [1] → []
  const total = g.op('Add', [past, seq], 'mask'); // [1]
  const kpos = g.op('Range', [g.i64([0], true), scalar(total), g.i64([1], true)], 'mask'); // [T]
  const qpos = g.op('Range', [scalar(past), scalar(total), g.i64([1], true)], 'mask'); // [S]
  const diff = g.op('Sub', [g.op('Unsqueeze', [qpos, axisLast], 'mask'), g.op('Unsqueeze', [kpos, g.i64([0])], 'mask')], 'mask'); // [S, T] slot − key
  const future = g.op('Less', [diff, g.i64([0], true)], 'mask'); // [S, T] bool: masked
  const masks = new Map<number | undefined, string>([[undefined, future]]);
  const maskFor = (window: number | undefined): string => {
    let mk = masks.get(window);
    if (!mk) {
      const old = g.op('Greater', [diff, g.i64([window! - 1], true)], 'mask'); // [S, T] outside the window
      mk = g.op('Or', [future, old], 'mask');
      masks.set(window, mk);
    }
    return mk;
  };
  // padding: slot j of row b is masked where attention_mask[b, j] = 0
  const padding = g.op('Unsqueeze', [g.op('Equal', ['attention_mask', g.i64([0], true)], 'mask'), g.i64([1, 2, 3])], 'mask'); // [B, 1, 1, 1, T]
  const withPadding = new Map<string, string>();
  const fullMask = (window: number | undefined): string => {
    const causal = maskFor(window);
    let mk = withPadding.get(causal);
    if (!mk) withPadding.set(causal, (mk = g.op('Or', [causal, padding], 'mask'))); // [B, 1, 1, S, T]
    return mk;
  };
  const lowest = g.f32(-F32_MAX);
  const scale = g.f32(1 / Math.sqrt(hd));

  // ---- layers
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const sc = `layers.${i}`;
    const window = c.slidingWindow !== undefined && (c.slidingWindowLayers?.[i] ?? true) ? c.slidingWindow : undefined;
    // attention block
    const h = norm(x, `${p}input_layernorm`, sc); // [B, S, D]
    let q = g.op('Reshape', [linear(h, `${p}self_attn.q_proj`, sc), g.i64([0, 0, H, hd])], sc); // [B, S, H, hd]
    let k = g.op('Reshape', [linear(h, `${p}self_attn.k_proj`, sc), g.i64([0, 0, Kv, hd])], sc); // [B, S, Kv, hd]
    const v = g.op('Reshape', [linear(h, `${p}self_attn.v_proj`, sc), g.i64([0, 0, Kv, hd])], sc); // [B, S, Kv, hd]
    if (c.qkNorm) {
      q = rms(q, weight(`${p}self_attn.q_norm.weight`), sc); // per head
      k = rms(k, weight(`${p}self_attn.k_norm.weight`), sc);
    }
    q = g.op('Transpose', [q], sc, { perm: [0, 2, 1, 3] }); // [B, H, S, hd]
    k = g.op('Transpose', [k], sc, { perm: [0, 2, 1, 3] }); // [B, Kv, S, hd]
    const vt = g.op('Transpose', [v], sc, { perm: [0, 2, 1, 3] }); // [B, Kv, S, hd]
    if (cos) {
      q = rope(q, sc);
      k = rope(k, sc);
    }
    const kAll = g.op('Concat', [`past_key_values.${i}.key`, k], sc, { axis: 2 }, `present.${i}.key`); // [B, Kv, T, hd]
    const vAll = g.op('Concat', [`past_key_values.${i}.value`, vt], sc, { axis: 2 }, `present.${i}.value`); // [B, Kv, T, hd]
    // grouped-query attention without repeating K/V: query head h = kvh·group + j
    const qg = g.op('Reshape', [q, g.i64([0, Kv, group, -1, hd])], sc); // [B, Kv, group, S, hd]
    const kT = g.op('Unsqueeze', [g.op('Transpose', [kAll], sc, { perm: [0, 1, 3, 2] }), g.i64([2])], sc); // [B, Kv, 1, hd, T]
    const scores = g.op('Mul', [g.op('MatMul', [qg, kT], sc), scale], sc); // [B, Kv, group, S, T]
    const masked = g.op('Where', [fullMask(window), lowest, scores], sc); // [B, Kv, group, S, T]
    const probs = g.op('Softmax', [masked], sc, { axis: -1 }); // [B, Kv, group, S, T]
    const ctx = g.op('MatMul', [probs, g.op('Unsqueeze', [vAll, g.i64([2])], sc)], sc); // [B, Kv, group, S, hd]
    const heads = g.op('Transpose', [g.op('Reshape', [ctx, g.i64([0, H, -1, hd])], sc)], sc, { perm: [0, 2, 1, 3] }); // [B, S, H, hd]
    const att = g.op('Reshape', [heads, g.i64([0, 0, H * hd])], sc); // [B, S, H·hd]
    x = g.op('Add', [x, linear(att, `${p}self_attn.o_proj`, sc)], sc); // [B, S, D]
    // MLP block
    const hm = norm(x, `${p}post_attention_layernorm`, sc); // [B, S, D]
    let mlp: string; // [B, S, D]
    if (c.moe) {
      mlp = moe(hm, `${p}mlp`, sc);
    } else if (c.mlp === 'gated') {
      mlp = gated(hm, `${p}mlp`, sc);
    } else {
      mlp = linear(act(linear(hm, `${p}mlp.up_proj`, sc), sc), `${p}mlp.down_proj`, sc);
    }
    x = g.op('Add', [x, mlp], sc); // [B, S, D]
  }

  /**
   * Sparse MoE evaluated densely: softmax over the router logits, top-k, renormalised (when the
   * config says so), scattered into a [B, S, E] routing matrix; every expert runs on every row
   * and its output is weighted by its column (zero where not chosen), summed in expert order.
   */
  function moe(hm: string, p: string, sc: string): string {
    const { numExperts: E, topK, normTopKProb } = c.moe!;
    const probs = g.op('Softmax', [linear(hm, `${p}.router`, sc)], sc, { axis: -1 }); // [B, S, E]
    const [top, idx] = g.opN('TopK', [probs, g.i64([topK])], 2, sc, { axis: -1, largest: 1, sorted: 1 }); // [B, S, k] each
    const w = normTopKProb ? g.op('Div', [top, g.op('ReduceSum', [top, axisLast], sc, { keepdims: 1 })], sc) : top; // [B, S, k]
    const zeros = g.op('ConstantOfShape', [g.op('Shape', [probs], sc)], sc, { value: { tensor: zeroTensor() } }); // [B, S, E]
    const route = g.op('ScatterElements', [zeros, idx, w], sc, { axis: -1 }); // [B, S, E]
    let sum = '';
    for (let e = 0; e < E; e++) {
      const y = gated(hm, `${p}.experts.${e}`, sc); // [B, S, D]
      const we = g.op('Slice', [route, g.i64([e]), g.i64([e + 1]), axisLast], sc); // [B, S, 1]
      const yw = g.op('Mul', [y, we], sc);
      sum = e === 0 ? yw : g.op('Add', [sum, yw], sc);
    }
    return sum;
  }

  // ---- final norm and head
  const hf = norm(x, 'model.norm', 'head'); // [B, S, D]
  const head = c.tieEmbeddings ? g.op('Transpose', [weight('model.embed_tokens.weight')], 'head', { perm: [1, 0] }) : weight('lm_head.weight', true); // [D, V]
  g.op('MatMul', [hf, head], 'head', {}, 'logits'); // [B, S, V]

  return { nodes: g.nodes, initializers: g.initializers, inputs, outputs };
}

/** ConstantOfShape's value: one f32 zero. */
function zeroTensor(): Message {
  const b = new GraphBuilder();
  b.f32([0]);
  return b.initializers[0];
}
