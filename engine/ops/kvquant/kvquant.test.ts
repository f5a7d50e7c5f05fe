import { describe, expect, it } from 'vitest';
import { dequantizeInt8Rows, int8RoundTripRows, quantizeInt8Rows } from './kvquant';

describe('int8 KV quantisation (per token and head)', () => {
  it('hand-computed row: scale max|x|/127, values rounded', () => {
    const x = new Float32Array([0, 1.27, -0.6, 0.01, /* row 2 */ 0, 0, 0, 0]);
    const q = new Int8Array(8);
    const s = new Float32Array(2);
    quantizeInt8Rows(x, 0, 2, 4, q, s);
    expect(s[0]).toBeCloseTo(0.01, 7);
    expect([...q.slice(0, 4)]).toEqual([0, 127, -60, 1]);
    expect(s[1]).toBe(0);
    expect([...q.slice(4)]).toEqual([0, 0, 0, 0]);
  });

  it('the round trip is within max|x| / 254 of each value, in place from an offset', () => {
    const x = new Float32Array(3 + 5 * 16).map((_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
    const before = x.slice();
    int8RoundTripRows(x, 3, 5, 16);
    expect([...x.slice(0, 3)]).toEqual([...before.slice(0, 3)]);
    for (let r = 0; r < 5; r++) {
      const row = before.subarray(3 + r * 16, 3 + (r + 1) * 16);
      const m = Math.max(...row.map(Math.abs));
      for (let i = 0; i < 16; i++) expect(Math.abs(x[3 + r * 16 + i] - row[i])).toBeLessThanOrEqual(m / 254 + 1e-6);
    }
  });
});

describe('int8 rows stored and read back', () => {
  it('quantise into cache slots then dequantise gives the round trip’s bits, and zero rows stay zero', () => {
    const width = 8;
    const rows = 6;
    const x = new Float32Array(rows * width).map((_, i) => (i >= 8 && i < 16 ? 0 : Math.cos(i * 0.91) * (0.5 + (i % 7)) * 1e-2));
    const q = new Int8Array((rows + 2) * width);
    const s = new Float32Array(rows + 2);
    quantizeInt8Rows(x, 0, rows, width, q, s, 2); // slots 2 … 7
    expect([...q.slice(0, 2 * width)]).toEqual(Array(2 * width).fill(0));
    const back = new Float32Array(rows * width);
    dequantizeInt8Rows(q, s, 2, rows, width, back);
    const rt = x.slice();
    int8RoundTripRows(rt, 0, rows, width);
    expect([...back]).toEqual([...rt]);
    expect(s[3]).toBe(0);
    for (let r = 0; r < rows; r++) expect(s[2 + r]).toBe(Math.fround(s[2 + r])); // scales are f32
  });

  it('halves round up (Math.round), as the WGSL kernel rounds', () => {
    // x / s lands on ±k.5 exactly: row max 127 gives s = 1
    const x = new Float32Array([127, 2.5, -2.5, -0.5]);
    const q = new Int8Array(4);
    const s = new Float32Array(1);
    quantizeInt8Rows(x, 0, 1, 4, q, s);
    expect(s[0]).toBe(1);
    expect([...q]).toEqual([127, 3, -2, 0]);
  });
});
