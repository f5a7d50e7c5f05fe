import { describe, expect, it } from 'vitest';
import { applyRope, defaultInvFreq, ropeCosSin, ropeInvFreq, type RopeParams } from './rope';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('rope frequencies (closed forms)', () => {
  it('default: θ^(−2i/d)', () => {
    for (const [theta, d] of [
      [10000, 8],
      [500000, 128],
      [1e6, 16],
    ]) {
      const inv = defaultInvFreq(theta, d);
      expect(inv.length).toBe(d / 2);
      inv.forEach((v, i) => expect(rel(v, Math.pow(theta, (-2 * i) / d))).toBeLessThan(3e-7));
    }
  });

  it('linear: default / factor', () => {
    const p: RopeParams = { rotaryDim: 16, theta: 10000, scaling: { type: 'linear', factor: 4 }, maxPositions: 2048 };
    ropeInvFreq(p).forEach((v, i) => expect(rel(v, Math.pow(10000, (-2 * i) / 16) / 4)).toBeLessThan(3e-7));
  });

  it('dynamic NTK: unchanged inside the original context, rescaled base beyond it', () => {
    const d = 16;
    const p: RopeParams = { rotaryDim: d, theta: 10000, scaling: { type: 'dynamic', factor: 2 }, maxPositions: 64 };
    expect(ropeInvFreq(p, 10)).toEqual(defaultInvFreq(10000, d));
    expect(ropeInvFreq(p, 64)).toEqual(defaultInvFreq(10000, d));
    const L = 200;
    const base = 10000 * Math.pow((2 * L) / 64 - 1, d / (d - 2));
    ropeInvFreq(p, L).forEach((v, i) => expect(rel(v, Math.pow(base, (-2 * i) / d))).toBeLessThan(3e-7));
    // originalMaxPositions overrides maxPositions
    const q: RopeParams = { ...p, scaling: { type: 'dynamic', factor: 2, originalMaxPositions: 32 } };
    const base2 = 10000 * Math.pow((2 * 40) / 32 - 1, d / (d - 2));
    ropeInvFreq(q, 40).forEach((v, i) => expect(rel(v, Math.pow(base2, (-2 * i) / d))).toBeLessThan(3e-7));
  });

  it('llama3: high frequencies kept, low divided by factor, the band between interpolated', () => {
    const scaling = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
    const d = 128;
    const inv = ropeInvFreq({ rotaryDim: d, theta: 500000, scaling, maxPositions: 131072 });
    const bands = { high: 0, low: 0, mid: 0 };
    inv.forEach((v, i) => {
      const f = Math.pow(500000, (-2 * i) / d);
      const wavelen = (2 * Math.PI) / f;
      let want: number;
      if (wavelen < 8192 / 4) {
        want = f;
        bands.high++;
      } else if (wavelen > 8192 / 1) {
        want = f / 8;
        bands.low++;
      } else {
        const smooth = (8192 / wavelen - 1) / (4 - 1);
        want = (1 - smooth) * (f / 8) + smooth * f;
        bands.mid++;
      }
      expect(rel(v, want)).toBeLessThan(1e-6);
    });
    expect(bands.high).toBeGreaterThan(0);
    expect(bands.low).toBeGreaterThan(0);
    expect(bands.mid).toBeGreaterThan(0);
  });
});

describe('applyRope', () => {
  const T = 3;
  const H = 2;
  const d = 8;
  const half = d / 2;
  const positions = [0, 5, 17];
  const inv = defaultInvFreq(10000, d);
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  ropeCosSin(cos, sin, inv, positions);

  it("'half' rotates (i, i + d/2) by position·inv_freq[i]", () => {
    const x = rand(T * H * d, 1);
    const y = x.slice();
    applyRope(y, cos, sin, T, H, d, d, 'half');
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < half; i++) {
          const o = (t * H + h) * d;
          const a = positions[t] * inv[i];
          expect(y[o + i]).toBeCloseTo(x[o + i] * Math.cos(a) - x[o + i + half] * Math.sin(a), 6);
          expect(y[o + i + half]).toBeCloseTo(x[o + i + half] * Math.cos(a) + x[o + i] * Math.sin(a), 6);
        }
  });

  it("'interleaved' is 'half' with the pairs laid out as (2i, 2i+1)", () => {
    const x = rand(T * H * d, 2);
    const inter = x.slice();
    applyRope(inter, cos, sin, T, H, d, d, 'interleaved');
    // permute (2i, 2i+1) → (i, i + d/2), rotate as 'half', permute back
    const perm = new Float32Array(x.length);
    for (let r = 0; r < T * H; r++)
      for (let i = 0; i < half; i++) {
        perm[r * d + i] = x[r * d + 2 * i];
        perm[r * d + i + half] = x[r * d + 2 * i + 1];
      }
    applyRope(perm, cos, sin, T, H, d, d, 'half');
    for (let r = 0; r < T * H; r++)
      for (let i = 0; i < half; i++) {
        expect(inter[r * d + 2 * i]).toBe(perm[r * d + i]);
        expect(inter[r * d + 2 * i + 1]).toBe(perm[r * d + i + half]);
      }
  });

  it('keeps norms, position 0 is the identity, and q·k depends only on the offset', () => {
    const x = rand(T * H * d, 3);
    const y = x.slice();
    applyRope(y, cos, sin, T, H, d, d, 'half');
    expect(y.subarray(0, H * d)).toEqual(x.subarray(0, H * d)); // position 0
    for (let r = 0; r < T * H; r++) {
      let a = 0;
      let b = 0;
      for (let i = 0; i < d; i++) {
        a += x[r * d + i] ** 2;
        b += y[r * d + i] ** 2;
      }
      expect(b).toBeCloseTo(a, 5);
    }
    const q = rand(d, 4);
    const k = rand(d, 5);
    const dotAt = (m: number, n: number) => {
      const c = new Float32Array(2 * half);
      const s = new Float32Array(2 * half);
      ropeCosSin(c, s, inv, [m, n]);
      const both = new Float32Array(2 * d);
      both.set(q);
      both.set(k, d);
      applyRope(both, c, s, 2, 1, d, d, 'half');
      let dot = 0;
      for (let i = 0; i < d; i++) dot += both[i] * both[d + i];
      return dot;
    };
    expect(dotAt(3, 1)).toBeCloseTo(dotAt(10, 8), 5);
    expect(dotAt(7, 7)).toBeCloseTo(dotAt(0, 0), 5);
  });

  it('leaves dimensions past rotaryDim alone', () => {
    const x = rand(1 * 1 * 12, 6);
    const y = x.slice();
    const c = new Float32Array(4);
    const s = new Float32Array(4);
    ropeCosSin(c, s, defaultInvFreq(10000, 8), [9]);
    applyRope(y, c, s, 1, 1, 12, 8, 'half');
    expect(y.subarray(8)).toEqual(x.subarray(8));
    expect(y.subarray(0, 8)).not.toEqual(x.subarray(0, 8));
  });
});
