/**
 * Processors that change scores by history or by a fixed list: OpenAI's frequency and
 * presence penalties, a logit bias (OpenAI's per-id bias and Hugging Face's sequence bias),
 * Hugging Face's bad words and min_new_tokens.
 */
import { checkInteger, checkNumber, ParameterRangeError, type LogitsProcessor } from './processors';

function checkIdIn(parameter: string, id: number, V: number): void {
  if (!Number.isSafeInteger(id) || id < 0 || id >= V) throw new ParameterRangeError(parameter, `token ids in [0, ${V})`, id);
}

/** Whether `ids` ends with `tail`. */
function endsWith(ids: readonly number[], tail: readonly number[]): boolean {
  if (tail.length > ids.length) return false;
  const o = ids.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (ids[o + i] !== tail[i]) return false;
  return true;
}

/**
 * OpenAI's penalties over the generated ids (those after the first `promptLength`):
 * score[j] −= count[j] · frequency + (count[j] > 0) · presence. Positive values make a
 * repeated token less likely; negative ones more likely.
 */
export class FrequencyPresencePenaltyProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly frequencyPenalty: number,
    readonly presencePenalty: number,
    readonly promptLength = 0,
  ) {
    checkNumber('frequencyPenalty', frequencyPenalty, -2, 2);
    checkNumber('presencePenalty', presencePenalty, -2, 2);
    checkInteger('promptLength', promptLength, 0);
    this.name =
      [frequencyPenalty ? `frequency penalty ${frequencyPenalty}` : '', presencePenalty ? `presence penalty ${presencePenalty}` : ''].filter(Boolean).join(', ') || 'no penalty';
  }
  process(ids: readonly number[], scores: Float32Array): void {
    const count = new Map<number, number>();
    for (let i = this.promptLength; i < ids.length; i++) count.set(ids[i], (count.get(ids[i]) ?? 0) + 1);
    for (const [id, c] of count) if (id >= 0 && id < scores.length) scores[id] -= c * this.frequencyPenalty + this.presencePenalty;
  }
}

/**
 * Adds a bias to scores: `bias` maps a sequence of ids (one id: OpenAI's logit_bias) to a
 * number; the bias applies to the sequence's last id when the ids so far end with the rest
 * of the sequence (Hugging Face's SequenceBiasLogitsProcessor). −Infinity bans.
 */
export class LogitBiasProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly bias: ReadonlyArray<{ ids: readonly number[]; bias: number }>,
    vocabSize: number,
  ) {
    for (const b of bias) {
      if (!b.ids.length) throw new ParameterRangeError('logitBias', 'non-empty id sequences', '[]');
      b.ids.forEach((id) => checkIdIn('logitBias', id, vocabSize));
      if (typeof b.bias !== 'number' || Number.isNaN(b.bias) || b.bias === Infinity) throw new ParameterRangeError('logitBias', 'a number or -Infinity per entry', b.bias);
    }
    this.name = `logit bias (${bias.length})`;
  }
  process(ids: readonly number[], scores: Float32Array): void {
    for (const b of this.bias) {
      if (!endsWith(ids, b.ids.slice(0, -1))) continue;
      scores[b.ids[b.ids.length - 1]] += b.bias;
    }
  }
}

/**
 * Hugging Face's bad words: each sequence's last id is masked when the ids so far end with
 * the rest of it (a single id is always masked).
 */
export class BadWordsProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly badWordsIds: readonly (readonly number[])[],
    vocabSize: number,
  ) {
    for (const w of badWordsIds) {
      if (!Array.isArray(w) || !w.length) throw new ParameterRangeError('badWordsIds', 'a list of non-empty id lists', JSON.stringify(w));
      w.forEach((id) => checkIdIn('badWordsIds', id, vocabSize));
    }
    this.name = `bad words (${badWordsIds.length})`;
  }
  process(ids: readonly number[], scores: Float32Array): void {
    for (const w of this.badWordsIds) if (endsWith(ids, w.slice(0, -1))) scores[w[w.length - 1]] = -Infinity;
  }
}

/** Hugging Face's MinNewTokensLength: masks the end-of-sequence ids until `minNewTokens` ids follow the prompt. */
export class MinNewTokensProcessor implements LogitsProcessor {
  readonly name: string;
  constructor(
    readonly minNewTokens: number,
    readonly eosIds: readonly number[],
    readonly promptLength: number,
  ) {
    checkInteger('minNewTokens', minNewTokens, 0);
    checkInteger('promptLength', promptLength, 0);
    this.name = `min new tokens ${minNewTokens}`;
  }
  process(ids: readonly number[], scores: Float32Array): void {
    if (ids.length - this.promptLength >= this.minNewTokens) return;
    for (const e of this.eosIds) if (e >= 0 && e < scores.length) scores[e] = -Infinity;
  }
}
