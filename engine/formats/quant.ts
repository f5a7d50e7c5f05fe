/**
 * GGML tensor element types: their numbers, block layouts and dequantisation
 * to f32. Layouts follow llama.cpp's ggml-common.h; the arithmetic follows
 * ggml-quants.c `dequantize_row_*` step by step in f32 (`Math.fround` after
 * every product), so results are bit-identical to ggml's reference C code.
 *
 * Every quantised type packs a row into fixed-size blocks of `blockSize`
 * elements stored in `typeSize` bytes; a row of `ne0` elements must be a whole
 * number of blocks. The `BLOCK_*` descriptors export the byte layout so a GPU
 * path can upload blocks as they are and unpack in a shader.
 */

/** ggml_type numbers as written in GGUF tensor infos. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
} as const;
export type GgmlTypeName = keyof typeof GgmlType;

const TYPE_NAMES = new Map<number, GgmlTypeName>((Object.entries(GgmlType) as [GgmlTypeName, number][]).map(([name, id]) => [id, name]));

/** Name of a ggml type number, or `type<N>` when the number is not a known ggml type. */
export function ggmlTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type${type}`;
}

/** Super-block size of the K-quants. */
export const QK_K = 256;

export interface BlockField {
  /** Byte offset inside the block. */
  offset: number;
  /** Size in bytes. */
  bytes: number;
  /** How the bytes are read. */
  kind: 'f16' | 'f32' | 'u8' | 'i8';
}

/** Byte layout of one block of a type: `typeSize` bytes hold `blockSize` elements. */
export interface BlockLayout {
  blockSize: number;
  typeSize: number;
  fields: Record<string, BlockField>;
}

/** block_q8_0: d (f16), qs[32] (i8). x[j] = d * qs[j]. */
export const BLOCK_Q8_0: BlockLayout = {
  blockSize: 32,
  typeSize: 34,
  fields: { d: { offset: 0, bytes: 2, kind: 'f16' }, qs: { offset: 2, bytes: 32, kind: 'i8' } },
};

/** block_q4_0: d (f16), qs[16] (nibbles). x[j] = d * ((qs[j] & 15) - 8), x[j + 16] = d * ((qs[j] >> 4) - 8). */
export const BLOCK_Q4_0: BlockLayout = {
  blockSize: 32,
  typeSize: 18,
  fields: { d: { offset: 0, bytes: 2, kind: 'f16' }, qs: { offset: 2, bytes: 16, kind: 'u8' } },
};

/**
 * block_q4_K: d, dmin (f16), scales[12] (8 six-bit scales + 8 six-bit mins, see
 * `getScaleMinK4`), qs[128] (nibbles). 8 sub-blocks of 32: x = d*sc*q - dmin*m.
 */
export const BLOCK_Q4_K: BlockLayout = {
  blockSize: QK_K,
  typeSize: 144,
  fields: {
    d: { offset: 0, bytes: 2, kind: 'f16' },
    dmin: { offset: 2, bytes: 2, kind: 'f16' },
    scales: { offset: 4, bytes: 12, kind: 'u8' },
    qs: { offset: 16, bytes: 128, kind: 'u8' },
  },
};

/**
 * block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (i8),
 * d (f16). 16 sub-blocks of 16: x = d * scales[s] * (q - 32), q in 0..63.
 */
export const BLOCK_Q6_K: BlockLayout = {
  blockSize: QK_K,
  typeSize: 210,
  fields: {
    ql: { offset: 0, bytes: 128, kind: 'u8' },
    qh: { offset: 128, bytes: 64, kind: 'u8' },
    scales: { offset: 192, bytes: 16, kind: 'i8' },
    d: { offset: 208, bytes: 2, kind: 'f16' },
  },
};

/** Types this module dequantises. */
export const DEQUANTISABLE: ReadonlySet<number> = new Set([GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K]);

/**
 * [blockSize, typeSize] of every ggml type whose size is known here (from
 * ggml.c type_traits), dequantisable or not: the GGUF reader needs it to
 * locate and bounds-check tensors it may never decode.
 */
const TYPE_SIZES = new Map<number, [number, number]>([
  [GgmlType.F32, [1, 4]],
  [GgmlType.F16, [1, 2]],
  [GgmlType.BF16, [1, 2]],
  [GgmlType.F64, [1, 8]],
  [GgmlType.I8, [1, 1]],
  [GgmlType.I16, [1, 2]],
  [GgmlType.I32, [1, 4]],
  [GgmlType.I64, [1, 8]],
  [GgmlType.Q4_0, [32, 18]],
  [GgmlType.Q4_1, [32, 20]],
  [GgmlType.Q5_0, [32, 22]],
  [GgmlType.Q5_1, [32, 24]],
  [GgmlType.Q8_0, [32, 34]],
  [GgmlType.Q8_1, [32, 36]],
  [GgmlType.Q2_K, [QK_K, 84]],
  [GgmlType.Q3_K, [QK_K, 110]],
  [GgmlType.Q4_K, [QK_K, 144]],
  [GgmlType.Q5_K, [QK_K, 176]],
  [GgmlType.Q6_K, [QK_K, 210]],
  [GgmlType.Q8_K, [QK_K, 292]],
  [GgmlType.IQ4_NL, [32, 18]],
]);

/** { blockSize, typeSize } of a ggml type, or undefined when this engine does not know its layout. */
export function ggmlTypeSize(type: number): { blockSize: number; typeSize: number } | undefined {
  const s = TYPE_SIZES.get(type);
  return s ? { blockSize: s[0], typeSize: s[1] } : undefined;
}

// ---------------------------------------------------------------------------
// Scalar conversions

let F16_TABLE: Float32Array | undefined;

/** IEEE half (as its 16 bits) → number, exact. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** All 65536 halves, built on first use (256 KiB). */
function f16Table(): Float32Array {
  if (!F16_TABLE) {
    F16_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToF32(h);
  }
  return F16_TABLE;
}

const BITS_SCRATCH = new Uint32Array(1);
const BITS_VIEW = new Float32Array(BITS_SCRATCH.buffer);

/** number → IEEE half bits, round to nearest even (as ggml's GGML_FP32_TO_FP16 does). */
export function f32ToF16(x: number): number {
  BITS_VIEW[0] = x;
  const u = BITS_SCRATCH[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → signed zero
    mant |= 0x800000; // implicit bit
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r; // may carry into the smallest normal: still correct bits
  }
  let r = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/**
 * f32 values (as their bits, `src`) → IEEE half bits, round to nearest even: f32ToF16 for each,
 * with the normal range (the bulk of any weight) converted by integer arithmetic in the loop.
 * `dst[d0 + i]` for i < n from `src[s0 + i]`.
 */
export function f32BitsToF16(src: Uint32Array, s0: number, dst: Uint16Array, d0: number, n: number): void {
  const f = new Float32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < n; i++) {
    const u = src[s0 + i];
    const a = u & 0x7fffffff;
    if (a >= 0x38800000 && a < 0x47800000) {
      // exponent in f16's normal range: drop 13 mantissa bits rounding to nearest even, rebias 127 → 15
      dst[d0 + i] = ((u >>> 16) & 0x8000) | (((a + 0xfff + ((a >>> 13) & 1)) >>> 13) - 0x1c000);
    } else dst[d0 + i] = f32ToF16(f[s0 + i]);
  }
}

/** bfloat16 bits → number (the top half of an f32). */
export function bf16ToF32(h: number): number {
  BITS_SCRATCH[0] = (h & 0xffff) << 16;
  return BITS_VIEW[0];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------
// Row decoders. Each reads `out.length` elements from `src` (which holds
// exactly the blocks for them) and writes f32 into `out`.

/** F32 (little-endian) bytes → f32. */
export function decodeF32(src: Uint8Array, out: Float32Array): void {
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset, out.length * 4).set(src.subarray(0, out.length * 4));
    return;
  }
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
}

/** F16 bytes → f32. */
export function decodeF16(src: Uint8Array, out: Float32Array): void {
  const t = f16Table();
  for (let i = 0; i < out.length; i++) out[i] = t[src[2 * i] | (src[2 * i + 1] << 8)];
}

/** BF16 bytes → f32. */
export function decodeBF16(src: Uint8Array, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length); // exact, NaN payloads included
  for (let i = 0; i < out.length; i++) bits[i] = ((src[2 * i] | (src[2 * i + 1] << 8)) << 16) >>> 0;
}

function half(src: Uint8Array, at: number, t: Float32Array): number {
  return t[src[at] | (src[at + 1] << 8)];
}

/** Q8_0 blocks → f32. */
export function dequantizeQ8_0(src: Uint8Array, out: Float32Array): void {
  const t = f16Table();
  const nb = out.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = i * 34;
    const d = half(src, b, t);
    for (let j = 0; j < 32; j++) {
      const q = (src[b + 2 + j] << 24) >> 24; // i8
      out[i * 32 + j] = Math.fround(q * d);
    }
  }
}

/** Q4_0 blocks → f32. */
export function dequantizeQ4_0(src: Uint8Array, out: Float32Array): void {
  const t = f16Table();
  const nb = out.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = i * 18;
    const d = half(src, b, t);
    for (let j = 0; j < 16; j++) {
      const q = src[b + 2 + j];
      out[i * 32 + j] = Math.fround(((q & 0x0f) - 8) * d);
      out[i * 32 + j + 16] = Math.fround(((q >> 4) - 8) * d);
    }
  }
}

/**
 * The 6-bit scale and min of sub-block `j` (0..7) of a Q4_K/Q5_K block, from
 * its 12 packed bytes `q` (ggml `get_scale_min_k4`): bytes 0..3 hold scales
 * 0..3 and bytes 4..7 mins 0..3 in their low 6 bits; sub-blocks 4..7 keep
 * their low 4 bits in the nibbles of bytes 8..11 and their top 2 bits in the
 * spare top bits of bytes 0..3 (scales) and 4..7 (mins).
 */
export function getScaleMinK4(j: number, q: Uint8Array, at = 0): { sc: number; m: number } {
  if (j < 4) return { sc: q[at + j] & 63, m: q[at + j + 4] & 63 };
  return {
    sc: (q[at + j + 4] & 0x0f) | ((q[at + j - 4] >> 6) << 4),
    m: (q[at + j + 4] >> 4) | ((q[at + j] >> 6) << 4),
  };
}

/** Q4_K super-blocks → f32. */
export function dequantizeQ4_K(src: Uint8Array, out: Float32Array): void {
  const t = f16Table();
  const nb = out.length / QK_K;
  for (let i = 0; i < nb; i++) {
    const b = i * 144;
    const d = half(src, b, t);
    const dmin = half(src, b + 2, t);
    const scales = b + 4;
    let q = b + 16;
    let y = i * QK_K;
    for (let j = 0, is = 0; j < QK_K; j += 64, is += 2) {
      const a = getScaleMinK4(is, src, scales);
      const c = getScaleMinK4(is + 1, src, scales);
      const d1 = Math.fround(d * a.sc);
      const m1 = Math.fround(dmin * a.m);
      const d2 = Math.fround(d * c.sc);
      const m2 = Math.fround(dmin * c.m);
      for (let l = 0; l < 32; l++) out[y + l] = Math.fround(Math.fround(d1 * (src[q + l] & 0x0f)) - m1);
      for (let l = 0; l < 32; l++) out[y + 32 + l] = Math.fround(Math.fround(d2 * (src[q + l] >> 4)) - m2);
      q += 32;
      y += 64;
    }
  }
}

/** Q6_K super-blocks → f32. */
export function dequantizeQ6_K(src: Uint8Array, out: Float32Array): void {
  const t = f16Table();
  const nb = out.length / QK_K;
  for (let i = 0; i < nb; i++) {
    const b = i * 210;
    const d = half(src, b + 208, t);
    let ql = b;
    let qh = b + 128;
    let sc = b + 192;
    let y = i * QK_K;
    for (let n = 0; n < QK_K; n += 128) {
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l];
        const q1 = ((src[ql + l] & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32] & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        const s0 = (src[sc + is] << 24) >> 24; // scales are i8
        const s2 = (src[sc + is + 2] << 24) >> 24;
        const s4 = (src[sc + is + 4] << 24) >> 24;
        const s6 = (src[sc + is + 6] << 24) >> 24;
        out[y + l] = Math.fround(Math.fround(d * s0) * q1);
        out[y + l + 32] = Math.fround(Math.fround(d * s2) * q2);
        out[y + l + 64] = Math.fround(Math.fround(d * s4) * q3);
        out[y + l + 96] = Math.fround(Math.fround(d * s6) * q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

const DECODERS = new Map<number, (src: Uint8Array, out: Float32Array) => void>([
  [GgmlType.F32, decodeF32],
  [GgmlType.F16, decodeF16],
  [GgmlType.BF16, decodeBF16],
  [GgmlType.Q8_0, dequantizeQ8_0],
  [GgmlType.Q4_0, dequantizeQ4_0],
  [GgmlType.Q4_K, dequantizeQ4_K],
  [GgmlType.Q6_K, dequantizeQ6_K],
]);

/**
 * Bytes taken by `nElements` elements of `type` (a whole number of blocks).
 * Throws RangeError for an unknown type or a count that is not a whole number of blocks.
 */
export function ggmlByteSize(type: number, nElements: number): number {
  const s = ggmlTypeSize(type);
  if (!s) throw new RangeError(`unknown ggml type ${type}`);
  if (nElements % s.blockSize !== 0) throw new RangeError(`${nElements} elements is not a whole number of ${ggmlTypeName(type)} blocks (${s.blockSize})`);
  return (nElements / s.blockSize) * s.typeSize;
}

/**
 * Dequantises `nElements` of `type` from `src` into a new (or the given) f32
 * array. Throws RangeError for a type this module cannot decode or a `src`
 * shorter than the blocks need; callers turn that into a FormatError/UnsupportedError
 * naming the file and tensor.
 */
export function dequantize(type: number, src: Uint8Array, nElements: number, out = new Float32Array(nElements)): Float32Array {
  const decode = DECODERS.get(type);
  if (!decode) throw new RangeError(`cannot dequantise ggml type ${ggmlTypeName(type)} (${type})`);
  const need = ggmlByteSize(type, nElements);
  if (src.byteLength < need) throw new RangeError(`${ggmlTypeName(type)}: ${nElements} elements need ${need} bytes, got ${src.byteLength}`);
  if (out.length !== nElements) throw new RangeError(`output has ${out.length} elements, expected ${nElements}`);
  decode(src, out);
  return out;
}

// ---------------------------------------------------------------------------
// Encoders (the exporter): f32 → the bytes of a GGML/safetensors type.

/** f32 → F32 little-endian bytes. */
export function encodeF32(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(data.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  return out;
}

/** f32 → F16 little-endian bytes (round to nearest even, as numpy's astype(float16)). */
export function encodeF16(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 2);
  for (let i = 0; i < data.length; i++) {
    const h = f32ToF16(data[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/**
 * f32 → Q8_0 blocks, as llama.cpp's quantize_row_q8_0_ref (and gguf-py's quantize_q8_0):
 * per 32 values d = max|x| / 127 stored as f16, q = round(x / d) half away from zero, with
 * the f32 reciprocal of the unrounded d. `data.length` must be a multiple of 32.
 */
export function quantizeQ8_0(data: Float32Array): Uint8Array {
  if (data.length % 32 !== 0) throw new RangeError(`Q8_0: ${data.length} values is not a whole number of 32-value blocks`);
  const nb = data.length / 32;
  const out = new Uint8Array(nb * 34);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(data[i * 32 + j]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    const b = i * 34;
    out[b] = h & 0xff;
    out[b + 1] = h >>> 8;
    for (let j = 0; j < 32; j++) {
      const x = Math.fround(data[i * 32 + j] * id);
      const q = Math.sign(x) * Math.round(Math.abs(x)); // roundf: half away from zero
      out[b + 2 + j] = q & 0xff;
    }
  }
  return out;
}
