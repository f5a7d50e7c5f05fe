/**
 * GGUF files with a real model's attention shape and nothing else of it, for checking the
 * what-ifs against llama.cpp (llamacpp-kv.bench.ts). llama.cpp sizes its KV cache from the
 * layer count, KV heads, K and V head widths (attention.key_length / value_length), the
 * sliding window and its layer pattern, and MLA's latent; those are kept as the KvSpec says.
 * What the cache does not depend on is shrunk so that a 70B-shaped file stays small: hidden
 * size 32, feed-forward 32, the borrowed vocabulary (stories260K's 512 tokens), and for MLA
 * two query heads (its cache holds one latent per token whatever the head count). Weights
 * are all zero in Q8_0 (a zero block is 34 zero bytes); norms are ones in F32. The files
 * load and size a context; their output is meaningless.
 */
import { encodeGguf, type GgufTypedValue, type GgufWriteTensor } from '../../formats/gguf-writer';
import { GgmlType } from '../../formats/quant';
import type { SpmVocab } from '../random';
import type { KvSpec } from './spec';

/** The llama.cpp architectures the generator writes. */
export type ShapeArch = 'llama' | 'qwen3' | 'gemma2' | 'deepseek2';

const EMBD = 32;
const FF = 32;
const MLA_HEADS = 2;
const MLA_Q_LORA = 32;

/** A zero Q8_0 tensor of row-major shape [out, in] (GGUF dims reversed); `in` must be a multiple of 32. */
function q8Zero(name: string, shape: number[]): GgufWriteTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const rowLen = shape[shape.length - 1];
  if (rowLen % 32) throw new Error(`${name}: row length ${rowLen} is not a multiple of Q8_0's block of 32`);
  return { name, ne: [...shape].reverse(), type: GgmlType.Q8_0, data: new Uint8Array((n / 32) * 34) };
}

function ones(name: string, n: number): GgufWriteTensor {
  const f = new Float32Array(n).fill(1);
  return { name, ne: [n], type: GgmlType.F32, data: new Uint8Array(f.buffer) };
}

