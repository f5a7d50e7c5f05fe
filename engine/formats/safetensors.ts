/**
 * safetensors reader (single file and sharded) and a minimal writer.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
 * then the data; offsets are relative to the start of the data.
 *
 * Every length and offset is checked against the file size before anything is
 * allocated or read; each tensor is then read on its own by byte range through
 * a ByteSource, so a large file is never held in memory at once. F32, F16 and
 * BF16 become Float32Array; other dtypes are listed in the header but refuse to load.
 */
import { f32ToF16 } from './quant';
import { FormatError, UnsupportedError } from '../errors';
import type { Tensor } from '../model/types';
import type { ByteSource } from './source';
import { checkJsonDepth } from './json-depth';

/** Bytes per element of every dtype in the safetensors spec. */
const ITEM_SIZE: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** The dtypes this reader turns into f32. */
export const SUPPORTED_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type SafetensorsDtype = (typeof SUPPORTED_DTYPES)[number];

/** The safetensors reference implementation refuses headers over 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file: [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** Size of the JSON header in bytes (N). */
  headerSize: number;
  /** Absolute offset of the data section (8 + N). */
  dataStart: number;
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

function fail(file: string, message: string, d: { offset?: number; key?: string; expected?: string; found?: string }): never {
  throw new FormatError(message, { file, ...d });
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Reads through the source, turning a range error into a FormatError at that offset. */
async function readRange(src: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset + length > src.size) {
    fail(src.name, `${what} runs past the end of the file`, { offset, expected: `${length} bytes at offset ${offset}`, found: `file size ${src.size}` });
  }
  try {
    return await src.read(offset, length);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    return fail(src.name, `${what} could not be read: ${(e as Error).message}`, { offset, expected: `${length} bytes` });
  }
}

/** Parses and validates the header. Reads only the first 8 + N bytes. */
export async function readSafetensorsHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const file = src.name;
  if (src.size < 8) fail(file, 'file too short for a safetensors header length', { offset: 0, expected: 'at least 8 bytes', found: `${src.size} bytes` });
  const lenBytes = await readRange(src, 0, 8, 'header length');
  const lenView = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const lo = lenView.getUint32(0, true);
  const hi = lenView.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact while hi < 2^21; larger values exceed the size check anyway
  if (n > src.size - 8) {
    fail(file, 'header length is larger than the file', { offset: 0, key: 'header length', expected: `at most ${src.size - 8}`, found: hi >= 2 ** 21 ? `≥ 2^53` : String(n) });
  }
  if (n > MAX_HEADER_BYTES) fail(file, 'header length is over the 100 MB limit', { offset: 0, key: 'header length', expected: `at most ${MAX_HEADER_BYTES}`, found: String(n) });
  if (n < 2) fail(file, 'header too short for a JSON object', { offset: 0, key: 'header length', expected: 'at least 2', found: String(n) });
  const headerBytes = await readRange(src, 8, n, 'header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail(file, 'header is not valid UTF-8', { offset: 8, expected: 'UTF-8 JSON' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(file, 'header is not valid JSON', { offset: 8, expected: 'a JSON object', found: (e as Error).message });
  }
  checkJsonDepth(text, file, 8);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail(file, 'header is not a JSON object', { offset: 8, expected: 'a JSON object', found: describe(json) });
  }
  const dataStart = 8 + n;
  const dataSize = src.size - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
        fail(file, '__metadata__ must map strings to strings', { offset: 8, key: name, expected: 'an object of strings', found: describe(raw) });
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      fail(file, 'tensor entry is not an object', { offset: 8, key: name, expected: '{dtype, shape, data_offsets}', found: describe(raw) });
    }
    const e = raw as Record<string, unknown>;
    const dtype = e.dtype;
    if (typeof dtype !== 'string' || !(dtype in ITEM_SIZE)) {
      fail(file, 'unknown dtype', { offset: 8, key: `${name}.dtype`, expected: `one of ${Object.keys(ITEM_SIZE).join(', ')}`, found: describe(dtype) });
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      fail(file, 'bad shape', { offset: 8, key: `${name}.shape`, expected: 'an array of non-negative integers', found: describe(shape) });
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !isNonNegInt(offs[0]) || !isNonNegInt(offs[1]) || offs[0] > offs[1]) {
      fail(file, 'bad data_offsets', { offset: 8, key: `${name}.data_offsets`, expected: '[begin, end] with 0 ≤ begin ≤ end', found: describe(offs) });
    }
    const [begin, end] = offs as [number, number];
    if (end > dataSize) {
      fail(file, 'tensor data lies outside the file', { offset: dataStart + begin, key: name, expected: `data_offsets within [0, ${dataSize}]`, found: `[${begin}, ${end}]` });
    }
    // Element count, stopping as soon as it exceeds what the data could hold (no overflow).
    const item = ITEM_SIZE[dtype];
    let count = (shape as number[]).includes(0) ? 0 : 1;
    for (const d of shape as number[]) {
      if (count === 0 || count * item > dataSize) break;
      count *= d;
    }
    if (count * item !== end - begin) {
      fail(file, 'tensor byte size does not match its shape and dtype', {
        offset: dataStart + begin,
        key: name,
        expected: `${count * item > dataSize ? 'a size within the file' : `${count * item} bytes`} for ${dtype} [${(shape as number[]).join(', ')}]`,
        found: `${end - begin} bytes`,
      });
    }
    tensors.set(name, { name, dtype, shape: (shape as number[]).slice(), begin: dataStart + begin, end: dataStart + end });
  }
  // The tensors tile the data exactly, as the safetensors format requires (and its reference
  // library checks): no overlap, no hole, nothing after the last. A header length that is off
  // by a byte or more shows up here, instead of shifting every tensor into garbage.
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  for (const t of sorted) {
    if (t.begin !== at) {
      fail(file, t.begin < at ? 'tensor data overlaps another tensor' : 'a gap in the tensor data', {
        offset: t.begin,
        key: t.name,
        expected: `to start at ${at}${at === dataStart ? ' (the start of the data)' : ' (the end of the tensor before it)'}`,
        found: `${t.begin}`,
      });
    }
    at = t.end;
  }
  if (sorted.length && at !== src.size) {
    fail(file, 'bytes after the last tensor (is the header length right?)', {
      offset: at,
      key: 'header length',
      expected: `the last tensor to end at the end of the file (${src.size})`,
      found: `${src.size - at} bytes after it`,
    });
  }
  return { file, headerSize: n, dataStart, tensors, metadata };
}

