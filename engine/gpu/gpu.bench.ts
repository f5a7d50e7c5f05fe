/**
 * WebGPU engine vs the CPU path (and PyTorch on CUDA when asked): prefill tokens/s
 * (BENCH_PREFILL tokens, default 512) and greedy decode tokens/s at contexts
 * BENCH_CONTEXTS (default 128,2048), for stories260K and random-weight models with real
 * shapes (SmolLM2-135M, Qwen3-0.6B, Llama-3.2-1B), weights f32 and f16 on the GPU.
 * Prints the roofline fraction: weight bytes read per decode step / BENCH_BW (default
 * 4.2e12 B/s, the H200's measured WGSL streaming bandwidth).
 *
 *   npm run bench -- gpu                        small settings (fits SwiftShader on 2 cores)
 *   BENCH_MODELS=llama-3.2-1b BENCH_TORCH=1 node dist/gpu-bench.js    (the H200 run)
 *
 * Env: BENCH_MODELS (stories260K,smollm2-135m,qwen3-0.6b,llama-3.2-1b | all), BENCH_DTYPES
 * (f32,f16), BENCH_PREFILL, BENCH_CONTEXTS, BENCH_DECODE (timed steps), BENCH_CPU (1/0),
 * BENCH_CPU_PREFILL / BENCH_CPU_DECODE (CPU token counts), BENCH_TORCH (1: run
 * engine/gpu/torch_peer.py with python3), BENCH_JSON (file for the figures).
 * Without a GPU: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (set here
 * when nothing else is).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadLlama2cModel } from '../formats/llama2c-model';
import { memorySource } from '../formats/source';
import { Model } from '../model/model';
import { randomFill } from '../model/random';
import type { LoadedModel, ModelConfig, WeightMap } from '../model/types';
import { GpuModel } from './gpu-model';
import type { WeightDtype } from './kernel';
import { openNodeGpu } from './node-gpu';

if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync('/usr/lib/chromium/vk_swiftshader_icd.json')) {
  process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
}

const env = (k: string, d: string) => process.env[k] ?? d;
const small = !process.env.VK_DRIVER_FILES; // SwiftShader: keep it small
const PREFILL = Number(env('BENCH_PREFILL', small ? '64' : '512'));
const CONTEXTS = env('BENCH_CONTEXTS', small ? '32,128' : '128,2048').split(',').map(Number);
const DECODE = Number(env('BENCH_DECODE', small ? '16' : '128'));
const DTYPES = env('BENCH_DTYPES', 'f32,f16').split(',') as WeightDtype[];
const CPU = env('BENCH_CPU', '1') === '1';
const CPU_PREFILL = Number(env('BENCH_CPU_PREFILL', '32'));
const CPU_DECODE = Number(env('BENCH_CPU_DECODE', '8'));
const BW = Number(env('BENCH_BW', '4.2e12'));
const root = process.cwd(); // the repository root (npm run bench and the device run start there)

/** HF config.json values of the real models (shapes only; weights are random). */
const SHAPES: Record<string, Record<string, unknown>> = {
  'smollm2-135m': { model_type: 'llama', vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64, max_position_embeddings: 8192, rope_theta: 100000, rms_norm_eps: 1e-5, tie_word_embeddings: true },
  'qwen3-0.6b': { model_type: 'qwen3', vocab_size: 151936, hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, max_position_embeddings: 40960, rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true },
  'llama-3.2-1b': { model_type: 'llama', vocab_size: 128256, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, max_position_embeddings: 131072, rope_theta: 500000, rms_norm_eps: 1e-5, tie_word_embeddings: true, rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
};

function randomModel(name: string): LoadedModel {
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
    vocabSize: V, hiddenSize: D, intermediateSize: I, numLayers: h.num_hidden_layers, numHeads: H, numKvHeads: Kv, headDim: hd,
    maxPositions: h.max_position_embeddings, norm: { kind: 'rms', eps: h.rms_norm_eps }, positions: 'rope',
    rope: { theta: h.rope_theta, style: 'half', scaling: rs ? { type: 'llama3', factor: rs.factor, lowFreqFactor: rs.low_freq_factor, highFreqFactor: rs.high_freq_factor, originalMaxPositions: rs.original_max_position_embeddings } : { type: 'default' } },
    mlp: 'gated', activation: 'silu', qkvBias: false, oBias: false, mlpBias: false, qkNorm: qwen3, tieEmbeddings: true, eosTokenIds: [],
  };
  const weights: WeightMap = new Map();
  let seed = 1;
  const t = (n: string, shape: number[], scale: number) => weights.set(n, { shape, data: randomFill(shape.reduce((a, b) => a * b, 1), seed++ * 7919, scale) });
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

async function stories(): Promise<LoadedModel> {
  const p = [path.resolve(root, '../shared/fixtures/llama2c/stories260K.bin'), path.resolve(root, 'models/stories260K.bin')].find(existsSync);
  if (!p) throw new Error('stories260K.bin not found');
  return loadLlama2cModel(memorySource(new Uint8Array(readFileSync(p)), 'stories260K.bin'));
}

const ids = (n: number, V: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % V);
const fmt = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(d));

interface Row {
  model: string;
  dtype: string;
  weightMB: number;
  roofline: number;
  gpuPrefill: number;
  gpuDecode: Record<number, number>;
  /** host ms to encode + submit one pipelined decode step, and dispatches per step */
  encodeMs?: number;
  dispatches?: number;
  cpuPrefill?: number;
  cpuDecode?: number;
  torch?: Record<string, number>;
}

