/**
 * Prefill speed of the matmul kernels, old and new in one run, on the shapes of a real model
 * with random f16 weights (default Llama-3.2-1B; SwiftShader: SmolLM2-135M and fewer tokens):
 *
 *   1. kernels — each linear layer of a prefill of BENCH_PREFILL rows (q|k|v, o, gate|up with
 *      SwiGLU, down) through each prefill kernel: 'tile64' (the earlier 64×64 kernel), the
 *      register-tiled kernel's tiles, and the subgroup-matrix kernel's shapes where the device
 *      passed its check; ms per product, TFLOP/s, and the largest difference from tile64
 *      relative to its largest value.
 *   2. model — GpuModel prefill tok/s with each GpuTuning.prefill kernel ('tile64', 'tiled',
 *      'sgmatrix'), then the default matmul kernel with each GpuTuning.flashPrefill attention
 *      kernel ('rows', 'tile16'); the last row's logits compared with the first run's.
 *   3. profile — where the default kernel's whole-model prefill goes: each kind of dispatch of
 *      one prefill (kernel, launch grid) timed on its own, µs each and summed per prefill.
 *
 *   node scripts/run-benches.mjs prefill.bench
 *   BENCH_PREFILL=512 node dist/bench/engine__gpu__prefill.bench.cjs       (the H200 run)
 *
 * Env: BENCH_MODELS (a name from bench-models.ts), BENCH_PREFILL (rows), BENCH_REPS (timed
 * repeats, the median printed), BENCH_STAGES (kernels,model,profile), BENCH_MODEL_RUNS (the model
 * stage's runs by name, in order), BENCH_WARM_MS (how long the GPU is kept busy before the first timed
 * kernel and before each model's timed prefills: default 1500 ms, 0 on SwiftShader; an idle GPU runs
 * its next work at a fraction of its clock until it has been busy a while), BENCH_SG_SHAPES (the kernels
 * stage's subgroup-matrix shapes "SGM,SGN,FM,FN,BK;…", then only those), BENCH_SG_LARGE and
 * BENCH_SG_SMALL (the model stage's 'sgmatrix env' run: the kernel's two shapes).
 */
import { existsSync } from 'node:fs';
import { matmulWgsl, MATMUL_TILE } from '../ops/matmul/matmul.wgsl';
import { matmulSgWgsl, matmulTiledWgsl, sgTile, tiledGroups, TILED_LARGE, TILED_SMALL, type MatmulEpilogue, type SgShape, type TiledShape } from '../ops/matmul/matmul-tiled.wgsl';
import { randomFill } from '../model/random';
import { M_FROM_T, packParams, STEP_FIELDS, type KernelSource } from '../wgsl/kernel-source';
import { rowStrideWords } from '../wgsl/weight-read';
import { randomModel, SHAPES } from './bench-models';
import { GpuModel } from './gpu-model';
import { createStorage, Dispatch, packRows, PipelineCache } from './kernel';
import type { GpuTuning, PrefillKernel } from './lifecycle';
import { openNodeGpu } from './gpu-node';
import { subgroupMatrixOf } from './prefill-matmul';
import { timeDispatches, type TracedDispatch } from './profiling';

if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync('/usr/lib/chromium/vk_swiftshader_icd.json')) {
  process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
}
const env = (k: string, d: string) => process.env[k] ?? d;
const small = !process.env.VK_DRIVER_FILES; // SwiftShader: keep it small
const MODEL = env('BENCH_MODELS', small ? 'smollm2-135m' : 'llama-3.2-1b');
const P = Number(env('BENCH_PREFILL', small ? '32' : '512'));
const REPS = Number(env('BENCH_REPS', small ? '1' : '5'));
const STAGES = env('BENCH_STAGES', 'kernels,model,profile').split(',');
const WARM_MS = Number(env('BENCH_WARM_MS', small ? '0' : '1500'));
let warmKernels = WARM_MS > 0;

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

interface Variant {
  name: string;
  k: KernelSource;
  grid: [number, number];
}

/** The prefill kernels to time on one product of N weight rows (gate|up: 2I rows with `epi`). */
/** BENCH_SG_SHAPES: subgroup-matrix shapes "SGM,SGN,FM,FN,BK;…" (the kernels stage then times only these). */
const parseSg = (v: string): SgShape => {
  const [SGM, SGN, FM, FN, BK] = v.split(',').map(Number);
  return { SGM, SGN, FM, FN, BK };
};
const SG_ENV = process.env.BENCH_SG_SHAPES?.split(';').map(parseSg);

