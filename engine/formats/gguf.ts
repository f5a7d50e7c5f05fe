/**
 * GGUF v2/v3 reader (ggml docs/gguf.md). Layout, all little-endian:
 *
 *   magic "GGUF" | u32 version | u64 tensor_count | u64 metadata_kv_count
 *   metadata_kv_count × { string key | u32 value_type | value }
 *   tensor_count × { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   padding to `general.alignment` (default 32)
 *   tensor data; each tensor at data_offset + offset (a multiple of the alignment)
 *
 *   string = u64 length + UTF-8 bytes; array = u32 element type + u64 count + elements.
 *   ne[0] is the innermost (row) length: the row-major shape is ne reversed.
 *
 * Only the header region is read (in growing chunks), never the tensor data;
 * tensors are read later by byte range. Every length and count is checked
 * against the bytes left in the file before anything is allocated, and every
 * bad input becomes a FormatError (or UnsupportedError) naming file, offset
 * and what was expected.
 *
 * Typed metadata access (ggufUint, ggufString…) is in gguf-metadata.ts, the writer in gguf-writer.ts.
 */
import { FormatError, UnsupportedError } from '../errors';
import type { ByteSource } from './source';
import { DEQUANTISABLE, dequantize, ggmlTypeName, ggmlTypeSize } from './quant';

/** An array of 8-, 16- or 32-bit numbers as stored (a token-type or score table): one typed array, not a JS number per entry. */
export type GgufNumericArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/**
 * A metadata value: u64/i64 beyond ±(2^53-1) stay bigint; arrays of strings are string[];
 * arrays of u8…i32, f32 and f64 are typed arrays (GgufNumericArray); arrays of u64, i64,
 * bool and nested arrays are JS arrays.
 */
export type GgufValue = number | bigint | boolean | string | GgufNumericArray | GgufValue[];

/** Typed-array constructors for the fixed-size numeric element types. */
const TYPED_ARRAYS: Partial<Record<number, { new (n: number): GgufNumericArray; BYTES_PER_ELEMENT: number }>> = {
  0: Uint8Array,
  1: Int8Array,
  2: Uint16Array,
  3: Int16Array,
  4: Uint32Array,
  5: Int32Array,
  6: Float32Array,
  12: Float64Array,
};

/** gguf_type numbers of metadata values. */
export const GgufValueType = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;
export type GgufValueTypeName = keyof typeof GgufValueType;

const VALUE_TYPE_NAMES = new Map<number, GgufValueTypeName>((Object.entries(GgufValueType) as [GgufValueTypeName, number][]).map(([n, t]) => [t, n]));

/** Fixed byte size of a scalar value type; strings and arrays have a minimum size instead. */
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
/** Smallest encoding of one value of each type: strings are at least their u64 length, arrays their type + count. */
function minValueSize(type: number): number {
  if (type === GgufValueType.string) return 8;
  if (type === GgufValueType.array) return 12;
  return FIXED_SIZE[type];
}

export interface GgufTensorInfo {
  name: string;
  /** GGML dims, innermost first: ne[0] is the row length. */
  ne: number[];
  /** Row-major shape (ne reversed), e.g. a linear weight is [out, in]. */
  shape: number[];
  type: number;
  typeName: string;
  nElements: number;
  byteSize: number;
  /** Offset inside the data section, as written in the file. */
  relOffset: number;
  /** Absolute file offset of the tensor's bytes. */
  offset: number;
  /** File offset of this tensor's info record (for error messages). */
  infoOffset: number;
}

export interface GgufFile {
  /** Display name of the source. */
  name: string;
  source: ByteSource;
  version: number;
  metadata: Map<string, GgufValue>;
  /** Declared type of each metadata value: 'u32', 'string', 'array<string>', 'array<array<i32>>'… */
  metadataTypes: Map<string, string>;
  tensors: GgufTensorInfo[];
  tensorsByName: Map<string, GgufTensorInfo>;
  alignment: number;
  /** Absolute file offset where tensor data starts. */
  dataOffset: number;
}

export interface ReadGgufOptions {
  /** Give up (FormatError) when the metadata + tensor-info region exceeds this many bytes. Default 256 MiB. */
  maxHeaderBytes?: number;
  /** First read size (then doubled as needed). Default 64 KiB. */
  initialReadBytes?: number;
}

