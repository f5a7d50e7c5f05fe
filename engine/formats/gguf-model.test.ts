import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import type { LoadedModel, ModelConfig, Tensor } from '../model/types';
import { encodeGguf, type GgufTypedValue, type GgufWriteTensor } from './gguf-writer';
import { ggufModelConfig, loadGgufModel, permuteRopeRows, recogniseLlama3RopeFactors } from './gguf-model';
import { loadLlama2cModel } from './llama2c-model';
import { dequantize, f32ToF16, GgmlType, ggmlByteSize } from './quant';
import { memorySource } from './source';
import { readGguf } from './gguf';
import { randomFill, randomLlamaGguf } from '../model/random';

const FIX = '../shared/fixtures';
const GGUF_PATH = `${FIX}/gguf/stories260K.gguf`;
const BIN_PATH = `${FIX}/llama2c/stories260K.bin`;
const REFS = JSON.parse(readFileSync(`${FIX}/refs/stories260K.greedy.shared.json`, 'utf8')) as {
  cases: { prompt: string; steps: number; prompt_ids: number[]; generated_ids: number[] }[];
};

const loadGguf = (opts = {}) => loadGgufModel(memorySource(new Uint8Array(readFileSync(GGUF_PATH)), GGUF_PATH), opts);
const loadBin = () => loadLlama2cModel(memorySource(new Uint8Array(readFileSync(BIN_PATH)), BIN_PATH));

// ---------------------------------------------------------------------------
// A direct port of llama2.c run.c `forward` (f64 math), used to check the
// loaders' tensor layout and RoPE style against the fixture's greedy ids
// independently of the engine's own forward pass.

function ropeInPlace(vec: Float64Array, pos: number, headDim: number, theta: number, style: 'half' | 'interleaved'): void {
  const half = headDim / 2;
  for (let h = 0; h < vec.length / headDim; h++) {
    for (let i = 0; i < half; i++) {
      const freq = 1 / theta ** ((2 * i) / headDim);
      const c = Math.cos(pos * freq);
      const s = Math.sin(pos * freq);
      const [a, b] = style === 'interleaved' ? [h * headDim + 2 * i, h * headDim + 2 * i + 1] : [h * headDim + i, h * headDim + i + half];
      const x0 = vec[a];
      const x1 = vec[b];
      vec[a] = x0 * c - x1 * s;
      vec[b] = x0 * s + x1 * c;
    }
  }
}

function matvec(w: Tensor, x: Float64Array): Float64Array {
  const [rows, cols] = w.shape;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w.data[r * cols + c] * x[c];
    out[r] = s;
  }
  return out;
}

function rmsnorm(x: Float64Array, w: Tensor, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const k = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * k * w.data[i]);
}

