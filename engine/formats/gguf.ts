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
 * Only the header region is read, never the tensor data; tensors are read later
 * by byte range. The header is parsed in one pass through a window of the file
 * that moves forward (a key/value or tensor info that runs past the window is
 * parsed again from its start once the window holds it), so time is linear in
 * the header and memory bounded by its largest value the caller keeps. Values of
 * keys the caller does not keep (`ReadGgufOptions.keep`) are skipped without
 * being decoded. Every length and count is checked against the bytes left in the
 * file before anything is allocated, and every bad input becomes a FormatError
 * (or UnsupportedError) naming file, offset and what was expected.
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
  /** Metadata keys skipped (not kept, values not decoded: ReadGgufOptions.keep). */
  skippedKeys: number;
}

export interface ReadGgufOptions {
  /** Give up (FormatError) when the metadata + tensor-info region exceeds this many bytes. Default 256 MiB. */
  maxHeaderBytes?: number;
  /** Size of the first read of the header region (later reads grow with the header read so far, and hold at least one value). Default 64 KiB. */
  initialReadBytes?: number;
  /** Which metadata keys to keep (general.alignment always is); the values of the others are skipped, not decoded. Default: all. */
  keep?: (key: string) => boolean;
}

/** The most metadata keys kept from one file (real files have tens): more is a FormatError, not a giant map. */
export const MAX_GGUF_KEPT_KEYS = 65_536;
/** The longest string array kept (a vocabulary or merge list: real ones hold up to a few hundred thousand). */
export const MAX_GGUF_STRING_ARRAY = 1 << 22;

export const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
/** Arrays nest at most this deep (guards the parser's recursion). */
const MAX_ARRAY_DEPTH = 8;

/** Thrown inside the parser when the buffered prefix ends before the file does. */
class NeedMore {
  constructor(readonly upTo: number) {}
}

/**
 * Synchronous little-endian reader over a window of the file: `buf` holds the bytes from file
 * offset `base`; `pos` is a file offset. Reading past the window throws NeedMore (the caller
 * moves the window and parses that step again); reading past the file is a FormatError.
 */
class Cursor {
  pos = 0;
  base = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private dv: DataView = new DataView(this.buf.buffer);
  private readonly utf8 = new TextDecoder('utf-8');

  constructor(
    readonly fileSize: number,
    readonly file: string,
  ) {}

  /** The window's bytes (from `base`). */
  get window(): Uint8Array {
    return this.buf;
  }

