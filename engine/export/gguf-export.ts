/**
 * Export to GGUF v3 as llama.cpp's convert_hf_to_gguf.py writes it:
 *   llama (and Mistral without a window, and Mixtral with its experts, both as convert_hf_to_gguf.py
 *     writes them: architecture llama) — Q/K rows in the adjacent-pair RoPE layout
 *     (`LlamaModel.permute`); Llama-3 RoPE scaling as the `rope_freqs.weight` divisors;
 *   qwen2, qwen3 — as stored (NEOX RoPE);
 *   gpt2 — LayerNorm with biases, learned positions, the fused `attn_qkv`.
 * Tensor names for llama/qwen come from the reader's own table (expectedGgufTensors). The engine
 * reads back llama (dense), qwen2 and qwen3 GGUFs; Mixtral and GPT-2 GGUFs are for llama.cpp
 * (the notes say so).
 *
 * Types: f32 writes every tensor F32. f16 writes 2-D (and stacked 3-D expert) weights F16 and
 * keeps 1-D tensors (norms, biases, rope_freqs) F32. q8_0 writes a weight Q8_0 when its rows are
 * whole 32-value blocks, else F16 (convert_hf_to_gguf.py's fallback when quantising fails), 1-D F32.
 *
 * The tokenizer is embedded: a GGUF source's tokenizer.* metadata is copied as it is; a byte-level
 * BPE tokenizer.json becomes `gpt2` (tokenizer-gguf.ts); a SentencePiece vocabulary (llama2.c)
 * becomes `tokenizer.ggml.model = llama`; a model without
 * a tokenizer the exporter can write gets `tokenizer.ggml.model = no_vocab` and a note (the
 * engine reads it; llama.cpp's runtime asserts on a missing tokenizer, so give one with --tokenizer).
 */
import { UnsupportedError } from '../errors';
import { expectedGgufTensors } from '../formats/gguf-model';
import { encodeGgufHeader, ggufPadding, type GgufTensorHeader, type GgufTypedValue } from '../formats/gguf-writer';
import { encodeF16, encodeF32, ggmlByteSize, GgmlType, quantizeQ8_0 } from '../formats/quant';
import type { ModelConfig, WeightMap } from '../model/types';
import { ropeInvFreq } from '../ops/rope/rope';
import { ggufVocabFromTokenizerJson } from './tokenizer-gguf';
import { spmVocab } from './tokenizer-vocab';
import type { ExportDtype, ExportFile, ExportOptions, ExportResult, ExportSource } from './types';
import { mergedWeights, withRopeStyle } from './weights';

/** GGUF architectures written, and the RoPE layout llama.cpp uses for each. */
const GGUF_ARCH: Record<ModelConfig['architecture'], { name: string; rope: 'half' | 'interleaved' }> = {
  llama: { name: 'llama', rope: 'interleaved' },
  mistral: { name: 'llama', rope: 'interleaved' }, // convert_hf_to_gguf.py writes Mistral as llama
  mixtral: { name: 'llama', rope: 'interleaved' }, // and Mixtral as llama with experts
  qwen2: { name: 'qwen2', rope: 'half' },
  qwen3: { name: 'qwen3', rope: 'half' },
  gpt2: { name: 'gpt2', rope: 'half' }, // no RoPE
};

/** llama.cpp's general.file_type (LLAMA_FTYPE_*). */
const FILE_TYPE: Record<ExportDtype, number> = { f32: 0, f16: 1, q8_0: 7 };

