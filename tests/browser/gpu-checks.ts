/**
 * GpuModel against the fixtures, environment-neutral (the browser page fetches files,
 * the Node/H200 runner reads them from disk): every tiny HF model's logits and
 * attentions vs the HF references and the CPU Model, its greedy_24 ids, f16 weights,
 * the LoRA adapter, a row-split vocabulary table, stories260K greedy vs run.c, and
 * stories260K sampled with one seed on the GPU and the CPU.
 */
import type { DecodePipeline } from '../../engine/backend/contract';
import { generateAll, greedy, type GenerateRequest } from '../../engine/generate/generate';
import { loadHfModel, memoryFolder } from '../../engine/formats/hf';
import { loadLlama2cModel } from '../../engine/formats/llama2c-model';
import { memorySource } from '../../engine/formats/source';
import { GpuModel } from '../../engine/gpu/gpu-model';
import { loadLoraAdapter, type LoraAdapter } from '../../engine/model/lora';
import { applyLora } from '../../engine/model/lora';
import { Model } from '../../engine/model/model';
import type { LoadedModel } from '../../engine/model/types';
import { maxAbsDiff } from '../max-abs-diff';
import { CpuBackend } from '../../engine/backend/cpu';
import { processorsFromSpecs } from '../../engine/generate/chain';
import { Rng } from '../../engine/generate/rng';
import { MultinomialSampler } from '../../engine/generate/samplers';
import { checkInside, type InsideCheck } from './inside-checks';

export const TINY = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];

export type Read = (rel: string) => Promise<Uint8Array>; // rel: path under the fixtures folder

interface Enc {
  shape: number[];
  b64: string;
}
interface RefCase {
  input_ids: number[];
  logits: Enc;
  attentions?: Enc;
  greedy_24?: number[];
  greedy_min_margin?: number;
}

export interface ModelCheck {
  model: string;
  /** max |GPU − HF| over every case's logits (f32 weights). */
  logitsVsHf: number;
  /** max |GPU − CPU Model| (f32 weights). */
  logitsVsCpu: number;
  attentionsVsHf: number;
  /** decode-time logits (token by token through the KV cache) vs the prefill logits. */
  decodeVsPrefill: number;
  /** the same with decode attention through the grouped-query kernel (attnDecodeGqa) at every context. */
  gqaDecodeVsPrefill?: number;
  greedyExact: boolean;
  /**
   * The first case's greedy_24 again through other decode pipelines (the default, read-back
   * blocks of 1, 3, 8 and 32 steps, run-ahead 1 to 40), a stop id and an onToken stop
   * mid-block, the next forward after that stop, and a run into the end of the cache.
   */
  pipelineExact: boolean;
  greedy: { want: number[]; got: number[]; margin?: number }[];
  /** f16 weights: max |GPU f16 − CPU f32| over logits, and the logits' max |value|. */
  f16VsCpu: number;
  /** Devices with `shader-f16`: max |f16 read as f16 − f16 unpacked from u32| over logits (the same math). */
  f16NativeVsPacked?: number;
  f16Greedy: boolean[];
  maxLogit: number;
  /** The Inside panel's worker requests on this backend (inside-checks.ts). */
  inside?: InsideCheck;
  extra?: Record<string, number>;
}

export interface StoriesCheck {
  prompt: string;
  want: number[];
  got: number[];
  f16: number[];
}

/** The engine's decode loop on the GPU model (the pipelined path unless the request rules it out). */
function gen(gm: GpuModel, promptIds: number[], maxNewTokens: number, eosIds?: number[], pipeline?: DecodePipeline, more: Partial<GenerateRequest> = {}) {
  return generateAll(gm, { promptIds, maxNewTokens, eosIds, pipeline, ...more });
}

/**
 * The decode loop's pipelined path through several read-back pipelines gives `want`
 * (greedy ids) every time; an EOS id and a stopping criterion land mid-block; after the
 * criterion's stop the cache holds exactly the ids handed out, so the next forward
 * continues the greedy run (also after a stop at the prefill's own id, with decode steps
 * already queued behind it); a run into the end of the cache stops there with the same
 * ids whatever the block, and the same ids as the step-by-step device-argmax path.
 */