function variants(N: number, epi: MatmulEpilogue | undefined, sg: ReturnType<typeof subgroupMatrixOf>): Variant[] {
  const out: Variant[] = [];
  if (SG_ENV && sg)
    return SG_ENV.map((s) => {
      const t = sgTile(sg.config, s);
      return { name: `sgmatrix ${t.BM}x${t.BN} ${s.SGM}x${s.SGN}f${s.FM}x${s.FN} k${s.BK}`, k: matmulSgWgsl(sg.config, sg.sgSize, s, epi, sg.dialect), grid: tiledGroups(P, N, t) };
    });
  if (!epi) out.push({ name: 'tile64', k: matmulWgsl('f16'), grid: [Math.ceil(N / MATMUL_TILE), Math.ceil(P / MATMUL_TILE)] });
  const tiled: TiledShape[] = [TILED_LARGE, TILED_SMALL, { BM: 128, BN: 64, TM: 8, TN: 8, BK: 16 }, { BM: 64, BN: 128, TM: 4, TN: 8, BK: 16 }, { ...TILED_LARGE, BK: 32 }];
  for (const s of tiled) out.push({ name: `tiled ${s.BM}x${s.BN} t${s.TM}x${s.TN} k${s.BK}`, k: matmulTiledWgsl('f16', s, epi), grid: tiledGroups(P, N, s) });
  if (sg) {
    const shapes: SgShape[] = [
      { SGM: 2, SGN: 2, FM: 2, FN: 4, BK: 32 },
      { SGM: 2, SGN: 2, FM: 2, FN: 2, BK: 32 },
      { SGM: 2, SGN: 2, FM: 4, FN: 4, BK: 32 },
      { SGM: 4, SGN: 2, FM: 2, FN: 4, BK: 32 },
      { SGM: 2, SGN: 4, FM: 2, FN: 2, BK: 64 },
      { SGM: 2, SGN: 2, FM: 2, FN: 4, BK: 64 },
    ];
    for (const s of shapes) {
      const t = sgTile(sg.config, s);
      out.push({
        name: `sgmatrix ${t.BM}x${t.BN} ${s.SGM}x${s.SGN}f${s.FM}x${s.FN} k${s.BK}`,
        k: matmulSgWgsl(sg.config, sg.sgSize, s, epi, sg.dialect),
        grid: tiledGroups(P, N, t),
      });
    }
  }
  return out;
}