/** Why this config cannot be a GGUF llama.cpp and the engine run alike; undefined when it can. */
function ggufRefusal(c: ModelConfig): { message: string; key: string; expected: string; found: string } | undefined {
  if (c.slidingWindow !== undefined)
    return {
      message: `llama.cpp's ${GGUF_ARCH[c.architecture].name} architecture has no sliding window: it would attend beyond ${c.slidingWindow} positions`,
      key: 'slidingWindow',
      expected: 'no sliding window',
      found: String(c.slidingWindow),
    };
  if (c.architecture === 'gpt2') {
    if (c.activation !== 'gelu_new') return { message: "llama.cpp's gpt2 uses the tanh GELU", key: 'activation', expected: 'gelu_new', found: c.activation };
    return undefined;
  }
  if (c.rope?.scaling.type === 'dynamic')
    return { message: 'dynamic NTK RoPE scaling has no GGUF spelling', key: 'rope.scaling', expected: 'default, linear or llama3', found: 'dynamic' };
  if (c.mlpBias) return { message: 'MLP biases have no tensors in these GGUF architectures', key: 'mlpBias', expected: 'false', found: 'true' };
  if (c.activation !== 'silu' || c.mlp !== 'gated' || c.norm.kind !== 'rms')
    return {
      message: 'these GGUF architectures are SwiGLU with RMSNorm',
      key: 'activation',
      expected: 'silu, gated MLP, RMSNorm',
      found: `${c.activation}, ${c.mlp}, ${c.norm.kind}`,
    };
  if (c.moe && !c.moe.normTopKProb) return { message: "llama.cpp's llama experts renormalise the top-k weights", key: 'moe.normTopKProb', expected: 'true', found: 'false' };
  return undefined;
}

interface GgufTensor {
  name: string;
  /** Row-major; written as GGML dims innermost first. */
  shape: number[];
  data: Float32Array;
}

/** Rows of several tensors stacked (Mixtral's experts [E, out, in]; GPT-2's q, k, v into one [3D, …]). */
function stack(ts: { shape: number[]; data: Float32Array }[], shape: number[]): Float32Array {
  const out = new Float32Array(ts.reduce((n, t) => n + t.data.length, 0));
  let at = 0;
  for (const t of ts) {
    out.set(t.data, at);
    at += t.data.length;
  }
  if (shape.reduce((a, b) => a * b, 1) !== out.length) throw new RangeError(`stacked ${out.length} values into [${shape}]`);
  return out;
}