export const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
/** Arrays nest at most this deep (guards the parser's recursion). */
const MAX_ARRAY_DEPTH = 8;

/** Thrown inside the parser when the buffered prefix ends before the file does. */
class NeedMore {
  constructor(readonly upTo: number) {}
}

/** Synchronous little-endian reader over the buffered prefix of the file. */
class Cursor {
  pos = 0;
  private readonly dv: DataView;
  private readonly utf8 = new TextDecoder('utf-8');

  constructor(
    private readonly buf: Uint8Array,
    readonly fileSize: number,
    readonly file: string,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Ensures `n` bytes at the cursor are buffered; FormatError when the file itself is shorter. */
  need(n: number, what: string): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos + n > this.fileSize) {
      throw new FormatError(`file is truncated inside ${what}`, {
        file: this.file,
        offset: this.pos,
        expected: `${n} more bytes`,
        found: `${this.remaining} before end of file (size ${this.fileSize})`,
      });
    }
    throw new NeedMore(this.pos + n);
  }

  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.dv.getUint8(this.pos++);
  }
  i8(what: string): number {
    this.need(1, what);
    return this.dv.getInt8(this.pos++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(what: string): number {
    this.need(2, what);
    const v = this.dv.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.dv.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.dv.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.dv.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(what: string): bigint {
    this.need(8, what);
    const v = this.dv.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 count or length that must fit in a JS number. */
  u64Number(what: string): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError(`${what} is impossibly large`, { file: this.file, offset: at, expected: `at most ${this.fileSize}`, found: v.toString() });
    }
    return Number(v);
  }

  /** A count of items, each at least `minItemBytes` long, checked against the bytes left before anything is allocated. */
  count(what: string, minItemBytes: number): number {
    const at = this.pos;
    const n = this.u64Number(what);
    if (n * minItemBytes > this.remaining) {
      throw new FormatError(`${what} is larger than the rest of the file`, {
        file: this.file,
        offset: at,
        expected: `at most ${Math.floor(this.remaining / minItemBytes)} (${this.remaining} bytes left, ≥ ${minItemBytes} each)`,
        found: String(n),
      });
    }
    return n;
  }

  string(what: string): string {
    const at = this.pos;
    const len = this.u64Number(`${what} length`);
    if (len > this.remaining) {
      throw new FormatError(`${what} length is larger than the rest of the file`, {
        file: this.file,
        offset: at,
        expected: `at most ${this.remaining} bytes`,
        found: `${len} bytes`,
      });
    }
    return this.utf8.decode(this.bytes(len, what));
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isSafe(v: bigint): boolean {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER);
}

/** Reads one value of `type` (recursing into arrays); returns it with its declared type name. */
function readValue(c: Cursor, type: number, key: string, depth: number): { value: GgufValue; typeName: string } {
  const what = `value of "${key}"`;
  switch (type) {
    case GgufValueType.u8:
      return { value: c.u8(what), typeName: 'u8' };
    case GgufValueType.i8:
      return { value: c.i8(what), typeName: 'i8' };
    case GgufValueType.u16:
      return { value: c.u16(what), typeName: 'u16' };
    case GgufValueType.i16:
      return { value: c.i16(what), typeName: 'i16' };
    case GgufValueType.u32:
      return { value: c.u32(what), typeName: 'u32' };
    case GgufValueType.i32:
      return { value: c.i32(what), typeName: 'i32' };
    case GgufValueType.f32:
      return { value: c.f32(what), typeName: 'f32' };
    case GgufValueType.f64:
      return { value: c.f64(what), typeName: 'f64' };
    case GgufValueType.u64: {
      const v = c.u64(what);
      return { value: isSafe(v) ? Number(v) : v, typeName: 'u64' };
    }
    case GgufValueType.i64: {
      const v = c.i64(what);
      return { value: isSafe(v) ? Number(v) : v, typeName: 'i64' };
    }
    case GgufValueType.bool: {
      const at = c.pos;
      const b = c.u8(what);
      if (b > 1) throw new FormatError('bad boolean', { file: c.file, offset: at, key, expected: '0 or 1', found: String(b) });
      return { value: b === 1, typeName: 'bool' };
    }
    case GgufValueType.string:
      return { value: c.string(what), typeName: 'string' };
    case GgufValueType.array:
      return readArray(c, key, depth + 1);
    default:
      throw new FormatError('unknown metadata value type', { file: c.file, offset: c.pos - 4, key, expected: 'a gguf_type 0..12', found: String(type) });
  }
}

function readValueType(c: Cursor, key: string, what: string): number {
  const at = c.pos;
  const t = c.u32(what);
  if (!VALUE_TYPE_NAMES.has(t)) {
    throw new FormatError(`unknown ${what}`, { file: c.file, offset: at, key, expected: 'a gguf_type 0..12', found: String(t) });
  }
  return t;
}

function readArray(c: Cursor, key: string, depth: number): { value: GgufValue[] | GgufNumericArray; typeName: string } {
  if (depth > MAX_ARRAY_DEPTH) {
    throw new FormatError('arrays nested too deeply', { file: c.file, offset: c.pos, key, expected: `at most ${MAX_ARRAY_DEPTH} levels`, found: `${depth}` });
  }
  const elemType = readValueType(c, key, 'array element type');
  const n = c.count(`array length of "${key}"`, minValueSize(elemType));
  // Fixed-size elements: buffer them all before allocating the result.
  if (elemType !== GgufValueType.string && elemType !== GgufValueType.array) c.need(n * FIXED_SIZE[elemType], `array of "${key}"`);
  const Typed = TYPED_ARRAYS[elemType];
  if (Typed) {
    // copied out of the header buffer (little-endian, as GGUF stores it), whatever its alignment
    const bytes = c.bytes(n * Typed.BYTES_PER_ELEMENT, `array of "${key}"`);
    const out = new Typed(n);
    new Uint8Array(out.buffer).set(bytes);
    if (!LITTLE_ENDIAN_HOST) throw new UnsupportedError('GGUF numeric arrays need a little-endian host', { file: c.file, key });
    return { value: out, typeName: `array<${VALUE_TYPE_NAMES.get(elemType)!}>` };
  }
  const out: GgufValue[] = new Array(n);
  let elemName: string = VALUE_TYPE_NAMES.get(elemType)!;
  for (let i = 0; i < n; i++) {
    const v = readValue(c, elemType, key, depth);
    out[i] = v.value;
    if (elemType === GgufValueType.array && i === 0) elemName = v.typeName;
  }
  return { value: out, typeName: `array<${elemName}>` };
}

interface Header {
  version: number;
  metadata: Map<string, GgufValue>;
  metadataTypes: Map<string, string>;
  /** File offset of each metadata value (for error messages). */
  valueOffsets: Map<string, number>;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataOffset: number;
}

function readMagicAndVersion(c: Cursor): number {
  const magic = c.bytes(4, 'magic');
  if (!GGUF_MAGIC.every((b, i) => magic[i] === b)) {
    const ascii = Array.from(magic, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    const hex = Array.from(magic, (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new FormatError('not a GGUF file', { file: c.file, offset: 0, expected: 'magic "GGUF" (47 47 55 46)', found: `"${ascii}" (${hex})` });
  }
  const version = c.u32('version');
  if (version === 2 || version === 3) return version;
  const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
  const why =
    version === 1
      ? 'GGUF v1 (32-bit counts) is not supported; re-convert the model with a current llama.cpp'
      : swapped >= 1 && swapped <= 3
        ? 'big-endian GGUF is not supported'
        : 'unsupported GGUF version';
  throw new UnsupportedError(why, { file: c.file, offset: 4, expected: 'version 2 or 3 (little-endian)', found: String(version) });
}

function readMetadata(c: Cursor, h: Header): void {
  const kvCount = c.count('metadata key/value count', 8 + 4 + 1);
  for (let i = 0; i < kvCount; i++) {
    const keyAt = c.pos;
    const key = c.string(`metadata key #${i}`);
    if (h.metadata.has(key)) {
      throw new FormatError('duplicate metadata key', { file: c.file, offset: keyAt, key, expected: 'each key once', found: 'a second entry' });
    }
    const type = readValueType(c, key, 'metadata value type');
    h.valueOffsets.set(key, c.pos);
    const { value, typeName } = readValue(c, type, key, 0);
    h.metadata.set(key, value);
    h.metadataTypes.set(key, typeName);
  }
}

function readAlignment(c: Cursor, h: Header): number {
  const v = h.metadata.get('general.alignment');
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const t = h.metadataTypes.get('general.alignment');
  if (t !== 'u32' || typeof v !== 'number' || v === 0 || (v & (v - 1)) !== 0) {
    throw new FormatError('bad general.alignment', {
      file: c.file,
      offset: h.valueOffsets.get('general.alignment'),
      key: 'general.alignment',
      expected: 'a u32 power of two',
      found: `${t} ${String(v)}`,
    });
  }
  return v;
}

function readTensorInfo(c: Cursor, index: number, seen: Set<string>): { info: GgufTensorInfo; relOffsetAt: number } {
  const infoOffset = c.pos;
  const name = c.string(`name of tensor #${index}`);
  if (seen.has(name)) throw new FormatError('duplicate tensor name', { file: c.file, offset: infoOffset, key: name, expected: 'unique tensor names', found: 'a second tensor' });
  seen.add(name);
  const nDimsAt = c.pos;
  const nDims = c.u32(`n_dims of tensor "${name}"`);
  if (nDims < 1 || nDims > MAX_DIMS) {
    throw new FormatError('bad tensor rank', { file: c.file, offset: nDimsAt, key: name, expected: `1..${MAX_DIMS} dimensions`, found: String(nDims) });
  }
  const ne: number[] = [];
  let nElements = 1;
  for (let d = 0; d < nDims; d++) {
    const at = c.pos;
    const n = c.u64Number(`dimension ${d} of tensor "${name}"`);
    nElements *= n;
    if (!Number.isSafeInteger(nElements)) {
      throw new FormatError('tensor has too many elements', { file: c.file, offset: at, key: name, expected: 'fewer than 2^53 elements', found: `dims ${[...ne, n].join('×')}` });
    }
    ne.push(n);
  }
  const typeAt = c.pos;
  const type = c.u32(`type of tensor "${name}"`);
  const size = ggmlTypeSize(type);
  if (!size) {
    throw new UnsupportedError(`tensor "${name}" has ggml type ${ggmlTypeName(type)} (${type}), which this engine does not support`, {
      file: c.file,
      offset: typeAt,
      key: name,
      expected: 'F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K',
      found: `${ggmlTypeName(type)} (${type})`,
    });
  }
  if (ne[0] % size.blockSize !== 0) {
    throw new FormatError('row length is not a whole number of blocks', {
      file: c.file,
      offset: nDimsAt + 4,
      key: name,
      expected: `ne[0] a multiple of ${size.blockSize} for ${ggmlTypeName(type)}`,
      found: String(ne[0]),
    });
  }
  const relOffsetAt = c.pos;
  const relOffset = c.u64Number(`data offset of tensor "${name}"`);
  const info: GgufTensorInfo = {
    name,
    ne,
    shape: [...ne].reverse(),
    type,
    typeName: ggmlTypeName(type),
    nElements,
    byteSize: (nElements / size.blockSize) * size.typeSize,
    relOffset,
    offset: -1, // absolute offset, set by placeTensors once the data section is known
    infoOffset,
  };
  return { info, relOffsetAt };
}

/** Places every tensor inside the data section: aligned, inside the file, not overlapping. */
function placeTensors(c: Cursor, h: Header, relOffsetAt: number[]): void {
  h.tensors.forEach((t, i) => {
    const fieldAt = relOffsetAt[i];
    if (t.relOffset % h.alignment !== 0) {
      throw new FormatError(`tensor "${t.name}" data is misaligned`, {
        file: c.file,
        offset: fieldAt,
        key: t.name,
        expected: `an offset that is a multiple of ${h.alignment}`,
        found: String(t.relOffset),
      });
    }
    t.offset = h.dataOffset + t.relOffset;
    if (t.offset + t.byteSize > c.fileSize) {
      throw new FormatError(`tensor "${t.name}" data lies outside the file`, {
        file: c.file,
        offset: fieldAt,
        key: t.name,
        expected: `${t.byteSize} bytes at ${t.offset} within the ${c.fileSize}-byte file`,
        found: `end at ${t.offset + t.byteSize}`,
      });
    }
  });
  const byStart = [...h.tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byStart.length; i++) {
    const prev = byStart[i - 1];
    const t = byStart[i];
    if (t.offset < prev.offset + prev.byteSize) {
      throw new FormatError(`tensor "${t.name}" overlaps tensor "${prev.name}"`, {
        file: c.file,
        offset: t.infoOffset,
        key: t.name,
        expected: `data starting at or after ${prev.offset + prev.byteSize}`,
        found: String(t.offset),
      });
    }
  }
}

/** Parses the whole header from the buffered prefix, or throws NeedMore. */
function parseHeader(buf: Uint8Array, fileSize: number, file: string): Header {
  const c = new Cursor(buf, fileSize, file);
  const h: Header = {
    version: readMagicAndVersion(c),
    metadata: new Map(),
    metadataTypes: new Map(),
    valueOffsets: new Map(),
    tensors: [],
    alignment: GGUF_DEFAULT_ALIGNMENT,
    dataOffset: 0,
  };
  // Tensor count comes before the metadata; each info is at least 8 + 4 + 8 + 4 + 8 bytes.
  const tensorCount = c.count('tensor count', 32);
  readMetadata(c, h);
  h.alignment = readAlignment(c, h);
  const seen = new Set<string>();
  const relOffsetAt: number[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const { info, relOffsetAt: at } = readTensorInfo(c, i, seen);
    h.tensors.push(info);
    relOffsetAt.push(at);
  }
  h.dataOffset = Math.ceil(c.pos / h.alignment) * h.alignment;
  placeTensors(c, h, relOffsetAt);
  return h;
}

/** Reads a byte range, turning a source failure into a FormatError. */
export async function readRange(src: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new FormatError(`${what} lies outside the file`, { file: src.name, offset, expected: `${length} bytes within ${src.size}`, found: `end at ${offset + length}` });
  }
  try {
    return await src.read(offset, length);
  } catch (e) {
    throw new FormatError(`could not read ${what}: ${(e as Error).message}`, { file: src.name, offset, expected: `${length} bytes` });
  }
}

/**
 * Reads a GGUF header: metadata and tensor infos, reading only the header
 * region (in growing chunks). Tensor data stays in the file.
 */
export async function readGguf(src: ByteSource, opts: ReadGgufOptions = {}): Promise<GgufFile> {
  const maxHeader = opts.maxHeaderBytes ?? 256 * 1024 * 1024;
  let buf = await readRange(src, 0, Math.min(src.size, opts.initialReadBytes ?? 64 * 1024), 'GGUF header');
  for (;;) {
    try {
      const h = parseHeader(buf, src.size, src.name);
      return {
        name: src.name,
        source: src,
        version: h.version,
        metadata: h.metadata,
        metadataTypes: h.metadataTypes,
        tensors: h.tensors,
        tensorsByName: new Map(h.tensors.map((t) => [t.name, t])),
        alignment: h.alignment,
        dataOffset: h.dataOffset,
      };
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      if (e.upTo > maxHeader) {
        throw new FormatError('GGUF metadata region is larger than this reader allows', {
          file: src.name,
          offset: buf.length,
          expected: `at most ${maxHeader} bytes of metadata and tensor infos`,
          found: `at least ${e.upTo}`,
        });
      }
      const want = Math.min(src.size, maxHeader, Math.max(e.upTo, buf.length * 2));
      const more = await readRange(src, buf.length, want - buf.length, 'GGUF header');
      const grown = new Uint8Array(want);
      grown.set(buf);
      grown.set(more, buf.length);
      buf = grown;
    }
  }
}

/** A tensor's raw (possibly quantised) bytes, as stored. */
export function readGgufTensorBytes(file: GgufFile, t: GgufTensorInfo): Promise<Uint8Array> {
  return readRange(file.source, t.offset, t.byteSize, `data of tensor "${t.name}"`);
}

/** A tensor dequantised to f32, flat, row-major (its shape is `t.shape`). */
export async function readGgufTensorF32(file: GgufFile, t: GgufTensorInfo): Promise<Float32Array> {
  if (!DEQUANTISABLE.has(t.type)) {
    throw new UnsupportedError(`tensor "${t.name}" has ggml type ${t.typeName} (${t.type}), which this engine cannot dequantise`, {
      file: file.name,
      offset: t.infoOffset,
      key: t.name,
      expected: 'F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K',
      found: `${t.typeName} (${t.type})`,
    });
  }
  const bytes = await readGgufTensorBytes(file, t);
  return dequantize(t.type, bytes, t.nElements);
}
