/**
 * The decoding lab from the command line: generate's extra processors, beam search,
 * speculative decoding and per-step inspection; `process` (a processor chain over given
 * logits) and `compare` (several strategies on one prompt).
 */
import { readFileSync } from 'node:fs';
import type { Backend } from '../backend/contract';
import { openModel, type OpenedModel } from '../formats/load-node';
import { beamSearch, type BeamSearchResult } from '../generate/beam';
import { hfOrder, isProcessorName, PROCESSOR_NAMES, processorsFromSpecs, UnknownProcessorError, type ChainContext, type ProcessorSpec } from '../generate/chain';
import { generate, type GenerateSummary, type StepRecord } from '../generate/generate';
import type { InspectOptions } from '../generate/inspect';
import { isSampling, type ProcessorOptions } from '../generate/options';
import { ParameterRangeError, type LogitsProcessor } from '../generate/processors';
import { Rng } from '../generate/rng';
import { GreedySampler, MultinomialSampler, type Sampler } from '../generate/samplers';
import { speculative, type SpeculativeStep } from '../generate/speculative';
import type { Tokenizer } from '../tokenizer/types';
import { UsageError } from './errors';

type Out = (s: string) => void;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** generate's flags for the lab (parseArgs options). */
export const LAB_FLAGS = {
  'frequency-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' },
  'logit-bias': { type: 'string' },
  'bad-words': { type: 'string' },
  'min-new-tokens': { type: 'string' },
  'top-n-sigma': { type: 'string' },
  'xtc-threshold': { type: 'string' },
  'xtc-probability': { type: 'string' },
  dry: { type: 'string' },
  'dry-base': { type: 'string' },
  'dry-allowed-length': { type: 'string' },
  'mirostat-tau': { type: 'string' },
  'mirostat-eta': { type: 'string' },
  samplers: { type: 'string' },
  'num-beams': { type: 'string' },
  'num-return-sequences': { type: 'string' },
  'length-penalty': { type: 'string' },
  'early-stopping': { type: 'string' },
  'num-beam-groups': { type: 'string' },
  'diversity-penalty': { type: 'string' },
  'draft-model': { type: 'string' },
  'draft-tokens': { type: 'string' },
  'trace-top': { type: 'string' },
  'name-token': { type: 'string', multiple: true },
} as const;

export const LAB_USAGE = `           [--frequency-penalty F] [--presence-penalty P] [--logit-bias ID:B,…] [--bad-words 1,2;3]
           [--min-new-tokens N] [--top-n-sigma N] [--xtc-threshold T [--xtc-probability P]]
           [--dry M [--dry-base B] [--dry-allowed-length N]] [--mirostat-tau T [--mirostat-eta E]]
           [--samplers name,name,…] (the processor order; default Hugging Face's)
           [--num-beams N [--num-return-sequences K] [--length-penalty L] [--early-stopping true|false|never]
            [--num-beam-groups G --diversity-penalty D]]
           [--draft-model <path> [--draft-tokens K]]
           [--trace [--trace-top N] [--name-token ID …]]
  process --input <file.json> --json    a processor chain over given logits
  compare --config <file.json>          several strategies on one prompt, one JSON result`;

