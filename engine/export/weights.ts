/**
 * The weights an export writes: the loaded ones, with a LoRA adapter merged in (the same
 * W + scale·B·A as model/lora.ts's mergeLora) and Q/K rows put in the RoPE layout the
 * target format expects (HF and GGUF qwen2/qwen3: 'half'; GGUF llama: 'interleaved').
 * The loaded model is never modified: changed tensors are new arrays.
 */
import { permuteRopeRows } from '../formats/gguf-model';
import type { LoraAdapter } from '../model/lora';
import type { ModelConfig, Tensor, WeightMap } from '../model/types';
import { loraMerged } from '../ops/lora/lora';

/** A copy of the weight map (same arrays) with the adapter's targets merged. */
export function mergedWeights(weights: WeightMap, adapter?: LoraAdapter): WeightMap {
  const out: WeightMap = new Map(weights);
  for (const t of adapter?.targets ?? []) {
    const w = out.get(t.canonical);
    if (!w || w.shape.length !== 2) throw new RangeError(`LoRA target ${t.canonical} is not a linear weight of this model`);
    const [N, K] = w.shape;
    out.set(t.canonical, { shape: w.shape, data: loraMerged(w.data, t.A, t.B, N, K, t.r, t.scale) });
  }
  return out;
}

/**
 * The config and weights with rotary Q/K rows in `style` (a no-op when they already are, or
 * when the model has no RoPE). The permutation is exact: values move, none change.
 */
export function withRopeStyle(config: ModelConfig, weights: WeightMap, style: 'half' | 'interleaved'): { config: ModelConfig; weights: WeightMap } {
  if (!config.rope || config.rope.style === style) return { config, weights };
  const direction = style === 'half' ? 'toHalf' : 'toInterleaved';
  const out: WeightMap = new Map(weights);
  for (const [name, t] of weights) {
    const m = /^model\.layers\.\d+\.self_attn\.([qk])_proj\.(weight|bias)$/.exec(name);
    if (!m) continue;
    const heads = m[1] === 'q' ? config.numHeads : config.numKvHeads;
    out.set(name, permuteRopeRows(t, heads, direction) as Tensor);
  }
  return { config: { ...config, rope: { ...config.rope, style } }, weights: out };
}