/** The GGUF of `spec`'s attention shape as architecture `arch` (see the file comment for what is shrunk). */
export function kvShapeGguf(spec: KvSpec, arch: ShapeArch, vocab: SpmVocab): Uint8Array {
  const L = spec.numLayers;
  const V = vocab.tokens.length;
  const u32 = (value: number): GgufTypedValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufTypedValue => ({ type: 'f32', value });
  const strings = (xs: string[]): GgufTypedValue => ({ type: 'array', itemType: 'string', items: xs.map((value) => ({ type: 'string', value })) });
  const nums = (itemType: 'f32' | 'i32', xs: number[]): GgufTypedValue => ({ type: 'array', itemType, items: xs.map((value) => ({ type: itemType, value })) });
  const meta: Record<string, GgufTypedValue> = {
    'general.architecture': { type: 'string', value: arch },
    'general.name': { type: 'string', value: `${spec.name} attention shape` },
    'general.file_type': u32(7), // mostly Q8_0
    [`${arch}.context_length`]: u32(spec.maxPositions),
    [`${arch}.embedding_length`]: u32(EMBD),
    [`${arch}.block_count`]: u32(L),
    [`${arch}.feed_forward_length`]: u32(FF),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(1e-6),
    [`${arch}.rope.freq_base`]: f32(10000),
    'tokenizer.ggml.model': { type: 'string', value: 'llama' },
    'tokenizer.ggml.tokens': strings(vocab.tokens),
    'tokenizer.ggml.scores': nums('f32', vocab.scores),
    'tokenizer.ggml.token_type': nums('i32', vocab.types),
    'tokenizer.ggml.bos_token_id': u32(1),
    'tokenizer.ggml.eos_token_id': u32(2),
    'tokenizer.ggml.unknown_token_id': u32(0),
  };
  const tensors: GgufWriteTensor[] = [q8Zero('token_embd.weight', [V, EMBD]), ones('output_norm.weight', EMBD)];
  const ffn = (i: number) => [
    ones(`blk.${i}.ffn_norm.weight`, EMBD),
    q8Zero(`blk.${i}.ffn_gate.weight`, [FF, EMBD]),
    q8Zero(`blk.${i}.ffn_up.weight`, [FF, EMBD]),
    q8Zero(`blk.${i}.ffn_down.weight`, [EMBD, FF]),
  ];
  if (arch === 'deepseek2') {
    if (!spec.mla) throw new Error(`${spec.name} has no MLA ranks: deepseek2 needs kv_lora_rank`);
    const { kvLoraRank, ropeHeadDim, nopeHeadDim, vHeadDim } = spec.mla;
    const H = MLA_HEADS;
    Object.assign(meta, {
      'deepseek2.attention.head_count': u32(H),
      // llama.cpp's MLA layout: one KV "head" whose K row is the latent plus the shared RoPE key
      'deepseek2.attention.head_count_kv': u32(1),
      'deepseek2.attention.key_length': u32(kvLoraRank + ropeHeadDim),
      'deepseek2.attention.value_length': u32(kvLoraRank),
      'deepseek2.attention.key_length_mla': u32(nopeHeadDim + ropeHeadDim),
      'deepseek2.attention.value_length_mla': u32(vHeadDim),
      'deepseek2.attention.q_lora_rank': u32(MLA_Q_LORA),
      'deepseek2.attention.kv_lora_rank': u32(kvLoraRank),
      'deepseek2.rope.dimension_count': u32(ropeHeadDim),
      'deepseek2.leading_dense_block_count': u32(L), // every layer dense: no experts to write
      'deepseek2.expert_feed_forward_length': u32(FF),
      'deepseek2.expert_shared_count': u32(0),
    });
    for (let i = 0; i < L; i++) {
      tensors.push(
        ones(`blk.${i}.attn_norm.weight`, EMBD),
        ones(`blk.${i}.attn_q_a_norm.weight`, MLA_Q_LORA),
        ones(`blk.${i}.attn_kv_a_norm.weight`, kvLoraRank),
        q8Zero(`blk.${i}.attn_q_a.weight`, [MLA_Q_LORA, EMBD]),
        q8Zero(`blk.${i}.attn_q_b.weight`, [H * (nopeHeadDim + ropeHeadDim), MLA_Q_LORA]),
        q8Zero(`blk.${i}.attn_kv_a_mqa.weight`, [kvLoraRank + ropeHeadDim, EMBD]),
        q8Zero(`blk.${i}.attn_k_b.weight`, [H, kvLoraRank, nopeHeadDim]),
        q8Zero(`blk.${i}.attn_v_b.weight`, [H, vHeadDim, kvLoraRank]),
        q8Zero(`blk.${i}.attn_output.weight`, [EMBD, H * vHeadDim]),
        ...ffn(i),
      );
    }
  } else {
    const hd = spec.headDim;
    Object.assign(meta, {
      [`${arch}.attention.head_count`]: u32(spec.numHeads),
      [`${arch}.attention.head_count_kv`]: u32(spec.numKvHeads),
      [`${arch}.attention.key_length`]: u32(hd),
      [`${arch}.attention.value_length`]: u32(hd),
      [`${arch}.rope.dimension_count`]: u32(hd),
    });
    if (arch === 'gemma2') {
      if (spec.slidingWindow === undefined) throw new Error(`${spec.name} has no sliding window: gemma2 needs one`);
      meta['gemma2.attention.sliding_window'] = u32(spec.slidingWindow);
      meta['gemma2.attn_logit_softcapping'] = f32(50);
      meta['gemma2.final_logit_softcapping'] = f32(30);
    }
    for (let i = 0; i < L; i++) {
      tensors.push(
        ones(`blk.${i}.attn_norm.weight`, EMBD),
        q8Zero(`blk.${i}.attn_q.weight`, [spec.numHeads * hd, EMBD]),
        q8Zero(`blk.${i}.attn_k.weight`, [spec.numKvHeads * hd, EMBD]),
        q8Zero(`blk.${i}.attn_v.weight`, [spec.numKvHeads * hd, EMBD]),
        q8Zero(`blk.${i}.attn_output.weight`, [EMBD, spec.numHeads * hd]),
        ...ffn(i),
      );
      if (arch === 'qwen3') tensors.push(ones(`blk.${i}.attn_q_norm.weight`, hd), ones(`blk.${i}.attn_k_norm.weight`, hd));
      if (arch === 'gemma2') tensors.push(ones(`blk.${i}.post_attention_norm.weight`, EMBD), ones(`blk.${i}.post_ffw_norm.weight`, EMBD));
    }
  }
  return encodeGguf({ metadata: Object.entries(meta), tensors });
}
