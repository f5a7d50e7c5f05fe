/**
 * Export to a Hugging Face folder: `model.safetensors` under the names transformers uses
 * for the architecture, a `config.json` its Auto classes read, `generation_config.json`,
 * a PEFT adapter's files when one is exported unmerged, and the tokenizer when there is one to write:
 *   - an HF folder's own tokenizer files are copied as they are;
 *   - a SentencePiece vocabulary (llama2.c tokenizer.bin, GGUF `llama`) becomes a
 *     tokenizer.json (tokenizer-json.ts);
 *   - anything else is named in the notes as not written.
 * Q/K rows are written in HF's 'half' RoPE layout (llama2.c and GGUF llama weights are
 * permuted back, an exact reordering). Names and layouts are the inverse of formats/hf.ts.
 */
import { UnsupportedError } from '../errors';
import { mixtralName, transpose2d } from '../formats/hf';
import { encodeF16, encodeF32 } from '../formats/quant';
import { expectedShapes } from '../model/shapes';
import type { ModelConfig, Tensor, WeightMap } from '../model/types';
import { spmTokenizerJson } from './tokenizer-json';
import { bytesFile, jsonFile, type ExportFile, type ExportOptions, type ExportResult, type ExportSource } from './types';
import { mergedWeights, withRopeStyle } from './weights';

export interface HfTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Rows of several [r_i, c] tensors (or vectors) stacked into one. */
function concatRows(ts: Tensor[]): Tensor {
  const data = new Float32Array(ts.reduce((n, t) => n + t.data.length, 0));
  let at = 0;
  for (const t of ts) {
    data.set(t.data, at);
    at += t.data.length;
  }
  return { shape: [ts.reduce((n, t) => n + t.shape[0], 0), ...ts[0].shape.slice(1)], data };
}

function gpt2Tensors(c: ModelConfig, w: WeightMap): HfTensor[] {
  const get = (n: string) => w.get(n)!;
  const out: HfTensor[] = [];
  const put = (name: string, t: Tensor) => out.push({ name, shape: t.shape, data: t.data });
  put('transformer.wte.weight', get('model.embed_tokens.weight')); // [V, D]
  put('transformer.wpe.weight', get('model.embed_positions.weight')); // [P, D]
  for (let i = 0; i < c.numLayers; i++) {
    const m = `model.layers.${i}.`;
    const h = `transformer.h.${i}.`;
    const conv1d = (t: Tensor) => transpose2d(t); // [out, in] → Conv1D's [in, out]
    put(`${h}ln_1.weight`, get(`${m}input_layernorm.weight`));
    put(`${h}ln_1.bias`, get(`${m}input_layernorm.bias`));
    const qkv = ['q', 'k', 'v'].map((n) => `${m}self_attn.${n}_proj`);
    put(`${h}attn.c_attn.weight`, conv1d(concatRows(qkv.map((n) => get(`${n}.weight`))))); // [D, 3D]
    put(`${h}attn.c_attn.bias`, concatRows(qkv.map((n) => get(`${n}.bias`)))); // [3D]
    put(`${h}attn.c_proj.weight`, conv1d(get(`${m}self_attn.o_proj.weight`))); // [D, D]
    put(`${h}attn.c_proj.bias`, get(`${m}self_attn.o_proj.bias`));
    put(`${h}ln_2.weight`, get(`${m}post_attention_layernorm.weight`));
    put(`${h}ln_2.bias`, get(`${m}post_attention_layernorm.bias`));
    put(`${h}mlp.c_fc.weight`, conv1d(get(`${m}mlp.up_proj.weight`))); // [D, I]
    put(`${h}mlp.c_fc.bias`, get(`${m}mlp.up_proj.bias`));
    put(`${h}mlp.c_proj.weight`, conv1d(get(`${m}mlp.down_proj.weight`))); // [I, D]
    put(`${h}mlp.c_proj.bias`, get(`${m}mlp.down_proj.bias`));
  }
  put('transformer.ln_f.weight', get('model.norm.weight'));
  put('transformer.ln_f.bias', get('model.norm.bias'));
  if (!c.tieEmbeddings) put('lm_head.weight', get('lm_head.weight'));
  return out;
}

/** The model's tensors under HF names and layouts (config in the 'half' RoPE layout). */
export function hfTensors(c: ModelConfig, w: WeightMap): HfTensor[] {
  if (c.architecture === 'gpt2') return gpt2Tensors(c, w);
  return [...expectedShapes(c).keys()].map((canonical) => {
    const t = w.get(canonical)!;
    return { name: c.architecture === 'mixtral' ? mixtralName(canonical) : canonical, shape: t.shape, data: t.data };
  });
}