/** Flag → spec name, for the flags that set one processor's main value. */
const VALUE_FLAGS: Record<string, string> = {
  temperature: 'temperature',
  'top-k': 'top_k',
  'top-p': 'top_p',
  'min-p': 'min_p',
  'typical-p': 'typical_p',
  epsilon: 'epsilon_cutoff',
  eta: 'eta_cutoff',
  'repetition-penalty': 'repetition_penalty',
  'no-repeat-ngram': 'no_repeat_ngram_size',
  'frequency-penalty': 'frequency_penalty',
  'presence-penalty': 'presence_penalty',
  'min-new-tokens': 'min_new_tokens',
  'top-n-sigma': 'top_n_sigma',
  'xtc-threshold': 'xtc',
  dry: 'dry',
  'mirostat-tau': 'mirostat_v2',
};
/** Spec names (and their sub-keys) → flags, for errors. */
const FLAG_OF: Record<string, string> = {
  ...Object.fromEntries(Object.entries(VALUE_FLAGS).map(([f, n]) => [n, f])),
  'xtc.threshold': 'xtc-threshold',
  'xtc.probability': 'xtc-probability',
  'dry.multiplier': 'dry',
  'dry.base': 'dry-base',
  'dry.allowed_length': 'dry-allowed-length',
  'mirostat_v2.tau': 'mirostat-tau',
  'mirostat_v2.eta': 'mirostat-eta',
  logit_bias: 'logit-bias',
  'logit_bias.bias': 'logit-bias',
  bad_words_ids: 'bad-words',
  num_beams: 'num-beams',
  num_return_sequences: 'num-return-sequences',
  num_beam_groups: 'num-beam-groups',
  diversity_penalty: 'diversity-penalty',
  length_penalty: 'length-penalty',
  early_stopping: 'early-stopping',
  draftTokens: 'draft-tokens',
  'draft model': 'draft-model',
};
/** Processors that only act when sampling (Hugging Face's warpers and llama.cpp's samplers). */
const SAMPLING_SPECS = new Set(['temperature', 'top_k', 'top_p', 'min_p', 'typical_p', 'epsilon_cutoff', 'eta_cutoff', 'top_n_sigma', 'xtc', 'mirostat_v2']);

/** A ParameterRangeError or UnknownProcessorError as a usage error naming the flag (or the JSON key). */
export function asUsage(e: unknown, json = false): unknown {
  if (e instanceof ParameterRangeError) {
    const flag = FLAG_OF[e.parameter];
    return new UsageError(`${json || !flag ? e.parameter : `--${flag}`} must be ${e.expected}, got ${String(e.got)}`);
  }
  if (e instanceof UnknownProcessorError) return new UsageError(e.message);
  return e;
}

function num(values: Values, flag: string): number | undefined {
  const s = values[flag];
  if (s === undefined) return undefined;
  const n = typeof s === 'string' && s.trim() !== '' ? Number(s) : NaN;
  if (Number.isNaN(n)) throw new UsageError(`--${flag} must be a number, got "${String(s)}"`);
  return n;
}

/** --logit-bias 42:-100,7:2.5 (−inf bans). */
function parseBias(s: string): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const part of s.split(',')) {
    const m = /^\s*(\d+)\s*:\s*(-?inf|-?[\d.eE+-]+)\s*$/.exec(part);
    if (!m || (!/inf/.test(m[2]) && !Number.isFinite(Number(m[2]))))
      throw new UsageError(`--logit-bias must be ID:BIAS pairs separated by commas (BIAS a number or -inf), got "${part}"`);
    out[m[1]] = /-inf/.test(m[2]) ? null : Number(m[2]);
  }
  return out;
}

/** --bad-words 5,6;7: sequences separated by semicolons. */
function parseBadWords(s: string): number[][] {
  return s.split(';').map((seq) =>
    seq.split(',').map((x) => {
      const n = Number(x.trim());
      if (x.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`--bad-words must be token id lists like 5,6;7, got "${s}"`);
      return n;
    }),
  );
}

export interface LabDecoding {
  processors: LogitsProcessor[];
  sampling: boolean;
  specs: ProcessorSpec[];
}

/**
 * The processor chain of generate's flags when a lab flag is used (undefined otherwise:
 * the plain flags' chain stands). Every flag becomes a spec; --samplers orders them (it
 * must name each one given), else Hugging Face's order. Greedy unless --temperature > 0 or
 * a sampling processor is given; sampling processors with --temperature 0 are an error.
 */
