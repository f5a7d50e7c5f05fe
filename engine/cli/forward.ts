/** `forward`: one forward pass over given ids; logits and captures as JSON (or, with --out, a binary file). */
import { loadLoraAdapterFromPath } from '../formats/hf-node';
import { openModel, type OpenedModel } from '../formats/load-node';
import type { Backend, ForwardResult, RouterChoice } from '../backend/contract';
import { argmax } from '../generate/samplers';
import { lensWeights, logitLens } from '../model/logit-lens';
import type { ModelConfig } from '../model/types';
import { backendOpt, checkIds, encodeArray, kvDtypeOpt, openBackend, parse, parseIds, threadsOpt, type Out } from './common';
import { UsageError } from './errors';
import { attentionFileKind, writeAttentions } from './attention-file';
import { Interrupted, interruptible, PREFILL_CHUNK, prefillProgress } from './interrupt';

/** router_logits [L, T, E] and router_topk_experts [L][T][k] (best first), the fixtures' names. */
function routerJson(router: RouterChoice[], T: number): { router_logits: ReturnType<typeof encodeArray>; router_topk_experts: number[][][] } {
  const E = router[0].probs.length / T;
  const all = new Float32Array(router.length * T * E); // [L, T, E]
  router.forEach((rc, l) => {
    if (!rc.logits) throw new Error(`--router: the backend did not record layer ${rc.layer}'s router logits`);
    all.set(rc.logits, l * T * E);
  });
  const experts = router.map((rc) => Array.from({ length: T }, (_, t) => Array.from(rc.experts.subarray(t * rc.topK, (t + 1) * rc.topK))));
  return { router_logits: encodeArray(all, [router.length, T, E]), router_topk_experts: experts };
}

/** The most float32 bytes `forward --json` puts in its output (base64 makes it 4/3 as long; a JS string holds at most ~512 MiB). */
export const MAX_FORWARD_JSON_BYTES = 256 * 2 ** 20;
/** The most bytes of attention probabilities a pass may capture in memory (--out streams them to a file, but the pass holds them). */
export const MAX_ATTENTION_CAPTURE_BYTES = 2 ** 30;

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/**
 * Refuses (a UsageError with the sizes) a forward whose JSON output would not fit, or whose
 * attention capture would not fit in memory, before anything runs. `toFile`: the attentions
 * go to a file (--out), not into the JSON.
 */
export function checkForwardOutput(c: ModelConfig, T: number, capture: { attentions: boolean; residuals: boolean; toFile?: boolean }): void {
  const attentionBytes = 4 * c.numLayers * c.numHeads * T * T;
  const attentionWhat = `attentions ${c.numLayers}×${c.numHeads}×${T}×${T}`;
  const parts: [string, number][] = [[`logits ${T}×${c.vocabSize}`, T * c.vocabSize]];
  if (capture.attentions && !capture.toFile) parts.push([attentionWhat, c.numLayers * c.numHeads * T * T]);
  if (capture.residuals) parts.push([`logit lens ${c.numLayers}×${T}×${c.vocabSize}`, c.numLayers * T * c.vocabSize]);
  const bytes = 4 * parts.reduce((a, [, n]) => a + n, 0);
  if (bytes > MAX_FORWARD_JSON_BYTES)
    throw new UsageError(
      `forward: the output would hold ${mib(bytes)} MiB of float32 (${parts.map(([what]) => what).join(', ')}); ` +
        `the limit is ${MAX_FORWARD_JSON_BYTES / 2 ** 20} MiB: pass fewer --ids, or leave out --attentions / --logit-lens` +
        (capture.attentions && !capture.toFile ? ', or write the attentions to a file with --out <file.npy|file.safetensors>' : ''),
    );
  if (capture.attentions && attentionBytes > MAX_ATTENTION_CAPTURE_BYTES)
    throw new UsageError(
      `forward: the ${attentionWhat} would take ${mib(attentionBytes)} MiB of memory while the pass runs; the limit is ${MAX_ATTENTION_CAPTURE_BYTES / 2 ** 20} MiB: pass fewer --ids`,
    );
}

/** Runs `ids` in chunks of PREFILL_CHUNK (no captures): the logits [T, V], progress on stderr, Ctrl-C between chunks. */
async function forwardChunked(model: Backend, ids: number[], V: number): Promise<Float32Array> {
  const logits = new Float32Array(ids.length * V); // [T, V]
  const intr = interruptible();
  const progress = prefillProgress(ids.length);
  try {
    for (let s = 0; s < ids.length; s += PREFILL_CHUNK) {
      const part = ids.slice(s, s + PREFILL_CHUNK);
      const r = await model.forward(part);
      logits.set(r.logits, s * V);
      progress(s + part.length);
      await intr.breathe();
      if (intr.signal.aborted && s + part.length < ids.length)
        throw new Interrupted(`stopped by Ctrl-C after ${(s + part.length).toLocaleString('en')} of ${ids.length.toLocaleString('en')} ids`);
    }
  } finally {
    intr.dispose();
  }
  return logits;
}