let f16Table: Float32Array | undefined;
/** All 65536 half-precision values as f32 (built once, 256 KB). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (f16Table = t);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Converts raw little-endian bytes of a supported dtype to f32. */
export function decodeToF32(bytes: Uint8Array, dtype: SafetensorsDtype, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
    else for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
  } else if (dtype === 'F16') {
    const table = halfTable();
    for (let i = 0; i < count; i++) out[i] = table[dv.getUint16(i * 2, true)];
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = dv.getUint16(i * 2, true) << 16;
  }
  return out;
}

/** Reads one tensor by its byte range and converts it to f32. */
export async function readSafetensorsTensor(src: ByteSource, entry: SafetensorsEntry): Promise<Tensor> {
  if (!(SUPPORTED_DTYPES as readonly string[]).includes(entry.dtype)) {
    throw new UnsupportedError('tensor dtype is not supported', {
      file: src.name,
      offset: entry.begin,
      key: entry.name,
      expected: SUPPORTED_DTYPES.join(', '),
      found: entry.dtype,
    });
  }
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const bytes = await readRange(src, entry.begin, entry.end - entry.begin, `tensor "${entry.name}"`);
  return { shape: entry.shape.slice(), data: decodeToF32(bytes, entry.dtype as SafetensorsDtype, count) };
}

