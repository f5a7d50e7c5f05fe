/**
 * Models for the GPU benchmarks (gpu.bench.ts, prefill.bench.ts): the shapes of real models
 * (HF config.json values) with random weights.
 */
import { randomFill } from '../model/random';
import type { LoadedModel, ModelConfig, WeightMap } from '../model/types';

/** HF config.json values of the real models (shapes only; weights are random). */
export const SHAPES: Record<string, Record<string, unknown>> = {
  'smollm2-135m': {
    model_type: 'llama',
    vocab_size: 49152,
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    head_dim: 64,
    max_position_embeddings: 8192,
    rope_theta: 100000,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
  },
  'qwen3-0.6b': {
    model_type: 'qwen3',
    vocab_size: 151936,
    hidden_size: 1024,
    intermediate_size: 3072,
    num_hidden_layers: 28,
    num_attention_heads: 16,
    num_key_value_heads: 8,
    head_dim: 128,
    max_position_embeddings: 40960,
    rope_theta: 1000000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
  },
  'llama-3.2-1b': {
    model_type: 'llama',
    vocab_size: 128256,
    hidden_size: 2048,
    intermediate_size: 8192,
    num_hidden_layers: 16,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 64,
    max_position_embeddings: 131072,
    rope_theta: 500000,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
    rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  },
};

export function randomModel(name: string): LoadedModel {
  const h = SHAPES[name] as Record<string, number> & { model_type: string; rope_scaling?: Record<string, number> };
  const D = h.hidden_size;
  const H = h.num_attention_heads;
  const Kv = h.num_key_value_heads;
  const hd = h.head_dim;
  const I = h.intermediate_size;
  const V = h.vocab_size;
  const qwen3 = h.model_type === 'qwen3';
  const rs = h.rope_scaling;
  const config: ModelConfig = {
    architecture: qwen3 ? 'qwen3' : 'llama',
    vocabSize: V,
    hiddenSize: D,
    intermediateSize: I,
    numLayers: h.num_hidden_layers,
    numHeads: H,
    numKvHeads: Kv,
    headDim: hd,
    maxPositions: h.max_position_embeddings,
    norm: { kind: 'rms', eps: h.rms_norm_eps },
    positions: 'rope',
    rope: {
      theta: h.rope_theta,
      style: 'half',
      scaling: rs
        ? { type: 'llama3', factor: rs.factor, lowFreqFactor: rs.low_freq_factor, highFreqFactor: rs.high_freq_factor, originalMaxPositions: rs.original_max_position_embeddings }
        : { type: 'default' },
    },
    mlp: 'gated',
    activation: 'silu',
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: qwen3,
    tieEmbeddings: true,
    eosTokenIds: [],
  };
  const weights: WeightMap = new Map();
  let seed = 1;
  const t = (n: string, shape: number[], scale: number) =>
    weights.set(n, {
      shape,
      data: randomFill(
        shape.reduce((a, b) => a * b, 1),
        seed++ * 7919,
        scale,
      ),
    });
  const ones = (n: string, d: number) => weights.set(n, { shape: [d], data: new Float32Array(d).fill(1) });
  t('model.embed_tokens.weight', [V, D], 1);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    ones(`${p}input_layernorm.weight`, D);
    ones(`${p}post_attention_layernorm.weight`, D);
    t(`${p}self_attn.q_proj.weight`, [H * hd, D], 1 / Math.sqrt(D));
    t(`${p}self_attn.k_proj.weight`, [Kv * hd, D], 1 / Math.sqrt(D));
    t(`${p}self_attn.v_proj.weight`, [Kv * hd, D], 1 / Math.sqrt(D));
    t(`${p}self_attn.o_proj.weight`, [D, H * hd], 1 / Math.sqrt(H * hd));
    if (qwen3) {
      ones(`${p}self_attn.q_norm.weight`, hd);
      ones(`${p}self_attn.k_norm.weight`, hd);
    }
    t(`${p}mlp.gate_proj.weight`, [I, D], 1 / Math.sqrt(D));
    t(`${p}mlp.up_proj.weight`, [I, D], 1 / Math.sqrt(D));
    t(`${p}mlp.down_proj.weight`, [D, I], 1 / Math.sqrt(I));
  }
  ones('model.norm.weight', D);
  return { config, weights, source: { format: 'safetensors', files: [`random ${name}`], dtypes: ['F32'] } };
}
