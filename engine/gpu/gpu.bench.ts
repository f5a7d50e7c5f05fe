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
 * (f32,f16), BENCH_PREFILL, BENCH_CONTEXTS, BENCH_DECODE (timed steps), BENCH_REPS (timed decode
 * runs per context, the median printed: 5 on a GPU, 1 on SwiftShader), BENCH_CPU (1/0),
 * BENCH_CPU_PREFILL / BENCH_CPU_DECODE (CPU token counts), BENCH_TORCH (1: run
 * engine/gpu/torch_peer.py with python3), BENCH_JSON (file for the figures),
 * BENCH_SWEEP (1: time the decode matvec's launch shapes on each model's weight shapes
 * first, and add a 'tuned' variant using the fastest), BENCH_VARIANTS (extra decode-only
 * runs: tuned, split64 = split attention from 64 keys, splitwg256 = about 256 split-attention
 * workgroups instead of 512, gqaoff / gqaalways = the grouped-query decode attention kernel never /
 * at every context (default: split contexts), gqawg<N> = its split workgroups, single<N> = one attention split up to N keys (≤ 1024),
 * headnorm = final norm fused into the head,
 * gate|up=256x128r4+qkv=… = launch shapes forced per matrix, block<K> / ahead<N> =
 * the pipelined decode's read-back block and steps run ahead, packed = f16 weights unpacked from u32 even where shader-f16 is present,
 * kv8 = the int8 KV cache),
 * BENCH_THROTTLE (1, the default, as in the CLI / 0: GpuModelOptions.throttleMapWait), BENCH_DIAG (N: decode
 * diagnosis runs, below; BENCH_DIAG_STAMPS=1 adds GPU timestamps at every decode step),
 * BENCH_PROFILE (1: GPU time of each kernel of one decode step at each context, each
 * kind run back to back, then host encode + submit time per step and GPU time per step
 * with 32 steps chained in one submission; variants are profiled at each context).
 * Node's Dawn is opened with `vulkan_enable_f16_on_nvidia` (engine/gpu/gpu-node.ts), so
 * f16 weights are read with shader-f16 on NVIDIA too ('f16h' in the tables).
 * Without a GPU: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (set here
 * when nothing else is). BENCH_CLI (a GGUF; default the stories260K fixture): the CLI's generate
 * --backend webgpu on it, beside the bench's pipelined decode (cliBeside below).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadLlama2cModel } from '../formats/llama2c-model';
import { memorySource } from '../formats/source';
import { Model } from '../model/model';
import type { LoadedModel, ModelConfig } from '../model/types';
import { randomModel, SHAPES } from './bench-models';
import { GpuModel, type GpuTuning } from './gpu-model';
import type { DecodePipeline } from '../backend/contract';
import { generateAll } from '../generate/generate';
import { createUniform, Dispatch, grid2, PipelineCache } from './kernel';
import { M_FROM_T, packParams, STEP_FIELDS } from '../wgsl/kernel-source';
import { rowStrideWords, type WeightDtype } from '../wgsl/weight-read';
import { matvecRows, matvecShape, matvecWgsl, type MatvecShape } from '../ops/matmul/matmul.wgsl';
import { openNodeGpu } from './gpu-node';
import { timeDispatches } from './profiling';
import type { GpuKvDtype } from '../ops/kvquant/kvquant.wgsl';

if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync('/usr/lib/chromium/vk_swiftshader_icd.json')) {
  process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
}

const env = (k: string, d: string) => process.env[k] ?? d;
const small = !process.env.VK_DRIVER_FILES; // SwiftShader: keep it small
const PREFILL = Number(env('BENCH_PREFILL', small ? '64' : '512'));
const CONTEXTS = env('BENCH_CONTEXTS', small ? '32,128' : '128,2048')
  .split(',')
  .map(Number);
