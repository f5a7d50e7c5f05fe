import { describe, expect, it } from 'vitest';
import { attention, attentionInt8 } from './attention';
import { int8RoundTripRows, quantizeInt8Rows } from '../kvquant/kvquant';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 4;
  });
}

/**
 * The textbook version: repeat K/V per query head, a full [Tq, Tk] score matrix with
 * an additive −∞ mask, softmax, P·V.
 */
function naive(q: Float32Array, K: Float32Array, V: Float32Array, T: number, start: number, H: number, Kv: number, d: number, window?: number) {
  const Tk = start + T;
  const out = new Float64Array(T * H * d);
  const probs = new Float64Array(H * T * Tk);
  for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / (H / Kv));
    for (let t = 0; t < T; t++) {
      const qpos = start + t;
      const scores: number[] = [];
      for (let j = 0; j < Tk; j++) {
        const masked = j > qpos || (window !== undefined && qpos - j >= window);
        let s = 0;
        for (let i = 0; i < d; i++) s += q[(t * H + h) * d + i] * K[(j * Kv + kvh) * d + i];
        scores.push(masked ? -Infinity : s / Math.sqrt(d));
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < Tk; j++) {
        const p = e[j] / z;
        probs[(h * T + t) * Tk + j] = p;
        for (let i = 0; i < d; i++) out[(t * H + h) * d + i] += p * V[(j * Kv + kvh) * d + i];
      }
    }
  }
  return { out, probs };
}

function run(T: number, start: number, H: number, Kv: number, d: number, window?: number, seed = 1) {
  const ctx = 32;
  const Tk = start + T;
  const q = rand(T * H * d, seed);
  const K = new Float32Array(ctx * Kv * d);
  const V = new Float32Array(ctx * Kv * d);
  K.set(rand(Tk * Kv * d, seed + 1));
  V.set(rand(Tk * Kv * d, seed + 2));
  const out = new Float32Array(T * H * d);
  const probs = new Float32Array(H * T * Tk);
  attention({
    out,
    q,
    kCache: K,
    vCache: V,
    T,
    start,
    nHeads: H,
    nKvHeads: Kv,
    headDim: d,
    scale: 1 / Math.sqrt(d),
    window,
    probs,
    scores: new Float64Array(ctx),
    acc: new Float64Array(d),
  });
  return { out, probs, want: naive(q, K, V, T, start, H, Kv, d, window), q, K, V };
}

describe('attention vs a naive masked softmax', () => {
  const cases: [string, number, number, number, number, number, number | undefined][] = [
    ['MHA, causal', 6, 0, 4, 4, 8, undefined],
    ['GQA 8q/2kv', 7, 0, 8, 2, 4, undefined],
    ['MQA', 5, 0, 4, 1, 4, undefined],
    ['with cached prefix', 4, 9, 4, 2, 8, undefined],
    ['sliding window 3', 10, 0, 4, 2, 4, 3],
    ['window + prefix', 3, 12, 2, 1, 8, 5],
    ['single decode step', 1, 15, 4, 2, 8, 6],
  ];
  it.each(cases)('%s', (_n, T, start, H, Kv, d, window) => {
    const { out, probs, want } = run(T, start, H, Kv, d, window);
    let dOut = 0;
    let dP = 0;
    out.forEach((v, i) => (dOut = Math.max(dOut, Math.abs(v - want.out[i]))));
    probs.forEach((v, i) => (dP = Math.max(dP, Math.abs(v - want.probs[i]))));
    expect(dOut).toBeLessThan(1e-6);
    expect(dP).toBeLessThan(1e-7);
    // every row sums to 1; masked entries exactly 0
    const Tk = start + T;
    for (let r = 0; r < H * T; r++) {
      let s = 0;
      for (let j = 0; j < Tk; j++) s += probs[r * Tk + j];
      expect(s).toBeCloseTo(1, 6);
    }
    for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let j = 0; j < Tk; j++) if (want.probs[(h * T + t) * Tk + j] === 0) expect(probs[(h * T + t) * Tk + j]).toBe(0);
  });

  it('prefill equals one query at a time over the same cache', () => {
    const T = 8;
    const { out, q, K, V } = run(T, 0, 4, 2, 8, undefined, 9);
    for (let t = 0; t < T; t++) {
      const o = new Float32Array(4 * 8);
      attention({
        out: o,
        q: q.subarray(t * 32, (t + 1) * 32),
        kCache: K,
        vCache: V,
        T: 1,
        start: t,
        nHeads: 4,
        nKvHeads: 2,
        headDim: 8,
        scale: 1 / Math.sqrt(8),
        scores: new Float64Array(32),
        acc: new Float64Array(8),
      });
      expect(o).toEqual(out.subarray(t * 32, (t + 1) * 32));
    }
  });

  it('rejects heads that do not group', () => {
    expect(() => run(2, 0, 6, 4, 4)).toThrow(RangeError);
  });
});

describe('attention over an int8 cache', () => {
  it.each([
    { T: 5, start: 0, H: 4, Kv: 2, d: 8, window: undefined },
    { T: 1, start: 9, H: 6, Kv: 2, d: 16, window: 4 },
    { T: 3, start: 4, H: 2, Kv: 2, d: 12, window: undefined },
  ])('gives the same bits as attention over the f32 cache after an int8 round trip (T=$T, start=$start, H=$H, Kv=$Kv, d=$d)', ({ T, start, H, Kv, d, window }) => {
    const Tk = start + T;
    const q = rand(T * H * d, 1);
    const K = rand(Tk * Kv * d, 2);
    const V = rand(Tk * Kv * d, 3);
    const kq = new Int8Array(K.length);
    const vq = new Int8Array(V.length);
    const ks = new Float32Array(Tk * Kv);
    const vs = new Float32Array(Tk * Kv);
    quantizeInt8Rows(K, 0, Tk * Kv, d, kq, ks);
    quantizeInt8Rows(V, 0, Tk * Kv, d, vq, vs);
    int8RoundTripRows(K, 0, Tk * Kv, d);
    int8RoundTripRows(V, 0, Tk * Kv, d);
    const common = { T, start, nHeads: H, nKvHeads: Kv, headDim: d, scale: 1 / Math.sqrt(d), window, scores: new Float64Array(Tk), acc: new Float64Array(d) };
    const a = { out: new Float32Array(T * H * d), probs: new Float32Array(H * T * Tk) };
    const b = { out: new Float32Array(T * H * d), probs: new Float32Array(H * T * Tk) };
    attention({ ...common, ...a, q, kCache: K, vCache: V });
    attentionInt8({ ...common, ...b, q, kCache: kq, vCache: vq, kScale: ks, vScale: vs });
    expect([...b.out]).toEqual([...a.out]);
    expect([...b.probs]).toEqual([...a.probs]);
  });
});
