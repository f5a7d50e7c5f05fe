import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  bf16ToF32,
  BLOCK_Q4_0,
  BLOCK_Q4_K,
  BLOCK_Q6_K,
  BLOCK_Q8_0,
  dequantize,
  f16ToF32,
  f32BitsToF16,
  f32ToF16,
  getScaleMinK4,
  GgmlType,
  ggmlByteSize,
  ggmlTypeName,
  QK_K,
} from './quant';

const f = Math.fround;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Roughly normal values with a few outliers, as weights look. */
function randomWeights(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => {
    const g = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
    return r() < 0.01 ? g * 8 : g * 0.05;
  });
}

const bitsEqual = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function rmse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);

function setHalf(bytes: Uint8Array, at: number, value: number): void {
  const h = f32ToF16(value);
  bytes[at] = h & 0xff;
  bytes[at + 1] = h >> 8;
}
const half = (v: number) => f16ToF32(f32ToF16(v));

// ---------------------------------------------------------------------------
// Reference quantisers: TypeScript ports of ggml-quants.c `quantize_row_*_ref`
// (f32 arithmetic via Math.fround). Each returns the packed blocks and the
// reconstruction its own integers and scales imply, computed without unpacking.

/** ggml nearest_int: round half to even via the 1.5·2^23 trick, in f32. */
const nearestInt = (v: number) => f(f(v) + 12582912) - 12582912;
/** C roundf: half away from zero. */
const roundf = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

function quantizeQ8_0(x: Float32Array): { bytes: Uint8Array; recon: Float32Array } {
  const nb = x.length / 32;
  const bytes = new Uint8Array(nb * 34);
  const recon = new Float32Array(x.length);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j]));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    setHalf(bytes, i * 34, d);
    for (let j = 0; j < 32; j++) {
      const q = roundf(f(x[i * 32 + j] * id)) | 0; // int8: no negative zero
      bytes[i * 34 + 2 + j] = q & 0xff;
      recon[i * 32 + j] = f(q * half(d));
    }
  }
  return { bytes, recon };
}

function quantizeQ4_0(x: Float32Array): { bytes: Uint8Array; recon: Float32Array } {
  const nb = x.length / 32;
  const bytes = new Uint8Array(nb * 18);
  const recon = new Float32Array(x.length);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[i * 32 + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d ? f(1 / d) : 0;
    setHalf(bytes, i * 18, d);
    const q = (v: number) => Math.min(15, Math.trunc(f(f(v * id) + 8.5)));
    for (let j = 0; j < 16; j++) {
      const q0 = q(x[i * 32 + j]);
      const q1 = q(x[i * 32 + 16 + j]);
      bytes[i * 18 + 2 + j] = q0 | (q1 << 4);
      recon[i * 32 + j] = f((q0 - 8) * half(d));
      recon[i * 32 + 16 + j] = f((q1 - 8) * half(d));
    }
  }
  return { bytes, recon };
}

/** ggml make_qkx2_quants (n = 32, nmax = 15, rmin = -1, rdelta = 0.1, nstep = 20, use_mad = false). */
function makeQkx2Quants(x: Float32Array, w: Float32Array, L: Uint8Array): { scale: number; theMin: number } {
  const n = x.length;
  const nmax = 15;
  let min = x[0];
  let max = x[0];
  let sumW = w[0];
  let sumX = f(sumW * x[0]);
  for (let i = 1; i < n; i++) {
    min = Math.min(min, x[i]);
    max = Math.max(max, x[i]);
    sumW = f(sumW + w[i]);
    sumX = f(sumX + f(w[i] * x[i]));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0);
    return { scale: 0, theMin: -min };
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestMad = 0;
  for (let i = 0; i < n; i++) {
    L[i] = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[i] - min)))));
    const diff = f(f(f(scale * L[i]) + min) - x[i]);
    bestMad = f(bestMad + f(w[i] * f(diff * diff)));
  }
  const Laux = new Uint8Array(n);
  for (let is = 0; is <= 20; is++) {
    iscale = f(f(f(-1 + f(0.1 * is)) + nmax) / f(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[i] - min)))));
      Laux[i] = l;
      sumL = f(sumL + f(w[i] * l));
      sumL2 = f(sumL2 + f(f(w[i] * l) * l));
      sumXL = f(sumXL + f(f(w[i] * l) * x[i]));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let mad = 0;
      for (let i = 0; i < n; i++) {
        const diff = f(f(f(thisScale * Laux[i]) + thisMin) - x[i]);
        mad = f(mad + f(w[i] * f(diff * diff)));
      }
      if (mad < bestMad) {
        L.set(Laux);
        bestMad = mad;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return { scale, theMin: -min };
}