const DECODE = Number(env('BENCH_DECODE', small ? '16' : '128'));
const REPS = Number(env('BENCH_REPS', small ? '1' : '5'));
const DTYPES = env('BENCH_DTYPES', 'f32,f16').split(',') as WeightDtype[];
const CPU = env('BENCH_CPU', '1') === '1';
const CPU_PREFILL = Number(env('BENCH_CPU_PREFILL', '32'));
const CPU_DECODE = Number(env('BENCH_CPU_DECODE', '8'));
const BW = Number(env('BENCH_BW', '4.2e12'));
const THROTTLE = env('BENCH_THROTTLE', '1') === '1'; // GpuModelOptions.throttleMapWait, on as in the CLI
const root = process.cwd(); // the repository root (npm run bench and the device run start there)

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
  /** how the kernels read the weights: f32, f16 (packed in u32) or f16h (shader-f16) */
  read?: string;
  weightMB: number;
  roofline: number;
  gpuPrefill: number;
  /** median over REPS runs */
  gpuDecode: Record<number, number>;
  decodeRuns?: Record<number, number[]>;
  /** host ms to encode + submit one pipelined decode step, and dispatches per step */
  encodeMs?: number;
  dispatches?: number;
  cpuPrefill?: number;
  cpuDecode?: number;
  torch?: Record<string, number>;
}

/** The decode matvecs of a model: [label, N, K]. */
function matvecsOf(c: ModelConfig): [string, number, number][] {
  const qkv = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
  return [
    ['qkv', qkv, c.hiddenSize],
    ['o', c.hiddenSize, c.numHeads * c.headDim],
    ['gate|up', 2 * c.intermediateSize, c.hiddenSize],
    ['down', c.hiddenSize, c.intermediateSize],
    ['head', c.vocabSize, c.hiddenSize],
  ];
}

const fmtShape = (m: MatvecShape) => `${m.WG}x${m.TPR}r${m.R}`;

/** Times the plain decode matvec for each launch shape on [N, K] weights (copies rotated so L2 does not hold them). */
async function sweepMatvec(device: GPUDevice, c: ModelConfig, dtype: WeightDtype, sg: boolean, sgMax: number): Promise<Map<string, MatvecShape>> {
  const best = new Map<string, MatvecShape>();
  const cache = new PipelineCache(device);
  const step = createUniform(device, packParams(STEP_FIELDS, { T: 1, start: 0, Tk: 1, headFirst: 0, headRows: 1, nSplit: 1, splitLen: 1, pad0: 0 }));
  const shapes: MatvecShape[] = [];
  for (const WG of [128, 256]) for (const TPR of [16, 32, 64, 128, 256]) for (const R of [1, 2, 4, 8]) if (TPR <= WG) shapes.push({ WG, TPR, R });
  for (const [label, N, K] of matvecsOf(c)) {
    const stride = rowStrideWords(K, dtype);
    const bytes = N * stride * 4;
    const copies = Math.max(2, Math.min(8, Math.ceil(4e8 / bytes)));
    const ws = Array.from({ length: copies }, () => device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE }));
    const x = device.createBuffer({ size: K * 4, usage: GPUBufferUsage.STORAGE });
    const y = device.createBuffer({ size: N * 4, usage: GPUBufferUsage.STORAGE });
    const small = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    const line: string[] = [];
    let top = { us: Infinity, shape: matvecShape(K, dtype) };
    for (const shape of shapes) {
      const groups = Math.ceil(N / matvecRows(K, dtype, shape));
      const [gx, gy] = grid2(groups);
      const k = matvecWgsl(dtype, sg, K, { subgroupMaxSize: sgMax, shape });
      const values = {
        mSel: M_FROM_T,
        mFixed: 0,
        N,
        K,
        rowStride: stride,
        wOffset: 0,
        xOffset: 0,
        xRowStride: K,
        yOffset: 0,
        yRowStride: N,
        hasBias: 0,
        accumulate: 0,
        alpha: 1,
        expertStride: 0,
        nGroupsX: gx,
        eps: 0,
        xHead: 0,
        half: 0,
        H: 0,
        Kv: 0,
        hd: 0,
        ropeStyle: 0,
      };
      const ds = ws.map((w) => new Dispatch(device, cache, k, step, values, { x, w, b: small, y, ids: small }));
      const us = await timeDispatches(
        device,
        ds.map((d) => ({ d, grid: [gx, gy, 1] as [number, number, number] })),
        Math.max(2, Math.ceil(160 / copies)),
      );
      for (const d of ds) d.destroy();
      line.push(`${fmtShape(shape)} ${us.toFixed(1)}µs ${(bytes / us / 1e3).toFixed(0)}GB/s`);
      if (us < top.us) top = { us, shape };
    }
    for (const b of [...ws, x, y, small]) b.destroy();
    console.log(
      `sweep ${dtype} ${label} [${N}, ${K}] ${(bytes / 1e6).toFixed(1)} MB: best ${fmtShape(top.shape)} ${top.us.toFixed(1)} µs (${(bytes / top.us / 1e3).toFixed(0)} GB/s), default ${fmtShape(matvecShape(K, dtype))}\n   ${line.join(' | ')}`,
    );
    best.set(`${N}x${K}`, top.shape);
  }
  step.destroy();
  return best;
}