async function pipelinesAgree(gm: GpuModel, prompt: number[], want: number[]): Promise<boolean> {
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const p of [{}, { block: 1, ahead: 1 }, { block: 3, ahead: 5 }, { block: 8, ahead: 16 }, { block: 32, ahead: 40 }]) {
    const r = await gen(gm, prompt, want.length, [], p);
    if (!same(r.ids, want) || r.stopReason !== 'length' || r.path !== 'pipelined') return false;
  }
  const sid = want[5];
  const r1 = await gen(gm, prompt, want.length, [sid], { block: 4 });
  if (!same(r1.ids, want.slice(0, want.indexOf(sid))) || r1.stopReason !== 'stop' || r1.stopId !== sid) return false;
  const r2 = await gen(gm, prompt, want.length, [], { block: 8 }, { stopping: [{ name: 'seven', shouldStop: (st) => st.newIds.length >= 7 }] });
  if (!same(r2.ids, want.slice(0, 7)) || r2.stopReason !== 'criterion') return false;
  const next = await gm.forward([want[6]], undefined, { lastOnly: true, topK: 1, logits: false });
  if (next.top!.ids[0] !== want[7]) return false;
  // decode steps are queued behind the prefill before its id is read: a stop at that id, or one id asked
  // for, leaves the cache at the prompt, and the next forward continues from it
  for (const [stopIds, maxNew, n] of [
    [[want[0]], want.length, 0],
    [[], 1, 1],
  ] as const) {
    const r = await gen(gm, prompt, maxNew, [...stopIds]);
    if (!same(r.ids, want.slice(0, n)) || gm.length !== prompt.length) return false;
    const after = await gm.forward([want[0]], undefined, { lastOnly: true, topK: 1, logits: false });
    if (after.top!.ids[0] !== want[1]) return false;
  }
  // running into the end of the cache: as many ids as the CPU path gives (context − prompt + 1), whatever the block
  const full = await gen(gm, prompt, 10_000, []);
  const one = await gen(gm, prompt, 10_000, [], { block: 1, ahead: 1 });
  const stepwise = await gen(gm, prompt, 10_000, [], undefined, { noPipeline: true });
  return (
    full.stopReason === 'context' &&
    full.ids.length === gm.contextLength - prompt.length + 1 &&
    same(full.ids, one.ids) &&
    same(full.ids, stepwise.ids) &&
    stepwise.path === 'device-argmax' &&
    stepwise.stopReason === 'context' &&
    same(full.ids.slice(0, want.length), want)
  );
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function decode(e: Enc): Float32Array {
  const bin = atob(e.b64);
  const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return new Float32Array(u.buffer);
}

async function hfModel(read: Read, name: string): Promise<LoadedModel> {
  const dir = `models/${name}`;
  return loadHfModel(memoryFolder(name, { 'config.json': await read(`${dir}/config.json`), 'model.safetensors': await read(`${dir}/model.safetensors`) }));
}

