import { describe, expect, it } from 'vitest';
import { expertTokens, gatherRows, routeTopK, scatterAddRows, softmaxRows } from './moe';

describe('MoE routing', () => {
  it('softmax → top-k → renormalise, best first', () => {
    const logits = Float32Array.from([0.1, 2.0, -1.0, 1.5, /* row 2 */ 3, 3, 0, -5]); // [2, 4]
    const ids = new Int32Array(4);
    const w = new Float32Array(4);
    const probs = new Float32Array(8);
    routeTopK(ids, w, logits, 2, 4, 2, true, probs);
    expect([...ids]).toEqual([1, 3, 0, 1]); // tie in row 2: the lower id first
    const e = [0.1, 2.0, -1.0, 1.5].map(Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    expect(probs[1]).toBeCloseTo(e[1] / z, 6);
    expect(w[0]).toBeCloseTo(e[1] / (e[1] + e[3]), 6);
    expect(w[1]).toBeCloseTo(e[3] / (e[1] + e[3]), 6);
    expect(w[2]).toBeCloseTo(0.5, 7);
    expect(w[0] + w[1]).toBeCloseTo(1, 7);
    // without renormalisation the weights are the softmax probabilities
    routeTopK(ids, w, logits, 2, 4, 2, false);
    expect(w[0]).toBeCloseTo(e[1] / z, 6);
    expect(() => routeTopK(ids, w, logits, 2, 4, 5, true)).toThrow(RangeError);
  });

  it('softmaxRows', () => {
    const x = Float32Array.from([1, 2, 3, 0, 0, 0]);
    softmaxRows(x, 2, 3);
    expect(x[0] + x[1] + x[2]).toBeCloseTo(1, 6);
    expect(x[3]).toBeCloseTo(1 / 3, 6);
  });

  it('groups tokens per expert, gathers and scatters weighted rows', () => {
    const ids = Int32Array.from([0, 2, 2, 1, 0, 1]); // [3, 2]
    const w = Float32Array.from([0.7, 0.3, 0.6, 0.4, 0.5, 0.5]);
    const g = expertTokens(ids, w, 3, 2, 3);
    expect(g[0].rows).toEqual([0, 2]);
    expect(g[1].rows).toEqual([1, 2]);
    expect(g[2].rows).toEqual([0, 1]);
    expect(g[2].weights[1]).toBeCloseTo(0.6, 6);
    const src = Float32Array.from([1, 2, 3, 4, 5, 6]); // [3, 2]
    const xs = new Float32Array(4);
    gatherRows(xs, src, g[1].rows, 2);
    expect([...xs]).toEqual([3, 4, 5, 6]);
    const out = new Float32Array(6);
    scatterAddRows(out, xs, g[1].rows, [2, 10], 2);
    expect([...out]).toEqual([0, 0, 6, 8, 50, 60]);
  });
});