/** GPU time of each kernel of one decode step (each kind's instances back to back, `reps` times). */
async function profileDecode(device: GPUDevice, gm: GpuModel, slot: number): Promise<void> {
  const trace = gm.traceDecodeStep(slot);
  const kinds = new Map<string, { d: Dispatch; grid: [number, number, number] }[]>();
  for (const t of trace) {
    const key = `${t.d.kernel.label} ${t.d.note} (${t.grid.join(',')})`;
    kinds.set(key, [...(kinds.get(key) ?? []), t]);
  }
  const rows: [string, number, number][] = [];
  for (const [key, list] of kinds) {
    rows.push([key, list.length, await timeDispatches(device, list, Math.max(4, Math.ceil(128 / list.length)))]);
  }
  let total = 0;
  for (const [key, n, us] of rows) {
    total += n * us;
    console.log(`  profile ${key.padEnd(60)} ×${String(n).padStart(3)}  ${us.toFixed(2).padStart(7)} µs each  ${(n * us).toFixed(0).padStart(5)} µs/step`);
  }
  console.log(`  profile total ${total.toFixed(0)} µs per step (${trace.length} dispatches) → ${(1e6 / total).toFixed(0)} tok/s if nothing else cost`);
}

/** Per-step GPU times from stepTimestamps: the median forward pass and gap before the next step, µs, and their sums. */
async function stepTimes(device: GPUDevice, st: { set: GPUQuerySet; n: number }): Promise<string> {
  const n = st.n;
  if (n < 2) return '';
  const res = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const rd = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.resolveQuerySet(st.set, 0, 2 * n, res, 0);
  enc.copyBufferToBuffer(res, 0, rd, 0, 16 * n);
  device.queue.submit([enc.finish()]);
  await rd.mapAsync(GPUMapMode.READ);
  const t = new BigInt64Array(rd.getMappedRange().slice(0));
  rd.destroy();
  res.destroy();
  const pass: number[] = [];
  const gap: number[] = [];
  for (let i = 0; i < n; i++) {
    pass.push(Number(t[2 * i + 1] - t[2 * i]) / 1000);
    if (i + 1 < n) gap.push(Number(t[2 * i + 2] - t[2 * i + 1]) / 1000);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const big = gap.filter((g) => g > 100);
  return `GPU steps: first to last ${(Number(t[2 * n - 1] - t[0]) / 1e6).toFixed(1)} ms, pass median ${med(pass).toFixed(0)} µs (sum ${(sum(pass) / 1000).toFixed(1)} ms), gap median ${med(gap).toFixed(0)} µs (sum ${(sum(gap) / 1000).toFixed(1)} ms; ${big.length} over 100 µs: ${(sum(big) / 1000).toFixed(1)} ms); `;
}

/**
 * Greedy decode tokens/s at each context: REPS timed runs of DECODE steps after a
 * warm-up; the median, and every run (single runs on a shared GPU machine spread widely).
 */
async function timeDecode(gm: GpuModel, V: number, ctx: number, pipe: DecodePipeline = {}): Promise<{ median: Record<number, number>; runs: Record<number, number[]> }> {
  const median: Record<number, number> = {};
  const runs: Record<number, number[]> = {};
  for (const c of CONTEXTS) {
    const prompt = ids(Math.min(c, ctx - DECODE - 1), V);
    await generateAll(gm, { promptIds: prompt, maxNewTokens: Math.min(DECODE, 32), eosIds: [], pipeline: pipe }); // warm-up (the JIT, the GPU's clocks)
    runs[c] = [];
    for (let k = 0; k < REPS; k++) runs[c].push(await timedRun(gm, prompt, pipe));
    const sorted = [...runs[c]].sort((a, b) => a - b);
    median[c] = sorted[(sorted.length - 1) >> 1];
  }
  return { median, runs };
}

/**
 * Decode tokens/s of one greedy run of DECODE steps after the prompt: DECODE / (the time of
 * generate(prompt, DECODE + 1) − the time of generate(prompt, 1), the prefill alone, timed
 * just before), through the engine's decode loop. Not from the first id: decodeGreedy queues decode steps behind the
 * prefill before it reads the prefill's id, so some steps may be done when that id arrives.
 */
async function timedRun(gm: GpuModel, prompt: number[], pipe: DecodePipeline): Promise<number> {
  let t = performance.now();
  await generateAll(gm, { promptIds: prompt, maxNewTokens: 1, eosIds: [], pipeline: pipe });
  const prefill = performance.now() - t;
  const st = gm.stats;
  const one = `T(1) ${prefill.toFixed(1)} ms: prefill submitted at ${(st.longSubmitAt - t).toFixed(1)}, read at ${(st.longReadAt - t).toFixed(1)}`;
  let t0 = 0;
  t = performance.now();
  const r = await generateAll(gm, { promptIds: prompt, maxNewTokens: DECODE + 1, eosIds: [], pipeline: pipe }, (rec) => void (rec.step === 0 && (t0 = performance.now())));
  const t1 = performance.now();
  const many = `T(${DECODE + 1}) ${(t1 - t).toFixed(1)} ms: prefill submitted at ${(st.longSubmitAt - t).toFixed(1)}, read at ${(st.longReadAt - t).toFixed(1)}`;
  lastRun = { t0, t1, phases: `${one}; ${many}` };
  return (r.ids.length - 1) / ((t1 - t - prefill) / 1000);
}
/** The last timed run's first and last id (performance.now() ms; BENCH_DIAG places GC pauses in it). */
let lastRun = { t0: 0, t1: 0, phases: '' };

/** The context length a bench model is created with: the prompt of each context, DECODE steps, a margin. */
const benchContext = (loaded: LoadedModel) => Math.min(loaded.config.maxPositions, Math.max(PREFILL, ...CONTEXTS) + DECODE + 2);

/**
 * BENCH_DIAG=N: N decode runs of DECODE steps, the contexts in turn, each followed by the
 * GPU time of 32 chained steps (no host in the way), printing per run the wall tok/s, host
 * encode ms per step, ms the host waited on readbacks, ms of garbage collection and the
 * chained GPU tok/s: which of host, GC or GPU the slow runs share.
 */
async function diagDecode(gm: GpuModel, V: number, ctx: number, n: number): Promise<void> {
  const { PerformanceObserver } = await import('node:perf_hooks');
  // GC pauses as they are reported (kind: 1 minor, 4 major, 8 incremental, 16 weak callbacks)
  let pauses: { kind: number; ms: number; at: number }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ kind: (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0, ms: e.duration, at: e.startTime });
  });
  obs.observe({ entryTypes: ['gc'] });
  const prompts = CONTEXTS.map((c) => ids(Math.min(c, ctx - DECODE - 1), V));
  const gc = (globalThis as { gc?: () => void }).gc;
  for (const prompt of prompts) await generateAll(gm, { promptIds: prompt, maxNewTokens: Math.min(DECODE, 32), eosIds: [] });
  // modes: <block>x<ahead>, e.g. 1x2 (one id per map, two steps queued), 16x32; 'auto' = the default;
  const modes = env('BENCH_DIAG_MODES', 'auto').split(',');
  // BENCH_DIAG_STAMPS=1: GPU timestamps at each decode step's forward pass (its time on the GPU, and the gaps between steps)
  const stamps =
    env('BENCH_DIAG_STAMPS', '0') === '1' && gm.device.features.has('timestamp-query')
      ? { set: gm.device.createQuerySet({ type: 'timestamp', count: 2 * (DECODE + 8) }), n: 0, cap: DECODE + 8 }
      : undefined;
  for (let k = 0; k < n; k++) {
    const mode = modes[k % modes.length];
    // the contexts take turns: run k decodes after the prompt of CONTEXTS[k % their count]
    const c = CONTEXTS[k % CONTEXTS.length];
    const prompt = prompts[k % CONTEXTS.length];
    const slot = Math.min(c, ctx - 2);
    const [blk, ahd] = mode.split('x').map((x) => parseInt(x));
    const pipe: DecodePipeline = mode.includes('x') ? { block: blk, ahead: ahd } : {};
    if (gc && env('BENCH_DIAG_GC', '0') === '1') gc();
    await new Promise((r) => setTimeout(r, 20)); // earlier pauses reported
    pauses = [];
    const e0 = gm.stats.encodeMs;
    const s0 = gm.stats.steps;
    const w0 = gm.stats.waitMs;
    if (stamps) stamps.n = 0;
    gm.stepTimestamps = stamps;
    const wall = await timedRun(gm, prompt, pipe);
    gm.stepTimestamps = undefined;
    const steps = stamps ? await stepTimes(gm.device, stamps) : '';
    await new Promise((r) => setTimeout(r, 0)); // this run's pauses reported
    const enc = (gm.stats.encodeMs - e0) / (gm.stats.steps - s0);
    const wait = gm.stats.waitMs - w0;
    const gcMs = pauses.reduce((a, p) => a + p.ms, 0);
    const chained = env('BENCH_DIAG_CHAINED', '1') === '1' ? await gm.profileHost(slot, 32) : undefined;
    const mu = process.memoryUsage();
    const firstIdHr = Number(process.hrtime.bigint() / 1000n) - (performance.now() - lastRun.t0) * 1000; // µs, the CPU profile's clock
    console.log(
      `diag run ${k} @${c} ${mode} (first id at ${firstIdHr.toFixed(0)} µs): ${wall.toFixed(0)} tok/s; encode ${(enc * 1000).toFixed(0)} µs/step; waited ${wait.toFixed(1)} ms; ${steps}gc ${gcMs.toFixed(1)} ms [${pauses.map((p) => `${p.kind}:${p.ms.toFixed(1)}@${(p.at - lastRun.t0).toFixed(0)}`).join(' ')}] (ms from the first id; the last at ${(lastRun.t1 - lastRun.t0).toFixed(1)}, first step submitted at ${(gm.stats.firstSubmitAt - lastRun.t0).toFixed(1)}, last block read at ${(gm.stats.lastReadAt - lastRun.t0).toFixed(1)}); ${lastRun.phases}; heap ${(mu.heapUsed / 1e6).toFixed(0)} MB` +
        (chained
          ? `; chained GPU ${(1000 / chained.gpuMs).toFixed(0)} tok/s; host encode ${(chained.encodeMs * 1000).toFixed(0)} submit ${(chained.submitMs * 1000).toFixed(0)} µs`
          : ''),
    );
  }
  obs.disconnect();
  stamps?.set.destroy();
}