export async function checkTinyModel(device: GPUDevice, read: Read, name: string): Promise<ModelCheck> {
  const ref = JSON.parse(text(await read(`refs/${name}.shared.json`))) as { cases: RefCase[] };
  const loaded = await hfModel(read, name);
  const V = loaded.config.vocabSize;
  const cpu = new Model(loaded, { contextLength: 64 });
  // tiny-llama also runs with its vocabulary tables split over 3 bindings.
  const split = name === 'tiny-llama' ? { maxBindingBytes: 48 * 1024 } : {};
  // throttleMapWait: the Node CLI's read-back waits (inert in a browser, whose main thread may not block)
  const gm = await GpuModel.create(device, loaded, { contextLength: 64, throttleMapWait: true, ...split });
  const g16 = await GpuModel.create(device, loaded, { contextLength: 64, weights: 'f16' });
  // decode attention through the grouped-query kernel at every context (by default it runs only when the keys are split)
  const gq = await GpuModel.create(device, loaded, { contextLength: 64, tuning: { gqaDecode: 'always' } });
  const g16p = g16.shaderF16 ? await GpuModel.create(device, loaded, { contextLength: 64, weights: 'f16', shaderF16: false }) : undefined;
  const out: ModelCheck = {
    model: name,
    logitsVsHf: 0,
    logitsVsCpu: 0,
    attentionsVsHf: 0,
    decodeVsPrefill: 0,
    greedyExact: true,
    pipelineExact: true,
    greedy: [],
    f16VsCpu: 0,
    f16Greedy: [],
    maxLogit: 0,
  };
  try {
    for (const c of ref.cases) {
      const T = c.input_ids.length;
      gm.reset();
      cpu.reset();
      const r = await gm.forward(c.input_ids, undefined, { capture: { attentions: true } });
      const want = decode(c.logits);
      out.logitsVsHf = Math.max(out.logitsVsHf, maxAbsDiff(r.logits, want));
      const cl = cpu.forward(c.input_ids).logits;
      out.logitsVsCpu = Math.max(out.logitsVsCpu, maxAbsDiff(r.logits, cl));
      for (const v of want) out.maxLogit = Math.max(out.maxLogit, Math.abs(v));
      if (c.attentions) {
        const att = decode(c.attentions); // [L, H, T, T]
        const ours = new Float32Array(att.length);
        r.attentions!.forEach((a, l) => ours.set(a, l * a.length));
        out.attentionsVsHf = Math.max(out.attentionsVsHf, maxAbsDiff(ours, att));
      }
      // token by token through the cache reproduces the prefill rows
      gm.reset();
      for (let t = 0; t < T; t++) {
        const row = (await gm.forward([c.input_ids[t]], undefined, { lastOnly: true })).logits;
        out.decodeVsPrefill = Math.max(out.decodeVsPrefill, maxAbsDiff(row, want.subarray(t * V, (t + 1) * V)));
      }
      gq.reset();
      for (let t = 0; t < T; t++) {
        const row = (await gq.forward([c.input_ids[t]], undefined, { lastOnly: true })).logits;
        out.gqaDecodeVsPrefill = Math.max(out.gqaDecodeVsPrefill ?? 0, maxAbsDiff(row, want.subarray(t * V, (t + 1) * V)));
      }
      g16.reset();
      const r16 = await g16.forward(c.input_ids);
      out.f16VsCpu = Math.max(out.f16VsCpu, maxAbsDiff(r16.logits, cl));
      if (g16p) {
        g16p.reset();
        out.f16NativeVsPacked = Math.max(out.f16NativeVsPacked ?? 0, maxAbsDiff(r16.logits, (await g16p.forward(c.input_ids)).logits));
      }
      if (c.greedy_24) {
        const got = await greedy(gm, c.input_ids, 24);
        const ok = got.every((id, i) => id === c.greedy_24![i]);
        out.greedyExact &&= ok;
        out.greedy.push({ want: c.greedy_24, got, margin: c.greedy_min_margin });
        if (c === ref.cases.find((x) => x.greedy_24)) out.pipelineExact = await pipelinesAgree(gm, c.input_ids, c.greedy_24);
        const got16 = await greedy(g16, c.input_ids, 24);
        out.f16Greedy.push(got16.every((id, i) => id === c.greedy_24![i]));
      }
    }
    out.inside = await checkInside(gm, loaded, read, name);
    if (name === 'tiny-llama') {
      // LoRA (unmerged) against HF's PEFT logits, and top-k on the GPU against the logits
      const lref = JSON.parse(text(await read('refs/tiny-llama.lora.shared.json'))) as { cases: RefCase[] };
      const adapter = await loadLoraAdapter(
        memoryFolder('lora', {
          'adapter_config.json': await read('models/tiny-llama/lora/adapter_config.json'),
          'adapter_model.safetensors': await read('models/tiny-llama/lora/adapter_model.safetensors'),
        }),
        loaded.config,
      );
      gm.setLora(adapter);
      applyLora(cpu, adapter);
      let lora = 0;
      let loraCpu = 0;
      let lora1 = 0;
      for (const c of lref.cases) {
        gm.reset();
        cpu.reset();
        const r = await gm.forward(c.input_ids);
        lora = Math.max(lora, maxAbsDiff(r.logits, decode(c.logits)));
        loraCpu = Math.max(loraCpu, maxAbsDiff(r.logits, cpu.forward(c.input_ids).logits));
        gm.reset();
        let rows: Float32Array[] = [];
        for (const id of c.input_ids) rows.push((await gm.forward([id], undefined, { lastOnly: true })).logits);
        lora1 = Math.max(lora1, maxAbsDiff(concat(rows), decode(c.logits)));
        rows = [];
      }
      gm.setLora(undefined);
      gm.reset();
      const r = await gm.forward(ref.cases[0].input_ids, undefined, { lastOnly: true, topK: 40 });
      const last = r.logits;
      const order = [...last.keys()].sort((a, b) => (last[b] === last[a] ? a - b : last[b] - last[a])).slice(0, 40);
      const topOk = order.every((id, i) => r.top!.ids[i] === id && r.top!.values[i] === last[id]) ? 1 : 0;
      // a LoRA on gate and up (none in the fixture adapter): the GPU folds the MLP norm
      // weight into their A as into gate|up, so compare with the CPU path
      const cf = loaded.config;
      let seed = 7;
      const rnd = (n: number, s: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * s);
      const r4 = 4;
      const synth: LoraAdapter = {
        name: 'synthetic gate/up',
        r: r4,
        alpha: 8,
        useRslora: false,
        targetModules: ['gate_proj', 'up_proj'],
        files: [],
        targets: [0, cf.numLayers - 1].flatMap((l) =>
          ['gate', 'up'].map((n) => ({
            canonical: `model.layers.${l}.mlp.${n}_proj.weight`,
            A: rnd(r4 * cf.hiddenSize, 0.5),
            B: rnd(cf.intermediateSize * r4, 0.5),
            r: r4,
            scale: 2,
          })),
        ),
      };
      const cpu2 = new Model(loaded, { contextLength: 64 });
      applyLora(cpu2, synth);
      gm.setLora(synth);
      gm.reset();
      const ids = ref.cases[0].input_ids;
      const rg = await gm.forward(ids);
      const guVsCpu = maxAbsDiff(rg.logits, cpu2.forward(ids).logits);
      gm.setLora(undefined);
      gm.reset();
      out.extra = { loraVsHf: lora, loraVsCpu: loraCpu, loraDecodeVsHf: lora1, top40Exact: topOk, loraGateUpVsCpu: guVsCpu };
    }
  } finally {
    gm.destroy();
    gq.destroy();
    g16?.destroy();
    g16p?.destroy();
  }
  return out;
}

