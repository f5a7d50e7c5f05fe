/**
 * Random-weight Llama-family models with real shapes, generated in memory (the
 * benchmarks use them: no weights are ever downloaded). Deterministic per seed.
 */
import { encodeGguf, type GgufTypedValue, type GgufWriteTensor } from '../formats/gguf-writer';
import { f32ToF16, GgmlType } from '../formats/quant';

/** A tensor in row-major shape ([out, in]); GGUF stores its dims reversed (ne[0] = row length). */
function ggufTensor(name: string, shape: number[], data: Float32Array, dtype: 'F32' | 'F16'): GgufWriteTensor {
  let bytes: Uint8Array;
  if (dtype === 'F32') {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    const h = new Uint16Array(data.length);
    for (let i = 0; i < h.length; i++) h[i] = f32ToF16(data[i]);
    bytes = new Uint8Array(h.buffer);
  }
  return { name, ne: [...shape].reverse(), type: dtype === 'F32' ? GgmlType.F32 : GgmlType.F16, data: bytes };
}

export interface LlamaShape {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  maxPositions: number;
  ropeTheta: number;
  rmsEps: number;
  tieEmbeddings: boolean;
}

/** Parameter count of a Llama with this shape (embeddings counted once when tied). */
export function llamaParamCount(s: LlamaShape): number {
  const hd = s.hiddenSize / s.numHeads;
  const attn = s.hiddenSize * s.hiddenSize * 2 + s.hiddenSize * s.numKvHeads * hd * 2;
  const mlp = 3 * s.hiddenSize * s.intermediateSize;
  const perLayer = attn + mlp + 2 * s.hiddenSize;
  return s.vocabSize * s.hiddenSize * (s.tieEmbeddings ? 1 : 2) + s.numLayers * perLayer + s.hiddenSize;
}

/** xorshift32 → uniform in [-scale, scale). */
export function randomFill(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

export interface SpmVocab {
  tokens: string[];
  scores: number[];
  /** llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte. */
  types: number[];
}

/**
 * A GGUF (llama architecture) with random weights of the given shape and the
 * given SentencePiece vocabulary, as llama.cpp would load it.
 */
export function randomLlamaGguf(s: LlamaShape, vocab: SpmVocab, seed: number, dtype: 'F32' | 'F16' = 'F32'): Uint8Array {
  if (vocab.tokens.length !== s.vocabSize) throw new Error(`vocabulary has ${vocab.tokens.length} tokens, shape says ${s.vocabSize}`);
  const D = s.hiddenSize;
  const hd = D / s.numHeads;
  const kvD = s.numKvHeads * hd;
  let k = seed;
  const lin = (name: string, out: number, inn: number) => ggufTensor(name, [out, inn], randomFill(out * inn, ++k * 7919, 1 / Math.sqrt(inn)), dtype);
  const norm = (name: string) => ggufTensor(name, [D], new Float32Array(D).fill(1), 'F32');
  const tensors: GgufWriteTensor[] = [ggufTensor('token_embd.weight', [s.vocabSize, D], randomFill(s.vocabSize * D, ++k, 1), dtype)];
  for (let i = 0; i < s.numLayers; i++) {
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`),
      lin(`blk.${i}.attn_q.weight`, D, D),
      lin(`blk.${i}.attn_k.weight`, kvD, D),
      lin(`blk.${i}.attn_v.weight`, kvD, D),
      lin(`blk.${i}.attn_output.weight`, D, D),
      norm(`blk.${i}.ffn_norm.weight`),
      lin(`blk.${i}.ffn_gate.weight`, s.intermediateSize, D),
      lin(`blk.${i}.ffn_up.weight`, s.intermediateSize, D),
      lin(`blk.${i}.ffn_down.weight`, D, s.intermediateSize),
    );
  }
  tensors.push(norm('output_norm.weight'));
  if (!s.tieEmbeddings) tensors.push(lin('output.weight', s.vocabSize, D));
  const u32 = (value: number): GgufTypedValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufTypedValue => ({ type: 'f32', value });
  const strings = (xs: string[]): GgufTypedValue => ({ type: 'array', itemType: 'string', items: xs.map((value) => ({ type: 'string', value })) });
  const nums = (itemType: 'f32' | 'i32', xs: number[]): GgufTypedValue => ({ type: 'array', itemType, items: xs.map((value) => ({ type: itemType, value })) });
  const meta: Record<string, GgufTypedValue> = {
    'general.architecture': { type: 'string', value: 'llama' },
    'general.name': { type: 'string', value: `random-llama-${llamaParamCount(s)}` },
    'general.file_type': u32(dtype === 'F32' ? 0 : 1),
    'llama.context_length': u32(s.maxPositions),
    'llama.embedding_length': u32(D),
    'llama.block_count': u32(s.numLayers),
    'llama.feed_forward_length': u32(s.intermediateSize),
    'llama.attention.head_count': u32(s.numHeads),
    'llama.attention.head_count_kv': u32(s.numKvHeads),
    'llama.rope.dimension_count': u32(hd),
    'llama.rope.freq_base': f32(s.ropeTheta),
    'llama.attention.layer_norm_rms_epsilon': f32(s.rmsEps),
    'llama.vocab_size': u32(s.vocabSize),
    'tokenizer.ggml.model': { type: 'string', value: 'llama' },
    'tokenizer.ggml.tokens': strings(vocab.tokens),
    'tokenizer.ggml.scores': nums('f32', vocab.scores),
    'tokenizer.ggml.token_type': nums('i32', vocab.types),
    'tokenizer.ggml.bos_token_id': u32(1),
    'tokenizer.ggml.eos_token_id': u32(2),
    'tokenizer.ggml.unknown_token_id': u32(0),
  };
  return encodeGguf({ metadata: Object.entries(meta), tensors });
}