  setWindow(base: number, buf: Uint8Array): void {
    this.base = base;
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Whether `n` bytes at the cursor are in the window. */
  has(n: number): boolean {
    return this.pos + n <= this.base + this.buf.length;
  }

  /** Ensures `n` bytes at the cursor are in the window; FormatError when the file itself is shorter. */
  need(n: number, what: string): void {
    if (this.has(n)) return;
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

  /** Moves past `n` bytes without reading them (they need not be in the window). */
  skip(n: number, what: string): void {
    if (n > this.remaining) this.need(n, what);
    this.pos += n;
  }

  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const at = this.pos - this.base;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  private at(n: number, what: string): number {
    this.need(n, what);
    const at = this.pos - this.base;
    this.pos += n;
    return at;
  }

  u8(what: string): number {
    return this.dv.getUint8(this.at(1, what));
  }
  i8(what: string): number {
    return this.dv.getInt8(this.at(1, what));
  }
  u16(what: string): number {
    return this.dv.getUint16(this.at(2, what), true);
  }
  i16(what: string): number {
    return this.dv.getInt16(this.at(2, what), true);
  }
  u32(what: string): number {
    return this.dv.getUint32(this.at(4, what), true);
  }
  i32(what: string): number {
    return this.dv.getInt32(this.at(4, what), true);
  }
  f32(what: string): number {
    return this.dv.getFloat32(this.at(4, what), true);
  }
  f64(what: string): number {
    return this.dv.getFloat64(this.at(8, what), true);
  }
  u64(what: string): bigint {
    return this.dv.getBigUint64(this.at(8, what), true);
  }
  i64(what: string): bigint {
    return this.dv.getBigInt64(this.at(8, what), true);
  }

  /** A u64 count or length that must fit in a JS number (read as two u32: no bigint per length). */
  u64Number(what: string): number {
    const at = this.at(8, what);
    const lo = this.dv.getUint32(at, true);
    const hi = this.dv.getUint32(at + 4, true);
    if (hi >= 2 ** 21) {
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      throw new FormatError(`${what} is impossibly large`, { file: this.file, offset: this.pos - 8, expected: `at most ${this.fileSize}`, found: v.toString() });
    }
    return hi * 2 ** 32 + lo;
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

  /** A string's u64 length, checked against the bytes left. */
  stringLength(what: string): number {
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
    return len;
  }

  string(what: string): string {
    return this.utf8.decode(this.bytes(this.stringLength(what), what));
  }
}

/**
 * Feeds a Cursor from the file: `step` runs a synchronous parse step and, when it runs past
 * the window, moves the window to the step's start (holding at least what the step asked
 * for, twice as much as last time when the same step runs out again) and runs it again.
 */
class Window {
  constructor(
    private readonly src: ByteSource,
    private readonly c: Cursor,
    private readonly maxHeader: number,
    private readonly chunk: number,
  ) {}

  /** Moves the window to start at the cursor and reach at least `upTo`. */
  async fill(upTo: number): Promise<void> {
    const c = this.c;
    if (upTo > this.maxHeader) {
      throw new FormatError('GGUF metadata region is larger than this reader allows', {
        file: c.file,
        offset: c.pos,
        expected: `at most ${this.maxHeader} bytes of metadata and tensor infos`,
        found: `at least ${upTo}`,
      });
    }
    const start = c.pos;
    const oldEnd = c.base + c.window.length;
    // reads grow with the header read so far (up to 4 MiB), so a large header takes few reads and a small one reads little past its end
    const chunk = Math.max(this.chunk, Math.min(4 * 1024 * 1024, start >> 1));
    const end = Math.min(c.fileSize, this.maxHeader, Math.max(upTo, start + chunk, start + 2 * (oldEnd - start)));
    const keep = start < oldEnd ? c.window.subarray(start - c.base, Math.min(oldEnd, end) - c.base) : new Uint8Array(0);
    const more = await readRange(this.src, start + keep.length, end - start - keep.length, 'GGUF header');
    const buf = new Uint8Array(end - start);
    buf.set(keep);
    buf.set(more, keep.length);
    c.setWindow(start, buf);
  }

  async step<T>(parse: () => T): Promise<T> {
    const start = this.c.pos;
    for (;;) {
      try {
        return parse();
      } catch (e) {
        if (!(e instanceof NeedMore)) throw e;
        this.c.pos = start;
        await this.fill(e.upTo);
      }
    }
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
  if (n > MAX_GGUF_STRING_ARRAY) {
    throw new FormatError('array is longer than this reader keeps', {
      file: c.file,
      offset: c.pos - 8,
      key,
      expected: `at most ${MAX_GGUF_STRING_ARRAY.toLocaleString('en')} ${VALUE_TYPE_NAMES.get(elemType)} items`,
      found: n.toLocaleString('en'),
    });
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
  skippedKeys: number;
}

/** Moves past one value without decoding it (a key the caller does not keep); checks its structure only. */
async function skipValue(w: Window, c: Cursor, type: number, key: string, depth: number): Promise<void> {
  const what = `value of "${key}"`;
  if (type === GgufValueType.string) {
    c.skip(await w.step(() => c.stringLength(what)), what);
    return;
  }
  if (type !== GgufValueType.array) {
    c.skip(FIXED_SIZE[type], what);
    return;
  }
  if (depth + 1 > MAX_ARRAY_DEPTH) {
    throw new FormatError('arrays nested too deeply', { file: c.file, offset: c.pos, key, expected: `at most ${MAX_ARRAY_DEPTH} levels`, found: `${depth + 1}` });
  }
  const [elemType, n] = await w.step(() => {
    const t = readValueType(c, key, 'array element type');
    return [t, c.count(`array length of "${key}"`, minValueSize(t))] as const;
  });
  if (elemType !== GgufValueType.string && elemType !== GgufValueType.array) {
    c.skip(n * FIXED_SIZE[elemType], `array of "${key}"`);
    return;
  }
  for (let i = 0; i < n; i++) {
    if (elemType === GgufValueType.array) await skipValue(w, c, elemType, key, depth + 1);
    else {
      if (!c.has(8)) await w.fill(c.pos + 8);
      c.skip(c.stringLength(what), what);
    }
  }
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

/** One key/value as parsed: kept (its value decoded) or skipped. */
type Kv = { key: string; keyAt: number; valueAt: number; kept: false } | { key: string; keyAt: number; valueAt: number; kept: true; value: GgufValue; typeName: string };

/** Key #i and its value (or its skip), synchronously from the window (NeedMore when it runs past it). */
function readKv(c: Cursor, i: number, keep: (key: string) => boolean): Kv {
  const keyAt = c.pos;
  const key = c.string(`metadata key #${i}`);
  const type = readValueType(c, key, 'metadata value type');
  const valueAt = c.pos;
  if (!keep(key)) {
    skipValueInWindow(c, type, key, 0);
    return { key, keyAt, valueAt, kept: false };
  }
  const { value, typeName } = readValue(c, type, key, 0);
  return { key, keyAt, valueAt, kept: true, value, typeName };
}

/** skipValue within the window (NeedMore past it). */
function skipValueInWindow(c: Cursor, type: number, key: string, depth: number): void {
  const what = `value of "${key}"`;
  if (type === GgufValueType.string) return c.skip(c.stringLength(what), what);
  if (type !== GgufValueType.array) return c.skip(FIXED_SIZE[type], what);
  if (depth + 1 > MAX_ARRAY_DEPTH) {
    throw new FormatError('arrays nested too deeply', { file: c.file, offset: c.pos, key, expected: `at most ${MAX_ARRAY_DEPTH} levels`, found: `${depth + 1}` });
  }
  const t = readValueType(c, key, 'array element type');
  const n = c.count(`array length of "${key}"`, minValueSize(t));
  if (t !== GgufValueType.string && t !== GgufValueType.array) return c.skip(n * FIXED_SIZE[t], `array of "${key}"`);
  for (let i = 0; i < n; i++) skipValueInWindow(c, t, key, depth + 1);
}

/** Key #i when it runs past the window: step by step, a skipped value element by element (never all of it in memory). */
async function readKvStepwise(w: Window, c: Cursor, i: number, keep: (key: string) => boolean): Promise<Kv> {
  const keyAt = c.pos;
  const key = await w.step(() => c.string(`metadata key #${i}`));
  const type = await w.step(() => readValueType(c, key, 'metadata value type'));
  const valueAt = c.pos;
  if (!keep(key)) {
    await skipValue(w, c, type, key, 0);
    return { key, keyAt, valueAt, kept: false };
  }
  const { value, typeName } = await w.step(() => readValue(c, type, key, 0));
  return { key, keyAt, valueAt, kept: true, value, typeName };
}

async function readMetadata(w: Window, c: Cursor, h: Header, keep: (key: string) => boolean): Promise<void> {
  const kvCount = await w.step(() => c.count('metadata key/value count', 8 + 4 + 1));
  for (let i = 0; i < kvCount; i++) {
    const start = c.pos;
    let kv: Kv;
    try {
      kv = readKv(c, i, keep);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      c.pos = start;
      kv = await readKvStepwise(w, c, i, keep);
    }
    if (!kv.kept) {
      h.skippedKeys++;
      continue;
    }
    const { key, keyAt } = kv;
    if (h.metadata.has(key)) {
      throw new FormatError('duplicate metadata key', { file: c.file, offset: keyAt, key, expected: 'each key once', found: 'a second entry' });
    }
    if (h.metadata.size >= MAX_GGUF_KEPT_KEYS) {
      throw new FormatError('too many metadata keys', {
        file: c.file,
        offset: keyAt,
        key,
        expected: `at most ${MAX_GGUF_KEPT_KEYS.toLocaleString('en')} keys that the engine reads`,
        found: `key #${i.toLocaleString('en')}`,
      });
    }
    h.valueOffsets.set(key, kv.valueAt);
    h.metadata.set(key, kv.value);
    h.metadataTypes.set(key, kv.typeName);
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

function readTensorInfo(c: Cursor, index: number): { info: GgufTensorInfo; relOffsetAt: number } {
  const infoOffset = c.pos;
  const name = c.string(`name of tensor #${index}`);
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

/** Parses the header through a window that moves forward over the file. */
async function parseHeader(src: ByteSource, opts: ReadGgufOptions): Promise<Header> {
  const c = new Cursor(src.size, src.name);
  const w = new Window(src, c, opts.maxHeaderBytes ?? 256 * 1024 * 1024, opts.initialReadBytes ?? 64 * 1024);
  const h: Header = {
    version: await w.step(() => readMagicAndVersion(c)),
    metadata: new Map(),
    metadataTypes: new Map(),
    valueOffsets: new Map(),
    tensors: [],
    alignment: GGUF_DEFAULT_ALIGNMENT,
    dataOffset: 0,
    skippedKeys: 0,
  };
  // Tensor count comes before the metadata; each info is at least 8 + 4 + 8 + 4 + 8 bytes.
  const tensorCount = await w.step(() => c.count('tensor count', 32));
  const keep = opts.keep;
  await readMetadata(w, c, h, keep ? (key) => key === 'general.alignment' || keep(key) : () => true);
  h.alignment = readAlignment(c, h);
  const seen = new Set<string>();
  const relOffsetAt: number[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const { info, relOffsetAt: at } = await w.step(() => readTensorInfo(c, i));
    if (seen.has(info.name))
      throw new FormatError('duplicate tensor name', { file: c.file, offset: info.infoOffset, key: info.name, expected: 'unique tensor names', found: 'a second tensor' });
    seen.add(info.name);
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
 * region. Tensor data stays in the file.
 */
export async function readGguf(src: ByteSource, opts: ReadGgufOptions = {}): Promise<GgufFile> {
  const h = await parseHeader(src, opts);
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
    skippedKeys: h.skippedKeys,
  };
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
