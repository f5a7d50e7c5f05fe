/**
 * Random-weight Llama-family models with real shapes, generated in memory (the
 * benchmarks use them: no weights are ever downloaded). Deterministic per seed.
 */
import { writeGguf, type GgufWriteTensor, type GgufWriteValue } from '../formats/gguf-writer';

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
  const lin = (name: string, out: number, inn: number): GgufWriteTensor => ({
    name,
    shape: [out, inn],
    data: randomFill(out * inn, ++k * 7919, 1 / Math.sqrt(inn)),
    dtype,
  });
  const norm = (name: string): GgufWriteTensor => ({ name, shape: [D], data: new Float32Array(D).fill(1), dtype: 'F32' });
  const tensors: GgufWriteTensor[] = [{ name: 'token_embd.weight', shape: [s.vocabSize, D], data: randomFill(s.vocabSize * D, ++k, 1), dtype }];
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
  const u32 = (value: number): GgufWriteValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufWriteValue => ({ type: 'f32', value });
  const meta: Record<string, GgufWriteValue> = {
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
    'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: vocab.tokens },
    'tokenizer.ggml.scores': { type: 'array', itemType: 'f32', value: vocab.scores },
    'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: vocab.types },
    'tokenizer.ggml.bos_token_id': u32(1),
    'tokenizer.ggml.eos_token_id': u32(2),
    'tokenizer.ggml.unknown_token_id': u32(0),
  };
  return writeGguf(meta, tensors);
}
