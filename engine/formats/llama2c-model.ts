/**
 * llama2.c `.bin` checkpoint → LoadedModel (canonical names of model/types.ts).
 *
 * Hyper-parameters not in the header are fixed by run.c: RMSNorm eps 1e-5
 * (an f32 literal, `1e-5f`), RoPE theta 10000 rotating adjacent pairs
 * (2i, 2i+1) of each head ('interleaved': llama2.c's model.py trains with
 * that layout and run.c rotates it), SwiGLU MLP, no biases.
 *
 * Special tokens follow llama2.c's SentencePiece vocabulary: <s> = 1 is BOS,
 * </s> = 2 is EOS. run.c stops generating when the model emits BOS (1), not
 * EOS: the TinyStories training data separates stories with BOS only, so BOS
 * is the real end of a text for these checkpoints. That rule is
 * `stopTokenIds: [1]`.
 */
import { materialise, rowLength } from '../model/lazy';
import type { LazyModel, LazyTensor, LazyWeightMap, LoadedModel, ModelConfig } from '../model/types';
import type { ByteSource } from './source';
import { readF32Block, readLlama2cHeader, type Llama2cBlock, type Llama2cHeader } from './llama2c';

export const LLAMA2C_BOS = 1;
export const LLAMA2C_EOS = 2;

/** The ModelConfig a llama2.c header implies. */
export function llama2cConfig(h: Llama2cHeader): ModelConfig {
  return {
    architecture: 'llama',
    vocabSize: h.vocabSize,
    hiddenSize: h.dim,
    intermediateSize: h.hiddenDim,
    numLayers: h.nLayers,
    numHeads: h.nHeads,
    numKvHeads: h.nKvHeads,
    headDim: h.headSize,
    maxPositions: h.seqLen,
    norm: { kind: 'rms', eps: Math.fround(1e-5) },
    positions: 'rope',
    rope: { theta: 10000, scaling: { type: 'default' }, style: 'interleaved' },
    mlp: 'gated',
    activation: 'silu',
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: false,
    tieEmbeddings: h.sharedClassifier,
    bosTokenId: LLAMA2C_BOS,
    eosTokenIds: [LLAMA2C_EOS],
    stopTokenIds: [LLAMA2C_BOS],
  };
}

/** Layer `i`'s slice of a block holding `nLayers` equal parts. */
function layerSlice(block: Llama2cBlock, i: number, nLayers: number): Llama2cBlock {
  const per = block.count / nLayers;
  return { offset: block.offset + i * per * 4, count: per };
}

/** A block of f32 in the file as a LazyTensor of `shape` (rows are consecutive byte ranges). */
function blockTensor(src: ByteSource, name: string, shape: number[], block: Llama2cBlock): LazyTensor {
  const row = rowLength(shape);
  return {
    shape,
    dtype: 'F32',
    byteSize: block.count * 4,
    rowsF32: (r0, r1) => readF32Block(src, { offset: block.offset + r0 * row * 4, count: (r1 - r0) * row }, name),
  };
}

/** Opens a llama2.c checkpoint: the header checked, every weight left in the file as a LazyTensor (`src` stays open). */
export async function openLlama2cModel(src: ByteSource): Promise<LazyModel> {
  const { header: h, layout } = await readLlama2cHeader(src);
  const lazy: LazyWeightMap = new Map();
  let totalBytes = 0;
  const put = (name: string, shape: number[], block: Llama2cBlock): void => {
    lazy.set(name, blockTensor(src, name, shape, block));
    totalBytes += block.count * 4;
  };
  const D = h.dim;
  const F = h.hiddenDim;
  const qDim = h.nHeads * h.headSize;
  const kvDim = h.nKvHeads * h.headSize;

  put('model.embed_tokens.weight', [h.vocabSize, D], layout.embed); // [V, D]
  for (let i = 0; i < h.nLayers; i++) {
    const p = `model.layers.${i}`;
    const L = (b: Llama2cBlock) => layerSlice(b, i, h.nLayers);
    put(`${p}.input_layernorm.weight`, [D], L(layout.rmsAtt)); // [D]
    put(`${p}.self_attn.q_proj.weight`, [qDim, D], L(layout.wq)); // [H*hd, D]
    put(`${p}.self_attn.k_proj.weight`, [kvDim, D], L(layout.wk)); // [KV*hd, D]
    put(`${p}.self_attn.v_proj.weight`, [kvDim, D], L(layout.wv)); // [KV*hd, D]
    put(`${p}.self_attn.o_proj.weight`, [D, qDim], L(layout.wo)); // [D, H*hd]
    put(`${p}.post_attention_layernorm.weight`, [D], L(layout.rmsFfn)); // [D]
    put(`${p}.mlp.gate_proj.weight`, [F, D], L(layout.w1)); // [F, D]
    put(`${p}.mlp.down_proj.weight`, [D, F], L(layout.w2)); // [D, F]
    put(`${p}.mlp.up_proj.weight`, [F, D], L(layout.w3)); // [F, D]
  }
  put('model.norm.weight', [D], layout.rmsFinal); // [D]
  if (layout.wcls) put('lm_head.weight', [h.vocabSize, D], layout.wcls); // [V, D]

  return { config: llama2cConfig(h), lazy, source: { format: 'llama2c', files: [src.name], dtypes: ['F32'] }, totalBytes, close: async () => {} };
}

/** Loads every weight of a llama2.c checkpoint (openLlama2cModel, each tensor read whole). */
export async function loadLlama2cModel(src: ByteSource): Promise<LoadedModel> {
  const m = await openLlama2cModel(src);
  return { config: m.config, weights: await materialise(m.lazy), source: m.source };
}
