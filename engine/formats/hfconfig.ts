/**
 * Hugging Face `config.json` → ModelConfig, for model_type llama, qwen2, qwen3,
 * mistral, mixtral and gpt2. Reads both spellings of the rotary settings:
 * `rope_theta` + `rope_scaling` (hub configs before transformers 5) and
 * `rope_parameters` (transformers ≥ 5). Defaults are those of the matching
 * transformers config class, so a sparse config.json means what it means there.
 */
import { FormatError, UnsupportedError } from '../errors';
import type { Architecture, ModelConfig, RopeScaling } from '../model/types';

export const SUPPORTED_MODEL_TYPES: readonly Architecture[] = ['llama', 'qwen2', 'qwen3', 'mistral', 'mixtral', 'gpt2'];

type Json = Record<string, unknown>;

/** Defaults per model_type (transformers' config classes). */
const DEFAULTS: Record<Exclude<Architecture, 'gpt2'>, { maxPositions: number; eps: number; theta: number; headDim?: number; slidingWindow?: number | null }> = {
  llama: { maxPositions: 2048, eps: 1e-6, theta: 10000 },
  mistral: { maxPositions: 4096 * 32, eps: 1e-6, theta: 10000, slidingWindow: 4096 },
  mixtral: { maxPositions: 4096 * 32, eps: 1e-5, theta: 1e6, slidingWindow: null },
  qwen2: { maxPositions: 32768, eps: 1e-6, theta: 10000, slidingWindow: 4096 },
  qwen3: { maxPositions: 32768, eps: 1e-6, theta: 10000, headDim: 128, slidingWindow: 4096 },
};

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

class Reader {
  constructor(
    readonly file: string,
    readonly obj: Json,
    readonly prefix = '',
  ) {}

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  private bad(key: string, expected: string): never {
    throw new FormatError(this.obj[key] === undefined ? 'missing key' : 'bad value', {
      file: this.file,
      key: this.prefix + key,
      expected,
      found: this.obj[key] === undefined ? 'nothing' : describe(this.obj[key]),
    });
  }

  /** A positive integer; `def` when absent or null (required when def is undefined). */
  int(key: string, def?: number, min = 1): number {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (def === undefined) this.bad(key, `an integer ≥ ${min}`);
      return def;
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.bad(key, `an integer ≥ ${min}`);
    return v;
  }

  /** A finite number > 0 (or ≥ 0 when allowZero). */
  num(key: string, def?: number, allowZero = false): number {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (def === undefined) this.bad(key, allowZero ? 'a number ≥ 0' : 'a number > 0');
      return def;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) this.bad(key, allowZero ? 'a number ≥ 0' : 'a number > 0');
    return v;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.bad(key, 'true or false');
    return v;
  }

  str(key: string, def?: string): string {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (def === undefined) this.bad(key, 'a string');
      return def;
    }
    if (typeof v !== 'string') this.bad(key, 'a string');
    return v;
  }

  /** A token id, or undefined when absent/null. */
  tokenId(key: string): number | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.bad(key, 'a token id (integer ≥ 0) or null');
    return v;
  }

  /** A token id or a list of them (eos_token_id). */
  tokenIds(key: string): number[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) this.bad(key, 'a token id or a list of token ids');
    return list as number[];
  }

  obj_(key: string): Reader | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.bad(key, 'an object');
    return new Reader(this.file, v as Json, `${this.prefix}${key}.`);
  }

  strList(key: string): string[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.bad(key, 'a list of strings');
    return v as string[];
  }

  unsupported(key: string, message: string, expected: string): never {
    throw new UnsupportedError(message, { file: this.file, key: this.prefix + key, expected, found: describe(this.obj[key]) });
  }
}

function activation(r: Reader, key: string, def: string): ModelConfig['activation'] {
  const act = r.str(key, def);
  switch (act) {
    case 'silu':
    case 'swish':
      return 'silu';
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': // the same tanh approximation, written differently
      return 'gelu_new';
    case 'gelu':
      return 'gelu';
    default:
      return r.unsupported(key, 'activation is not supported', 'silu, swish, gelu_new, gelu_pytorch_tanh, gelu_fast, gelu');
  }
}