/** Times each kernel on one product [P, K] · [N, K]ᵀ: the median of REPS submissions of R dispatches each. */
async function benchProduct(device: GPUDevice, label: string, N: number, K: number, epi?: MatmulEpilogue): Promise<void> {
  const sg = subgroupMatrixOf(device);
  const O = epi ? N / 2 : N;
  const made: GPUBuffer[] = [];
  const buf = (d: ArrayBufferView | number) => {
    const b = createStorage(device, typeof d === 'number' ? d * 4 : d, 'prefill-bench');
    made.push(b);
    return b;
  };
  const step = device.createBuffer({ size: STEP_FIELDS.length * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(step, 0, packParams(STEP_FIELDS, { T: P, start: 0, Tk: P, headFirst: 0, headRows: P, nSplit: 1, splitLen: 256, pad0: 0 }));
  const bufs = {
    x: buf(randomFill(P * K, 1, 1)),
    w: buf(packRows(randomFill(N * K, 2, 1 / Math.sqrt(K)), K, 0, N, 'f16')),
    b: buf(4),
    y: buf(P * O),
    ids: buf(4),
  };
  const values = {
    mSel: M_FROM_T,
    mFixed: 0,
    N,
    K,
    rowStride: rowStrideWords(K, 'f16'),
    wOffset: 0,
    xOffset: 0,
    xRowStride: K,
    yOffset: 0,
    yRowStride: O,
    hasBias: 0,
    accumulate: 0,
    alpha: 1,
    expertStride: 0,
    nGroupsX: 0,
    eps: 0,
    xHead: 0,
    half: epi ? O : 0,
    H: 0,
    Kv: 0,
    hd: 0,
    ropeStyle: 0,
  };
  const cache = PipelineCache.of(device);
  const flop = 2 * P * N * K;
  const R = small ? 1 : 20;
  let ref: Float32Array | undefined;
  if (warmKernels) {
    // the GPU idles at a low clock until it has been busy a while: warm it on the first product
    warmKernels = false;
    const d = new Dispatch(device, cache, matmulTiledWgsl('f16', TILED_SMALL, epi), step, values, bufs);
    for (const t0 = performance.now(); performance.now() - t0 < WARM_MS;) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let i = 0; i < 20; i++) d.encode(pass, ...tiledGroups(P, N, TILED_SMALL));
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    }
    d.destroy();
  }
  console.log(`\n${label}: [${P}, ${K}] · [${N}, ${K}]ᵀ${epi ? ' with SwiGLU' : ''} (${(flop / 1e9).toFixed(1)} GFLOP)`);
  for (const v of variants(N, epi, sg)) {
    device.pushErrorScope('validation');
    let d: Dispatch;
    try {
      d = new Dispatch(device, cache, v.k, step, values, bufs);
    } catch (e) {
      await device.popErrorScope();
      console.log(`  ${v.name.padEnd(36)} failed: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    const run = async (n: number) => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let i = 0; i < n; i++) d.encode(pass, v.grid[0], v.grid[1]);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await run(1);
    const err = await device.popErrorScope();
    if (err) {
      console.log(`  ${v.name.padEnd(36)} failed: ${err.message}`);
      d.destroy();
      continue;
    }
    const got = await readBack(device, bufs.y, P * O);
    const times: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const t = performance.now();
      await run(R);
      times.push((performance.now() - t) / R);
    }
    const ms = median(times);
    ref ??= got;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < got.length; i++) {
      scale = Math.max(scale, Math.abs(ref[i]));
      diff = Math.max(diff, Number.isFinite(got[i]) ? Math.abs(got[i] - ref[i]) : Infinity);
    }
    console.log(`  ${v.name.padEnd(36)} ${ms.toFixed(3).padStart(8)} ms  ${(flop / ms / 1e9).toFixed(1).padStart(6)} TFLOP/s  |Δ| ${(diff / scale).toExponential(1)} of max`);
    d.destroy();
  }
  step.destroy();
  for (const b of made) b.destroy();
}

async function readBack(device: GPUDevice, src: GPUBuffer, n: number): Promise<Float32Array> {
  const st = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, st, 0, n * 4);
  device.queue.submit([enc.finish()]);
  await st.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(st.getMappedRange().slice(0));
  st.destroy();
  return out;
}

/** Whole-model prefill tok/s with each prefill matmul kernel, then each attention kernel; the last row's logits against the first run's. */
async function benchModel(device: GPUDevice): Promise<void> {
  const loaded = randomModel(MODEL);
  const V = loaded.config.vocabSize;
  const ids = Array.from({ length: P }, (_, i) => (i * 7919 + 13) % V);
  const kernels: PrefillKernel[] = ['tile64', 'tiled', ...(subgroupMatrixOf(device) ? (['sgmatrix'] as const) : [])];
  const best = kernels[kernels.length - 1];
  let runs: [string, GpuTuning][] = [
    ...kernels.map((prefill): [string, GpuTuning] => [prefill, { prefill }]),
    [`${best} + attention tile16`, { prefill: best, flashPrefill: 'tile16' }],
    // BENCH_SG_LARGE / BENCH_SG_SMALL: the subgroup-matrix kernel's two shapes ("SGM,SGN,FM,FN,BK")
    [
      'sgmatrix env',
      {
        prefill: 'sgmatrix',
        sgShape: process.env.BENCH_SG_LARGE ? parseSg(process.env.BENCH_SG_LARGE) : undefined,
        sgSmall: process.env.BENCH_SG_SMALL ? parseSg(process.env.BENCH_SG_SMALL) : undefined,
      },
    ],
  ];
  // BENCH_MODEL_RUNS: the runs by name, in order, repeats allowed (e.g. 'sgmatrix,sgmatrix + attention tile16,sgmatrix')
  const pick = process.env.BENCH_MODEL_RUNS?.split(',').map((n) => n.trim());
  if (pick)
    runs = pick.map(
      (n) =>
        runs.find(([name]) => name === n) ??
        (() => {
          throw new Error(`BENCH_MODEL_RUNS: no run named '${n}' (${runs.map(([x]) => x).join(', ')})`);
        })(),
    );
  let ref: Float32Array | undefined;
  console.log(`\n${MODEL} f16, prefill of ${P} tokens (median of ${REPS}; attention 'rows' unless named):`);
  for (const [name, tuning] of runs) {
    const gm = await GpuModel.create(device, loaded, { contextLength: P + 2, weights: 'f16', tuning, throttleMapWait: true });
    try {
      const r0 = await gm.forward(ids, undefined, { lastOnly: true }); // warm-up (pipelines, capacity), and the logits
      // BENCH_WARM_MS: prefills for this long before the timed ones (the model's upload left the GPU idle, at a low clock)
      for (const t0 = performance.now(); performance.now() - t0 < WARM_MS;) {
        gm.reset();
        await gm.forward(ids, undefined, { lastOnly: true, topK: 1, logits: false });
      }
      const times: number[] = [];
      for (let r = 0; r < REPS; r++) {
        gm.reset();
        const t = performance.now();
        await gm.forward(ids, undefined, { lastOnly: true, topK: 1, logits: false });
        times.push(performance.now() - t);
      }
      gm.reset();
      ref ??= r0.logits;
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < V; i++) {
        scale = Math.max(scale, Math.abs(ref[i]));
        diff = Math.max(diff, Math.abs(r0.logits[i] - ref[i]));
      }
      const ms = median(times);
      console.log(
        `  ${name.padEnd(26)} ${ms.toFixed(1).padStart(8)} ms (${times.map((t) => t.toFixed(1)).join(' ')}, ended ${new Date().toISOString().slice(11, 23)})  ${((P / ms) * 1000).toFixed(0).padStart(7)} tok/s  last-row logits |Δ| vs ${runs[0][0]} ${diff.toExponential(2)} (max |logit| ${scale.toFixed(2)})`,
      );
    } finally {
      gm.destroy();
    }
  }
}

/** GPU time of each kind of dispatch in one whole-model prefill of P tokens with the default kernels. */
async function profileModel(device: GPUDevice): Promise<void> {
  const loaded = randomModel(MODEL);
  const V = loaded.config.vocabSize;
  const ids = Array.from({ length: P }, (_, i) => (i * 7919 + 13) % V);
  const gm = await GpuModel.create(device, loaded, { contextLength: P + 2, weights: 'f16', throttleMapWait: true });
  try {
    const trace = await gm.tracePrefill(ids, 8); // warm: a GPU idle before runs its first work at a lower clock
    const kinds = new Map<string, TracedDispatch[]>();
    for (const t of trace) {
      const key = `${t.d.kernel.label} ${t.d.note} (${t.grid.join(',')})`;
      kinds.set(key, [...(kinds.get(key) ?? []), t]);
    }
    const rows: [string, number, number][] = [];
    for (const [key, list] of kinds) rows.push([key, list.length, await timeDispatches(device, list, Math.max(5, Math.ceil(64 / list.length)))]);
    rows.sort((a, b) => b[1] * b[2] - a[1] * a[2]);
    const total = rows.reduce((s, [, n, us]) => s + n * us, 0);
    console.log(`\n${MODEL} f16, where a prefill of ${P} tokens goes (default kernels, each kind timed on its own):`);
    for (const [key, n, us] of rows) {
      console.log(
        `  profile ${key.padEnd(64)} ×${String(n).padStart(3)}  ${us.toFixed(1).padStart(8)} µs each  ${((n * us) / 1000).toFixed(2).padStart(6)} ms  ${((100 * n * us) / total).toFixed(1).padStart(5)} %`,
      );
    }
    console.log(`  profile total ${(total / 1000).toFixed(2)} ms per prefill (${trace.length} dispatches) → ${((P / total) * 1e6).toFixed(0)} tok/s if nothing else cost`);
  } finally {
    gm.destroy();
  }
}

async function main(): Promise<void> {
  const g = await openNodeGpu();
  if (!('device' in g)) throw new Error(`no WebGPU device: ${g.env.reason}`);
  const a = g.env.adapter!;
  console.log(`adapter: ${a.vendor} ${a.architecture} ${a.description}; features: ${g.env.features?.join(',')}`);
  console.log(`subgroup matrices: ${g.env.subgroupMatrix ? JSON.stringify(g.env.subgroupMatrix) : 'not offered'}`);
  const h = SHAPES[MODEL] as Record<string, number>;
  if (!h) throw new Error(`BENCH_MODELS: no shape named ${MODEL} (${Object.keys(SHAPES).join(', ')})`);
  if (STAGES.includes('kernels')) {
    const [D, H, Kv, hd, I] = [h.hidden_size, h.num_attention_heads, h.num_key_value_heads, h.head_dim, h.intermediate_size];
    await benchProduct(g.device, 'q|k|v', (H + 2 * Kv) * hd, D);
    await benchProduct(g.device, 'o', D, H * hd);
    await benchProduct(g.device, 'gate|up', 2 * I, D, { kind: 'act', act: 0 });
    await benchProduct(g.device, 'down', D, I);
  }
  if (STAGES.includes('model')) await benchModel(g.device);
  if (STAGES.includes('profile')) await profileModel(g.device);
  g.device.destroy();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