/** llama/qwen tensors: the reader's table, Mixtral's experts stacked per layer as llama.cpp's ffn_*_exps. */
function llamaTensors(c: ModelConfig, w: WeightMap): GgufTensor[] {
  const get = (n: string) => w.get(n)!;
  if (!c.moe) return expectedGgufTensors(c).map((e) => ({ name: e.gguf, shape: e.shape, data: get(e.canonical).data }));
  const dense = expectedGgufTensors({ ...c, moe: undefined }).filter((e) => !/\.ffn_(gate|up|down)\.weight$/.test(e.gguf));
  const out: GgufTensor[] = dense.map((e) => ({ name: e.gguf, shape: e.shape, data: get(e.canonical).data }));
  const E = c.moe.numExperts;
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.mlp`;
    const experts = (m: string) => Array.from({ length: E }, (_, e) => get(`${p}.experts.${e}.${m}.weight`));
    out.push({ name: `blk.${i}.ffn_gate_inp.weight`, shape: [E, c.hiddenSize], data: get(`${p}.router.weight`).data });
    for (const [g, m] of [
      ['ffn_gate_exps', 'gate_proj'],
      ['ffn_up_exps', 'up_proj'],
      ['ffn_down_exps', 'down_proj'],
    ]) {
      const ts = experts(m);
      const shape = [E, ...ts[0].shape]; // [E, out, in]
      out.push({ name: `blk.${i}.${g}.weight`, shape, data: stack(ts, shape) });
    }
  }
  return out;
}

/** GPT-2 tensors as llama.cpp's gpt2 architecture names them (weights [out, in], q/k/v fused). */
function gpt2Tensors(c: ModelConfig, w: WeightMap): GgufTensor[] {
  const D = c.hiddenSize;
  const t = (name: string, canonical: string): GgufTensor => ({ name, shape: w.get(canonical)!.shape, data: w.get(canonical)!.data });
  const out: GgufTensor[] = [t('token_embd.weight', 'model.embed_tokens.weight'), t('position_embd.weight', 'model.embed_positions.weight')];
  for (let i = 0; i < c.numLayers; i++) {
    const b = `blk.${i}`;
    const m = `model.layers.${i}`;
    const qkv = (kind: 'weight' | 'bias') => ['q', 'k', 'v'].map((n) => w.get(`${m}.self_attn.${n}_proj.${kind}`)!);
    out.push(
      t(`${b}.attn_norm.weight`, `${m}.input_layernorm.weight`),
      t(`${b}.attn_norm.bias`, `${m}.input_layernorm.bias`),
      { name: `${b}.attn_qkv.weight`, shape: [3 * D, D], data: stack(qkv('weight'), [3 * D, D]) },
      { name: `${b}.attn_qkv.bias`, shape: [3 * D], data: stack(qkv('bias'), [3 * D]) },
      t(`${b}.attn_output.weight`, `${m}.self_attn.o_proj.weight`),
      t(`${b}.attn_output.bias`, `${m}.self_attn.o_proj.bias`),
      t(`${b}.ffn_norm.weight`, `${m}.post_attention_layernorm.weight`),
      t(`${b}.ffn_norm.bias`, `${m}.post_attention_layernorm.bias`),
      t(`${b}.ffn_up.weight`, `${m}.mlp.up_proj.weight`),
      t(`${b}.ffn_up.bias`, `${m}.mlp.up_proj.bias`),
      t(`${b}.ffn_down.weight`, `${m}.mlp.down_proj.weight`),
      t(`${b}.ffn_down.bias`, `${m}.mlp.down_proj.bias`),
    );
  }
  out.push(t('output_norm.weight', 'model.norm.weight'), t('output_norm.bias', 'model.norm.bias'));
  if (!c.tieEmbeddings) out.push(t('output.weight', 'lm_head.weight'));
  return out;
}

/** Tensors convert_hf_to_gguf.py keeps F32 whatever the type asked: RoPE divisors, the expert router, learned positions. */
const KEPT_F32 = /^(rope_freqs\.weight|position_embd\.weight|blk\.\d+\.ffn_gate_inp\.weight)$/;

/** The GGML type a tensor is written as. */
export function ggufTensorType(shape: number[], dtype: ExportDtype): number {
  if (dtype === 'f32' || shape.length < 2) return GgmlType.F32;
  if (dtype === 'q8_0' && shape[shape.length - 1] % 32 === 0) return GgmlType.Q8_0;
  return GgmlType.F16;
}

function encode(type: number, data: Float32Array): Uint8Array {
  if (type === GgmlType.F32) return encodeF32(data);
  if (type === GgmlType.F16) return encodeF16(data);
  return quantizeQ8_0(data);
}

/** llama.cpp's Llama-3 rope_freqs: per frequency, the divisor HF's llama3 scaling applies (convert_hf_to_gguf.py). */
function llama3RopeFreqs(c: ModelConfig): Float32Array {
  const s = c.rope!.scaling;
  const base = ropeInvFreq({ rotaryDim: c.headDim, theta: c.rope!.theta, scaling: { type: 'default' }, maxPositions: c.maxPositions });
  const out = new Float32Array(base.length);
  const lowWavelen = s.originalMaxPositions! / s.lowFreqFactor!;
  const highWavelen = s.originalMaxPositions! / s.highFreqFactor!;
  for (let i = 0; i < base.length; i++) {
    const wavelen = (2 * Math.PI) / base[i];
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor!;
    else {
      const smooth = (s.originalMaxPositions! / wavelen - s.lowFreqFactor!) / (s.highFreqFactor! - s.lowFreqFactor!);
      out[i] = 1 / ((1 - smooth) / s.factor! + smooth);
    }
  }
  return out;
}

const u32 = (value: number): GgufTypedValue => ({ type: 'u32', value });
const f32 = (value: number): GgufTypedValue => ({ type: 'f32', value });
const str = (value: string): GgufTypedValue => ({ type: 'string', value });
const bool = (value: boolean): GgufTypedValue => ({ type: 'bool', value });

/** tokenizer.* metadata for the source's tokenizer, or no_vocab and why. */
function tokenizerMetadata(src: ExportSource, c: ModelConfig): { md: [string, GgufTypedValue][]; note?: string } {
  if (src.ggufTokenizer?.length) return { md: src.ggufTokenizer };
  const tj = src.tokenizerFiles?.['tokenizer.json'];
  if (tj) {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(tj));
    } catch {
      json = undefined;
    }
    const r = ggufVocabFromTokenizerJson(json, c);
    if ('md' in r) return r;
    return { md: [['tokenizer.ggml.model', str('no_vocab')]], note: `tokenizer not embedded (tokenizer.ggml.model = no_vocab): tokenizer.json: ${r.why}` };
  }
  const r = src.tokenizer ? spmVocab(src.tokenizer) : { why: 'the model came without one' };
  if ('why' in r) {
    return {
      md: [['tokenizer.ggml.model', str('no_vocab')]],
      note: `tokenizer not embedded (tokenizer.ggml.model = no_vocab, which llama.cpp's own runtime refuses to start; pass --tokenizer): ${r.why}`,
    };
  }
  const v = r.vocab;
  if (v.tokens.length !== c.vocabSize) {
    return {
      md: [['tokenizer.ggml.model', str('no_vocab')]],
      note: `tokenizer not embedded: it has ${v.tokens.length} tokens, the model's embedding ${c.vocabSize} rows`,
    };
  }
  return {
    md: [
      ['tokenizer.ggml.model', str('llama')],
      ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', items: v.tokens.map(str) }],
      ['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', items: Array.from(v.scores, f32) }],
      ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', items: v.types.map((value) => ({ type: 'i32', value })) }],
      ['tokenizer.ggml.unknown_token_id', u32(v.unkId)],
      ...(v.bosId !== null ? ([['tokenizer.ggml.bos_token_id', u32(v.bosId)]] as [string, GgufTypedValue][]) : []),
      ...(v.eosIds.length ? ([['tokenizer.ggml.eos_token_id', u32(v.eosIds[0])]] as [string, GgufTypedValue][]) : []),
      ['tokenizer.ggml.add_bos_token', bool(v.addBos)],
      ['tokenizer.ggml.add_eos_token', bool(v.addEos)],
      ['tokenizer.ggml.add_space_prefix', bool(v.addSpacePrefix)],
    ],
  };
}