async function benchGpu(device: GPUDevice, loaded: LoadedModel, name: string, dtype: WeightDtype): Promise<Row> {
  const V = loaded.config.vocabSize;
  const ctx = Math.min(loaded.config.maxPositions, Math.max(PREFILL, ...CONTEXTS) + DECODE + 2);
  const gm = await GpuModel.create(device, loaded, { contextLength: ctx, weights: dtype });
  try {
    const P = Math.min(PREFILL, ctx - 1);
    await gm.forward(ids(P, V), undefined, { lastOnly: true, topK: 1, logits: false }); // warm-up (pipelines, capacity)
    gm.reset();
    let t = performance.now();
    const reps = small ? 1 : 3;
    for (let r = 0; r < reps; r++) {
      gm.reset();
      await gm.forward(ids(P, V), undefined, { lastOnly: true, topK: 1, logits: false });
    }
    const gpuPrefill = (reps * P) / ((performance.now() - t) / 1000);
    const gpuDecode: Record<number, number> = {};
    for (const c of CONTEXTS) {
      const prompt = ids(Math.min(c, ctx - DECODE - 1), V);
      await gm.generate(prompt, 4, { stopIds: [] }); // warm-up
      let t0 = 0;
      const r = await gm.generate(prompt, DECODE + 1, { stopIds: [], onToken: (_id, i) => void (i === 0 && (t0 = performance.now())) });
      gpuDecode[c] = (r.ids.length - 1) / ((performance.now() - t0) / 1000);
    }
    const encodeMs = gm.stats.encodeMs / gm.stats.steps;
    const dispatches = gm.stats.dispatchesPerStep;
    const bytes = gm.decodeWeightBytes;
    return { model: name, dtype, weightMB: bytes / 1e6, roofline: BW / bytes, gpuPrefill, gpuDecode, encodeMs, dispatches };
  } finally {
    gm.destroy();
  }
}

function benchCpu(loaded: LoadedModel): { prefill: number; decode: number } {
  const V = loaded.config.vocabSize;
  const m = new Model(loaded, { contextLength: CPU_PREFILL + CPU_DECODE + 2 });
  let t = performance.now();
  m.forward(ids(CPU_PREFILL, V), undefined, { lastOnly: true });
  const prefill = CPU_PREFILL / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < CPU_DECODE; i++) m.forward([i + 3], undefined, { lastOnly: true });
  return { prefill, decode: CPU_DECODE / ((performance.now() - t) / 1000) };
}

async function main() {
  const g = await openNodeGpu();
  if (!('device' in g)) throw new Error(`no WebGPU device: ${g.env.reason}`);
  const a = g.env.adapter!;
  console.log(`adapter: ${a.vendor} ${a.architecture} ${a.description}; features: ${g.env.features?.join(',')}`);
  let names = env('BENCH_MODELS', small ? 'stories260K' : 'all').split(',');
  if (names[0] === 'all') names = ['stories260K', ...Object.keys(SHAPES)];
  console.log(`prefill ${PREFILL} tokens; decode ${DECODE} greedy steps at contexts ${CONTEXTS.join(', ')}; roofline = weight bytes per step / ${BW / 1e12} TB/s`);
  const rows: Row[] = [];
  for (const name of names) {
    const loaded = name === 'stories260K' ? await stories() : randomModel(name);
    const cpu = CPU ? benchCpu(loaded) : undefined;
    for (const dtype of DTYPES) {
      const r = await benchGpu(g.device, loaded, name, dtype);
      if (cpu) {
        r.cpuPrefill = cpu.prefill;
        r.cpuDecode = cpu.decode;
      }
      rows.push(r);
      console.log(JSON.stringify(r));
    }
  }
  if (env('BENCH_TORCH', '0') === '1') {
    const job = { models: names.filter((n) => SHAPES[n]).map((n) => ({ name: n, hf: SHAPES[n] })), dtypes: DTYPES, prefill: PREFILL, contexts: CONTEXTS, decode: DECODE };
    try {
      const out = execFileSync('python3', [path.join(root, 'engine/gpu/torch_peer.py'), JSON.stringify(job)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
      for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
        const t = JSON.parse(line);
        const r = rows.find((x) => x.model === t.model && x.dtype === t.dtype);
        if (r) r.torch = t;
        console.log('torch', line);
      }
    } catch (e) {
      console.log(`PyTorch peer failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  console.log('\nmodel            dtype  weights/step  prefill tok/s (GPU | CPU | torch)   ' + CONTEXTS.map((c) => `decode@${c} tok/s (GPU | CPU | torch) %roofline`).join('   '));
  for (const r of rows) {
    const tp = r.torch?.prefill_tps;
    const dec = CONTEXTS.map((c) => `${fmt(r.gpuDecode[c]).padStart(7)} | ${fmt(r.cpuDecode, 2).padStart(6)} | ${fmt(r.torch?.[`decode_tps_${c}`]).padStart(6)}  ${((100 * r.gpuDecode[c]) / r.roofline).toFixed(1).padStart(5)}%`).join('   ');
    console.log(`${r.model.padEnd(16)} ${r.dtype.padEnd(5)} ${(r.weightMB.toFixed(1) + ' MB').padStart(11)}   ${fmt(r.gpuPrefill).padStart(8)} | ${fmt(r.cpuPrefill, 2).padStart(7)} | ${fmt(tp).padStart(7)}   ${dec}`);
  }
  console.log(`CPU: the reference Model (f32, one JS thread), prefill of ${CPU_PREFILL} tokens and ${CPU_DECODE} decode steps at a short context.`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ adapter: g.env.adapter, features: g.env.features, rows, settings: { PREFILL, CONTEXTS, DECODE, CPU_PREFILL, CPU_DECODE, BW } }, null, 1));
  g.device.destroy();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
