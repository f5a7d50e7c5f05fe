import { describe, expect, it } from 'vitest';
import { checkInt } from './validate';

const MAX_TOKENS = { label: 'Max new tokens', min: 1, max: 4096 };

describe('checkInt', () => {
  it('accepts whole numbers in range, the ends included', () => {
    expect(checkInt('1', MAX_TOKENS)).toEqual({ ok: true, value: 1 });
    expect(checkInt(' 128 ', MAX_TOKENS)).toEqual({ ok: true, value: 128 });
    expect(checkInt('4096', MAX_TOKENS)).toEqual({ ok: true, value: 4096 });
    expect(checkInt('1e3', MAX_TOKENS)).toEqual({ ok: true, value: 1000 });
  });

  it('refuses 0, negatives and numbers past the limit, saying the range', () => {
    expect(checkInt('0', MAX_TOKENS)).toEqual({ ok: false, message: 'Max new tokens must be at least 1 (a whole number from 1 to 4,096); 0 is too small.' });
    expect(checkInt('-5', MAX_TOKENS)).toEqual({ ok: false, message: 'Max new tokens must be at least 1 (a whole number from 1 to 4,096); -5 is too small.' });
    expect(checkInt('100000', MAX_TOKENS)).toEqual({ ok: false, message: 'Max new tokens must be at most 4,096 (a whole number from 1 to 4,096); 100,000 is too large.' });
  });

  it('refuses empty, fractional and non-numeric text', () => {
    expect(checkInt('', MAX_TOKENS)).toEqual({ ok: false, message: 'Max new tokens: enter a whole number from 1 to 4,096.' });
    expect(checkInt('2.5', MAX_TOKENS)).toEqual({ ok: false, message: 'Max new tokens must be a whole number from 1 to 4,096, not 2.5.' });
    expect(checkInt('abc', MAX_TOKENS).ok).toBe(false);
    expect(checkInt('Infinity', MAX_TOKENS).ok).toBe(false);
  });
});
