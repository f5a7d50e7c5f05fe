import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { parseHfConfig, SUPPORTED_MODEL_TYPES } from './hfconfig';
import { fixturePath } from '../../tests/unit/fixtures';

const cfg = (name: string): Record<string, unknown> => JSON.parse(readFileSync(fixturePath('models', name, 'config.json'), 'utf8'));

function err(f: () => unknown): FormatError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as FormatError;
  }
  throw new Error('expected a FormatError');
}

describe('config.json → ModelConfig', () => {
  it('tiny-llama (hub spelling: rope_theta, rope_scaling null)', () => {
    expect(parseHfConfig(cfg('tiny-llama'))).toEqual({
      architecture: 'llama',
      vocabSize: 512,
      hiddenSize: 64,
      intermediateSize: 176,
      numLayers: 2,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 8,
      maxPositions: 256,
      norm: { kind: 'rms', eps: 1e-5 },
      positions: 'rope',
      rope: { theta: 10000, scaling: { type: 'default' }, style: 'half' },
      mlp: 'gated',
      activation: 'silu',
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      qkNorm: false,
      tieEmbeddings: false,
      bosTokenId: 1,
      eosTokenIds: [2],
    });
  });

  it('llama3 rope scaling, tied embeddings', () => {
    const c = parseHfConfig(cfg('tiny-llama3-rope'));
    expect(c.rope).toEqual({ theta: 500000, scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 }, style: 'half' });
    expect(c.tieEmbeddings).toBe(true);
  });

  it('qwen2: q/k/v biases, theta 1e6, tied, no window unless use_sliding_window', () => {
    const c = parseHfConfig(cfg('tiny-qwen2'));
    expect([c.qkvBias, c.oBias, c.tieEmbeddings, c.rope!.theta, c.norm.eps]).toEqual([true, false, true, 1e6, 1e-6]);
    expect(c.slidingWindow).toBeUndefined();
    const on = parseHfConfig({ ...cfg('tiny-qwen2'), use_sliding_window: true, sliding_window: 4, layer_types: undefined, max_window_layers: 1 });
    expect([on.slidingWindow, on.slidingWindowLayers]).toEqual([4, [false, true]]);
    const typed = parseHfConfig({ ...cfg('tiny-qwen2'), use_sliding_window: true, sliding_window: 4, layer_types: ['sliding_attention', 'full_attention'] });
    expect([typed.slidingWindow, typed.slidingWindowLayers]).toEqual([4, [true, false]]);
    expect(err(() => parseHfConfig({ ...cfg('tiny-qwen2'), layer_types: ['full_attention'] })).key).toBe('layer_types');
  });

  it('qwen3 (rope_parameters spelling): head_dim 16, q/k norm', () => {
    const c = parseHfConfig(cfg('tiny-qwen3'));
    expect([c.headDim, c.qkNorm, c.rope!.theta, c.rope!.scaling.type, c.tieEmbeddings]).toEqual([16, true, 1e6, 'default', true]);
  });

  it('mistral: sliding window on every layer', () => {
    const c = parseHfConfig(cfg('tiny-mistral-swa'));
    expect([c.slidingWindow, c.slidingWindowLayers, c.rope!.theta]).toEqual([6, undefined, 10000]);
  });

  it('mixtral: MoE fields, head_dim null → hidden/heads', () => {
    const c = parseHfConfig(cfg('tiny-mixtral-moe'));
    expect(c.moe).toEqual({ numExperts: 4, topK: 2, normTopKProb: true });
    expect([c.headDim, c.intermediateSize, c.slidingWindow]).toEqual([8, 96, undefined]);
  });

  it('gpt2', () => {
    const c = parseHfConfig(cfg('tiny-gpt2'));
    expect(c).toMatchObject({
      architecture: 'gpt2',
      hiddenSize: 64,
      numHeads: 4,
      numKvHeads: 4,
      headDim: 16,
      intermediateSize: 256,
      maxPositions: 128,
      norm: { kind: 'layer', eps: 1e-5 },
      positions: 'learned',
      mlp: 'plain',
      activation: 'gelu_new',
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tieEmbeddings: true,
    });
    expect(c.rope).toBeUndefined();
  });

  it('both rope spellings give the same config', () => {
    const old = cfg('tiny-llama3-rope');
    const { rope_theta, rope_scaling, ...rest } = old;
    const v5 = { ...rest, rope_parameters: { ...(rope_scaling as object), rope_theta } };
    expect(parseHfConfig(v5)).toEqual(parseHfConfig(old));
    const mistral = cfg('tiny-mistral-swa');
    const { rope_parameters, ...mrest } = mistral;
    expect(parseHfConfig({ ...mrest, rope_theta: (rope_parameters as { rope_theta: number }).rope_theta, rope_scaling: null })).toEqual(parseHfConfig(mistral));
    // legacy "type" key
    expect(parseHfConfig({ ...cfg('tiny-llama'), rope_scaling: { type: 'linear', factor: 2 } }).rope!.scaling).toEqual({ type: 'linear', factor: 2 });
  });

  it('rope types linear, dynamic; unsupported ones and missing fields', () => {
    const base = cfg('tiny-llama');
    expect(parseHfConfig({ ...base, rope_scaling: { rope_type: 'dynamic', factor: 4 } }).rope!.scaling).toEqual({ type: 'dynamic', factor: 4, originalMaxPositions: 256 });
    const y = err(() => parseHfConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }));
    expect(y).toBeInstanceOf(UnsupportedError);
    expect(y.key).toBe('rope_scaling.rope_type');
    const m = err(() => parseHfConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8, high_freq_factor: 4, original_max_position_embeddings: 64 } }));
    expect(m.key).toBe('rope_scaling.low_freq_factor');
    expect(err(() => parseHfConfig({ ...base, rope_scaling: { rope_type: 'linear' } })).key).toBe('rope_scaling.factor');
    expect(err(() => parseHfConfig({ ...base, rope_parameters: { rope_type: 'linear', rope_theta: 1e4 } })).key).toBe('rope_parameters.factor');
    expect(err(() => parseHfConfig({ ...base, rope_scaling: { factor: 2 } })).key).toBe('rope_scaling.rope_type');
    expect(err(() => parseHfConfig({ ...base, partial_rotary_factor: 0.5 }))).toBeInstanceOf(UnsupportedError);
  });

  it('eos as a number, an array or null; bos', () => {
    const base = cfg('tiny-llama');
    expect(parseHfConfig({ ...base, eos_token_id: [2, 7] }).eosTokenIds).toEqual([2, 7]);
    expect(parseHfConfig({ ...base, eos_token_id: null }).eosTokenIds).toEqual([]);
    expect(parseHfConfig({ ...base, bos_token_id: null }).bosTokenId).toBeUndefined();
    expect(err(() => parseHfConfig({ ...base, eos_token_id: ['2'] })).key).toBe('eos_token_id');
  });

  it('llama attention_bias / mlp_bias, activations', () => {
    const c = parseHfConfig({ ...cfg('tiny-llama'), attention_bias: true, mlp_bias: true, hidden_act: 'gelu_pytorch_tanh' });
    expect([c.qkvBias, c.oBias, c.mlpBias, c.activation]).toEqual([true, true, true, 'gelu_new']);
    expect(err(() => parseHfConfig({ ...cfg('tiny-llama'), hidden_act: 'relu2' }))).toBeInstanceOf(UnsupportedError);
  });

  it('unknown model_type → UnsupportedError naming the key and the supported list', () => {
    const e = err(() => parseHfConfig({ ...cfg('tiny-llama'), model_type: 'falcon' }, 'm/config.json'));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.file).toBe('m/config.json');
    expect(e.key).toBe('model_type');
    for (const t of SUPPORTED_MODEL_TYPES) expect(e.expected).toContain(t);
    expect(e.message).toContain('falcon');
  });

  it('missing or malformed keys → FormatError with the key', () => {
    for (const key of ['model_type', 'hidden_size', 'num_attention_heads', 'num_hidden_layers', 'vocab_size', 'intermediate_size']) {
      const c = cfg('tiny-llama');
      delete c[key];
      const e = err(() => parseHfConfig(c));
      expect(e.key).toBe(key);
      expect(e.file).toBe('config.json');
    }
    for (const key of ['n_embd', 'n_head', 'n_layer', 'vocab_size']) {
      const c = cfg('tiny-gpt2');
      delete c[key];
      expect(err(() => parseHfConfig(c)).key).toBe(key);
    }
    expect(err(() => parseHfConfig({ ...cfg('tiny-llama'), num_attention_heads: '8' })).key).toBe('num_attention_heads');
    expect(err(() => parseHfConfig({ ...cfg('tiny-llama'), num_key_value_heads: 3 })).key).toBe('num_key_value_heads');
    expect(err(() => parseHfConfig({ ...cfg('tiny-llama'), rms_norm_eps: -1 })).key).toBe('rms_norm_eps');
    expect(err(() => parseHfConfig({ ...cfg('tiny-llama'), head_dim: 7 })).key).toBe('head_dim');
    expect(err(() => parseHfConfig({ ...cfg('tiny-llama'), rope_scaling: 3 })).key).toBe('rope_scaling');
    expect(err(() => parseHfConfig([]))).toBeInstanceOf(FormatError);
    expect(err(() => parseHfConfig({ ...cfg('tiny-mixtral-moe'), num_experts_per_tok: 5 })).key).toBe('num_experts_per_tok');
  });
});