function quantizeQ4_K(x: Float32Array): { bytes: Uint8Array; recon: Float32Array } {
  const nb = x.length / QK_K;
  const bytes = new Uint8Array(nb * 144);
  const recon = new Float32Array(x.length);
  for (let i = 0; i < nb; i++) {
    const xb = x.subarray(i * QK_K, (i + 1) * QK_K);
    const L = new Uint8Array(QK_K);
    const scales = new Float32Array(8);
    const mins = new Float32Array(8);
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const xs = xb.subarray(32 * j, 32 * j + 32);
      let sumX2 = 0;
      for (const v of xs) sumX2 = f(sumX2 + f(v * v));
      const avX = f(Math.sqrt(f(sumX2 / 32)));
      const w = Float32Array.from(xs, (v) => f(avX + Math.abs(v)));
      const r = makeQkx2Quants(xs, w, L.subarray(32 * j, 32 * j + 32));
      scales[j] = r.scale;
      mins[j] = r.theMin;
      maxScale = Math.max(maxScale, scales[j]);
      maxMin = Math.max(maxMin, mins[j]);
    }
    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    const b = i * 144;
    const sc = new Uint8Array(12);
    const ls = new Uint8Array(8);
    const lm = new Uint8Array(8);
    for (let j = 0; j < 8; j++) {
      ls[j] = Math.min(63, nearestInt(f(invScale * scales[j])) & 0xff);
      lm[j] = Math.min(63, nearestInt(f(invMin * mins[j])) & 0xff);
      if (j < 4) {
        sc[j] = ls[j];
        sc[j + 4] = lm[j];
      } else {
        sc[j + 4] = (ls[j] & 0xf) | ((lm[j] & 0xf) << 4);
        sc[j - 4] |= (ls[j] >> 4) << 6;
        sc[j] |= (lm[j] >> 4) << 6;
      }
    }
    setHalf(bytes, b, f(maxScale / 63));
    setHalf(bytes, b + 2, f(maxMin / 63));
    bytes.set(sc, b + 4);
    const d16 = half(f(maxScale / 63));
    const dmin16 = half(f(maxMin / 63));
    for (let j = 0; j < 8; j++) {
      const d = f(d16 * ls[j]);
      const dm = f(dmin16 * lm[j]);
      if (d) for (let ii = 0; ii < 32; ii++) L[32 * j + ii] = Math.max(0, Math.min(15, nearestInt(f(f(xb[32 * j + ii] + dm) / d))));
      for (let ii = 0; ii < 32; ii++) recon[i * QK_K + 32 * j + ii] = f(f(d * L[32 * j + ii]) - dm);
    }
    for (let j = 0, q = b + 16; j < QK_K; j += 64, q += 32) for (let l = 0; l < 32; l++) bytes[q + l] = L[j + l] | (L[j + l + 32] << 4);
  }
  return { bytes, recon };
}

