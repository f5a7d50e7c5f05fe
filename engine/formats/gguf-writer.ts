/**
 * GGUF writer: builds GGUF files (tests, tools, the exporter). Values carry their GGUF type.
 * The reader is gguf.ts. `encodeGgufHeader` lays out everything before the tensor data from the
 * tensors' byte sizes alone, so a large file can be streamed tensor by tensor after it
 * (each tensor's bytes followed by `ggufPadding` zero bytes); `encodeGguf` builds a whole file in memory.
 */
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType, type GgufValueTypeName } from './gguf';

export type GgufTypedValue =
  | { type: Exclude<GgufValueTypeName, 'array' | 'string' | 'bool'>; value: number | bigint }
  | { type: 'string'; value: string }
  | { type: 'bool'; value: boolean }
  | { type: 'array'; itemType: GgufValueTypeName; items: GgufTypedValue[] };

export interface GgufWriteTensor {
  name: string;
  /** GGML dims, innermost first. */
  ne: number[];
  type: number;
  data: Uint8Array;
}

export interface GgufWriteSpec {
  version?: number;
  alignment?: number;
  metadata: [string, GgufTypedValue][];
  tensors: GgufWriteTensor[];
}

/** A tensor's header entry: its data's size instead of the data. */
export interface GgufTensorHeader {
  name: string;
  /** GGML dims, innermost first. */
  ne: number[];
  type: number;
  byteLength: number;
}

export interface GgufHeaderSpec {
  version?: number;
  alignment?: number;
  metadata: [string, GgufTypedValue][];
  tensors: GgufTensorHeader[];
}

/** Zero bytes that follow `length` bytes to reach the next multiple of `alignment`. */
export function ggufPadding(length: number, alignment = GGUF_DEFAULT_ALIGNMENT): number {
  return (alignment - (length % alignment)) % alignment;
}

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  private scratch = new DataView(new ArrayBuffer(8));
  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  bytes(b: Uint8Array): void {
    this.push(b.slice());
  }
  private fixed(n: number, set: (dv: DataView) => void): void {
    set(this.scratch);
    this.push(new Uint8Array(this.scratch.buffer.slice(0, n)));
  }
  u32(v: number): void {
    this.fixed(4, (dv) => dv.setUint32(0, v, true));
  }
  u64(v: number | bigint): void {
    this.fixed(8, (dv) => dv.setBigUint64(0, BigInt(v), true));
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.push(b);
  }
  value(v: GgufTypedValue): void {
    switch (v.type) {
      case 'u8':
        return this.fixed(1, (dv) => dv.setUint8(0, Number(v.value)));
      case 'i8':
        return this.fixed(1, (dv) => dv.setInt8(0, Number(v.value)));
      case 'u16':
        return this.fixed(2, (dv) => dv.setUint16(0, Number(v.value), true));
      case 'i16':
        return this.fixed(2, (dv) => dv.setInt16(0, Number(v.value), true));
      case 'u32':
        return this.fixed(4, (dv) => dv.setUint32(0, Number(v.value), true));
      case 'i32':
        return this.fixed(4, (dv) => dv.setInt32(0, Number(v.value), true));
      case 'f32':
        return this.fixed(4, (dv) => dv.setFloat32(0, Number(v.value), true));
      case 'f64':
        return this.fixed(8, (dv) => dv.setFloat64(0, Number(v.value), true));
      case 'u64':
        return this.fixed(8, (dv) => dv.setBigUint64(0, BigInt(v.value), true));
      case 'i64':
        return this.fixed(8, (dv) => dv.setBigInt64(0, BigInt(v.value), true));
      case 'bool':
        return this.fixed(1, (dv) => dv.setUint8(0, v.value ? 1 : 0));
      case 'string':
        return this.string(v.value);
      case 'array':
        this.u32(GgufValueType[v.itemType]);
        this.u64(v.items.length);
        for (const item of v.items) this.value(item);
        return;
    }
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    if (n) this.push(new Uint8Array(n));
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Header, metadata and tensor infos, padded to the alignment: the file up to its first tensor's data. */
export function encodeGgufHeader(spec: GgufHeaderSpec): Uint8Array {
  const alignment = spec.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const w = new Writer();
  w.bytes(new Uint8Array(GGUF_MAGIC));
  w.u32(spec.version ?? 3);
  w.u64(spec.tensors.length);
  w.u64(spec.metadata.length);
  for (const [key, v] of spec.metadata) {
    w.string(key);
    w.u32(GgufValueType[v.type]);
    w.value(v);
  }
  let rel = 0;
  for (const t of spec.tensors) {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const n of t.ne) w.u64(n);
    w.u32(t.type);
    w.u64(rel);
    rel += t.byteLength + ggufPadding(t.byteLength, alignment);
  }
  w.pad(alignment);
  return w.concat();
}

/** Serialises a GGUF file: header, metadata, tensor infos, aligned tensor data. */
export function encodeGguf(spec: GgufWriteSpec): Uint8Array {
  const alignment = spec.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const w = new Writer();
  w.bytes(encodeGgufHeader({ ...spec, tensors: spec.tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type, byteLength: t.data.length })) }));
  for (const t of spec.tensors) {
    w.bytes(t.data);
    w.pad(alignment);
  }
  return w.concat();
}