function concat(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
  let o = 0;
  for (const r of rows) {
    out.set(r, o);
    o += r.length;
  }
  return out;
}

/** stories260K (.bin) greedy on the GPU, run.c's rule: `steps` counts prompt positions, stop at BOS. */
export async function checkStories(device: GPUDevice, read: Read, opts: { f16?: boolean } = {}): Promise<StoriesCheck[]> {
  const ref = JSON.parse(text(await read('refs/stories260K.greedy.shared.json'))) as { cases: { prompt: string; steps: number; prompt_ids: number[]; generated_ids: number[] }[] };
  const loaded = await loadLlama2cModel(memorySource(await read('llama2c/stories260K.bin'), 'stories260K.bin'));
  const ctx = Math.max(...ref.cases.map((c) => c.steps)) + 1;
  const gm = await GpuModel.create(device, loaded, { contextLength: ctx, throttleMapWait: true });
  const g16 = opts.f16 ? await GpuModel.create(device, loaded, { contextLength: ctx, weights: 'f16' }) : undefined;
  const out: StoriesCheck[] = [];
  try {
    for (const c of ref.cases) {
      const n = c.steps - c.prompt_ids.length + 1;
      const got = (await gen(gm, c.prompt_ids, n)).ids;
      const f16 = g16 ? (await gen(g16, c.prompt_ids, n)).ids : [];
      out.push({ prompt: c.prompt, want: c.generated_ids, got, f16 });
    }
  } finally {
    gm.destroy();
    g16?.destroy();
  }
  return out;
}

/**
 * Same seed, same ids: stories260K sampled at temperature 0.8, top-p 0.9 for `n` tokens
 * on the GPU model and on the CPU backend (the sampler runs on the host from each one's logits).
 */
export async function checkSameSeed(device: GPUDevice, read: Read, n = 200, seed = 7): Promise<{ gpu: number[]; cpu: number[] }> {
  const loaded = await loadLlama2cModel(memorySource(await read('llama2c/stories260K.bin'), 'stories260K.bin'));
  const prompt = [1, 403, 407, 261, 378];
  const req = (): GenerateRequest => ({
    promptIds: prompt,
    maxNewTokens: n,
    eosIds: [],
    processors: processorsFromSpecs(
      [
        { name: 'temperature', value: 0.8 },
        { name: 'top_p', value: 0.9 },
      ],
      { vocabSize: loaded.config.vocabSize, eosIds: [], promptLength: prompt.length },
    ),
    sampler: new MultinomialSampler(new Rng(seed)),
  });
  const gm = await GpuModel.create(device, loaded, { contextLength: prompt.length + n });
  try {
    const gpu = (await generateAll(gm, req())).ids;
    const cpu = (await generateAll(new CpuBackend(loaded, { contextLength: prompt.length + n }), req())).ids;
    return { gpu, cpu };
  } finally {
    gm.destroy();
  }
}
