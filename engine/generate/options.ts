/**
 * Decoding from plain options, as Hugging Face's generate() builds it from a
 * GenerationConfig: the processors in its order (_get_logits_processor) and whether to
 * sample. The CLI and the decoding lab share this, so one set of options means the same
 * everywhere.
 */
import { checkInteger, checkNumber, NoRepeatNgramProcessor, RepetitionPenaltyProcessor, TemperatureProcessor, type LogitsProcessor } from './processors';
import type { Rng } from './rng';
import { GreedySampler, MultinomialSampler, type Sampler } from './samplers';
import { EpsilonProcessor, EtaProcessor, MinPProcessor, TopKProcessor, TopPProcessor, TypicalProcessor } from './truncation';

/**
 * Each option left out (or at its neutral value, as noted) adds nothing. Values outside a
 * processor's range throw a ParameterRangeError naming the option.
 */
export interface ProcessorOptions {
  /** > 0 samples (1: unchanged scores); 0 is greedy (Hugging Face's do_sample=False). Default 1. */
  temperature?: number;
  /** Integer ≥ 1; 0: off. */
  topK?: number;
  /** [0, 1]; 1: off. */
  topP?: number;
  /** [0, 1] (0 keeps everything). */
  minP?: number;
  /** (0, 1); 1: off. */
  typicalP?: number;
  /** Epsilon cutoff, (0, 1); 0: off. */
  epsilon?: number;
  /** Eta cutoff, (0, 1); 0: off. */
  eta?: number;
  /** > 0; 1: off. Applies when greedy too. */
  repetitionPenalty?: number;
  /** Integer ≥ 1; 0: off. Applies when greedy too. */
  noRepeatNgramSize?: number;
  /** What the truncation processors always keep (integer ≥ 1). Default 1. */
  minTokensToKeep?: number;
}

/** The options that only act when sampling (Hugging Face's warpers). */
export const SAMPLING_OPTIONS = ['topK', 'topP', 'minP', 'typicalP', 'epsilon', 'eta'] as const;

/** Whether these options sample (temperature > 0, the default 1) or decode greedily (temperature 0). */
export function isSampling(o: ProcessorOptions): boolean {
  const t = o.temperature ?? 1;
  checkNumber('temperature', t, 0, Infinity, { hi: true });
  return t > 0;
}

/**
 * The processors for these options in Hugging Face's order: repetition penalty, no-repeat
 * n-gram, then — only when sampling — temperature, top-k, top-p, min-p, typical, epsilon,
 * eta. Greedy decoding (temperature 0) ignores the sampling options, as Hugging Face does
 * with do_sample=False.
 */
export function processorsFromOptions(o: ProcessorOptions): LogitsProcessor[] {
  const keep = checkInteger('minTokensToKeep', o.minTokensToKeep ?? 1, 1);
  const list: LogitsProcessor[] = [];
  if (o.repetitionPenalty !== undefined && o.repetitionPenalty !== 1) list.push(new RepetitionPenaltyProcessor(o.repetitionPenalty));
  if (o.noRepeatNgramSize !== undefined && o.noRepeatNgramSize !== 0) list.push(new NoRepeatNgramProcessor(o.noRepeatNgramSize));
  if (!isSampling(o)) return list;
  if (o.temperature !== undefined && o.temperature !== 1) list.push(new TemperatureProcessor(o.temperature));
  if (o.topK !== undefined && o.topK !== 0) list.push(new TopKProcessor(o.topK, keep));
  if (o.topP !== undefined && o.topP !== 1) list.push(new TopPProcessor(o.topP, keep));
  if (o.minP !== undefined) list.push(new MinPProcessor(o.minP, keep));
  if (o.typicalP !== undefined && o.typicalP !== 1) list.push(new TypicalProcessor(o.typicalP, keep));
  if (o.epsilon !== undefined && o.epsilon !== 0) list.push(new EpsilonProcessor(o.epsilon, keep));
  if (o.eta !== undefined && o.eta !== 0) list.push(new EtaProcessor(o.eta, keep));
  return list;
}

/** Multinomial sampling from `rng` when the options sample, else greedy. */
export function samplerFromOptions(o: ProcessorOptions, rng: Rng): Sampler {
  return isSampling(o) ? new MultinomialSampler(rng) : new GreedySampler();
}