/** run.c forward for one token with a KV cache; `style` is the RoPE pairing applied to the stored Q/K rows. */
function makeReferenceForward(m: LoadedModel, style: 'half' | 'interleaved') {
  const c = m.config;
  const W = (n: string) => m.weights.get(n)!;
  const hd = c.headDim;
  const kvMul = c.numHeads / c.numKvHeads;
  const kCache: Float64Array[][] = Array.from({ length: c.numLayers }, () => []);
  const vCache: Float64Array[][] = Array.from({ length: c.numLayers }, () => []);
  return (token: number, pos: number): Float64Array => {
    const D = c.hiddenSize;
    let x = Float64Array.from(W('model.embed_tokens.weight').data.subarray(token * D, (token + 1) * D));
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}`;
      const xb = rmsnorm(x, W(`${p}.input_layernorm.weight`), c.norm.eps);
      const q = matvec(W(`${p}.self_attn.q_proj.weight`), xb);
      const k = matvec(W(`${p}.self_attn.k_proj.weight`), xb);
      const v = matvec(W(`${p}.self_attn.v_proj.weight`), xb);
      ropeInPlace(q, pos, hd, c.rope!.theta, style);
      ropeInPlace(k, pos, hd, c.rope!.theta, style);
      kCache[l][pos] = k;
      vCache[l][pos] = v;
      const att = new Float64Array(c.numHeads * hd);
      for (let h = 0; h < c.numHeads; h++) {
        const g = Math.floor(h / kvMul);
        const scores = new Float64Array(pos + 1);
        for (let t = 0; t <= pos; t++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[h * hd + i] * kCache[l][t][g * hd + i];
          scores[t] = s / Math.sqrt(hd);
        }
        const max = Math.max(...scores);
        let sum = 0;
        for (let t = 0; t <= pos; t++) sum += scores[t] = Math.exp(scores[t] - max);
        for (let t = 0; t <= pos; t++) for (let i = 0; i < hd; i++) att[h * hd + i] += (scores[t] / sum) * vCache[l][t][g * hd + i];
      }
      const o = matvec(W(`${p}.self_attn.o_proj.weight`), att);
      x = x.map((xi, i) => xi + o[i]);
      const xb2 = rmsnorm(x, W(`${p}.post_attention_layernorm.weight`), c.norm.eps);
      const gate = matvec(W(`${p}.mlp.gate_proj.weight`), xb2);
      const up = matvec(W(`${p}.mlp.up_proj.weight`), xb2);
      const hb = gate.map((gi, i) => (gi / (1 + Math.exp(-gi))) * up[i]);
      const down = matvec(W(`${p}.mlp.down_proj.weight`), hb);
      x = x.map((xi, i) => xi + down[i]);
    }
    const xf = rmsnorm(x, W('model.norm.weight'), c.norm.eps);
    return matvec(W(c.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'), xf);
  };
}

/** run.c generate at temperature 0: `steps` counts prompt positions, stop when BOS (1) is produced. */
function greedy(m: LoadedModel, style: 'half' | 'interleaved', promptIds: number[], steps: number): number[] {
  const forward = makeReferenceForward(m, style);
  const out: number[] = [];
  let token = promptIds[0];
  for (let pos = 0; pos < steps; pos++) {
    const logits = forward(token, pos);
    let next: number;
    if (pos < promptIds.length - 1) next = promptIds[pos + 1];
    else {
      next = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[next]) next = i;
      if (next === 1) break;
      out.push(next);
    }
    token = next;
  }
  return out;
}

// ---------------------------------------------------------------------------

describe('stories260K: GGUF and llama2.c load the same model', () => {
  test("configs agree (except the context length the llama.cpp converter wrote, and run.c's BOS stop rule)", async () => {
    const [g, b] = await Promise.all([loadGguf(), loadBin()]);
    // llama.cpp's llama2.c converter wrote context_length 2048; the checkpoint header says seq_len 512.
    expect(g.config.maxPositions).toBe(2048);
    expect(b.config.maxPositions).toBe(512);
    // run.c stops at BOS: a rule of the llama2.c runtime, not in the GGUF's metadata.
    expect(b.config.stopTokenIds).toEqual([1]);
    expect(g.config.stopTokenIds).toBeUndefined();
    const strip = ({ maxPositions: _m, stopTokenIds: _s, ...rest }: ModelConfig) => rest;
    expect(strip(g.config)).toEqual(strip(b.config));
    expect(g.config.eosTokenIds).toEqual([2]);
    expect(g.config).toMatchObject({
      architecture: 'llama',
      vocabSize: 512,
      hiddenSize: 64,
      intermediateSize: 172,
      numLayers: 5,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 8,
      norm: { kind: 'rms', eps: Math.fround(1e-5) },
      rope: { theta: 10000, scaling: { type: 'default' }, style: 'interleaved' },
      tieEmbeddings: true, // output.weight in the GGUF is a byte-for-byte copy of token_embd
      bosTokenId: 1,
    });
    expect(g.source).toEqual({ format: 'gguf', files: [GGUF_PATH], dtypes: ['F32'] });
    expect(b.source).toEqual({ format: 'llama2c', files: [BIN_PATH], dtypes: ['F32'] });
  });

  test('every canonical tensor is bit-identical (no Q/K permutation between the two files)', async () => {
    const [g, b] = await Promise.all([loadGguf(), loadBin()]);
    expect([...g.weights.keys()].sort()).toEqual([...b.weights.keys()].sort());
    expect(g.weights.size).toBe(1 + 1 + 5 * 9);
    for (const [name, tb] of b.weights) {
      const tg = g.weights.get(name)!;
      expect(tg.shape, name).toEqual(tb.shape);
      expect(tg.data.length, name).toBe(tb.shape.reduce((a, n) => a * n, 1));
      expect(Buffer.from(tg.data.buffer, tg.data.byteOffset, tg.data.byteLength).equals(Buffer.from(tb.data.buffer, tb.data.byteOffset, tb.data.byteLength)), name).toBe(true);
    }
  });
});

describe('RoPE layout evidence', () => {
  test("run.c-style forward with 'interleaved' RoPE on the stored GGUF tensors reproduces run.c's greedy ids", async () => {
    const g = await loadGguf();
    for (const c of REFS.cases) expect(greedy(g, 'interleaved', c.prompt_ids, c.steps), c.prompt).toEqual(c.generated_ids);
  });

  test("the same tensors with 'half' RoPE do not (the layout matters, so the check above is not vacuous)", async () => {
    const g = await loadGguf();
    const c = REFS.cases[1];
    expect(greedy(g, 'half', c.prompt_ids, 40)).not.toEqual(c.generated_ids.slice(0, 40 - c.prompt_ids.length + 1));
  });

  test("ropeLayout 'half' un-permutes Q/K (inverse of llama.cpp LlamaModel.permute) and 'half' RoPE then gives the same ids", async () => {
    const h = await loadGguf({ ropeLayout: 'half' });
    expect(h.config.rope!.style).toBe('half');
    for (const c of REFS.cases.slice(0, 2)) expect(greedy(h, 'half', c.prompt_ids, c.steps), c.prompt).toEqual(c.generated_ids);
    const g = await loadGguf();
    const q = 'model.layers.0.self_attn.q_proj.weight';
    expect(permuteRopeRows(h.weights.get(q)!, 8, 'toInterleaved').data).toEqual(g.weights.get(q)!.data);
  });

  test('permuteRopeRows matches numpy reshape(n_head, 2, hd/2, in).swapaxes(1, 2) and inverts', () => {
    // 2 heads of size 4, 1 column: half layout rows [h0: a0 a1 b0 b1 | h1: c0 c1 d0 d1]
    const t: Tensor = { shape: [8, 1], data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]) };
    const p = permuteRopeRows(t, 2, 'toInterleaved');
    expect(Array.from(p.data)).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expect(Array.from(permuteRopeRows(p, 2, 'toHalf').data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

// ---------------------------------------------------------------------------
// Synthetic GGUF models (encodeGguf) for quantised tensors, other
// architectures and bad tensors.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random but valid bytes for `n` elements of `type` (scales set to small finite halves). */
function randomTensorBytes(type: number, n: number, rand: () => number): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(Float32Array.from({ length: n }, () => rand() - 0.5).buffer);
  const bytes = new Uint8Array(ggmlByteSize(type, n));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  const setHalf = (at: number) => {
    const h = f32ToF16(0.001 + rand() * 0.01);
    bytes[at] = h & 0xff;
    bytes[at + 1] = h >> 8;
  };
  const [bs, ts, dOffsets] =
    type === GgmlType.Q8_0
      ? [32, 34, [0]]
      : type === GgmlType.Q4_0
        ? [32, 18, [0]]
        : type === GgmlType.Q4_K
          ? [256, 144, [0, 2]]
          : type === GgmlType.Q6_K
            ? [256, 210, [208]]
            : [1, 2, []];
  if (type === GgmlType.F16) for (let i = 0; i < n; i++) setHalf(2 * i);
  else for (let b = 0; b < n / bs; b++) for (const d of dOffsets) setHalf(b * ts + d);
  return bytes;
}

interface SynthOptions {
  arch?: string;
  D?: number;
  F?: number;
  L?: number;
  H?: number;
  KV?: number;
  V?: number;
  headDim?: number;
  theta?: number;
  /** ggml type for matrices (vectors stay F32). */
  matrixType?: number;
  tied?: boolean;
  qkvBias?: boolean;
  qkNorm?: boolean;
  extraMeta?: [string, GgufTypedValue][];
  extraTensors?: GgufWriteTensor[];
  drop?: string[];
  reshape?: Record<string, number[]>;
}

function synthGguf(o: SynthOptions = {}): { bytes: Uint8Array; tensors: GgufWriteTensor[] } {
  const { arch = 'llama', D = 256, F = 512, L = 2, H = 4, KV = 2, V = 32, matrixType = GgmlType.F32 } = o;
  const hd = o.headDim ?? D / H;
  const rand = rng(42);
  const tensors: GgufWriteTensor[] = [];
  const add = (name: string, rowMajor: number[], type: number = GgmlType.F32) => {
    const ne = o.reshape?.[name] ?? [...rowMajor].reverse();
    const n = ne.reduce((a, b) => a * b, 1);
    if (!o.drop?.includes(name)) tensors.push({ name, ne, type, data: randomTensorBytes(type, n, rand) });
  };
  add('token_embd.weight', [V, D], matrixType);
  for (let i = 0; i < L; i++) {
    const b = `blk.${i}`;
    add(`${b}.attn_norm.weight`, [D]);
    add(`${b}.attn_q.weight`, [H * hd, D], matrixType);
    add(`${b}.attn_k.weight`, [KV * hd, D], matrixType);
    add(`${b}.attn_v.weight`, [KV * hd, D], matrixType);
    add(`${b}.attn_output.weight`, [D, H * hd], matrixType);
    if (o.qkvBias) {
      add(`${b}.attn_q.bias`, [H * hd]);
      add(`${b}.attn_k.bias`, [KV * hd]);
      add(`${b}.attn_v.bias`, [KV * hd]);
    }
    if (o.qkNorm) {
      add(`${b}.attn_q_norm.weight`, [hd]);
      add(`${b}.attn_k_norm.weight`, [hd]);
    }
    add(`${b}.ffn_norm.weight`, [D]);
    add(`${b}.ffn_gate.weight`, [F, D], matrixType);
    add(`${b}.ffn_up.weight`, [F, D], matrixType);
    add(`${b}.ffn_down.weight`, [D, F], matrixType === GgmlType.Q4_K || matrixType === GgmlType.Q6_K ? GgmlType.Q8_0 : matrixType);
  }
  add('output_norm.weight', [D]);
  if (!o.tied) add('output.weight', [V, D], matrixType);
  tensors.push(...(o.extraTensors ?? []));
  const u32 = (v: number): GgufTypedValue => ({ type: 'u32', value: v });
  const metadata: [string, GgufTypedValue][] = [
    ['general.architecture', { type: 'string', value: arch }],
    [`${arch}.context_length`, u32(128)],
    [`${arch}.embedding_length`, u32(D)],
    [`${arch}.block_count`, u32(L)],
    [`${arch}.feed_forward_length`, u32(F)],
    [`${arch}.attention.head_count`, u32(H)],
    [`${arch}.attention.head_count_kv`, u32(KV)],
    [`${arch}.attention.layer_norm_rms_epsilon`, { type: 'f32', value: 1e-6 }],
    [`${arch}.rope.freq_base`, { type: 'f32', value: o.theta ?? 1e6 }],
    ...(o.headDim ? ([[`${arch}.attention.key_length`, u32(hd)]] as [string, GgufTypedValue][]) : []),
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.eot_token_id', u32(3)],
    ['tokenizer.ggml.padding_token_id', u32(0xffffffff)],
  ];
  for (const [k, v] of o.extraMeta ?? []) {
    const i = metadata.findIndex(([key]) => key === k);
    if (i >= 0) metadata[i] = [k, v];
    else metadata.push([k, v]);
  }
  return { bytes: encodeGguf({ metadata, tensors }), tensors };
}

const loadSynth = (bytes: Uint8Array, opts = {}) => loadGgufModel(memorySource(bytes, 'synth.gguf'), opts);

async function expectError(p: Promise<unknown>, cls: typeof FormatError, pattern: RegExp): Promise<FormatError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(cls);
  const fe = e as FormatError;
  expect(fe.message).toMatch(pattern);
  expect(fe.file).toBe('synth.gguf');
  return fe;
}

describe('synthetic GGUF models', () => {
  test.each([
    ['F32', GgmlType.F32],
    ['F16', GgmlType.F16],
    ['BF16', GgmlType.BF16],
    ['Q8_0', GgmlType.Q8_0],
    ['Q4_0', GgmlType.Q4_0],
    ['Q4_K', GgmlType.Q4_K],
    ['Q6_K', GgmlType.Q6_K],
  ])('%s matrices are dequantised into [out, in] weights', async (_name, type) => {
    const { bytes, tensors } = synthGguf({ matrixType: type });
    const m = await loadSynth(bytes);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    const check = (gguf: string, canonical: string, shape: number[]) => {
      const t = byName.get(gguf)!;
      const w = m.weights.get(canonical)!;
      expect(w.shape).toEqual(shape);
      const want = dequantize(t.type, t.data, w.data.length);
      expect(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength).equals(Buffer.from(want.buffer)), gguf).toBe(true);
    };
    check('blk.1.attn_q.weight', 'model.layers.1.self_attn.q_proj.weight', [256, 256]);
    check('blk.1.attn_k.weight', 'model.layers.1.self_attn.k_proj.weight', [128, 256]);
    check('blk.0.ffn_gate.weight', 'model.layers.0.mlp.gate_proj.weight', [512, 256]);
    check('blk.0.ffn_down.weight', 'model.layers.0.mlp.down_proj.weight', [256, 512]);
    check('output.weight', 'lm_head.weight', [32, 256]);
    check('blk.0.attn_norm.weight', 'model.layers.0.input_layernorm.weight', [256]);
    expect(m.config.tieEmbeddings).toBe(false);
    expect(m.config.eosTokenIds).toEqual([2, 3]);
    expect(m.config.bosTokenId).toBe(1);
    expect(m.config.rope).toEqual({ theta: 1e6, scaling: { type: 'default' }, style: 'interleaved' });
    expect(m.config.norm.eps).toBe(Math.fround(1e-6));
    expect(m.source.dtypes).toContain(_name);
  });

  test.each([0, -1, NaN, Infinity])('rope.freq_base %d: a FormatError naming the key (it would make NaN logits)', async (theta) => {
    const e = await expectError(loadSynth(synthGguf({ theta }).bytes), FormatError, /bad value/);
    expect(e.key).toBe('llama.rope.freq_base');
  });

  test('qwen2: q/k/v biases, tied head, half RoPE', async () => {
    const m = await loadSynth(synthGguf({ arch: 'qwen2', qkvBias: true, tied: true }).bytes);
    expect(m.config).toMatchObject({ architecture: 'qwen2', qkvBias: true, tieEmbeddings: true, qkNorm: false, rope: { style: 'half' } });
    expect(m.weights.get('model.layers.1.self_attn.k_proj.bias')!.shape).toEqual([128]);
    expect(m.weights.has('lm_head.weight')).toBe(false);
  });

  test('qwen3: head_dim from key_length, q/k norms', async () => {
    const m = await loadSynth(synthGguf({ arch: 'qwen3', qkNorm: true, headDim: 32, H: 4, KV: 2 }).bytes);
    expect(m.config).toMatchObject({ architecture: 'qwen3', headDim: 32, qkNorm: true, rope: { style: 'half' } });
    expect(m.weights.get('model.layers.0.self_attn.q_proj.weight')!.shape).toEqual([128, 256]);
    expect(m.weights.get('model.layers.0.self_attn.o_proj.weight')!.shape).toEqual([256, 128]);
    expect(m.weights.get('model.layers.0.self_attn.q_norm.weight')!.shape).toEqual([32]);
  });

  test('llama3 rope_freqs are recognised as HF llama3 scaling', async () => {
    const theta = 5e5;
    const hd = 64;
    const factors = new Float32Array(hd / 2);
    for (let i = 0; i < hd / 2; i++) {
      const wavelen = (2 * Math.PI) / (1 / theta ** ((2 * i) / hd));
      const smooth = (8192 / wavelen - 1) / (4 - 1);
      factors[i] = wavelen < 8192 / 4 ? 1 : wavelen > 8192 ? 32 : 1 / ((1 - smooth) / 32 + smooth);
    }
    expect(recogniseLlama3RopeFactors(factors, theta, hd)).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    const ropeFreqs: GgufWriteTensor = { name: 'rope_freqs.weight', ne: [32], type: GgmlType.F32, data: new Uint8Array(factors.buffer) };
    const m = await loadSynth(synthGguf({ theta, extraTensors: [ropeFreqs] }).bytes);
    expect(m.config.rope).toEqual({ theta, scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 }, style: 'interleaved' });
    expect(m.weights.has('rope_freqs.weight')).toBe(false);
    // With another theta the same factors fit no llama3 parameter set: refused, not mis-scaled.
    await expectError(loadSynth(synthGguf({ theta: 1e6, extraTensors: [ropeFreqs] }).bytes), UnsupportedError, /rope_freqs/);
  });

  test('missing, misshapen and unknown tensors are named', async () => {
    let e = await expectError(loadSynth(synthGguf({ drop: ['blk.1.ffn_up.weight'] }).bytes), FormatError, /missing/);
    expect(e.key).toBe('blk.1.ffn_up.weight');
    e = await expectError(loadSynth(synthGguf({ reshape: { 'blk.0.attn_k.weight': [256, 64] } }).bytes), FormatError, /wrong shape/);
    expect(e.key).toBe('blk.0.attn_k.weight');
    expect(e.offset).toBeGreaterThan(0);
    const extra: GgufWriteTensor = { name: 'blk.0.attn_sinks.weight', ne: [4], type: GgmlType.F32, data: new Uint8Array(16) };
    e = await expectError(loadSynth(synthGguf({ extraTensors: [extra] }).bytes), UnsupportedError, /ignore/);
    expect(e.key).toBe('blk.0.attn_sinks.weight');
  });

  test('unsupported architecture, partial rotary, MoE and bad metadata are refused with the key', async () => {
    let e = await expectError(loadSynth(synthGguf({ arch: 'gemma3' }).bytes), UnsupportedError, /architecture "gemma3"/);
    expect(e.key).toBe('general.architecture');
    e = await expectError(loadSynth(synthGguf({ extraMeta: [['llama.rope.dimension_count', { type: 'u32', value: 32 }]] }).bytes), UnsupportedError, /partial rotary/);
    expect(e.key).toBe('llama.rope.dimension_count');
    e = await expectError(loadSynth(synthGguf({ extraMeta: [['llama.expert_count', { type: 'u32', value: 8 }]] }).bytes), UnsupportedError, /experts/);
    e = await expectError(loadSynth(synthGguf({ extraMeta: [['llama.vocab_size', { type: 'u32', value: 33 }]] }).bytes), FormatError, /vocab_size/);
    expect(e.expected).toBe('32');
    // a huge block_count is refused before any per-layer list is built
    e = await expectError(loadSynth(synthGguf({ extraMeta: [['llama.block_count', { type: 'u32', value: 2 ** 31 }]] }).bytes), FormatError, /block_count/);
    expect(e.key).toBe('llama.block_count');
    e = await expectError(
      loadSynth(
        synthGguf({
          extraMeta: [
            ['llama.attention.head_count', { type: 'u32', value: 256 }],
            ['llama.attention.head_count_kv', { type: 'u32', value: 256 }],
          ],
        }).bytes,
      ),
      FormatError,
      /even/,
    );
    const bytes = synthGguf({ extraMeta: [['llama.rope.scaling.type', { type: 'string', value: 'yarn' }]] }).bytes;
    await expectError(loadSynth(bytes), UnsupportedError, /yarn/);
    const f = await readGguf(memorySource(synthGguf({ extraMeta: [['llama.attention.head_count_kv', { type: 'string', value: 'two' }]] }).bytes, 'synth.gguf')).then((file) => {
      try {
        ggufModelConfig(file);
      } catch (err) {
        return err;
      }
    });
    expect(f).toBeInstanceOf(FormatError);
    expect((f as FormatError).key).toBe('llama.attention.head_count_kv');
  });

  test('a linear rope scaling key is read', async () => {
    const m = await loadSynth(
      synthGguf({
        extraMeta: [
          ['llama.rope.scaling.type', { type: 'string', value: 'linear' }],
          ['llama.rope.scaling.factor', { type: 'f32', value: 4 }],
        ],
      }).bytes,
    );
    expect(m.config.rope!.scaling).toEqual({ type: 'linear', factor: 4 });
  });
});

describe('interop', () => {
  test.each(['F32', 'F16'] as const)('random-weight GGUFs from model/random.ts (%s) load with the values written', async (dtype) => {
    const shape = {
      vocabSize: 16,
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      maxPositions: 64,
      ropeTheta: 1e4,
      rmsEps: 1e-5,
      tieEmbeddings: false,
    };
    const vocab = { tokens: Array.from({ length: 16 }, (_, i) => `t${i}`), scores: new Array(16).fill(0), types: new Array(16).fill(1) };
    const m = await loadGgufModel(memorySource(randomLlamaGguf(shape, vocab, 3, dtype), 'random.gguf'));
    expect(m.config).toMatchObject({
      vocabSize: 16,
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 8,
      maxPositions: 64,
      tieEmbeddings: false,
    });
    expect(m.source.dtypes.sort()).toEqual(dtype === 'F32' ? ['F32'] : ['F16', 'F32']);
    const embd = m.weights.get('model.embed_tokens.weight')!;
    expect(embd.shape).toEqual([16, 32]);
    const want = randomFill(16 * 32, 4, 1); // the generator's first tensor: seed + 1
    for (let i = 0; i < want.length; i++) expect(Math.abs(embd.data[i] - want[i])).toBeLessThanOrEqual(dtype === 'F32' ? 0 : Math.abs(want[i]) * 2 ** -11 + 2 ** -24);
  });
});