export function labDecoding(values: Values, base: ProcessorOptions, ctx: ChainContext): LabDecoding | undefined {
  const lab = ['samplers', 'logit-bias', 'bad-words', ...Object.keys(VALUE_FLAGS).filter((f) => f in LAB_FLAGS)].some((f) => values[f] !== undefined);
  if (!lab) return undefined;
  const specs: ProcessorSpec[] = [];
  for (const [flag, name] of Object.entries(VALUE_FLAGS)) {
    const v = num(values, flag);
    if (v === undefined) continue;
    const spec: ProcessorSpec = { name, value: v };
    if (name === 'xtc' && values['xtc-probability'] !== undefined) spec.probability = num(values, 'xtc-probability');
    if (name === 'xtc') spec.seed = ctx.seed;
    if (name === 'dry')
      Object.assign(
        spec,
        values['dry-base'] !== undefined ? { base: num(values, 'dry-base') } : {},
        values['dry-allowed-length'] !== undefined ? { allowed_length: num(values, 'dry-allowed-length') } : {},
      );
    if (name === 'mirostat_v2' && values['mirostat-eta'] !== undefined) spec.eta = num(values, 'mirostat-eta');
    specs.push(spec);
  }
  if (values['logit-bias'] !== undefined) specs.push({ name: 'logit_bias', bias: parseBias(values['logit-bias'] as string) });
  if (values['bad-words'] !== undefined) specs.push({ name: 'bad_words_ids', ids: parseBadWords(values['bad-words'] as string) });
  const samplingGiven = specs.filter((s) => SAMPLING_SPECS.has(s.name) && s.name !== 'temperature');
  const t = base.temperature ?? 0;
  if (values.temperature !== undefined && t === 0 && samplingGiven.length)
    throw new UsageError(`--${FLAG_OF[samplingGiven[0].name] ?? samplingGiven[0].name} samples, but --temperature 0 decodes greedily; give a temperature > 0 or drop it`);
  const sampling = isSampling({ temperature: t }) || samplingGiven.length > 0;
  let list = specs.filter((s) => (s.name === 'temperature' ? s.value !== 0 && s.value !== 1 : sampling || !SAMPLING_SPECS.has(s.name)));
  if (values.samplers !== undefined) {
    const order = (values.samplers as string).split(',').map((x) => x.trim());
    for (const n of order) if (!isProcessorName(n)) throw new UsageError(`--samplers: ${new UnknownProcessorError(n, Object.keys(PROCESSOR_NAMES)).message}`);
    const missing = list.find((s) => !order.includes(s.name));
    if (missing) throw new UsageError(`--samplers must name every processor given; it leaves out ${missing.name} (set by --${FLAG_OF[missing.name] ?? missing.name})`);
    list = [...list].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  } else {
    list = hfOrder(list);
  }
  try {
    return { processors: processorsFromSpecs(list, ctx), sampling, specs: list };
  } catch (e) {
    throw asUsage(e);
  }
}

/** --trace-top / --name-token as the request's inspect option (undefined when neither is given). */
export function inspectOption(values: Values, vocabSize: number): InspectOptions | undefined {
  const top = values['trace-top'];
  const named = (values['name-token'] as string[] | undefined) ?? [];
  if (top === undefined && !named.length) return undefined;
  if (!values.trace) throw new UsageError('--trace-top and --name-token add to --trace; give --trace too');
  const n = top === undefined ? 5 : Number(top);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--trace-top must be an integer ≥ 1, got "${String(top)}"`);
  const ids = named.map((s) => {
    const id = Number(s);
    if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize) throw new UsageError(`--name-token must be a token id in [0, ${vocabSize}), got "${s}"`);
    return id;
  });
  return { top: n, named: ids };
}

export interface BeamFlags {
  numBeams: number;
  numReturnSequences: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  numBeamGroups: number;
  diversityPenalty: number;
}

/** The beam flags, or undefined without --num-beams. */
export function beamFlags(values: Values): BeamFlags | undefined {
  const nb = values['num-beams'];
  const others = ['num-return-sequences', 'length-penalty', 'early-stopping', 'num-beam-groups', 'diversity-penalty'].filter((f) => values[f] !== undefined);
  if (nb === undefined) {
    if (others.length) throw new UsageError(`--${others[0]} needs --num-beams`);
    return undefined;
  }
  const int = (flag: string, dflt: number) => {
    const v = values[flag];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} must be an integer ≥ 1, got "${String(v)}"`);
    return n;
  };
  const es = values['early-stopping'];
  if (es !== undefined && !['true', 'false', 'never'].includes(es as string)) throw new UsageError(`--early-stopping must be true, false or never, got "${String(es)}"`);
  return {
    numBeams: int('num-beams', 1),
    numReturnSequences: int('num-return-sequences', 1),
    lengthPenalty: num(values, 'length-penalty') ?? 1,
    earlyStopping: es === 'true' ? true : es === 'never' ? 'never' : false,
    numBeamGroups: int('num-beam-groups', 1),
    diversityPenalty: num(values, 'diversity-penalty') ?? 0,
  };
}

