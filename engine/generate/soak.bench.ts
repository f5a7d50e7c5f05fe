/**
 * The soak bench: generation without a break for SOAK_MINUTES (default 60) on stories260K
 * through the product's decode loop (generate.ts) and the backend contract, each
 * generation cancelled at a random point or run to its end, while the process's memory
 * is sampled. Checks at the end:
 *   - every cancel honoured within one step: at most one record is yielded after abort();
 *   - RSS at the end within 5% of RSS after the warm-up (growth; a drop passes);
 *   - no growth in process listeners, active handles, or (WebGPU) the ledger's live buffers.
 * Prints a table of samples (one a minute), the summary, and JSON; exits 1 when a check fails.
 *
 * A cancel comes one of three ways, picked at random for each cancelled generation:
 *   - 'timer': a timeout at a random time after the start fires between records, as the
 *     worker's Stop message does (the consumer yields to the event loop after each record,
 *     as engine/worker/session.ts does);
 *   - 'mid-step': abort() inside the backend's forward (or the pipelined decode's next),
 *     as a Stop arriving while a GPU step is in flight: that step's record may still come;
 *   - 'on-record': abort() when a record at a random step arrives.
 * Requests mix greedy (the pipelined path on WebGPU) and sampled generation with a
 * processor chain, streamed text through the tokenizer, and now and then a stop string.
 *
 * Opt-in (not part of a plain `npm run bench`): `npm run bench -- soak`, or on the GPU machine
 *   npx esbuild engine/generate/soak.bench.ts --bundle --platform=node --format=cjs --external:webgpu --outfile=distgpu/soak.js
 *   SOAK_BACKEND=webgpu SOAK_MINUTES=60 node --expose-gc --min-semi-space-size=16 --max-semi-space-size=16 distgpu/soak.js
 * from the repository root. Env: SOAK_MINUTES (default 60), SOAK_BACKEND (cpu | webgpu),
 * SOAK_WEIGHTS (webgpu: f32 | f16), SOAK_SAMPLE_S (seconds between samples, default 5),
 * SOAK_WARMUP_S (default 10% of the run, at most 300), SOAK_SEED, SOAK_MODEL (default
 * models/stories260K.bin; its tokenizer beside it), SOAK_JSON (a file for the JSON).
 * Without a GPU: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (set here when
 * nothing else is). Run with --expose-gc (run-benches does): memory is sampled after a GC.
 * Run with --min-semi-space-size=16 --max-semi-space-size=16 too (run-benches does): V8 sizes
 * its young generation by the allocation rate and grows it once, minutes into the run, by
 * ~17 MiB of RSS while the live heap stays the same; pinned at its largest from the start,
 * what RSS gains after the warm-up is memory kept. The header says whether it is pinned.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Backend, ForwardOptions, GreedyDecodeOptions } from '../backend/contract';
import { createBackend } from '../backend/registry';
import { openModel } from '../formats/load-node';
import type { GpuModel } from '../gpu/gpu-model';
import { openNodeGpu } from '../gpu/gpu-node';
import type { Tokenizer } from '../tokenizer/types';
import { processorsFromSpecs } from './chain';
import { generate, type GenerateRequest } from './generate';
import { Rng } from './rng';
import { MultinomialSampler } from './samplers';

if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync('/usr/lib/chromium/vk_swiftshader_icd.json')) {
  process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
}

const env = (k: string, d: string) => process.env[k] ?? d;
const MINUTES = Number(env('SOAK_MINUTES', '60'));
const BACKEND = env('SOAK_BACKEND', 'cpu');
const WEIGHTS = env('SOAK_WEIGHTS', 'f32') as 'f32' | 'f16';
const SAMPLE_S = Number(env('SOAK_SAMPLE_S', '5'));
const WARMUP_S = Number(env('SOAK_WARMUP_S', String(Math.min(300, MINUTES * 6))));
const SEED = Number(env('SOAK_SEED', '1'));
const MODEL = path.resolve(env('SOAK_MODEL', 'models/stories260K.bin'));
const RSS_GROWTH_LIMIT = 0.05;

type CancelKind = 'timer' | 'mid-step' | 'on-record';

interface Sample {
  s: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** V8's heap as reserved from the system (RSS grows with it even when heapUsed does not). */
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  listeners: number;
  handles: number;
  gpuBuffers?: number;
  generations: number;
  tokens: number;
}

