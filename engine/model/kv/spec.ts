/**
 * What the KV cache of any model depends on, as one record (`KvSpec`): layers, heads, KV
 * heads, head width, sliding windows (all layers or Gemma-2's alternating ones), MLA's
 * compressed latent (DeepSeek-V2/V3), and what the weights' size needs. Read from the active
 * model's ModelConfig, from a pasted Hugging Face config.json (a missing field is an error
 * naming it), or taken from the built-in list (builtins.ts).
 */
import { FormatError } from '../../errors';
import type { ModelConfig } from '../types';

export interface KvSpec {
  name: string;
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  tieEmbeddings: boolean;
  /** Sliding-window attention: the window (tokens, self included) and which layers use it (absent: all). */
  slidingWindow?: number;
  slidingLayers?: boolean[];
  /** Multi-head latent attention: the cache holds one latent of kvLoraRank plus the shared RoPE key of ropeHeadDim per token and layer. */
  mla?: { kvLoraRank: number; ropeHeadDim: number; nopeHeadDim: number; vHeadDim: number };
  /** Mixture of experts (weights only: the cache does not depend on it). */
  moe?: { numExperts: number; topK: number; expertIntermediate: number; sharedExperts: number; denseLayers: number };
  /** Parameter count when known from the model card; otherwise estimated from the shapes (weights.ts). */
  params?: number;
}

type Json = Record<string, unknown>;

function num(file: string, o: Json, keys: string[], opts: { optional?: boolean; dflt?: number; min?: number } = {}): number | undefined {
  const key = keys.find((k) => o[k] !== undefined && o[k] !== null);
  if (key === undefined) {
    if (opts.optional || opts.dflt !== undefined) return opts.dflt;
    throw new FormatError('missing field', { file, key: keys[0], expected: `a positive integer${keys.length > 1 ? ` (or ${keys.slice(1).join(', ')})` : ''}` });
  }
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (opts.min ?? 1))
    throw new FormatError('bad value', { file, key, expected: `an integer ≥ ${opts.min ?? 1}`, found: JSON.stringify(v) });
  return v;
}

