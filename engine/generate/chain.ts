/**
 * A processor chain from a plain, JSON-able description: the decoding lab's reorderable
 * chain, the CLI's `process` command and `compare` configs. Each spec names a processor by
 * its Hugging Face generation-config key (llama.cpp's name where Hugging Face has none);
 * the list runs in the order given. `hfOrder` sorts specs into Hugging Face's order
 * (_get_logits_processor: biases and penalties, then the warpers), the default.
 */
import { FrequencyPresencePenaltyProcessor, BadWordsProcessor, LogitBiasProcessor, MinNewTokensProcessor } from './penalties';
import { DryProcessor, MirostatV2Processor, TopNSigmaProcessor, XtcProcessor } from './llamacpp';
import { checkNumber, NoRepeatNgramProcessor, ParameterRangeError, RepetitionPenaltyProcessor, TemperatureProcessor, type LogitsProcessor } from './processors';
import { EpsilonProcessor, EtaProcessor, MinPProcessor, TopKProcessor, TopPProcessor, TypicalProcessor } from './truncation';

export interface ProcessorSpec {
  /** A key of PROCESSOR_NAMES. */
  name: string;
  /** The processor's main parameter (see PROCESSOR_NAMES). */
  value?: number;
  [k: string]: unknown;
}

export interface ChainContext {
  vocabSize: number;
  eosIds: readonly number[];
  /** Ids before the first generated one (frequency/presence penalties and min_new_tokens count after it). */
  promptLength: number;
  /** Seeds the stateful random processors (XTC). Default 1. */
  seed?: number;
}

/** A processor name nobody knows. */
export class UnknownProcessorError extends RangeError {
  constructor(
    readonly processor: string,
    readonly known: readonly string[],
  ) {
    super(`unknown processor "${processor}"; known processors: ${known.join(', ')}`);
    this.name = 'UnknownProcessorError';
  }
}

/** Every processor name, in Hugging Face's order (the default), with what `value` means and its other fields. */
export const PROCESSOR_NAMES = {
  logit_bias: 'bias: {"<id>" or "<id,id,…>": number}; adds to the last id of each sequence that the ids end with',
  repetition_penalty: 'value > 0 (1: off); divides positive / multiplies negative scores of ids seen',
  frequency_penalty: 'value in [-2, 2]; minus value × count of each generated id',
  presence_penalty: 'value in [-2, 2]; minus value for each id generated at least once',
  no_repeat_ngram_size: 'value: integer ≥ 1; masks ids that would repeat an n-gram',
  bad_words_ids: 'ids: [[id, …], …]; masks the last id of each sequence the ids end with',
  min_new_tokens: 'value: integer ≥ 0; masks end-of-sequence until that many new ids',
  dry: 'value: multiplier ≥ 0; base (1.75), allowed_length (2), penalty_last_n (0: all), sequence_breakers [ids]',
  temperature: 'value > 0; divides the scores',
  top_k: 'value: integer ≥ 1; keeps the k best (ties included)',
  top_n_sigma: 'value n > 0; keeps scores ≥ max − n·σ',
  top_p: 'value in (0, 1]; keeps the smallest set with that mass',
  min_p: 'value in [0, 1]; keeps p ≥ value × p(best)',
  typical_p: 'value in (0, 1]; keeps the locally typical set with that mass',
  epsilon_cutoff: 'value in (0, 1); masks p < value',
  eta_cutoff: 'value in (0, 1); masks p < min(value, √value·e^−H)',
  xtc: 'value: threshold in [0, 1]; probability in [0, 1] (default 0.5); masks all above the threshold but the least probable',
  mirostat_v2: 'value: tau > 0 (target surprise, bits); eta in (0, 1] (default 0.1); keeps surprise ≤ mu, mu adapts each step',
} as const;

export type ProcessorName = keyof typeof PROCESSOR_NAMES;
const NAMES = Object.keys(PROCESSOR_NAMES) as ProcessorName[];

/** Option names the processors' own checks use → the spec's keys, for errors. */
const PARAMETER_KEYS: Record<string, string> = {
  topK: 'top_k',
  topP: 'top_p',
  minP: 'min_p',
  typicalP: 'typical_p',
  epsilon: 'epsilon_cutoff',
  eta: 'eta_cutoff',
  repetitionPenalty: 'repetition_penalty',
  noRepeatNgramSize: 'no_repeat_ngram_size',
  frequencyPenalty: 'frequency_penalty',
  presencePenalty: 'presence_penalty',
  logitBias: 'logit_bias',
  badWordsIds: 'bad_words_ids',
  minNewTokens: 'min_new_tokens',
  topNSigma: 'top_n_sigma',
  xtcThreshold: 'xtc.threshold',
  xtcProbability: 'xtc.probability',
  dryMultiplier: 'dry.multiplier',
  dryBase: 'dry.base',
  dryAllowedLength: 'dry.allowed_length',
  dryPenaltyLastN: 'dry.penalty_last_n',
  mirostatTau: 'mirostat_v2.tau',
  mirostatEta: 'mirostat_v2.eta',
  minTokensToKeep: 'min_tokens_to_keep',
};

/** Whether a name is a known processor. */
export function isProcessorName(name: string): name is ProcessorName {
  return (NAMES as string[]).includes(name);
}

