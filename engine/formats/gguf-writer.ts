/**
 * A small GGUF v3 writer (spec: ggml docs/gguf.md), for files the tests and the
 * benchmark generate themselves: random-weight models with real shapes, and
 * corrupt variants. Writes F32 and F16 tensors; metadata of every scalar type,
 * strings and arrays.
 */

export type GgufWriteValue =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'u64' | 'i64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'u32' | 'i32' | 'f32' | 'string'; value: (number | string)[] };

export interface GgufWriteTensor {
  name: string;
  /** Row-major shape, outermost first ([out, in] for a linear weight). GGUF stores it reversed. */
  shape: number[];
  data: Float32Array;
  dtype: 'F32' | 'F16';
}

const VALUE_TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
const GGML_TYPE = { F32: 0, F16: 1 } as const;

class Out {
  private chunks: Uint8Array[] = [];
  length = 0;
  private scratch = new DataView(new ArrayBuffer(8));

  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.byteLength;
  }
  private num(n: number, set: (dv: DataView) => void): void {
    set(this.scratch);
    this.bytes(new Uint8Array(this.scratch.buffer.slice(0, n)));
  }
  u8(v: number) { this.num(1, (d) => d.setUint8(0, v)); }
  i8(v: number) { this.num(1, (d) => d.setInt8(0, v)); }
  u16(v: number) { this.num(2, (d) => d.setUint16(0, v, true)); }
  i16(v: number) { this.num(2, (d) => d.setInt16(0, v, true)); }
  u32(v: number) { this.num(4, (d) => d.setUint32(0, v, true)); }
  i32(v: number) { this.num(4, (d) => d.setInt32(0, v, true)); }
  f32(v: number) { this.num(4, (d) => d.setFloat32(0, v, true)); }
  f64(v: number) { this.num(8, (d) => d.setFloat64(0, v, true)); }
  u64(v: number) { this.num(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  i64(v: number) { this.num(8, (d) => d.setBigInt64(0, BigInt(v), true)); }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
  }
  pad(alignment: number) {
    const rem = this.length % alignment;
    if (rem) this.bytes(new Uint8Array(alignment - rem));
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.byteLength;
    }
    return out;
  }
}

function writeScalar(out: Out, type: keyof typeof VALUE_TYPE, v: number | string | boolean): void {
  switch (type) {
    case 'string': return out.str(v as string);
    case 'bool': return out.u8(v ? 1 : 0);
    case 'array': throw new Error('nested arrays are not supported by this writer');
    default: return (out[type] as (n: number) => void).call(out, v as number);
  }
}

/** f32 → IEEE half (round to nearest even), as numpy's astype(float16). */
export function f32ToF16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function writeGguf(metadata: Record<string, GgufWriteValue>, tensors: GgufWriteTensor[], alignment = 32): Uint8Array {
  const out = new Out();
  out.bytes(new TextEncoder().encode('GGUF'));
  out.u32(3);
  out.u64(tensors.length);
  const entries = Object.entries(metadata);
  const hasAlignment = 'general.alignment' in metadata;
  out.u64(entries.length + (hasAlignment || alignment === 32 ? 0 : 1));
  if (!hasAlignment && alignment !== 32) entries.push(['general.alignment', { type: 'u32', value: alignment }]);
  for (const [key, v] of entries) {
    out.str(key);
    out.u32(VALUE_TYPE[v.type]);
    if (v.type === 'array') {
      out.u32(VALUE_TYPE[v.itemType]);
      out.u64(v.value.length);
      for (const item of v.value) writeScalar(out, v.itemType, item);
    } else {
      writeScalar(out, v.type, v.value);
    }
  }
  // Tensor infos, then data at aligned offsets relative to the data section.
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor ${t.name}: shape ${t.shape} holds ${n} values, data has ${t.data.length}`);
    offsets.push(offset);
    offset += n * (t.dtype === 'F32' ? 4 : 2);
    offset = Math.ceil(offset / alignment) * alignment;
  }
  tensors.forEach((t, i) => {
    out.str(t.name);
    out.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) out.u64(d); // ne[0] is the innermost (row) length
    out.u32(GGML_TYPE[t.dtype]);
    out.u64(offsets[i]);
  });
  out.pad(alignment);
  for (const t of tensors) {
    if (t.dtype === 'F32') {
      out.bytes(new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)));
    } else {
      const h = new Uint16Array(t.data.length);
      for (let i = 0; i < h.length; i++) h[i] = f32ToF16Bits(t.data[i]);
      out.bytes(new Uint8Array(h.buffer));
    }
    out.pad(alignment);
  }
  return out.concat();
}
