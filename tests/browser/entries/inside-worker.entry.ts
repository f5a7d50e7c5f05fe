/**
 * The Inside bench's worker: a random-weight Llama-shaped model on the CPU backend behind
 * the Inside panel's worker handler (engine/worker/inside.ts), answering the same requests
 * the panel sends.
 */
/// <reference lib="webworker" />
import { CpuBackend } from '../../../engine/backend/cpu';
import { lensWeights } from '../../../engine/model/logit-lens';
import { randomFill } from '../../../engine/model/random';
import type { ModelConfig, WeightMap } from '../../../engine/model/types';
import { InsideSession } from '../../../engine/worker/inside';

declare const self: DedicatedWorkerGlobalScope;

/** A small Llama shape (stories260K-like widths) with a 4,096-token context. */
function randomModel(ctx: number): { config: ModelConfig; weights: WeightMap } {
  const [V, D, I, L, H, Kv, hd] = [512, 64, 172, 2, 4, 2, 16];
  const config: ModelConfig = {
    architecture: 'llama',
    vocabSize: V,
    hiddenSize: D,
    intermediateSize: I,
    numLayers: L,
    numHeads: H,
    numKvHeads: Kv,
    headDim: hd,
    maxPositions: ctx,
    norm: { kind: 'rms', eps: 1e-5 },
    positions: 'rope',
    rope: { theta: 10000, style: 'half', scaling: { type: 'default' } },
    mlp: 'gated',
    activation: 'silu',
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: false,
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
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`;
    ones(`${p}input_layernorm.weight`, D);
    ones(`${p}post_attention_layernorm.weight`, D);
    t(`${p}self_attn.q_proj.weight`, [H * hd, D], 3 / Math.sqrt(D));
    t(`${p}self_attn.k_proj.weight`, [Kv * hd, D], 3 / Math.sqrt(D));
    t(`${p}self_attn.v_proj.weight`, [Kv * hd, D], 1 / Math.sqrt(D));
    t(`${p}self_attn.o_proj.weight`, [D, H * hd], 1 / Math.sqrt(H * hd));
    t(`${p}mlp.gate_proj.weight`, [I, D], 1 / Math.sqrt(D));
    t(`${p}mlp.up_proj.weight`, [I, D], 1 / Math.sqrt(D));
    t(`${p}mlp.down_proj.weight`, [D, I], 1 / Math.sqrt(I));
  }
  ones('model.norm.weight', D);
  return { config, weights };
}

const loaded = randomModel(4096);
const backend = new CpuBackend(loaded, { contextLength: 4096 });
const lens = lensWeights(loaded.config, loaded.weights);
const session = new InsideSession(
  (m) => self.postMessage(m),
  () => ({ backend, lens }),
);
self.onmessage = (ev: MessageEvent<{ type: string }>) => session.handle(ev.data);