/** `<arch>.*` and general.* metadata (convert_hf_to_gguf.py's keys for the architecture). */
function modelMetadata(c: ModelConfig, arch: string, dtype: ExportDtype, name: string): [string, GgufTypedValue][] {
  const md: [string, GgufTypedValue][] = [
    ['general.architecture', str(arch)],
    ['general.type', str('model')],
    ['general.name', str(name)],
    ['general.file_type', u32(FILE_TYPE[dtype])],
    ['general.quantization_version', u32(2)],
    [`${arch}.vocab_size`, u32(c.vocabSize)],
    [`${arch}.context_length`, u32(c.maxPositions)],
    [`${arch}.embedding_length`, u32(c.hiddenSize)],
    [`${arch}.block_count`, u32(c.numLayers)],
    [`${arch}.feed_forward_length`, u32(c.intermediateSize)],
    [`${arch}.attention.head_count`, u32(c.numHeads)],
  ];
  if (c.architecture === 'gpt2') {
    md.push([`${arch}.attention.layer_norm_epsilon`, f32(c.norm.eps)]);
    return md;
  }
  md.push(
    [`${arch}.attention.head_count_kv`, u32(c.numKvHeads)],
    [`${arch}.attention.key_length`, u32(c.headDim)],
    [`${arch}.attention.value_length`, u32(c.headDim)],
    [`${arch}.rope.dimension_count`, u32(c.headDim)],
    [`${arch}.rope.freq_base`, f32(c.rope!.theta)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.norm.eps)],
  );
  const s = c.rope!.scaling;
  if (s.type === 'linear') md.push([`${arch}.rope.scaling.type`, str('linear')], [`${arch}.rope.scaling.factor`, f32(s.factor!)]);
  if (c.moe) md.push([`${arch}.expert_count`, u32(c.moe.numExperts)], [`${arch}.expert_used_count`, u32(c.moe.topK)]);
  return md;
}