const HF_CLASS: Record<ModelConfig['architecture'], string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  mistral: 'MistralForCausalLM',
  mixtral: 'MixtralForCausalLM',
  gpt2: 'GPT2LMHeadModel',
};

const HF_ACT: Record<ModelConfig['activation'], string> = { silu: 'silu', gelu_new: 'gelu_new', gelu: 'gelu' };

/** rope_theta + rope_scaling (the spelling both transformers 4 and 5 read). */
function ropeJson(c: ModelConfig): Record<string, unknown> {
  const s = c.rope!.scaling;
  let scaling: Record<string, unknown> | null = null;
  if (s.type === 'linear') scaling = { rope_type: 'linear', factor: s.factor };
  else if (s.type === 'dynamic') scaling = { rope_type: 'dynamic', factor: s.factor, original_max_position_embeddings: s.originalMaxPositions };
  else if (s.type === 'llama3')
    scaling = {
      rope_type: 'llama3',
      factor: s.factor,
      low_freq_factor: s.lowFreqFactor,
      high_freq_factor: s.highFreqFactor,
      original_max_position_embeddings: s.originalMaxPositions,
    };
  return { rope_theta: c.rope!.theta, rope_scaling: scaling };
}

function unsupported(file: string, message: string, key: string, expected: string, found: string): never {
  throw new UnsupportedError(message, { file, key, expected, found });
}

/** config.json keys whose values transformers types as floats (written `0.0`, not `0`: jsonFile). */
export const HF_FLOAT_KEYS: ReadonlySet<string> = new Set([
  'rms_norm_eps',
  'layer_norm_epsilon',
  'rope_theta',
  'router_jitter_noise',
  'factor',
  'low_freq_factor',
  'high_freq_factor',
]);

/** A config.json transformers reads as this model (the inverse of formats/hfconfig.ts). */
export function hfConfigJson(c: ModelConfig, file = 'config.json'): Record<string, unknown> {
  const ids = { bos_token_id: c.bosTokenId ?? null, eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds.length ? c.eosTokenIds : null };
  const common = { architectures: [HF_CLASS[c.architecture]], model_type: c.architecture, vocab_size: c.vocabSize, tie_word_embeddings: c.tieEmbeddings, torch_dtype: 'float32' };
  if (c.architecture === 'gpt2') {
    return {
      ...common,
      n_embd: c.hiddenSize,
      n_head: c.numHeads,
      n_layer: c.numLayers,
      n_positions: c.maxPositions,
      n_inner: c.intermediateSize,
      layer_norm_epsilon: c.norm.eps,
      activation_function: HF_ACT[c.activation],
      ...ids,
    };
  }
  if (c.mlpBias && c.architecture !== 'llama') unsupported(file, 'MLP biases exist in HF only for llama', 'mlp_bias', 'false', 'true');
  let bias: Record<string, unknown> = {};
  if (c.architecture === 'qwen2') {
    if (!c.qkvBias || c.oBias) unsupported(file, 'Qwen2 has q/k/v biases and no o bias', 'attention_bias', 'q/k/v biases only', `qkv ${c.qkvBias}, o ${c.oBias}`);
  } else if (c.architecture === 'llama' || c.architecture === 'qwen3') {
    if (c.qkvBias !== c.oBias)
      unsupported(file, `${c.architecture}'s attention_bias covers q, k, v and o together`, 'attention_bias', 'all four or none', `qkv ${c.qkvBias}, o ${c.oBias}`);
    bias = { attention_bias: c.qkvBias, ...(c.architecture === 'llama' ? { mlp_bias: c.mlpBias } : {}) };
  } else if (c.qkvBias || c.oBias) {
    unsupported(file, `${c.architecture} has no attention biases`, 'attention_bias', 'none', 'biases');
  }
  const window: Record<string, unknown> = {};
  if (c.architecture === 'mistral' || c.architecture === 'mixtral') {
    if (c.slidingWindowLayers && !c.slidingWindowLayers.every(Boolean))
      unsupported(file, `${c.architecture} applies its sliding window to every layer`, 'sliding_window', 'every layer or none', 'some layers');
    window.sliding_window = c.slidingWindow ?? null;
  } else if (c.architecture === 'qwen2' || c.architecture === 'qwen3') {
    window.use_sliding_window = c.slidingWindow !== undefined;
    window.sliding_window = c.slidingWindow ?? null;
    window.max_window_layers = c.numLayers;
    window.layer_types = Array.from({ length: c.numLayers }, (_, i) =>
      c.slidingWindow !== undefined && (c.slidingWindowLayers?.[i] ?? true) ? 'sliding_attention' : 'full_attention',
    );
  } else if (c.slidingWindow !== undefined) {
    unsupported(file, 'Llama has no sliding window in transformers', 'sliding_window', 'none', String(c.slidingWindow));
  }
  return {
    ...common,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.norm.eps,
    hidden_act: HF_ACT[c.activation],
    ...ropeJson(c),
    ...bias,
    ...window,
    ...(c.moe ? { num_local_experts: c.moe.numExperts, num_experts_per_tok: c.moe.topK, router_jitter_noise: 0, output_router_logits: false } : {}),
    ...ids,
  };
}