/** Rotary settings from either spelling. */
function rope(r: Reader, defTheta: number, maxPositions: number): NonNullable<ModelConfig['rope']> {
  const params = r.obj_('rope_parameters');
  const legacy = r.obj_('rope_scaling');
  // transformers ≥ 5 puts theta and type in rope_parameters; older configs use rope_theta + rope_scaling.
  const src = params ?? legacy;
  const theta = params?.has('rope_theta') ? params.num('rope_theta') : r.num('rope_theta', defTheta);
  for (const p of [r, src]) {
    if (p?.has('partial_rotary_factor') && p.num('partial_rotary_factor') !== 1) p.unsupported('partial_rotary_factor', 'partial rotary embeddings are not supported', '1');
  }
  let type = 'default';
  if (src) {
    if (src.has('rope_type')) type = src.str('rope_type');
    else if (src.has('type')) type = src.str('type');
    else if (legacy) legacy.str('rope_type'); // rope_scaling without a type: report it
  }
  const typeKey = src?.has('rope_type') ? 'rope_type' : 'type';
  let scaling: RopeScaling;
  switch (type) {
    case 'default':
      scaling = { type: 'default' };
      break;
    case 'linear':
      scaling = { type: 'linear', factor: src!.num('factor') };
      break;
    case 'dynamic':
      scaling = { type: 'dynamic', factor: src!.num('factor'), originalMaxPositions: src!.int('original_max_position_embeddings', maxPositions) };
      break;
    case 'llama3':
      scaling = {
        type: 'llama3',
        factor: src!.num('factor'),
        lowFreqFactor: src!.num('low_freq_factor'),
        highFreqFactor: src!.num('high_freq_factor'),
        originalMaxPositions: src!.int('original_max_position_embeddings'),
      };
      if (scaling.highFreqFactor! <= scaling.lowFreqFactor!) {
        src!.unsupported('high_freq_factor', 'llama3 rope needs high_freq_factor > low_freq_factor', `> ${scaling.lowFreqFactor}`);
      }
      break;
    default:
      return src!.unsupported(typeKey, 'rope type is not supported', 'default, linear, dynamic, llama3');
  }
  return { theta, scaling, style: 'half' };
}

/**
 * Parses a config.json object. `file` names it in errors.
 * Throws UnsupportedError for an unknown model_type (naming the supported ones),
 * FormatError for missing or malformed keys.
 */