async function benchGpu(
  device: GPUDevice,
  loaded: LoadedModel,
  name: string,
  dtype: WeightDtype,
  tuning?: GpuTuning,
  decodeOnly = false,
  pipe: DecodePipeline = {},
  shaderF16?: boolean,
  kvDtype?: GpuKvDtype,
): Promise<Row> {
  const V = loaded.config.vocabSize;
  const ctx = benchContext(loaded);
  const gm = await GpuModel.create(device, loaded, { contextLength: ctx, weights: dtype, tuning, shaderF16, throttleMapWait: THROTTLE, kvDtype });
  try {
    if (decodeOnly) {
      const { median: gpuDecode, runs: decodeRuns } = await timeDecode(gm, V, ctx, pipe);
      if (env('BENCH_PROFILE', '0') === '1') {
        for (const c of CONTEXTS) {
          console.log(`${name} ${dtype} variant: per-kernel GPU time, decode at slot ${Math.min(c, ctx - 2)}`);
          await profileDecode(device, gm, Math.min(c, ctx - 2));
        }
      }
      const bytes = gm.decodeWeightBytes;
      return {
        model: name,
        dtype,
        read: gm.read(dtype),
        weightMB: bytes / 1e6,
        roofline: BW / bytes,
        gpuPrefill: NaN,
        gpuDecode,
        decodeRuns,
        encodeMs: gm.stats.encodeMs / gm.stats.steps,
        dispatches: gm.stats.dispatchesPerStep,
      };
    }
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
    const { median: gpuDecode, runs: decodeRuns } = await timeDecode(gm, V, ctx);
    const encodeMs = gm.stats.encodeMs / gm.stats.steps;
    const dispatches = gm.stats.dispatchesPerStep;
    if (env('BENCH_PROFILE', '0') === '1') {
      for (const c of CONTEXTS) {
        const slot = Math.min(c, ctx - 2);
        console.log(`${name} ${dtype}: per-kernel GPU time, decode at slot ${slot}`);
        await profileDecode(device, gm, slot);
        const h = await gm.profileHost(slot, 32);
        console.log(
          `  host @${c}: encode+finish ${(h.encodeMs * 1000).toFixed(0)} µs, submit ${(h.submitMs * 1000).toFixed(0)} µs per step; GPU ${(h.gpuMs * 1000).toFixed(0)} µs per step chained (${(1000 / h.gpuMs).toFixed(0)} tok/s)`,
        );
      }
    }
    const bytes = gm.decodeWeightBytes;
    return { model: name, dtype, read: gm.read(dtype), weightMB: bytes / 1e6, roofline: BW / bytes, gpuPrefill, gpuDecode, decodeRuns, encodeMs, dispatches };
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

function sgMaxOf(device: GPUDevice): number {
  return (device as GPUDevice & { adapterInfo?: { subgroupMaxSize?: number } }).adapterInfo?.subgroupMaxSize ?? 128;
}

async function main() {
  const g = await openNodeGpu();
  if (!('device' in g)) throw new Error(`no WebGPU device: ${g.env.reason}`);
  const a = g.env.adapter!;
  console.log(`adapter: ${a.vendor} ${a.architecture} ${a.description}; features: ${g.env.features?.join(',')}; subgroupMaxSize ${sgMaxOf(g.device)}`);
  let names = env('BENCH_MODELS', small ? 'stories260K' : 'all').split(',');
  if (names[0] === 'all') names = ['stories260K', ...Object.keys(SHAPES)];
  console.log(`prefill ${PREFILL} tokens; decode ${DECODE} greedy steps at contexts ${CONTEXTS.join(', ')}; roofline = weight bytes per step / ${BW / 1e12} TB/s`);
  const rows: Row[] = [];
  for (const name of names) {
    const loaded = name === 'stories260K' ? await stories() : randomModel(name);
    const cpu = CPU ? benchCpu(loaded) : undefined;
    for (const dtype of DTYPES) {
      let tuned: Map<string, MatvecShape> | undefined;
      if (env('BENCH_SWEEP', '0') === '1') tuned = await sweepMatvec(g.device, loaded.config, dtype, g.device.features.has('subgroups'), sgMaxOf(g.device));
      if (Number(env('BENCH_DIAG', '0')) > 0) {
        const V = loaded.config.vocabSize;
        const ctx = benchContext(loaded);
        const gm = await GpuModel.create(g.device, loaded, { contextLength: ctx, weights: dtype, throttleMapWait: THROTTLE });
        console.log(`${name} ${dtype}: decode diagnosis at contexts ${CONTEXTS.join(', ')} in turn`);
        await diagDecode(gm, V, ctx, Number(env('BENCH_DIAG', '0')));
        gm.destroy();
        continue;
      }
      const r = await benchGpu(g.device, loaded, name, dtype);
      if (cpu) {
        r.cpuPrefill = cpu.prefill;
        r.cpuDecode = cpu.decode;
      }
      rows.push(r);
      console.log(JSON.stringify(r));
      for (const v of env('BENCH_VARIANTS', '').split(',').filter(Boolean)) {
        const tuning: GpuTuning = {};
        if (v.includes('tuned') && tuned) tuning.matvec = (K, _dt, N) => tuned!.get(`${N}x${K}`);
        if (v.includes('split64')) tuning.singleSplitKeys = 64;
        const single = /single(\d+)/.exec(v);
        if (single) tuning.singleSplitKeys = Number(single[1]);
        const swg = /splitwg(\d+)/.exec(v);
        if (swg) tuning.splitWorkgroups = Number(swg[1]);
        if (v.includes('headnorm')) tuning.fuseHeadNorm = true;
        if (v.includes('gqaoff')) tuning.gqaDecode = 'off';
        if (v.includes('gqaalways')) tuning.gqaDecode = 'always';
        const gwg = /gqawg(\d+)/.exec(v);
        if (gwg) tuning.gqaSplitWorkgroups = Number(gwg[1]);
        // shape:<matvec>=<WG>x<TPR>r<R>[+…]: a launch shape for one of matvecsOf's matrices
        const forced = new Map<string, MatvecShape>();
        for (const m of v.matchAll(/([a-z|]+)=(\d+)x(\d+)r(\d+)/g)) {
          const mv = matvecsOf(loaded.config).find(([l]) => l === m[1]);
          if (mv) forced.set(`${mv[1]}x${mv[2]}`, { WG: Number(m[2]), TPR: Number(m[3]), R: Number(m[4]) });
        }
        if (forced.size) tuning.matvec = (K, _dt, N) => forced.get(`${N}x${K}`);
        const pipe: DecodePipeline = {};
        const blk = /block(\d+)/.exec(v);
        if (blk) pipe.block = Number(blk[1]);
        const ahd = /ahead(\d+)/.exec(v);
        if (ahd) pipe.ahead = Number(ahd[1]);
        const rv = await benchGpu(g.device, loaded, name, dtype, tuning, true, pipe, v.includes('packed') ? false : undefined, v.includes('kv8') ? 'int8' : undefined);
        rv.model = `${name} (${v})`;
        rows.push(rv);
        console.log(JSON.stringify(rv));
      }
    }
  }
  if (env('BENCH_TORCH', '0') === '1') {
    const job = { models: names.filter((n) => SHAPES[n]).map((n) => ({ name: n, hf: SHAPES[n] })), dtypes: DTYPES, prefill: PREFILL, contexts: CONTEXTS, decode: DECODE };
    try {
      const out = execFileSync('python3', [path.join(root, 'engine/gpu/torch_peer.py'), JSON.stringify(job)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 24,
      });
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
    const dec = CONTEXTS.map(
      (c) =>
        `${fmt(r.gpuDecode[c]).padStart(7)} | ${fmt(r.cpuDecode, 2).padStart(6)} | ${fmt(r.torch?.[`decode_tps_${c}`]).padStart(6)}  ${((100 * r.gpuDecode[c]) / r.roofline).toFixed(1).padStart(5)}%`,
    ).join('   ');
    console.log(
      `${r.model.padEnd(16)} ${(r.read ?? r.dtype).padEnd(5)} ${(r.weightMB.toFixed(1) + ' MB').padStart(11)}   ${fmt(r.gpuPrefill).padStart(8)} | ${fmt(r.cpuPrefill, 2).padStart(7)} | ${fmt(tp).padStart(7)}   ${dec}`,
    );
  }
  if (REPS > 1) {
    console.log(`GPU decode: the median of ${REPS} runs of ${DECODE} steps; every run (tok/s):`);
    for (const r of rows) console.log(`  ${r.model} ${r.dtype}: ${CONTEXTS.map((c) => `@${c} ${(r.decodeRuns?.[c] ?? []).map((x) => x.toFixed(0)).join(' ')}`).join('; ')}`);
  }
  console.log(`CPU: the reference Model (f32, one JS thread), prefill of ${CPU_PREFILL} tokens and ${CPU_DECODE} decode steps at a short context.`);
  const cli = cliBeside(rows);
  if (process.env.BENCH_JSON)
    writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ adapter: g.env.adapter, features: g.env.features, rows, cli, settings: { PREFILL, CONTEXTS, DECODE, CPU_PREFILL, CPU_DECODE, BW } }, null, 1),
    );
  g.device.destroy();
}

