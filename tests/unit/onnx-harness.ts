/**
 * Test harness: runs an ONNX decoder (Optimum KV-cache layout) in onnxruntime-web's WebAssembly
 * build and the engine's CPU reference model side by side — logits over a prompt, then greedy
 * steps one token at a time with the cache fed back — and reports the largest logit difference
 * and both id sequences. Used by export.test.ts for our exports and for the fixture ONNX file.
 */
import * as ort from 'onnxruntime-web';
import { Model } from '../../engine/model/model';
import type { LoadedModel } from '../../engine/model/types';

ort.env.wasm.numThreads = 1;

export interface HarnessResult {
  /** max |ours − engine| over the prompt's logits and every greedy step's. */
  prefillDiff: number;
  stepDiff: number;
  onnxIds: number[];
  engineIds: number[];
  inputNames: readonly string[];
  outputNames: readonly string[];
}

function argmax(x: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[from + i] > x[from + best]) best = i;
  return best;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return Number.isNaN(d) ? Infinity : d;
}

const i64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), [1, xs.length]);

/** Runs `steps` greedy tokens after `prompt` in both, the engine on a fresh Model of `loaded`. */
export async function compareWithEngine(
  onnx: Uint8Array,
  loaded: LoadedModel,
  prompt: number[],
  steps: number,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<HarnessResult> {
  const session = await ort.InferenceSession.create(onnx, options);
  try {
    const c = loaded.config;
    const V = c.vocabSize;
    const engine = new Model(loaded, { contextLength: prompt.length + steps + 1, kernel: 'js' });
    const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, c.numKvHeads, 0, c.headDim]);
    const past = new Map<string, ort.Tensor>();
    for (let i = 0; i < c.numLayers; i++) for (const kv of ['key', 'value']) past.set(`past_key_values.${i}.${kv}`, empty());
    let len = 0;
    const run = async (ids: number[]): Promise<Float32Array> => {
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of session.inputNames) {
        if (name === 'input_ids') feeds[name] = i64(ids);
        else if (name === 'position_ids') feeds[name] = i64(ids.map((_, t) => len + t));
        else if (name === 'attention_mask') feeds[name] = i64(new Array<number>(len + ids.length).fill(1));
        else if (past.has(name)) feeds[name] = past.get(name)!;
        else throw new Error(`harness: unknown input ${name}`);
      }
      const out = await session.run(feeds);
      for (let i = 0; i < c.numLayers; i++) for (const kv of ['key', 'value']) past.set(`past_key_values.${i}.${kv}`, out[`present.${i}.${kv}`]);
      len += ids.length;
      return out.logits.data as Float32Array; // [1, T, V]
    };
    const logits = await run(prompt);
    const ref = engine.forward(prompt).logits; // [T, V]
    const prefillDiff = maxDiff(logits, ref);
    const T = prompt.length;
    let onnxNext = argmax(logits, (T - 1) * V, V);
    let engineNext = argmax(ref, (T - 1) * V, V);
    const onnxIds: number[] = [];
    const engineIds: number[] = [];
    let stepDiff = 0;
    for (let s = 0; s < steps; s++) {
      onnxIds.push(onnxNext);
      engineIds.push(engineNext);
      const a = await run([onnxNext]); // [1, 1, V]
      const b = engine.forward([engineNext], undefined, { lastOnly: true }).logits; // [1, V]
      stepDiff = Math.max(stepDiff, maxDiff(a, b));
      onnxNext = argmax(a, 0, V);
      engineNext = argmax(b, 0, V);
    }
    return { prefillDiff, stepDiff, onnxIds, engineIds, inputNames: session.inputNames, outputNames: session.outputNames };
  } finally {
    await session.release();
  }
}

/**
 * A batch of two in one ONNX run: row 0 the prompt, row 1 the prompt less its last `pad` tokens,
 * left-padded with `pad` masked slots (attention_mask 0, position_ids restarting at 0 after
 * the padding); then one decode step for both rows. Returns max |ONNX − engine| of each row's
 * real positions against an engine run of that row alone.
 */
export async function compareBatchPadded(onnx: Uint8Array, loaded: () => Promise<LoadedModel>, prompt: number[], pad: number): Promise<number> {
  const session = await ort.InferenceSession.create(onnx);
  try {
    const first = await loaded();
    const c = first.config;
    const V = c.vocabSize;
    const T = prompt.length;
    const rows = [prompt, prompt.slice(0, T - pad)];
    const engines = [new Model(first, { contextLength: T + 2, kernel: 'js' }), new Model(await loaded(), { contextLength: T + 2, kernel: 'js' })];
    const tensor2 = (a: number[], b: number[]) => new ort.Tensor('int64', BigInt64Array.from([...a, ...b].map(BigInt)), [2, a.length]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: tensor2(prompt, [...new Array<number>(pad).fill(0), ...rows[1]]),
      attention_mask: tensor2(new Array<number>(T).fill(1), [...new Array<number>(pad).fill(0), ...new Array<number>(T - pad).fill(1)]),
      position_ids: tensor2(
        prompt.map((_, t) => t),
        prompt.map((_, t) => Math.max(0, t - pad)),
      ),
    };
    for (let i = 0; i < c.numLayers; i++)
      for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [2, c.numKvHeads, 0, c.headDim]);
    const out = await session.run(feeds);
    const logits = out.logits.data as Float32Array; // [2, T, V]
    let d = 0;
    const next: number[] = [];
    rows.forEach((ids, r) => {
      const ref = engines[r].forward(ids).logits; // [n, V]
      const off = (r * T + (T - ids.length)) * V;
      d = Math.max(d, maxDiff(logits.subarray(off, off + ids.length * V), ref));
      next.push(argmax(ref, (ids.length - 1) * V, V));
    });
    // one decode step for both rows, the padding still masked
    const step: Record<string, ort.Tensor> = {
      input_ids: tensor2([next[0]], [next[1]]),
      attention_mask: tensor2(new Array<number>(T + 1).fill(1), [...new Array<number>(pad).fill(0), ...new Array<number>(T + 1 - pad).fill(1)]),
      position_ids: tensor2([T], [T - pad]),
    };
    for (let i = 0; i < c.numLayers; i++) for (const kv of ['key', 'value']) step[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
    const o2 = (await session.run(step)).logits.data as Float32Array; // [2, 1, V]
    rows.forEach((_, r) => {
      const ref = engines[r].forward([next[r]], undefined, { lastOnly: true }).logits; // [1, V]
      d = Math.max(d, maxDiff(o2.subarray(r * V, (r + 1) * V), ref));
    });
    return d;
  } finally {
    await session.release();
  }
}
