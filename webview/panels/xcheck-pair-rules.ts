/**
 * The rules of the Cross-check tab's pairing choice (no DOM: tested in Node; the controls are
 * xcheck-pair.ts): (a) the active model against its ONNX export, or (b) a pair of models from
 * the Models list — one ONNX model (run on onnxruntime-web) and one the engine runs (an HF
 * folder, GGUF or llama2.c file). For (b): which models each side offers, the defaults (the
 * active model on its side; on the other, the first listed model of the other kind whose
 * vocabulary size matches), why a pair cannot run, and what to add when the list lacks a kind.
 */
import { xcheckPairProblem, type ModelSummary } from '../../engine/protocol/index';

export type Pairing = 'export' | 'pair';

/** The user's picks (model ids; absent: the default). */
export interface PairPicks {
  pairing: Pairing;
  onnx?: string;
  engine?: string;
}

export interface ResolvedPair {
  onnx?: ModelSummary;
  engine?: ModelSummary;
}

export const isOnnx = (m: ModelSummary) => m.load?.format === 'onnx';
export const isEngine = (m: ModelSummary) => !!m.load && m.load.format !== 'onnx';

/** The first model of `kind` whose vocabulary size is that of `other` (when known), else the first of `kind`. */
function matching(models: ModelSummary[], kind: (m: ModelSummary) => boolean, other: ModelSummary | undefined): ModelSummary | undefined {
  const of = models.filter(kind);
  const v = other?.info?.vocabSize;
  return (v === undefined ? undefined : of.find((m) => m.info?.vocabSize === v)) ?? of[0];
}

/** The pair to run: each pick while it is still listed as its kind, else the default. */
export function resolvePair(models: ModelSummary[], activeId: string | undefined, picks: PairPicks): ResolvedPair {
  const find = (id: string | undefined, kind: (m: ModelSummary) => boolean) => models.find((m) => m.id === id && kind(m));
  let onnx = find(picks.onnx, isOnnx) ?? find(activeId, isOnnx);
  let engine = find(picks.engine, isEngine) ?? find(activeId, isEngine);
  if (!engine) engine = matching(models, isEngine, onnx);
  if (!onnx) onnx = matching(models, isOnnx, engine);
  return { onnx, engine };
}

/** What to add when the list has no ONNX model or no engine model; undefined: it has both. */
export function pairEmpty(models: ModelSummary[]): string | undefined {
  const onnx = models.some(isOnnx);
  const engine = models.some(isEngine);
  const add = 'with LLM Playground: Add Model from Path…';
  if (!onnx && !engine)
    return `The Models list has no model that loads. Add an ONNX model (a .onnx decoder) and one the engine runs (a .safetensors folder, GGUF or llama2.c file) ${add}.`;
  if (!onnx)
    return `The Models list has no ONNX model. Add a .onnx decoder ${add} (LLM Playground: Export Model… writes one from a model of the list) to compare it with a model the engine runs.`;
  if (!engine)
    return `The Models list has no model the engine runs. Add a .safetensors folder, GGUF or llama2.c file of the same weights ${add} to compare it with the ONNX model.`;
  return undefined;
}

/** Why the pair cannot run, as far as the list knows; undefined: it can. */
export function pairBlocked(models: ModelSummary[], p: ResolvedPair): string | undefined {
  const empty = pairEmpty(models);
  if (empty) return empty;
  if (!p.onnx || !p.engine) return 'Pick an ONNX model and a model the engine runs.';
  const side = (m: ModelSummary) => ({ name: m.name, format: m.load!.format, vocabSize: m.info?.vocabSize });
  const problem = xcheckPairProblem(side(p.onnx), side(p.engine));
  if (problem) return problem;
  if (p.onnx.info && p.engine.info && !p.onnx.info.tokenizer && !p.engine.info.tokenizer)
    return `Neither ${p.engine.name} nor ${p.onnx.name} has a tokenizer, so the text cannot be turned into tokens.`;
  return undefined;
}