/**
 * The CLI as a user runs it (`llm-playground generate --backend webgpu --json`, a fresh
 * process per run: load, upload, generate) on a GGUF of the same shape as a bench row, its
 * decode tokens/s beside the bench's pipelined figure for that row: both go through the
 * engine's one decode loop, so the CLI should be within a few percent.
 * BENCH_CLI: the GGUF (default: the stories260K fixture, compared with the stories260K rows;
 * off with 0), BENCH_CLI_ROW: the row's model name, BENCH_CLI_REPS: runs per context (median).
 */
function cliBeside(rows: Row[]): { dtype: string; context: number; bench: number; cli: number; runs: number[] }[] {
  const gguf = env('BENCH_CLI', path.resolve(root, '../shared/fixtures/gguf/stories260K.gguf'));
  const rowName = env('BENCH_CLI_ROW', 'stories260K');
  const cliJs = env('BENCH_CLI_JS', path.join(root, 'dist/cli.js'));
  const reps = Number(env('BENCH_CLI_REPS', small ? '1' : '3'));
  if (gguf === '0' || !existsSync(gguf) || !existsSync(cliJs)) {
    console.log(`CLI beside the bench: skipped (${gguf === '0' ? 'BENCH_CLI=0' : `${existsSync(gguf) ? cliJs : gguf} is missing`})`);
    return [];
  }
  const out: { dtype: string; context: number; bench: number; cli: number; runs: number[] }[] = [];
  for (const r of rows.filter((x) => x.model === rowName)) {
    for (const c of CONTEXTS) {
      const runs: number[] = [];
      for (let k = 0; k < reps; k++) {
        const args = [
          cliJs,
          'generate',
          '--model',
          gguf,
          '--ids',
          ids(c, 512).join(','),
          '--max-tokens',
          String(DECODE + 1),
          '--backend',
          'webgpu',
          '--weights',
          r.dtype,
          '--ignore-eos',
          '--json',
        ];
        const res = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] }));
        if (res.decode_path !== 'pipelined' || res.generated_ids.length !== DECODE + 1) throw new Error(`CLI run: path ${res.decode_path}, ${res.generated_ids.length} ids`);
        runs.push(res.decode_tokens_per_s);
      }
      const sorted = [...runs].sort((a, b) => a - b);
      out.push({ dtype: r.dtype, context: c, bench: r.gpuDecode[c], cli: sorted[(sorted.length - 1) >> 1], runs });
    }
  }
  console.log(
    `\nCLI beside the bench (${path.basename(gguf)} vs the ${rowName} rows; CLI: generate --backend webgpu --ignore-eos --json, ${DECODE + 1} ids, median of ${reps} processes)`,
  );
  console.log('dtype  context   bench pipelined tok/s   CLI tok/s   CLI / bench   CLI runs');
  for (const x of out)
    console.log(
      `${x.dtype.padEnd(5)}  ${String(x.context).padStart(7)}   ${fmt(x.bench).padStart(21)}   ${fmt(x.cli).padStart(9)}   ${((100 * x.cli) / x.bench).toFixed(1).padStart(10)}%   ${x.runs.map((v) => v.toFixed(0)).join(' ')}`,
    );
  return out;
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