/** generation_config.json: the ids generate() stops at (a llama2.c model's stop token, BOS, among them). */
export function hfGenerationConfig(c: ModelConfig): Record<string, unknown> {
  const stop = c.stopTokenIds ?? c.eosTokenIds;
  return { bos_token_id: c.bosTokenId ?? null, eos_token_id: stop.length === 1 ? stop[0] : stop.length ? stop : null };
}

const ITEM: Record<'F32' | 'F16', number> = { F32: 4, F16: 2 };

/** model.safetensors from HF tensors, one tensor's bytes at a time (header padded with spaces to 8 bytes, as the reference writer does). */
export function safetensorsFile(name: string, tensors: HfTensor[], dtype: 'F32' | 'F16'): ExportFile {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * ITEM[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const text = JSON.stringify(header);
  const json = new TextEncoder().encode(text + ' '.repeat((8 - (new TextEncoder().encode(text).length % 8)) % 8));
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(json, 8);
  return {
    name,
    size: head.length + offset,
    *parts() {
      yield head;
      for (const t of tensors) yield dtype === 'F32' ? encodeF32(t.data) : encodeF16(t.data);
    },
  };
}

/** The tokenizer files an HF-style folder gets: an HF folder's own, or a tokenizer.json written from the model's; why not in `notes`. */
export function tokenizerFiles(src: ExportSource, notes: string[]): ExportFile[] {
  if (src.tokenizerFiles && Object.keys(src.tokenizerFiles).length) return Object.entries(src.tokenizerFiles).map(([name, bytes]) => bytesFile(name, bytes));
  if (!src.tokenizer) {
    notes.push('tokenizer not written: the model came without one');
    return [];
  }
  const tj = spmTokenizerJson(src.tokenizer);
  if (tj.json) return [jsonFile('tokenizer.json', tj.json)];
  notes.push(`tokenizer not written: ${tj.why}`);
  return [];
}

/** An HF folder: model.safetensors (f32 or f16), config.json, generation_config.json and the tokenizer when there is one. */
export function exportSafetensors(src: ExportSource, opts: ExportOptions = {}): ExportResult {
  const dtype = opts.dtype ?? 'f32';
  if (dtype === 'q8_0') throw new UnsupportedError('safetensors holds no Q8_0 blocks', { file: src.name, key: 'dtype', expected: 'f32 or f16', found: dtype });
  const { config, weights } = withRopeStyle(src.loaded.config, mergedWeights(src.loaded.weights, src.lora), 'half');
  const notes: string[] = [];
  const files: ExportFile[] = [
    safetensorsFile('model.safetensors', hfTensors(config, weights), dtype === 'f16' ? 'F16' : 'F32'),
    jsonFile('config.json', { ...hfConfigJson(config, src.name), torch_dtype: dtype === 'f16' ? 'float16' : 'float32' }, HF_FLOAT_KEYS),
    jsonFile('generation_config.json', hfGenerationConfig(config)),
  ];
  files.push(...tokenizerFiles(src, notes));
  if (src.lora) notes.push(`LoRA adapter ${src.lora.name} merged into the weights`);
  if (src.adapterFiles) {
    for (const [name, bytes] of Object.entries(src.adapterFiles)) files.push(bytesFile(name, bytes));
    notes.push('LoRA adapter written unmerged beside the weights (PEFT: PeftModel.from_pretrained(model, folder))');
  }
  return { target: 'folder', files, notes };
}