/** ggml make_qx_quants (nmax = 32, rmse_type = 1, no quant weights) → scale; L in 0..63. */
function makeQxQuants(x: Float32Array, L: Uint8Array): number {
  const nmax = 32;
  let max = 0;
  let amax = 0;
  for (const v of x) {
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  if (amax < 1e-15) {
    L.fill(0);
    return 0;
  }
  const clampL = (l: number) => Math.max(-nmax, Math.min(nmax - 1, l));
  const sums = (iscale: number) => {
    let sumlx = 0;
    let suml2 = 0;
    for (const v of x) {
      const l = clampL(nearestInt(f(iscale * v)));
      const w = f(v * v);
      sumlx = f(sumlx + f(f(w * v) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    return { sumlx, suml2 };
  };
  let iscale = f(-nmax / max);
  x.forEach((v, i) => (L[i] = clampL(nearestInt(f(iscale * v))) + nmax));
  let { sumlx, suml2 } = sums(iscale);
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(0.1 * is)) / max);
    ({ sumlx, suml2 } = sums(iscale));
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      x.forEach((v, i) => (L[i] = nmax + clampL(nearestInt(f(iscale * v)))));
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

function quantizeQ6_K(x: Float32Array): { bytes: Uint8Array; recon: Float32Array } {
  const nb = x.length / QK_K;
  const bytes = new Uint8Array(nb * 210);
  const recon = new Float32Array(x.length);
  for (let i = 0; i < nb; i++) {
    const xb = x.subarray(i * QK_K, (i + 1) * QK_K);
    const L = new Uint8Array(QK_K);
    const scales = new Float32Array(16);
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      scales[ib] = makeQxQuants(xb.subarray(16 * ib, 16 * ib + 16), L.subarray(16 * ib, 16 * ib + 16));
      if (Math.abs(scales[ib]) > maxAbsScale) {
        maxAbsScale = Math.abs(scales[ib]);
        maxScale = scales[ib];
      }
    }
    const b = i * 210;
    if (maxAbsScale < 1e-15) {
      // all-zero block: zero bytes; 0 * 0 * (0 - 32) is -0 in f32, as ggml computes it
      recon.fill(f(f(0 * 0) * (0 - 32)), i * QK_K, (i + 1) * QK_K);
      continue;
    }
    const iscale = f(-128 / maxScale);
    setHalf(bytes, b + 208, f(1 / iscale));
    const d16 = half(f(1 / iscale));
    const sc = new Int8Array(16);
    for (let ib = 0; ib < 16; ib++) sc[ib] = Math.min(127, nearestInt(f(iscale * scales[ib])));
    for (let j = 0; j < 16; j++) {
      const d = f(d16 * sc[j]);
      if (d) for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(f(xb[16 * j + ii] / d)))) + 32;
      for (let ii = 0; ii < 16; ii++) recon[i * QK_K + 16 * j + ii] = f(d * (L[16 * j + ii] - 32));
    }
    for (let ib = 0; ib < 16; ib++) bytes[b + 192 + ib] = sc[ib] & 0xff;
    for (let j = 0, ql = b, qh = b + 128; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (let l = 0; l < 32; l++) {
        const [q1, q2, q3, q4] = [L[j + l], L[j + l + 32], L[j + l + 64], L[j + l + 96]];
        bytes[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        bytes[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        bytes[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
  return { bytes, recon };
}

// ---------------------------------------------------------------------------

describe('scalar conversions', () => {
  test('f16 → f32 on known bit patterns', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x3555)).toBe(0.333251953125);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(f16ToF32(0x7e00)).toBeNaN();
  });

  test('f32 → f16 rounds to nearest even and round-trips every half', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaNs
      expect(f32ToF16(f16ToF32(h))).toBe(h);
    }
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16(65519)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // tie between 65504 and 2^16 → inf
    expect(f32ToF16(2 ** -25)).toBe(0); // tie → even (zero)
    expect(f32ToF16(3 * 2 ** -26)).toBe(1);
    expect(f32ToF16(-1e-10)).toBe(0x8000);
    expect(f32ToF16(NaN) & 0x7c00).toBe(0x7c00);
  });

  test('bf16 → f32', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc040)).toBe(-3);
    expect(bf16ToF32(0x7f80)).toBe(Infinity);
    const bytes = new Uint8Array([0x80, 0x3f, 0x49, 0x40]); // 1, 3.140625
    expect(Array.from(dequantize(GgmlType.BF16, bytes, 2))).toEqual([1, 3.140625]);
  });
});

describe('block layouts', () => {
  test('descriptors agree with the sizes', () => {
    for (const [type, layout] of [
      [GgmlType.Q8_0, BLOCK_Q8_0],
      [GgmlType.Q4_0, BLOCK_Q4_0],
      [GgmlType.Q4_K, BLOCK_Q4_K],
      [GgmlType.Q6_K, BLOCK_Q6_K],
    ] as const) {
      expect(ggmlByteSize(type, layout.blockSize)).toBe(layout.typeSize);
      const end = Math.max(...Object.values(layout.fields).map((fl) => fl.offset + fl.bytes));
      expect(end, ggmlTypeName(type)).toBe(layout.typeSize);
    }
    expect(ggmlTypeName(12)).toBe('Q4_K');
    expect(ggmlTypeName(99)).toBe('type99');
    expect(() => ggmlByteSize(GgmlType.Q4_K, 255)).toThrow(RangeError);
  });
});