/** One GGUF file of the model (llama, qwen2, qwen3) at F32, F16 or Q8_0. */
export function exportGguf(src: ExportSource, opts: ExportOptions = {}): ExportResult {
  const dtype = opts.dtype ?? 'f32';
  const refusal = ggufRefusal(src.loaded.config);
  if (refusal) throw new UnsupportedError(refusal.message, { file: src.name, key: refusal.key, expected: refusal.expected, found: refusal.found });
  if (src.adapterFiles)
    throw new UnsupportedError('an unmerged LoRA adapter has no place in a model GGUF: merge it into the weights', {
      file: src.name,
      key: 'lora',
      expected: 'a merged adapter (--merge) or none',
      found: 'an unmerged adapter',
    });
  const arch = GGUF_ARCH[src.loaded.config.architecture];
  const { config: c, weights } = withRopeStyle(src.loaded.config, mergedWeights(src.loaded.weights, src.lora), arch.rope);
  const tensors: GgufTensor[] = [];
  if (c.rope?.scaling.type === 'llama3') tensors.push({ name: 'rope_freqs.weight', shape: [c.headDim / 2], data: llama3RopeFreqs(c) });
  tensors.push(...(c.architecture === 'gpt2' ? gpt2Tensors(c, weights) : llamaTensors(c, weights)));
  const headers: GgufTensorHeader[] = tensors.map((t) => {
    const type = KEPT_F32.test(t.name) ? GgmlType.F32 : ggufTensorType(t.shape, dtype);
    return { name: t.name, ne: [...t.shape].reverse(), type, byteLength: ggmlByteSize(type, t.data.length) };
  });
  const tok = tokenizerMetadata(src, c);
  const baseName = src.name.split(/[\\/]/).filter(Boolean).pop() ?? 'model';
  const head = encodeGgufHeader({ metadata: [...modelMetadata(c, arch.name, dtype, baseName), ...tok.md], tensors: headers });
  const size = head.length + headers.reduce((n, h) => n + h.byteLength + ggufPadding(h.byteLength), 0);
  const notes: string[] = [];
  if (tok.note) notes.push(tok.note);
  const kept = headers.filter((h) => dtype === 'q8_0' && h.ne.length >= 2 && h.type === GgmlType.F16).map((h) => h.name);
  if (kept.length)
    notes.push(`${kept.length} tensor(s) written F16, not Q8_0: their rows are not whole 32-value blocks (${kept.slice(0, 3).join(', ')}${kept.length > 3 ? ', …' : ''})`);
  if (src.lora) notes.push(`LoRA adapter ${src.lora.name} merged into the weights`);
  if (c.moe || c.architecture === 'gpt2') notes.push(`a ${c.moe ? 'mixture-of-experts' : 'GPT-2'} GGUF is for llama.cpp: the engine does not read it back yet`);
  const file: ExportFile = {
    name: `${baseName}.gguf`,
    size,
    *parts() {
      yield head;
      for (let i = 0; i < tensors.length; i++) {
        const bytes = encode(headers[i].type, tensors[i].data);
        yield bytes;
        const pad = ggufPadding(bytes.length);
        if (pad) yield new Uint8Array(pad);
      }
    },
  };
  return { target: 'file', files: [file], notes };
}
