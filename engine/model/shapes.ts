/**
 * The tensors a ModelConfig needs, under their canonical names (see types.ts),
 * with their shapes. Loaders check what they read against this, and the model
 * reads its weights by these names.
 */
import { FormatError } from '../errors';
import type { ModelConfig, WeightMap } from './types';

/**
 * Refuses a config that declares more layers (or experts) than the weights can hold, before
 * anything is built per layer: every layer has at least one tensor, every expert of every
 * layer at least one. Without it a small config.json declaring 10⁹ layers would allocate
 * a shape list per declared layer before any comparison with the file.
 */
export function checkDeclaredCounts(c: ModelConfig, tensorsInFile: number, configFile: string): void {
  const layersKey = c.architecture === 'gpt2' ? 'n_layer' : 'num_hidden_layers';
  if (c.numLayers > tensorsInFile)
    throw new FormatError(`config.json declares ${c.numLayers.toLocaleString('en-US')} layers; the weights hold ${tensorsInFile.toLocaleString('en-US')} tensors`, {
      file: configFile,
      key: layersKey,
      expected: `at most ${tensorsInFile} (one tensor or more per layer)`,
      found: String(c.numLayers),
    });
  if (c.moe && c.numLayers * c.moe.numExperts > tensorsInFile)
    throw new FormatError(
      `config.json declares ${c.moe.numExperts.toLocaleString('en-US')} experts in each of ${c.numLayers} layers; the weights hold ${tensorsInFile.toLocaleString('en-US')} tensors`,
      { file: configFile, key: 'num_local_experts', expected: `at most ${Math.floor(tensorsInFile / c.numLayers)}`, found: String(c.moe.numExperts) },
    );
}

/** canonical name → shape, in a stable order (embeddings, layers, final norm, head). */
export function expectedShapes(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  const qOut = c.numHeads * c.headDim;
  const kvOut = c.numKvHeads * c.headDim;
  const layerNorm = c.norm.kind === 'layer';
  m.set('model.embed_tokens.weight', [c.vocabSize, D]);
  if (c.positions === 'learned') m.set('model.embed_positions.weight', [c.maxPositions, D]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [D]);
    if (layerNorm) m.set(`${p}input_layernorm.bias`, [D]);
    m.set(`${p}self_attn.q_proj.weight`, [qOut, D]);
    m.set(`${p}self_attn.k_proj.weight`, [kvOut, D]);
    m.set(`${p}self_attn.v_proj.weight`, [kvOut, D]);
    if (c.qkvBias) {
      m.set(`${p}self_attn.q_proj.bias`, [qOut]);
      m.set(`${p}self_attn.k_proj.bias`, [kvOut]);
      m.set(`${p}self_attn.v_proj.bias`, [kvOut]);
    }
    m.set(`${p}self_attn.o_proj.weight`, [D, qOut]);
    if (c.oBias) m.set(`${p}self_attn.o_proj.bias`, [D]);
    if (c.qkNorm) {
      m.set(`${p}self_attn.q_norm.weight`, [c.headDim]);
      m.set(`${p}self_attn.k_norm.weight`, [c.headDim]);
    }
    m.set(`${p}post_attention_layernorm.weight`, [D]);
    if (layerNorm) m.set(`${p}post_attention_layernorm.bias`, [D]);
    if (c.moe) {
      m.set(`${p}mlp.router.weight`, [c.moe.numExperts, D]);
      for (let e = 0; e < c.moe.numExperts; e++) {
        m.set(`${p}mlp.experts.${e}.gate_proj.weight`, [I, D]);
        m.set(`${p}mlp.experts.${e}.up_proj.weight`, [I, D]);
        m.set(`${p}mlp.experts.${e}.down_proj.weight`, [D, I]);
      }
    } else {
      if (c.mlp === 'gated') m.set(`${p}mlp.gate_proj.weight`, [I, D]);
      m.set(`${p}mlp.up_proj.weight`, [I, D]);
      m.set(`${p}mlp.down_proj.weight`, [D, I]);
      if (c.mlpBias) {
        if (c.mlp === 'gated') m.set(`${p}mlp.gate_proj.bias`, [I]);
        m.set(`${p}mlp.up_proj.bias`, [I]);
        m.set(`${p}mlp.down_proj.bias`, [D]);
      }
    }
  }
  m.set('model.norm.weight', [D]);
  if (layerNorm) m.set('model.norm.bias', [D]);
  if (!c.tieEmbeddings) m.set('lm_head.weight', [c.vocabSize, D]);
  return m;
}

export function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Checks that a weight map holds every tensor the config needs, with the right
 * shape and data length. Throws FormatError naming the tensor and the expected shape.
 */
/** Every tensor the config needs is there with its shape (no data read: lazy tensors too). */
export function validateShapes(c: ModelConfig, weights: ReadonlyMap<string, { shape: number[] }>, file: string): void {
  for (const [name, shape] of expectedShapes(c)) {
    const t = weights.get(name);
    if (!t) throw new FormatError('tensor is missing', { file, key: name, expected: shapeText(shape) });
    if (!sameShape(t.shape, shape)) throw new FormatError('tensor shape disagrees with the config', { file, key: name, expected: shapeText(shape), found: shapeText(t.shape) });
  }
}

export function validateWeights(c: ModelConfig, weights: WeightMap, file: string): void {
  for (const [name, shape] of expectedShapes(c)) {
    const t = weights.get(name);
    if (!t) throw new FormatError('tensor is missing', { file, key: name, expected: shapeText(shape) });
    if (!sameShape(t.shape, shape)) throw new FormatError('tensor shape disagrees with the config', { file, key: name, expected: shapeText(shape), found: shapeText(t.shape) });
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new FormatError('tensor data length disagrees with its shape', { file, key: name, expected: `${n} values`, found: `${t.data.length}` });
  }
}