/** A KvSpec from a Hugging Face config.json (already parsed): Llama-family, Mistral, Mixtral, Qwen2/3, Gemma-2, DeepSeek-V2/V3, GPT-2 names. */
export function specFromHfConfig(json: unknown, file = 'config.json'): KvSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError('config is not a JSON object', { file, expected: 'a JSON object' });
  const o = (typeof (json as Json).text_config === 'object' && (json as Json).text_config !== null ? (json as Json).text_config : json) as Json;
  const type = typeof o.model_type === 'string' ? o.model_type : typeof (json as Json).model_type === 'string' ? ((json as Json).model_type as string) : 'unknown';
  const numLayers = num(file, o, ['num_hidden_layers', 'n_layer', 'num_layers'])!;
  const hiddenSize = num(file, o, ['hidden_size', 'n_embd', 'd_model'])!;
  const numHeads = num(file, o, ['num_attention_heads', 'n_head'])!;
  // transformers' config classes default num_key_value_heads to num_attention_heads (multi-head attention)
  const numKvHeads = num(file, o, ['num_key_value_heads'], { dflt: numHeads })!;
  if (numHeads % numKvHeads)
    throw new FormatError('num_attention_heads is not a multiple of num_key_value_heads', {
      file,
      key: 'num_key_value_heads',
      expected: `a divisor of ${numHeads}`,
      found: String(numKvHeads),
    });
  const headDim = num(file, o, ['head_dim'], { optional: true }) ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim))
    throw new FormatError('hidden_size is not a multiple of num_attention_heads (and no head_dim)', { file, key: 'head_dim', expected: 'an integer' });
  const spec: KvSpec = {
    name: typeof (json as Json)._name_or_path === 'string' && (json as Json)._name_or_path ? ((json as Json)._name_or_path as string) : `${type} (${file})`,
    numLayers,
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: num(file, o, ['intermediate_size', 'n_inner'], { optional: true }) ?? 4 * hiddenSize,
    vocabSize: num(file, o, ['vocab_size'])!,
    maxPositions: num(file, o, ['max_position_embeddings', 'n_positions', 'n_ctx'])!,
    tieEmbeddings: o.tie_word_embeddings === true || (o.tie_word_embeddings === undefined && /^(gpt2|gemma)/.test(type)),
  };
  const useWindow = o.use_sliding_window !== false; // Qwen2/3 carry a window they do not use unless this is true
  const windowOn = type.startsWith('qwen') ? o.use_sliding_window === true : useWindow;
  const window = windowOn ? num(file, o, ['sliding_window'], { optional: true }) : undefined;
  if (window !== undefined) {
    spec.slidingWindow = window;
    if (Array.isArray(o.layer_types)) spec.slidingLayers = o.layer_types.map((t) => t === 'sliding_attention');
    else if (type === 'gemma2' || type === 'gemma3_text' || type === 'gemma3') {
      // Gemma-2: layers alternate sliding (even) and global (odd); Gemma-3: five sliding, then one global
      const every = type === 'gemma2' ? 2 : (num(file, o, ['sliding_window_pattern'], { dflt: 6 }) ?? 6);
      spec.slidingLayers = Array.from({ length: numLayers }, (_, i) => (i + 1) % every !== 0);
    } else if (type.startsWith('qwen') && o.max_window_layers !== undefined) {
      const m = num(file, o, ['max_window_layers'], { min: 0 })!;
      spec.slidingLayers = Array.from({ length: numLayers }, (_, i) => i >= m);
    }
  }
  if (o.kv_lora_rank !== undefined && o.kv_lora_rank !== null) {
    spec.mla = {
      kvLoraRank: num(file, o, ['kv_lora_rank'])!,
      ropeHeadDim: num(file, o, ['qk_rope_head_dim'])!,
      nopeHeadDim: num(file, o, ['qk_nope_head_dim'])!,
      vHeadDim: num(file, o, ['v_head_dim'])!,
    };
  }
  const experts = num(file, o, ['n_routed_experts', 'num_local_experts', 'num_experts'], { optional: true });
  if (experts !== undefined && experts > 1) {
    spec.moe = {
      numExperts: experts,
      topK: num(file, o, ['num_experts_per_tok'])!,
      expertIntermediate: num(file, o, ['moe_intermediate_size'], { optional: true }) ?? spec.intermediateSize,
      sharedExperts: num(file, o, ['n_shared_experts'], { dflt: 0, min: 0 })!,
      denseLayers: num(file, o, ['first_k_dense_replace'], { dflt: 0, min: 0 })!,
    };
  }
  return spec;
}

/** A KvSpec from the engine's ModelConfig (the active model). */
export function specFromModelConfig(c: ModelConfig, name: string): KvSpec {
  return {
    name,
    numLayers: c.numLayers,
    hiddenSize: c.hiddenSize,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    intermediateSize: c.intermediateSize,
    vocabSize: c.vocabSize,
    maxPositions: c.maxPositions,
    tieEmbeddings: c.tieEmbeddings,
    slidingWindow: c.slidingWindow,
    slidingLayers: c.slidingWindow !== undefined ? c.slidingWindowLayers : undefined,
    moe: c.moe ? { numExperts: c.moe.numExperts, topK: c.moe.topK, expertIntermediate: c.intermediateSize, sharedExperts: 0, denseLayers: 0 } : undefined,
  };
}

/** Parameters estimated from the shapes (attention, MLP or experts, norms, embeddings): a gated MLP; MLA's projections approximated by its latent ranks. */
export function estimateParams(s: KvSpec): number {
  const D = s.hiddenSize;
  const attn = s.mla
    ? D * s.numHeads * (s.mla.nopeHeadDim + s.mla.ropeHeadDim) +
      D * (s.mla.kvLoraRank + s.mla.ropeHeadDim) +
      s.mla.kvLoraRank * s.numHeads * (s.mla.nopeHeadDim + s.mla.vHeadDim) +
      s.numHeads * s.mla.vHeadDim * D
    : D * s.numHeads * s.headDim * 2 + D * s.numKvHeads * s.headDim * 2;
  const dense = 3 * D * s.intermediateSize;
  let mlp = s.numLayers * dense;
  if (s.moe) {
    const moeLayers = s.numLayers - s.moe.denseLayers;
    mlp = s.moe.denseLayers * dense + moeLayers * ((s.moe.numExperts + s.moe.sharedExperts) * 3 * D * s.moe.expertIntermediate + s.moe.numExperts * D);
  }
  return s.numLayers * (attn + 2 * D) + mlp + s.vocabSize * D * (s.tieEmbeddings ? 1 : 2) + D;
}