describe('hand-built blocks', () => {
  test('Q8_0: d * q', () => {
    const b = new Uint8Array(34);
    setHalf(b, 0, 0.5);
    const qs = [-128, -1, 0, 1, 127];
    qs.forEach((q, j) => (b[2 + j] = q & 0xff));
    const y = dequantize(GgmlType.Q8_0, b, 32);
    expect(Array.from(y.slice(0, 5))).toEqual([-64, -0.5, 0, 0.5, 63.5]);
    expect(Array.from(y.slice(5))).toEqual(new Array(27).fill(0));
  });

  test('Q4_0: d * (nibble - 8), low nibbles first then high nibbles', () => {
    const b = new Uint8Array(18);
    setHalf(b, 0, 2);
    b[2] = 0x1f; // element 0: 15, element 16: 1
    b[3] = 0x80; // element 1: 0, element 17: 8
    b.fill(0x88, 4); // everything else: 8 → 0
    const y = dequantize(GgmlType.Q4_0, b, 32);
    expect([y[0], y[16], y[1], y[17]]).toEqual([14, -14, -16, 0]);
    expect(y.filter((v, i) => ![0, 1, 16, 17].includes(i) && v !== 0)).toHaveLength(0);
  });

  /** Packs 8 six-bit scales and mins into 12 bytes, as quantize_row_q4_K_ref does. */
  function packScalesK4(sc: number[], m: number[]): Uint8Array {
    const out = new Uint8Array(12);
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        out[j] = sc[j];
        out[j + 4] = m[j];
      } else {
        out[j + 4] = (sc[j] & 0xf) | ((m[j] & 0xf) << 4);
        out[j - 4] |= (sc[j] >> 4) << 6;
        out[j] |= (m[j] >> 4) << 6;
      }
    }
    return out;
  }

  test('get_scale_min_k4 unpacks every 6-bit scale/min pair', () => {
    for (let trial = 0; trial < 200; trial++) {
      const r = rng(trial);
      const sc = Array.from({ length: 8 }, () => Math.floor(r() * 64));
      const m = Array.from({ length: 8 }, () => Math.floor(r() * 64));
      const packed = packScalesK4(sc, m);
      for (let j = 0; j < 8; j++) expect(getScaleMinK4(j, packed)).toEqual({ sc: sc[j], m: m[j] });
    }
  });

  test('Q4_K: d*sc*q - dmin*m per 32-element sub-block, high bits of scales ≥ 16 included', () => {
    const sc = [1, 2, 3, 63, 17, 33, 48, 62];
    const m = [0, 5, 10, 63, 16, 31, 47, 60];
    const b = new Uint8Array(144);
    setHalf(b, 0, 1); // d
    setHalf(b, 2, 0.5); // dmin
    b.set(packScalesK4(sc, m), 4);
    // element e: sub-block j = e >> 5 lives in byte (j >> 1) * 32 + (e & 31), low nibble for even j.
    const qOf = (e: number) => (e * 5 + 3) % 16;
    for (let e = 0; e < 256; e++) {
      const j = e >> 5;
      const at = 16 + (j >> 1) * 32 + (e & 31);
      b[at] |= j % 2 === 0 ? qOf(e) : qOf(e) << 4;
    }
    const y = dequantize(GgmlType.Q4_K, b, 256);
    for (let e = 0; e < 256; e++) {
      const j = e >> 5;
      expect(y[e], `element ${e}`).toBe(sc[j] * qOf(e) - 0.5 * m[j]);
    }
    expect([y[0], y[33], y[255]]).toEqual([3 * 1, 2 * qOf(33) - 2.5, 62 * qOf(255) - 30]);
  });

  test('Q6_K: d * scale * (q - 32), 4-bit low part in ql, 2-bit high part in qh, i8 scales per 16', () => {
    const scales = [1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 127, -128];
    const b = new Uint8Array(210);
    setHalf(b, 208, 0.25);
    scales.forEach((s, i) => (b[192 + i] = s & 0xff));
    const qOf = (e: number) => (e * 7 + 1) % 64;
    for (let e = 0; e < 256; e++) {
      const n = e >> 7; // 128-element half
      const g = (e >> 5) & 3; // which 32-run inside it
      const l = e & 31;
      const q = qOf(e);
      const ql = n * 64 + l + (g & 1) * 32;
      b[ql] |= g < 2 ? q & 0xf : (q & 0xf) << 4;
      b[128 + n * 32 + l] |= (q >> 4) << (2 * g);
    }
    const y = dequantize(GgmlType.Q6_K, b, 256);
    for (let e = 0; e < 256; e++) expect(y[e], `element ${e}`).toBe(0.25 * scales[e >> 4] * (qOf(e) - 32));
  });

  test('bad requests are RangeErrors, not silent garbage', () => {
    expect(() => dequantize(GgmlType.Q5_K, new Uint8Array(176), 256)).toThrow(/Q5_K/);
    expect(() => dequantize(GgmlType.Q8_0, new Uint8Array(33), 32)).toThrow(RangeError);
    expect(() => dequantize(GgmlType.Q8_0, new Uint8Array(34), 31)).toThrow(RangeError);
  });
});