export interface LabRun {
  backend: Backend;
  promptIds: number[];
  maxTokens: number;
  eosIds: number[];
  processors: LogitsProcessor[];
  sampling: boolean;
  seed: number;
}

/** Beam search as generate's JSON fields. */
export async function runBeam(r: LabRun, b: BeamFlags): Promise<{ result: BeamSearchResult; json: Record<string, unknown> }> {
  if (r.sampling) throw new UsageError('--num-beams searches deterministically; drop the sampling flags (--temperature > 0, --top-k, --top-p, …)');
  let result: BeamSearchResult;
  try {
    result = await beamSearch(r.backend, r.promptIds, { ...b, maxNewTokens: r.maxTokens, eosIds: r.eosIds, processors: r.processors });
  } catch (e) {
    throw asUsage(e);
  }
  return {
    result,
    json: {
      generated_ids: result.sequences[0] ?? [],
      sequences: result.sequences,
      sequence_scores: result.scores,
      stop_ids: result.eos,
    },
  };
}

/**
 * Opens a draft model and checks it shares the target's vocabulary: the same size and,
 * where both come with a tokenizer, the same text for every printable, non-special id.
 */
export async function openDraft(p: string, vocabSize: number, target?: Tokenizer): Promise<OpenedModel> {
  const d = await openModel(p);
  if (d.loaded.config.vocabSize !== vocabSize) throw new UsageError(`--draft-model must have the target's vocabulary (${vocabSize} ids); ${p} has ${d.loaded.config.vocabSize}`);
  if (target && d.tokenizer) {
    // Formats spell special and byte tokens differently (llama2c "\n<s>\n", GGUF "<s>"): compare the printable ones.
    const printable = (t: string) => t !== '' && !/[\u0000-\u001f\ufffd]/.test(t);
    for (let id = 0; id < Math.min(vocabSize, target.vocabSize, d.tokenizer.vocabSize); id++) {
      const a = target.decode([id]);
      const b = d.tokenizer.decode([id]);
      if (a !== b && printable(a) && printable(b) && !target.specialIds.has(id) && !d.tokenizer.specialIds.has(id))
        throw new UsageError(`--draft-model must have the target's vocabulary; id ${id} is ${JSON.stringify(a)} for the target and ${JSON.stringify(b)} in ${p}`);
    }
  }
  return d;
}

/** Speculative decoding as generate's JSON fields. */
export async function runSpeculative(
  r: LabRun,
  draft: Backend,
  draftTokens: number,
  onStep?: (s: SpeculativeStep) => void,
): Promise<{ summary: GenerateSummary; json: Record<string, unknown> }> {
  const sampler: Sampler = r.sampling ? new MultinomialSampler(new Rng(r.seed)) : new GreedySampler();
  const it = speculative(r.backend, draft, {
    promptIds: r.promptIds,
    maxNewTokens: r.maxTokens,
    eosIds: r.eosIds,
    processors: r.processors,
    sampler,
    draftTokens,
    rng: new Rng(r.seed),
  });
  const steps: SpeculativeStep[] = [];
  let x;
  try {
    for (;;) {
      x = await it.next();
      if (x.done) break;
      steps.push(x.value);
      onStep?.(x.value);
    }
  } catch (e) {
    throw asUsage(e);
  }
  const drafted = steps.reduce((a, s) => a + s.drafted.length, 0);
  const accepted = steps.reduce((a, s) => a + s.accepted, 0);
  return {
    summary: x.value,
    json: { speculative: { draft_tokens: draftTokens, drafted, accepted, rejected: drafted - accepted, acceptance_rate: drafted ? accepted / drafted : 0, steps } },
  };
}