/** A set of tensors spread over one or more files, read by name. */
export interface TensorStore {
  /** Every tensor name → where it lives. */
  readonly entries: Map<string, SafetensorsEntry & { file: string }>;
  /** The files involved, in order. */
  readonly files: string[];
  read(name: string): Promise<Tensor>;
  /** `length` bytes of a tensor's data from byte `offset` within it (a range of its rows). */
  readBytes(name: string, offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Bytes [offset, offset + length) of one entry's data, checked to lie inside the entry. */
function entryBytes(src: ByteSource, e: SafetensorsEntry, offset: number, length: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || e.begin + offset + length > e.end) {
    throw new RangeError(`${src.name}: tensor "${e.name}": bytes ${offset}..${offset + length} are outside its ${e.end - e.begin} bytes`);
  }
  return readRange(src, e.begin + offset, length, `tensor "${e.name}"`);
}

/** One safetensors file as a TensorStore (the source stays open until close()). */
export async function openSafetensors(src: ByteSource): Promise<TensorStore> {
  const header = await readSafetensorsHeader(src);
  const entries = new Map<string, SafetensorsEntry & { file: string }>();
  for (const [k, e] of header.tensors) entries.set(k, { ...e, file: src.name });
  return {
    entries,
    files: [src.name],
    async read(name) {
      const e = header.tensors.get(name);
      if (!e) throw new FormatError('tensor not found', { file: src.name, key: name, expected: 'a tensor of that name' });
      return readSafetensorsTensor(src, e);
    },
    async readBytes(name, offset, length) {
      const e = header.tensors.get(name);
      if (!e) throw new FormatError('tensor not found', { file: src.name, key: name, expected: 'a tensor of that name' });
      return entryBytes(src, e, offset, length);
    },
    async close() {
      await src.close?.();
    },
  };
}

/**
 * A sharded checkpoint: `model.safetensors.index.json` ({"weight_map": {name: shardFile}})
 * plus the shards. `open` resolves a shard file name (relative to the index) to a source.
 * Every shard header is read and every weight_map entry checked before any tensor is.
 */
export async function openShardedSafetensors(indexFile: string, indexJson: unknown, open: (shard: string) => Promise<ByteSource | null>): Promise<TensorStore> {
  if (typeof indexJson !== 'object' || indexJson === null || Array.isArray(indexJson)) {
    throw new FormatError('index is not a JSON object', { file: indexFile, expected: '{"weight_map": {...}}' });
  }
  const wm = (indexJson as Record<string, unknown>).weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
    throw new FormatError('index has no weight_map', { file: indexFile, key: 'weight_map', expected: 'an object mapping tensor names to shard files', found: describe(wm) });
  }
  const shardSet = new Set<string>(); // a Set, so that an index naming many shards is checked in linear time
  for (const [name, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '' || shard.split(/[\\/]/).includes('..')) {
      throw new FormatError('bad shard file name', { file: indexFile, key: `weight_map.${name}`, expected: 'a file name beside the index', found: describe(shard) });
    }
    shardSet.add(shard);
  }
  const shardNames = [...shardSet];
  const sources = new Map<string, ByteSource>();
  const headers = new Map<string, SafetensorsHeader>();
  const closeAll = async () => {
    for (const s of sources.values()) await s.close?.();
  };
  try {
    for (const shard of shardNames) {
      const src = await open(shard);
      if (!src) throw new FormatError('shard file is missing', { file: indexFile, key: shard, expected: 'the shard named in weight_map' });
      sources.set(shard, src);
      headers.set(shard, await readSafetensorsHeader(src));
    }
    const entries = new Map<string, SafetensorsEntry & { file: string }>();
    for (const [name, shard] of Object.entries(wm as Record<string, string>)) {
      const e = headers.get(shard)!.tensors.get(name);
      if (!e)
        throw new FormatError('tensor listed in weight_map is not in its shard', { file: sources.get(shard)!.name, key: name, expected: `a tensor "${name}" (per ${indexFile})` });
      entries.set(name, { ...e, file: sources.get(shard)!.name });
    }
    return {
      entries,
      files: shardNames.map((s) => sources.get(s)!.name),
      async read(name) {
        const shard = (wm as Record<string, string>)[name];
        const e = entries.get(name);
        if (shard === undefined || !e) throw new FormatError('tensor not found', { file: indexFile, key: name, expected: 'a tensor listed in weight_map' });
        return readSafetensorsTensor(sources.get(shard)!, e);
      },
      async readBytes(name, offset, length) {
        const shard = (wm as Record<string, string>)[name];
        const e = entries.get(name);
        if (shard === undefined || !e) throw new FormatError('tensor not found', { file: indexFile, key: name, expected: 'a tensor listed in weight_map' });
        return entryBytes(sources.get(shard)!, e, offset, length);
      },
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Writer (tests and tools): f32 data stored as F32, F16 or BF16.

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype?: SafetensorsDtype;
}

/** f32 → IEEE half bits, round to nearest even (one implementation, in quant.ts). */
export { f32ToF16 as f32ToF16Bits } from './quant';

/** f32 → bfloat16 bits, round to nearest even. */
export function f32ToBf16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40; // NaN stays NaN
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** Builds a safetensors file in memory (header padded with spaces to 8 bytes, as the reference writer does). */
export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const layout: { t: TensorToWrite; dtype: SafetensorsDtype; begin: number; bytes: number }[] = [];
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32';
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new RangeError(`writeSafetensors: ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
    const bytes = count * ITEM_SIZE[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    layout.push({ t, dtype, begin: offset, bytes });
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  const base = 8 + json.length;
  for (const { t, dtype, begin } of layout) {
    const o = base + begin;
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === 'F32') dv.setFloat32(o + i * 4, t.data[i], true);
      else if (dtype === 'F16') dv.setUint16(o + i * 2, f32ToF16(t.data[i]), true);
      else dv.setUint16(o + i * 2, f32ToBf16Bits(t.data[i]), true);
    }
  }
  return out;
}