describe('round trip against reference quantisers (ggml algorithm)', () => {
  const cases = [
    ['Q8_0', GgmlType.Q8_0, quantizeQ8_0, 0.02],
    ['Q4_0', GgmlType.Q4_0, quantizeQ4_0, 0.2],
    ['Q4_K', GgmlType.Q4_K, quantizeQ4_K, 0.12],
    ['Q6_K', GgmlType.Q6_K, quantizeQ6_K, 0.04],
  ] as const;

  test.each(cases)('%s: dequantised blocks equal the reconstruction the quantiser chose, bit for bit', (_n, type, quantize, relErr) => {
    for (const seed of [1, 2, 3]) {
      const x = randomWeights(QK_K * 8, seed);
      const { bytes, recon } = quantize(x);
      expect(bytes.length).toBe(ggmlByteSize(type, x.length));
      const y = dequantize(type, bytes, x.length);
      expect(bitsEqual(y, recon)).toBe(true);
      expect(rmse(y, x) / rms(x)).toBeLessThan(relErr);
    }
  });

  test('Q8_0: every element within half a step (plus the f16 rounding of the scale)', () => {
    const x = randomWeights(32 * 64, 9);
    const y = dequantize(GgmlType.Q8_0, quantizeQ8_0(x).bytes, x.length);
    for (let i = 0; i < x.length; i += 32) {
      const d = Math.max(...Array.from(x.subarray(i, i + 32), Math.abs)) / 127;
      for (let j = i; j < i + 32; j++) expect(Math.abs(y[j] - x[j])).toBeLessThanOrEqual(0.5 * d + 127 * d * 2 ** -11 + 1e-7);
    }
  });

  test.each(cases)('%s: zero and constant blocks', (_n, type, quantize) => {
    for (const x of [new Float32Array(QK_K), new Float32Array(QK_K).fill(0.75), new Float32Array(QK_K).fill(-3)]) {
      const { bytes, recon } = quantize(x);
      const y = dequantize(type, bytes, x.length);
      expect(bitsEqual(y, recon)).toBe(true);
      expect(rmse(y, x)).toBeLessThanOrEqual(Math.max(...Array.from(x, Math.abs)) * 0.05 + 1e-12);
    }
  });

  test('any bytes of the right length dequantise without throwing (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.F16, GgmlType.BF16),
        fc.integer({ min: 1, max: 3 }),
        fc.integer(),
        (type, blocks, seed) => {
          const n = (type === GgmlType.Q4_K || type === GgmlType.Q6_K ? QK_K : 32) * blocks;
          const r = rng(seed);
          const bytes = Uint8Array.from({ length: ggmlByteSize(type, n) }, () => Math.floor(r() * 256));
          expect(dequantize(type, bytes, n)).toHaveLength(n);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('f32BitsToF16', () => {
  test('equals f32ToF16 for every value: random bits, the edges of the normal range and every rounding tie near 1', () => {
    const bits: number[] = [];
    let x = 12345;
    for (let i = 0; i < 1 << 18; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      bits.push(x);
    }
    for (const base of [0x38800000, 0x47800000, 0x477fe000, 0x33000000, 0x3f800000])
      for (let d = -3000; d < 3000; d++) bits.push((base + d) >>> 0, ((base + d) | 0x80000000) >>> 0);
    for (let m = 0; m < 1 << 16; m++) bits.push((0x3f800000 | (m << 7)) >>> 0);
    const src = Uint32Array.from(bits);
    const f = new Float32Array(src.buffer);
    const out = new Uint16Array(src.length);
    f32BitsToF16(src, 0, out, 0, src.length);
    let bad = 0;
    for (let i = 0; i < src.length; i++) if (out[i] !== f32ToF16(f[i])) bad++;
    expect(bad).toBe(0);
  });
});