interface Totals {
  generations: number;
  tokens: number;
  cancels: Record<CancelKind, number>;
  /** Cancels whose abort() came after the generation had already ended (not counted as honoured or not). */
  lateCancels: number;
  /** Most records yielded after an abort(), over every cancel. */
  maxStepsAfterCancel: number;
  /** Cancels followed by more than one record. */
  cancelsOverOneStep: number;
  /** Generations that ended 'cancelled' without a cancel (must stay 0). */
  spuriousCancels: number;
  stopReasons: Record<string, number>;
}

const MiB = (n: number) => n / (1024 * 1024);
const gc = (globalThis as { gc?: () => void }).gc;

function listenerCount(): number {
  return process.eventNames().reduce((s, e) => s + process.listenerCount(e), 0);
}

/** Active handles and requests but timers (the soak's own sampler, yields and cancel timers come and go). */
function activeHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').length;
}

/** A backend that calls `hook` before each forward / pipelined step (the mid-step cancel). */
function hooked(b: Backend, hook: { beforeStep?: () => void }): Backend {
  const w: Backend = Object.create(b) as Backend;
  Object.defineProperty(w, 'forward', {
    value: (tokens: number[], positions?: number[], opts?: ForwardOptions) => {
      const p = b.forward(tokens, positions, opts);
      hook.beforeStep?.(); // the step is under way (on the CPU it has run; on the GPU it is in flight)
      return p;
    },
  });
  if (b.decodeGreedy) {
    Object.defineProperty(w, 'decodeGreedy', {
      value: (ids: number[], opts: GreedyDecodeOptions) => {
        const it = b.decodeGreedy!(ids, opts);
        return {
          next: () => {
            const p = it.next();
            hook.beforeStep?.();
            return p;
          },
          return: (v: 'length' | 'context') => it.return(v),
          throw: (e: unknown) => it.throw(e),
          [Symbol.asyncIterator]() {
            return this;
          },
        };
      },
    });
  }
  // Getters (length, contextLength, config) read the real backend's state.
  for (const k of ['length', 'contextLength', 'config', 'capabilities', 'id', 'label'] as const) Object.defineProperty(w, k, { get: () => b[k] });
  for (const k of ['reset', 'truncate', 'kvCache', 'dispose', 'setLora'] as const) if (b[k]) Object.defineProperty(w, k, { value: (b[k] as (...a: unknown[]) => unknown).bind(b) });
  return w;
}

const PROMPTS = [
  'Once upon a time',
  'Lily and Ben went to the park.',
  'One day, a little dog',
  'The sun was hot and the',
  'Tom had a big red ball. He',
  'There was a girl named Sue who loved to',
  'x',
];
const STOPS = ['.', ' the', '!', 'Lily'];

