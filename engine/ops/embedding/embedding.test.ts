import { describe, expect, it } from 'vitest';
import { embedding, embeddingAdd } from './embedding';

describe('embedding', () => {
  const D = 3;
  const table = Float32Array.from({ length: 4 * D }, (_, i) => i); // [4, 3]

  it('copies rows by id', () => {
    const out = new Float32Array(3 * D);
    embedding(out, table, [2, 0, 2], D);
    expect([...out]).toEqual([6, 7, 8, 0, 1, 2, 6, 7, 8]);
  });

  it('adds rows (learned positions)', () => {
    const out = Float32Array.from([1, 1, 1, 2, 2, 2]);
    embeddingAdd(out, table, [1, 3], D);
    expect([...out]).toEqual([4, 5, 6, 11, 12, 13]);
  });

  it('rejects ids outside the table', () => {
    expect(() => embedding(new Float32Array(D), table, [4], D)).toThrow(RangeError);
    expect(() => embedding(new Float32Array(D), table, [-1], D)).toThrow(RangeError);
    expect(() => embeddingAdd(new Float32Array(D), table, [1.5], D)).toThrow(RangeError);
  });
});