export async function cmdForward(argv: string[], out: Out): Promise<void> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    ids: { type: 'string' },
    lora: { type: 'string' },
    attentions: { type: 'boolean' },
    'logit-lens': { type: 'boolean' },
    router: { type: 'boolean' },
    backend: { type: 'string' },
    'kv-dtype': { type: 'string' },
    threads: { type: 'string' },
    out: { type: 'string' },
  });
  // a bad --backend or --threads is refused before the model is read
  threadsOpt(values.threads as string | undefined, backendOpt(values.backend as string | undefined));
  const kvDtype = kvDtypeOpt(values['kv-dtype'] as string | undefined);
  if (!values.model) throw new UsageError('forward needs --model <path>');
  const outFile = values.out as string | undefined;
  if (outFile !== undefined) {
    if (!values.attentions) throw new UsageError('--out writes the attentions: give --attentions too');
    attentionFileKind(outFile); // refuses another ending before the model is read
  }
  const ids = parseIds(values.ids as string | undefined, '--ids');
  const m: OpenedModel = await openModel(values.model as string);
  const backend = backendOpt(values.backend as string | undefined, m.loaded);
  const threads = threadsOpt(values.threads as string | undefined, backend);
  const c = m.loaded.config;
  checkIds(ids, c.vocabSize, '--ids');
  if (ids.length > c.maxPositions) throw new UsageError(`--ids: ${ids.length} ids are more than the model's ${c.maxPositions} positions`);
  const adapter = values.lora ? await loadLoraAdapterFromPath(values.lora as string, c) : undefined;
  if (values.router && !c.moe) throw new UsageError(`--router: ${values.model as string} is not a mixture-of-experts model (no router)`);
  const capture = { attentions: Boolean(values.attentions), residuals: Boolean(values['logit-lens']), router: Boolean(values.router) };
  checkForwardOutput(c, ids.length, { ...capture, toFile: outFile !== undefined });
  const model = await openBackend(backend, m.loaded, Math.max(ids.length, 1), undefined, kvDtype, {}, threads);
  let r: ForwardResult;
  try {
    if (adapter) {
      if (!model.setLora) throw new UsageError(`--lora: the ${model.id} backend cannot apply LoRA adapters`);
      model.setLora(adapter);
    }
    // a long run without captures goes in chunks (progress, Ctrl-C); captures need the whole pass
    if (ids.length > PREFILL_CHUNK && !capture.attentions && !capture.residuals && !capture.router)
      r = { logits: await forwardChunked(model, ids, c.vocabSize), rows: ids.length, vocab: c.vocabSize, start: 0, keys: ids.length };
    else r = await model.forward(ids, undefined, { capture });
  } finally {
    model.dispose();
  }
  const T = ids.length;
  const extra: Record<string, unknown> = {};
  if (r.attentions && outFile !== undefined) {
    const bytes = await writeAttentions(outFile, r.attentions, [r.attentions.length, c.numHeads, T, T]);
    extra.attentions_file = { path: outFile, format: attentionFileKind(outFile), dtype: 'float32', shape: [r.attentions.length, c.numHeads, T, T], bytes };
  } else if (r.attentions) {
    const L = r.attentions.length;
    const all = new Float32Array(L * c.numHeads * T * T); // [L, H, T, T]
    r.attentions.forEach((a, l) => all.set(a, l * c.numHeads * T * T));
    extra.attentions = encodeArray(all, [L, c.numHeads, T, T]);
  }
  if (r.residuals) extra.logit_lens = encodeArray(logitLens(c, lensWeights(c, m.loaded.weights), r.residuals), [c.numLayers, T, c.vocabSize]);
  if (r.router) Object.assign(extra, routerJson(r.router, T));
  if (values.json) return out(JSON.stringify({ logits: encodeArray(r.logits, [T, c.vocabSize]), ...extra }));
  for (let t = 0; t < T; t++) {
    const row = r.logits.subarray(t * c.vocabSize, (t + 1) * c.vocabSize);
    const top = argmax(row);
    out(`position ${t} (id ${ids[t]}): argmax ${top} logit ${row[top].toFixed(5)}`);
  }
  if (outFile !== undefined) out(`attentions [${(extra.attentions_file as { shape: number[] }).shape.join(', ')}] float32 written to ${outFile}`);
}