/** The specs sorted into Hugging Face's order (stable for repeated names). */
export function hfOrder<T extends ProcessorSpec>(specs: readonly T[]): T[] {
  const rank = (s: ProcessorSpec) => (isProcessorName(s.name) ? NAMES.indexOf(s.name) : NAMES.length);
  return specs
    .map((s, i) => [s, i] as const)
    .sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1])
    .map(([s]) => s);
}

function num(spec: ProcessorSpec, key: string, dflt?: number): number {
  const v = key === 'value' ? (spec.value ?? spec[spec.name]) : spec[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number') throw new ParameterRangeError(key === 'value' ? spec.name : `${spec.name}.${key}`, 'a number', v === undefined ? 'nothing' : JSON.stringify(v));
  return v;
}

function idList(spec: ProcessorSpec, key: string): number[] {
  const v = spec[key];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new ParameterRangeError(`${spec.name}.${key}`, 'a list of token ids', JSON.stringify(v));
  return v as number[];
}

function biasEntries(spec: ProcessorSpec): { ids: number[]; bias: number }[] {
  const b = spec.bias;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new ParameterRangeError('logit_bias.bias', 'an object {"<id>" or "<id,id,…>": number}', JSON.stringify(b));
  return Object.entries(b as Record<string, unknown>).map(([k, v]) => {
    const ids = k.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
    if (typeof v !== 'number' && v !== null) throw new ParameterRangeError('logit_bias.bias', 'numbers (null for -Infinity)', JSON.stringify(v));
    return { ids, bias: v === null ? -Infinity : v };
  });
}

function one(spec: ProcessorSpec, ctx: ChainContext): LogitsProcessor {
  const keep = num(spec, 'min_tokens_to_keep', 1);
  switch (spec.name as ProcessorName) {
    case 'logit_bias':
      return new LogitBiasProcessor(biasEntries(spec), ctx.vocabSize);
    case 'repetition_penalty':
      return new RepetitionPenaltyProcessor(num(spec, 'value'));
    case 'frequency_penalty':
      return new FrequencyPresencePenaltyProcessor(num(spec, 'value'), 0, ctx.promptLength);
    case 'presence_penalty':
      return new FrequencyPresencePenaltyProcessor(0, num(spec, 'value'), ctx.promptLength);
    case 'no_repeat_ngram_size':
      return new NoRepeatNgramProcessor(num(spec, 'value'));
    case 'bad_words_ids': {
      const v = spec.ids ?? spec.bad_words_ids;
      if (!Array.isArray(v)) throw new ParameterRangeError('bad_words_ids.ids', 'a list of id lists [[id, …], …]', JSON.stringify(v));
      return new BadWordsProcessor(v as number[][], ctx.vocabSize);
    }
    case 'min_new_tokens':
      return new MinNewTokensProcessor(num(spec, 'value'), spec.eos_token_id !== undefined ? idList(spec, 'eos_token_id') : ctx.eosIds, ctx.promptLength);
    case 'dry':
      return new DryProcessor(
        num(spec, 'value'),
        num(spec, 'base', 1.75),
        num(spec, 'allowed_length', 2),
        num(spec, 'penalty_last_n', 0),
        spec.sequence_breakers !== undefined ? idList(spec, 'sequence_breakers') : [],
      );
    case 'temperature':
      return new TemperatureProcessor(num(spec, 'value'));
    case 'top_k':
      return new TopKProcessor(num(spec, 'value'), keep);
    case 'top_n_sigma':
      return new TopNSigmaProcessor(num(spec, 'value'));
    case 'top_p':
      // Hugging Face takes 0 (the best token only); here a cut that keeps nothing is an error, as in the CLI.
      return new TopPProcessor(checkNumber('topP', num(spec, 'value'), 0, 1, { lo: true }), keep);
    case 'min_p':
      return new MinPProcessor(num(spec, 'value'), keep);
    case 'typical_p':
      return new TypicalProcessor(num(spec, 'value'), keep);
    case 'epsilon_cutoff':
      return new EpsilonProcessor(num(spec, 'value'), keep);
    case 'eta_cutoff':
      return new EtaProcessor(num(spec, 'value'), keep);
    case 'xtc':
      return new XtcProcessor(num(spec, 'value'), num(spec, 'probability', 0.5), num(spec, 'seed', ctx.seed ?? 1), keep);
    case 'mirostat_v2':
      return new MirostatV2Processor(num(spec, 'value'), num(spec, 'eta', 0.1));
  }
  throw new UnknownProcessorError(String(spec.name), NAMES);
}

/**
 * The processors for `specs`, in the order given. Throws UnknownProcessorError for a name
 * not in PROCESSOR_NAMES and ParameterRangeError (parameter as the spec's key, e.g.
 * "top_p", and its allowed range) for a bad value. Stateful processors (XTC, Mirostat)
 * are new each call: build the chain once per generation.
 */
export function processorsFromSpecs(specs: readonly ProcessorSpec[], ctx: ChainContext): LogitsProcessor[] {
  return specs.map((spec) => {
    if (!spec || typeof spec.name !== 'string' || !isProcessorName(spec.name)) throw new UnknownProcessorError(String(spec?.name), NAMES);
    try {
      return one(spec, ctx);
    } catch (e) {
      if (e instanceof ParameterRangeError && PARAMETER_KEYS[e.parameter]) throw new ParameterRangeError(PARAMETER_KEYS[e.parameter], e.expected, e.got);
      throw e;
    }
  });
}
