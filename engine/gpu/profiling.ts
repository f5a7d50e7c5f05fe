/**
 * Profiling hooks of a GpuModel, for the benchmark (engine/gpu/gpu.bench.ts): host time of
 * pipelined decode steps (`DecodeStats`), GPU timestamps around each decode step's pass
 * (`StepTimestamps`), the dispatches of one decode step (`traceDecodeStep`) and where a
 * decode step's time goes on the host and the GPU (`profileHost`).
 */
import type { DecodeScheduler } from './decode-scheduler';
import type { ForwardPlan } from './forward-plan';
import { Dispatch } from './kernel';
import type { ModelCore } from './lifecycle';

/** Host time spent encoding and submitting pipelined decode steps, and waiting on their read-backs. */
export interface DecodeStats {
  /** ms encoding and submitting decode steps, all runs */
  encodeMs: number;
  steps: number;
  /** dispatches of the last decode step */
  dispatchesPerStep: number;
  /** ms waiting on decode read-backs, all runs */
  waitMs: number;
  /** performance.now() when the last greedy decode submitted its first step */
  firstSubmitAt: number;
  /** performance.now() when the last greedy decode read its last block */
  lastReadAt: number;
  /** performance.now() when the last forward of 64 or more tokens was submitted, and when its read-back came */
  longSubmitAt: number;
  longReadAt: number;
}

export function newDecodeStats(): DecodeStats {
  return { encodeMs: 0, steps: 0, dispatchesPerStep: 0, waitMs: 0, firstSubmitAt: 0, lastReadAt: 0, longSubmitAt: 0, longReadAt: 0 };
}

/**
 * When set on a model, each decode step's forward pass writes its start and end GPU
 * timestamps at 2i, 2i + 1 of `set` (i = `n`, counted up to `cap`).
 */
export interface StepTimestamps {
  set: GPUQuerySet;
  n: number;
  cap: number;
}

export type TracedDispatch = { d: Dispatch; grid: [number, number, number] };

/** The dispatches of one decode step at `slot` (inputs written, nothing submitted), for timing each kernel on its own. */
export function traceDecodeStep(core: ModelCore, plan: ForwardPlan, decode: DecodeScheduler, slot: number): TracedDispatch[] {
  core.alive();
  const trace: TracedDispatch[] = [];
  const enc = core.device.createCommandEncoder();
  decode.encodeDecodeInputs(enc, slot);
  core.device.queue.submit([enc.finish()]); // the step's inputs stay for the profile
  Dispatch.trace = trace;
  try {
    const enc = core.device.createCommandEncoder();
    plan.encodeForward(enc, 1, slot, 1, {}, []);
    plan.encodeTopK(enc, 1);
    enc.finish();
  } finally {
    Dispatch.trace = undefined;
  }
  return trace;
}

/**
 * The dispatches of a prefill of `T` tokens from slot 0, for timing each kernel on its own.
 * The forward that ran just before (T tokens from an empty cache) left its inputs and step
 * uniform in place; nothing is submitted here.
 */
export function tracePrefill(core: ModelCore, plan: ForwardPlan, T: number): TracedDispatch[] {
  core.alive();
  const trace: TracedDispatch[] = [];
  Dispatch.trace = trace;
  try {
    const enc = core.device.createCommandEncoder();
    plan.encodeForward(enc, T, 0, 1, {}, []);
    plan.encodeTopK(enc, 1);
    enc.finish();
  } finally {
    Dispatch.trace = undefined;
  }
  return trace;
}

/**
 * GPU µs of one dispatch of `list` (each encoded in turn, the whole list `reps` times in one
 * pass; a one-pass round trip taken out).
 */
export async function timeDispatches(device: GPUDevice, list: TracedDispatch[], reps: number): Promise<number> {
  const time = async (n: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let r = 0; r < n; r++) for (const t of list) t.d.encode(pass, ...t.grid);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await time(1); // warm-up
  return (((await time(reps)) - (await time(1))) * 1000) / ((reps - 1) * list.length);
}

/**
 * Where a decode step's time goes at slot `slot`: host ms to encode + finish its commands
 * and to submit them, and GPU ms per step when `n` steps run chained in one submission
 * (no host in the way; a 1-step chain's round trip taken out).
 */
export async function profileHost(core: ModelCore, decode: DecodeScheduler, slot: number, n: number): Promise<{ encodeMs: number; submitMs: number; gpuMs: number }> {
  core.alive();
  const device = core.device;
  const encodeSteps = (enc: GPUCommandEncoder, k: number) => {
    for (let i = 0; i < k; i++) decode.encodeDecodeStep(enc, slot);
  };
  let t = performance.now();
  for (let i = 0; i < n; i++) {
    const enc = device.createCommandEncoder();
    encodeSteps(enc, 1);
    enc.finish();
  }
  const encodeMs = (performance.now() - t) / n;
  let submitMs = 0;
  for (let i = 0; i < n; i++) {
    const enc = device.createCommandEncoder();
    encodeSteps(enc, 1);
    const cb = enc.finish();
    t = performance.now();
    device.queue.submit([cb]);
    submitMs += performance.now() - t;
    await device.queue.onSubmittedWorkDone();
  }
  const chain = async (k: number) => {
    const enc = device.createCommandEncoder();
    encodeSteps(enc, k);
    const cb = enc.finish();
    const t0 = performance.now();
    device.queue.submit([cb]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await chain(1);
  const gpuMs = ((await chain(n)) - (await chain(1))) / (n - 1);
  return { encodeMs, submitMs: submitMs / n, gpuMs };
}