async function main(): Promise<void> {
  const opened = await openModel(MODEL);
  const tok: Tokenizer | undefined = opened.tokenizer;
  if (!tok) throw new Error(`${MODEL}: no tokenizer beside it (tok512.bin)`);
  const loaded = opened.loaded;
  const ctx = Math.min(512, loaded.config.maxPositions);
  let device: GPUDevice | undefined;
  if (BACKEND === 'webgpu') {
    const g = await openNodeGpu();
    if (!('device' in g)) throw new Error(`SOAK_BACKEND=webgpu needs a WebGPU device: ${g.env.reason}`);
    device = g.device;
  }
  const backend = await createBackend(BACKEND, loaded, { contextLength: ctx, weights: WEIGHTS, device, throttleMapWait: true });
  const gpuBuffers = () => (backend.id === 'webgpu' ? (backend as GpuModel).memory().buffers : undefined);
  const hook: { beforeStep?: () => void } = {};
  const model = hooked(backend, hook);
  const V = loaded.config.vocabSize;
  const eosIds = loaded.config.stopTokenIds ?? loaded.config.eosTokenIds;
  const rng = new Rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
  const yieldNow = () => new Promise<void>((r) => setTimeout(r, 0));

  const pinned = ['--min-semi-space-size', '--max-semi-space-size'].every((f) => process.execArgv.some((a) => a.startsWith(f)));
  console.log(
    `soak: ${MINUTES} min on ${backend.label} (${path.basename(MODEL)}, context ${ctx}); samples every ${SAMPLE_S} s, warm-up ${WARMUP_S} s; gc ${gc ? 'on' : 'off (run with --expose-gc)'}; young generation ${pinned ? 'pinned' : 'not pinned (V8 may grow it after the warm-up: run with --min-semi-space-size=16 --max-semi-space-size=16)'}`,
  );

  const totals: Totals = {
    generations: 0,
    tokens: 0,
    cancels: { timer: 0, 'mid-step': 0, 'on-record': 0 },
    lateCancels: 0,
    maxStepsAfterCancel: 0,
    cancelsOverOneStep: 0,
    spuriousCancels: 0,
    stopReasons: {},
  };
  const samples: Sample[] = [];
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const sample = () => {
    gc?.();
    const m = process.memoryUsage();
    const s: Sample = {
      s: Math.round(elapsed()),
      rssMiB: MiB(m.rss),
      heapUsedMiB: MiB(m.heapUsed),
      heapTotalMiB: MiB(m.heapTotal),
      externalMiB: MiB(m.external),
      arrayBuffersMiB: MiB(m.arrayBuffers),
      listeners: listenerCount(),
      handles: activeHandles(),
      generations: totals.generations,
      tokens: totals.tokens,
    };
    const gb = gpuBuffers();
    if (gb !== undefined) s.gpuBuffers = gb;
    samples.push(s);
  };
  let warm: Sample | undefined;
  const timer = setInterval(() => {
    sample();
    if (!warm && elapsed() >= WARMUP_S) warm = samples[samples.length - 1];
  }, SAMPLE_S * 1000);
  sample();

  const end = MINUTES * 60;
  let msPerStep = 5; // a running estimate, for the timer cancels' random times
  while (elapsed() < end) {
    const promptIds = tok.encodeIds(pick(PROMPTS));
    if (tok.bosId !== null) promptIds.unshift(tok.bosId);
    const maxNewTokens = 1 + Math.floor(rng.next() * (ctx - promptIds.length));
    const sampled = rng.next() < 0.5;
    const req: GenerateRequest = { promptIds, maxNewTokens, eosIds: rng.next() < 0.5 ? eosIds : [], tokenizer: tok };
    if (sampled) {
      req.processors = processorsFromSpecs(
        [
          { name: 'repetition_penalty', value: 1.1 },
          { name: 'temperature', value: 0.8 },
          { name: 'top_k', value: 40 },
          { name: 'top_p', value: 0.95 },
        ],
        { vocabSize: V, eosIds, promptLength: promptIds.length, seed: SEED },
      );
      req.sampler = new MultinomialSampler(new Rng(Math.floor(rng.next() * 2 ** 31)));
    }
    if (rng.next() < 0.15) req.stopStrings = [pick(STOPS)];

    const ac = new AbortController();
    req.signal = ac.signal;
    const cancel: CancelKind | undefined = rng.next() < 0.75 ? pick(['timer', 'mid-step', 'on-record'] as const) : undefined;
    const atStep = Math.floor(rng.next() * Math.min(maxNewTokens, 200));
    let records = 0;
    let recordsAtAbort = -1;
    let done = false;
    const abort = () => {
      if (ac.signal.aborted) return;
      if (done) {
        totals.lateCancels++;
        return;
      }
      recordsAtAbort = records;
      ac.abort();
    };
    let steps = 0;
    hook.beforeStep = cancel === 'mid-step' ? () => steps++ === atStep && abort() : undefined;
    const tm = cancel === 'timer' ? setTimeout(abort, rng.next() * Math.min(maxNewTokens, 200) * msPerStep) : undefined;

    const tGen = performance.now();
    const it = generate(model, req);
    let stopReason = '';
    for (;;) {
      const r = await it.next();
      if (r.done) {
        stopReason = r.value.stopReason;
        break;
      }
      records++;
      if (cancel === 'on-record' && r.value.step === atStep) abort();
      await yieldNow(); // lets a timer cancel in, as the worker lets a Stop in
    }
    done = true;
    if (tm) clearTimeout(tm);
    hook.beforeStep = undefined;

    totals.generations++;
    totals.tokens += records;
    totals.stopReasons[stopReason] = (totals.stopReasons[stopReason] ?? 0) + 1;
    if (records > 1) msPerStep = 0.9 * msPerStep + (0.1 * (performance.now() - tGen)) / records;
    if (recordsAtAbort >= 0) {
      totals.cancels[cancel!]++;
      const after = records - recordsAtAbort;
      totals.maxStepsAfterCancel = Math.max(totals.maxStepsAfterCancel, after);
      if (after > 1 || stopReason !== 'cancelled') totals.cancelsOverOneStep++;
    } else if (stopReason === 'cancelled') totals.spuriousCancels++;
  }
  sample();
  clearInterval(timer);
  const last = samples[samples.length - 1];
  warm ??= samples[Math.min(1, samples.length - 1)];
  backend.dispose();

  const rows = samples.filter((s, i) => i === 0 || s === warm || i === samples.length - 1 || Math.floor(s.s / 60) !== Math.floor(samples[i - 1].s / 60));
  console.log('\n     s | RSS MiB | heap used / total MiB | ext / arrayBuffers MiB | listeners | handles | GPU buffers | generations | tokens');
  for (const s of rows)
    console.log(
      `${String(s.s).padStart(6)} | ${s.rssMiB.toFixed(1).padStart(7)} | ${`${s.heapUsedMiB.toFixed(1)} / ${s.heapTotalMiB.toFixed(1)}`.padStart(21)} | ${`${s.externalMiB.toFixed(1)} / ${s.arrayBuffersMiB.toFixed(1)}`.padStart(22)} | ${String(s.listeners).padStart(9)} | ${String(s.handles).padStart(7)} | ${String(s.gpuBuffers ?? '-').padStart(11)} | ${String(s.generations).padStart(11)} | ${s.tokens}${s === warm ? '   ← after warm-up' : ''}`,
    );

  const rssGrowth = last.rssMiB / warm.rssMiB - 1;
  const peakRss = Math.max(...samples.filter((s) => s.s >= warm!.s).map((s) => s.rssMiB));
  const checks = {
    cancelsWithinOneStep: totals.cancelsOverOneStep === 0 && totals.spuriousCancels === 0,
    rssWithin5Percent: rssGrowth <= RSS_GROWTH_LIMIT,
    noListenerGrowth: last.listeners <= warm.listeners,
    noHandleGrowth: last.handles <= warm.handles,
    noGpuBufferGrowth: (last.gpuBuffers ?? 0) <= (warm.gpuBuffers ?? 0),
  };
  const cancels = Object.values(totals.cancels).reduce((a, b) => a + b, 0);
  const minutes = elapsed() / 60;
  console.log(
    `\n${totals.generations} generations, ${totals.tokens} tokens in ${minutes.toFixed(1)} min (${(totals.tokens / elapsed()).toFixed(0)} tokens/s); stop reasons ${JSON.stringify(totals.stopReasons)}`,
  );
  console.log(
    `cancels: ${cancels} (${Object.entries(totals.cancels)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}; ${totals.lateCancels} came after the end), most records after abort() ${totals.maxStepsAfterCancel}, over one step ${totals.cancelsOverOneStep}, cancelled without a cancel ${totals.spuriousCancels}`,
  );
  console.log(
    `RSS ${warm.rssMiB.toFixed(1)} MiB after warm-up → ${last.rssMiB.toFixed(1)} MiB at the end (${(rssGrowth * 100).toFixed(2)}%, limit +${RSS_GROWTH_LIMIT * 100}%; peak since ${peakRss.toFixed(1)} MiB); heap ${warm.heapUsedMiB.toFixed(1)} → ${last.heapUsedMiB.toFixed(1)} MiB; listeners ${warm.listeners} → ${last.listeners}; handles ${warm.handles} → ${last.handles}${last.gpuBuffers !== undefined ? `; GPU buffers ${warm.gpuBuffers} → ${last.gpuBuffers}` : ''}`,
  );
  for (const [k, ok] of Object.entries(checks)) console.log(`${ok ? 'PASS' : 'FAIL'} ${k}`);
  const json = {
    backend: backend.label,
    model: path.basename(MODEL),
    minutes,
    warmupS: WARMUP_S,
    youngGenerationPinned: pinned,
    totals,
    checks,
    rssGrowth,
    peakRssMiB: peakRss,
    warm,
    last,
    samples,
  };
  console.log(`\nJSON ${JSON.stringify({ ...json, samples: undefined })}`);
  if (process.env.SOAK_JSON) writeFileSync(process.env.SOAK_JSON, JSON.stringify(json, null, 1));
  if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
