/**
 * The BPE trainer: a tokenizer trained and exported as tokenizer.json loads back into this
 * engine and into @huggingface/tokenizers (tokenizers.js, an independent reader), and both give
 * the ids the trainer's in-memory encoder gives, on the training text and on a mixed text.
 */
import { Tokenizer as HfJsTokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { fromTokenizerJson } from './hf';
import { generatedMix, repoSources, shakespeare } from './test-corpus-node';
import { BpeTrainer, type MergeStep, TrainerInputError } from './train-bpe';
import { wellFormed } from './unicode';

const train = shakespeare().slice(0, 400_000) + repoSources(150_000);
const other = shakespeare().slice(-150_000) + generatedMix(60_000, 11) + repoSources(400_000).slice(-100_000);

describe('BpeTrainer', () => {
  const trainer = new BpeTrainer({ vocabSize: 1000 });
  trainer.addText(train);
  const steps: MergeStep[] = [];
  for (let s = trainer.step(); s; s = trainer.step()) steps.push(s);
  const json = JSON.stringify(trainer.toTokenizerJson());

  it('makes the merges asked for, each reported with its pair, count and new token', () => {
    expect(trainer.done).toBe(true);
    expect(steps.length).toBe(1000 - 256 - 1);
    expect(trainer.tokens.length).toBe(1000);
    expect(steps[0]!.rank).toBe(0);
    expect(steps[0]!.id).toBe(256);
    expect(steps[0]!.token).toBe(steps[0]!.left + steps[0]!.right);
    // counts never increase much (a merge can create a more frequent pair only rarely) and are >= 2
    for (const s of steps) expect(s.count).toBeGreaterThanOrEqual(2);
    expect(steps[0]!.count).toBeGreaterThan(steps[steps.length - 1]!.count);
    // the most common English pieces are learnt
    expect(trainer.tokens).toContain('Ġthe');
  });

  it('its tokenizer.json loads into this engine with the same ids as the trainer', () => {
    const ours = fromTokenizerJson(json, 'trained.json');
    for (const text of [train, other]) {
      expect(ours.encodeIds(text, { addSpecialTokens: false })).toEqual(trainer.encodeIds(text));
    }
    expect(ours.decode(ours.encodeIds(other))).toBe(wellFormed(other));
    expect(ours.vocabSize).toBe(1000);
    expect(ours.encodeIds('a<|endoftext|>b')).toEqual(trainer.encodeIds('a<|endoftext|>b'));
  });

  it('its tokenizer.json loads into @huggingface/tokenizers (JS) with the same ids', () => {
    const hf = new HfJsTokenizer(JSON.parse(json), {});
    for (const text of [train.slice(0, 200_000), other]) {
      const want = trainer.encodeIds(text);
      const got = hf.encode(text, { add_special_tokens: false }).ids;
      let at = -1;
      for (let i = 0; i < Math.max(want.length, got.length); i++) {
        if (want[i] !== got[i]) {
          at = i;
          break;
        }
      }
      expect(at, at >= 0 ? `first difference at ${at}: ${JSON.stringify(want.slice(at, at + 5))} vs ${JSON.stringify(got.slice(at, at + 5))}` : '').toBe(-1);
    }
  });

  it('rejects impossible vocabulary sizes', () => {
    expect(() => new BpeTrainer({ vocabSize: 100 })).toThrow(TrainerInputError);
    expect(() => new BpeTrainer({ vocabSize: 256.5 })).toThrow(TrainerInputError);
  });

  it('stops early when no pair repeats; empty input gives the byte vocabulary', () => {
    const t = new BpeTrainer({ vocabSize: 5000 });
    t.addText('abcabc');
    t.train();
    expect(t.merges.length).toBeLessThan(5);
    const e = new BpeTrainer({ vocabSize: 300 }).train();
    expect(e.tokens.length).toBe(257);
    expect(fromTokenizerJson(JSON.stringify(e.toTokenizerJson()), 'empty.json').encodeIds('hi')).toEqual([104, 105]);
  });
});