export function parseHfConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FormatError('config is not a JSON object', { file, expected: 'a JSON object', found: describe(json) });
  }
  const r = new Reader(file, json as Json);
  const modelType = r.str('model_type');
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    r.unsupported('model_type', 'model type is not supported', `one of ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const arch = modelType as Architecture;
  const eos = r.tokenIds('eos_token_id');
  if (arch === 'gpt2') return gpt2Config(r, eos);

  const d = DEFAULTS[arch];
  const hidden = r.int('hidden_size');
  const numHeads = r.int('num_attention_heads');
  const numKvHeads = r.int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new FormatError('num_attention_heads is not a multiple of num_key_value_heads', {
      file,
      key: 'num_key_value_heads',
      expected: `a divisor of ${numHeads}`,
      found: String(numKvHeads),
    });
  }
  let headDim: number;
  if (r.has('head_dim')) headDim = r.int('head_dim');
  else if (d.headDim !== undefined) headDim = d.headDim;
  else {
    if (hidden % numHeads !== 0) {
      throw new FormatError('hidden_size is not a multiple of num_attention_heads (and no head_dim)', {
        file,
        key: 'head_dim',
        expected: 'head_dim, or hidden_size divisible by num_attention_heads',
      });
    }
    headDim = hidden / numHeads;
  }
  if (headDim % 2 !== 0) throw new FormatError('head_dim must be even for rotary embeddings', { file, key: 'head_dim', expected: 'an even number', found: String(headDim) });
  const numLayers = r.int('num_hidden_layers');
  const maxPositions = r.int('max_position_embeddings', d.maxPositions);

  // Biases: Llama/Qwen3 attention_bias covers q, k, v and o; Qwen2 always has q/k/v biases and no o bias.
  let qkvBias = false;
  let oBias = false;
  if (arch === 'llama' || arch === 'qwen3') qkvBias = oBias = r.bool('attention_bias', false);
  else if (arch === 'qwen2') qkvBias = true;
  const mlpBias = arch === 'llama' ? r.bool('mlp_bias', false) : false;

  // Sliding window: Mistral/Mixtral on every layer; Qwen2/Qwen3 only with use_sliding_window, per layer_types.
  let slidingWindow: number | undefined;
  let slidingWindowLayers: boolean[] | undefined;
  if (arch === 'mistral' || arch === 'mixtral' || arch === 'qwen2' || arch === 'qwen3') {
    const gated = arch === 'qwen2' || arch === 'qwen3' ? r.bool('use_sliding_window', false) : true;
    const w = r.obj['sliding_window'] === undefined ? d.slidingWindow : r.obj['sliding_window'] === null ? null : r.int('sliding_window');
    if (gated && w !== null && w !== undefined) slidingWindow = w;
    const types = r.strList('layer_types');
    if (types) {
      if (types.length !== numLayers) {
        throw new FormatError('layer_types has the wrong length', { file, key: 'layer_types', expected: `${numLayers} entries (num_hidden_layers)`, found: `${types.length}` });
      }
      types.forEach((t, i) => {
        if (t !== 'full_attention' && t !== 'sliding_attention') r.unsupported('layer_types', `layer type "${t}" at ${i} is not supported`, 'full_attention or sliding_attention');
      });
      if (slidingWindow !== undefined) slidingWindowLayers = types.map((t) => t === 'sliding_attention');
    } else if (slidingWindow !== undefined && (arch === 'qwen2' || arch === 'qwen3')) {
      const maxWindowLayers = r.int('max_window_layers', 28, 0);
      slidingWindowLayers = Array.from({ length: numLayers }, (_, i) => i >= maxWindowLayers);
    }
    if (slidingWindowLayers && !slidingWindowLayers.some(Boolean)) {
      slidingWindow = undefined;
      slidingWindowLayers = undefined;
    }
  }

  let moe: ModelConfig['moe'];
  if (arch === 'mixtral') {
    const numExperts = r.int('num_local_experts', 8);
    const topK = r.int('num_experts_per_tok', 2);
    if (topK > numExperts)
      throw new FormatError('more experts per token than experts', { file, key: 'num_experts_per_tok', expected: `≤ ${numExperts} (num_local_experts)`, found: String(topK) });
    moe = { numExperts, topK, normTopKProb: true };
  }

  return {
    architecture: arch,
    vocabSize: r.int('vocab_size'),
    hiddenSize: hidden,
    intermediateSize: r.int('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    maxPositions,
    norm: { kind: 'rms', eps: r.num('rms_norm_eps', d.eps) },
    positions: 'rope',
    rope: rope(r, d.theta, maxPositions),
    mlp: 'gated',
    activation: activation(r, 'hidden_act', 'silu'),
    qkvBias,
    oBias,
    mlpBias,
    qkNorm: arch === 'qwen3',
    ...(slidingWindow !== undefined ? { slidingWindow } : {}),
    ...(slidingWindowLayers ? { slidingWindowLayers } : {}),
    tieEmbeddings: r.bool('tie_word_embeddings', false),
    ...(moe ? { moe } : {}),
    ...(r.tokenId('bos_token_id') !== undefined ? { bosTokenId: r.tokenId('bos_token_id') } : {}),
    eosTokenIds: eos ?? [],
  };
}

function gpt2Config(r: Reader, eos: number[] | undefined): ModelConfig {
  const hidden = r.int('n_embd');
  const numHeads = r.int('n_head');
  if (hidden % numHeads !== 0) {
    throw new FormatError('n_embd is not a multiple of n_head', { file: r.file, key: 'n_head', expected: `a divisor of ${hidden}`, found: String(numHeads) });
  }
  if (!r.bool('scale_attn_weights', true)) r.unsupported('scale_attn_weights', 'unscaled attention is not supported', 'true');
  if (r.bool('scale_attn_by_inverse_layer_idx', false)) r.unsupported('scale_attn_by_inverse_layer_idx', 'per-layer attention scaling is not supported', 'false');
  const bos = r.tokenId('bos_token_id');
  return {
    architecture: 'gpt2',
    vocabSize: r.int('vocab_size'),
    hiddenSize: hidden,
    intermediateSize: r.int('n_inner', 4 * hidden),
    numLayers: r.int('n_layer'),
    numHeads,
    numKvHeads: numHeads,
    headDim: hidden / numHeads,
    maxPositions: r.int('n_positions', 1024),
    norm: { kind: 'layer', eps: r.num('layer_norm_epsilon', 1e-5) },
    positions: 'learned',
    mlp: 'plain',
    activation: activation(r, 'activation_function', 'gelu_new'),
    qkvBias: true,
    oBias: true,
    mlpBias: true,
    qkNorm: false,
    tieEmbeddings: r.bool('tie_word_embeddings', true),
    ...(bos !== undefined ? { bosTokenId: bos } : {}),
    eosTokenIds: eos ?? [],
  };
}