/** One step's trace record for --json (the inspection when asked). */
export function traceRecord(s: StepRecord): Record<string, unknown> {
  return { step: s.step, id: s.id, ms: +s.ms.toFixed(3), ...(s.inspection ? { inspection: s.inspection } : {}) };
}

// ---- process ----

interface ProcessInput {
  input_ids: number[];
  logits: number[];
  processors: ProcessorSpec[];
  prompt_length?: number;
  eos_token_id?: number | number[];
  seed?: number;
}

function readJson(p: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag} ${p}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${flag} ${p}: not JSON (${(e as Error).message})`);
  }
}

/** The scores of `process`: the chain over the logits, null where masked. */
export function processLogits(input: ProcessInput, where = 'input'): (number | null)[] {
  const bad = (key: string, expected: string) => new UsageError(`${where}: "${key}" must be ${expected}`);
  if (!Array.isArray(input.logits) || !input.logits.length || input.logits.some((x) => typeof x !== 'number')) throw bad('logits', 'a non-empty list of numbers');
  if (!Array.isArray(input.input_ids) || input.input_ids.some((x) => !Number.isSafeInteger(x) || x < 0)) throw bad('input_ids', 'a list of token ids (integers ≥ 0)');
  if (!Array.isArray(input.processors)) throw bad('processors', 'a list of {"name": …, "value": …}');
  const V = input.logits.length;
  const eos = input.eos_token_id === undefined ? [] : Array.isArray(input.eos_token_id) ? input.eos_token_id : [input.eos_token_id];
  let processors: LogitsProcessor[];
  try {
    processors = processorsFromSpecs(input.processors, { vocabSize: V, eosIds: eos, promptLength: input.prompt_length ?? 0, seed: input.seed ?? 1 });
  } catch (e) {
    throw asUsage(e, true);
  }
  const scores = Float32Array.from(input.logits);
  for (const p of processors) p.process(input.input_ids, scores);
  return Array.from(scores, (x) => (x === -Infinity ? null : x));
}

export async function cmdProcess(values: Values, out: Out): Promise<void> {
  if (!values.input) throw new UsageError('process needs --input <file.json> ({"input_ids": [...], "logits": [...], "processors": [{"name": …, "value": …}, …]})');
  const input = readJson(values.input as string, '--input') as ProcessInput;
  const scores = processLogits(input, values.input as string);
  if (values.json) return out(JSON.stringify({ scores }));
  scores.forEach((s, i) => out(`${String(i).padStart(7)}  ${s === null ? 'masked' : s}`));
}

// ---- compare ----

interface Strategy extends Partial<BeamFlagsJson> {
  name?: string;
  processors?: ProcessorSpec[];
  /** Sample (default: when a sampling processor is in the chain). */
  sample?: boolean;
  seed?: number;
  draft_model?: string;
  draft_tokens?: number;
}
interface BeamFlagsJson {
  num_beams: number;
  num_return_sequences: number;
  length_penalty: number;
  early_stopping: boolean | 'never';
  num_beam_groups: number;
  diversity_penalty: number;
}
interface CompareConfig {
  model?: string;
  prompt?: string;
  ids?: number[];
  max_tokens?: number;
  seed?: number;
  ignore_eos?: boolean;
  strategies: Strategy[];
}

export interface CompareEnv {
  bundledModel: () => string;
  openBackend: (m: OpenedModel, context: number) => Promise<Backend>;
}

/** compare: every strategy on one prompt and model; one JSON object. */
export async function cmdCompare(values: Values, out: Out, env: CompareEnv): Promise<void> {
  if (!values.config) throw new UsageError('compare needs --config <file.json> ({"prompt": …, "max_tokens": N, "strategies": [{"name": …, "processors": [...]}, …]})');
  const where = values.config as string;
  const cfg = readJson(where, '--config') as CompareConfig;
  if (!Array.isArray(cfg.strategies) || !cfg.strategies.length) throw new UsageError(`${where}: "strategies" must be a non-empty list`);
  const m = await openModel(cfg.model ?? env.bundledModel());
  const c = m.loaded.config;
  let promptIds: number[];
  if (cfg.ids) promptIds = cfg.ids;
  else if (cfg.prompt !== undefined) {
    if (!m.tokenizer) throw new UsageError(`${where}: the model has no tokenizer; give "ids"`);
    promptIds = m.tokenizer.encodeIds(cfg.prompt, { addSpecialTokens: true });
  } else throw new UsageError(`${where}: give "prompt" or "ids"`);
  if (!promptIds.length || promptIds.some((i) => !Number.isSafeInteger(i) || i < 0 || i >= c.vocabSize))
    throw new UsageError(`${where}: the prompt ids must be non-empty and in [0, ${c.vocabSize})`);
  const maxTokens = cfg.max_tokens ?? 32;
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) throw new UsageError(`${where}: "max_tokens" must be an integer ≥ 1`);
  const eosIds = cfg.ignore_eos ? [] : (c.stopTokenIds ?? c.eosTokenIds);
  const context = Math.min(c.maxPositions, promptIds.length + maxTokens);
  const results: Record<string, unknown>[] = [];
  for (const [i, s] of cfg.strategies.entries()) {
    const label = `${where}: strategies[${i}]`;
    const seed = s.seed ?? cfg.seed ?? 1;
    let processors: LogitsProcessor[];
    try {
      processors = processorsFromSpecs(s.processors ?? [], { vocabSize: c.vocabSize, eosIds, promptLength: promptIds.length, seed });
    } catch (e) {
      const u = asUsage(e, true);
      throw u instanceof UsageError ? new UsageError(`${label}: ${u.message}`) : u;
    }
    const sampling = s.sample ?? (s.processors ?? []).some((p) => SAMPLING_SPECS.has(p.name));
    const backend = await env.openBackend(m, context);
    const run: LabRun = { backend, promptIds, maxTokens, eosIds, processors, sampling, seed };
    const text = (ids: number[]) => (m.tokenizer ? m.tokenizer.decode(ids) : '');
    const base = { name: s.name ?? `strategy ${i + 1}`, processors: processors.map((p) => p.name), sampler: sampling ? 'sample' : 'greedy' };
    try {
      if (s.num_beams !== undefined) {
        const { json, result } = await runBeam(run, {
          numBeams: s.num_beams,
          numReturnSequences: s.num_return_sequences ?? 1,
          lengthPenalty: s.length_penalty ?? 1,
          earlyStopping: s.early_stopping ?? false,
          numBeamGroups: s.num_beam_groups ?? 1,
          diversityPenalty: s.diversity_penalty ?? 0,
        });
        results.push({ ...base, sampler: 'beam', ...json, text: text(result.sequences[0] ?? []), texts: result.sequences.map(text) });
      } else if (s.draft_model !== undefined) {
        const d = await openDraft(s.draft_model, c.vocabSize, m.tokenizer);
        const draft = await env.openBackend(d, context);
        try {
          const { summary, json } = await runSpeculative(run, draft, s.draft_tokens ?? 4);
          results.push({ ...base, generated_ids: summary.ids, text: text(summary.ids), stop_reason: summary.stopReason, ...json });
        } finally {
          draft.dispose();
        }
      } else {
        const sampler: Sampler = sampling ? new MultinomialSampler(new Rng(seed)) : new GreedySampler();
        const it = generate(backend, { promptIds, maxNewTokens: maxTokens, eosIds, processors, sampler });
        let x;
        for (;;) {
          x = await it.next();
          if (x.done) break;
        }
        results.push({ ...base, generated_ids: x.value.ids, text: text(x.value.ids), stop_reason: x.value.stopReason });
      }
    } catch (e) {
      const u = asUsage(e, true);
      throw u instanceof UsageError ? new UsageError(`${label}: ${u.message}`) : u;
    } finally {
      backend.dispose();
    }
  }
  out(JSON.stringify({ prompt_ids: promptIds, max_tokens: maxTokens, results }));
}
