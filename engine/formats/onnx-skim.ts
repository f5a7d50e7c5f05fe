/**
 * The structure of a .onnx file without its weights, read by range: the model manager's
 * header check must not read a multi-GB file to learn its inputs and outputs.
 *
 * `skimOnnx` walks the ModelProto's top level and its graph from a ByteSource and builds
 * a copy of the message with the initializers' data fields (raw_data, float_data, …)
 * left out and every other field kept, so `readOnnxGraph` (onnx.ts) reads it as it reads
 * the whole file: element counts come from the kept dims. Payloads are skipped by their
 * length prefixes, never read. An error from reading the copy is mapped back to the
 * file's own offset.
 */
import { FormatError } from '../errors';
import { readOnnxGraph, type OnnxGraph } from './onnx';
import type { ByteSource } from './source';

/** TensorProto fields that hold the tensor's values (float_data … uint64_data, raw_data). */
const DATA_FIELDS = new Set([4, 5, 6, 7, 9, 10, 11]);
/** The most bytes of structure kept (nodes, names, dims, attributes); a bigger skim is refused. */
export const MAX_ONNX_STRUCTURE_BYTES = 64 << 20;
// A jump past skipped weights refills the window: small reads keep the bytes read close to the structure's size.
const CHUNK = 4 << 10;

/** A forward reader over a ByteSource with a small window: varints and byte runs at the cursor. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private bufAt = 0;
  constructor(
    private readonly src: ByteSource,
    private readonly file: string,
  ) {}

  fail(what: string, at = this.pos): never {
    throw new FormatError(`not an ONNX model: ${what}`, { file: this.file, offset: at, expected: 'a protobuf ModelProto' });
  }

  private async byteAt(p: number): Promise<number> {
    if (p < this.bufAt || p >= this.bufAt + this.buf.length) {
      if (p >= this.src.size) this.fail('the file ends inside a field', p);
      this.bufAt = p;
      this.buf = await this.src.read(p, Math.min(CHUNK, this.src.size - p));
    }
    return this.buf[p - this.bufAt];
  }

  async varint(end: number): Promise<number> {
    let v = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) this.fail('a varint runs past the end of its message', start);
      const byte = await this.byteAt(this.pos++);
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
    this.fail('a varint longer than 10 bytes', start);
  }

  async read(n: number): Promise<Uint8Array> {
    if (n <= this.buf.length && this.pos >= this.bufAt && this.pos + n <= this.bufAt + this.buf.length) {
      const out = this.buf.slice(this.pos - this.bufAt, this.pos - this.bufAt + n);
      this.pos += n;
      return out;
    }
    const out = await this.src.read(this.pos, n);
    this.pos += n;
    return out;
  }

  /** The length of a field of wire type `wire` whose payload starts at the cursor (varints are read through). */
  async payload(wire: number, end: number): Promise<number> {
    if (wire === 0) {
      const s = this.pos;
      await this.varint(end);
      const n = this.pos - s;
      this.pos = s;
      return n;
    }
    if (wire === 1) return 8;
    if (wire === 5) return 4;
    if (wire === 2) {
      const s = this.pos;
      const n = await this.varint(end);
      const len = this.pos - s + n;
      this.pos = s;
      return len;
    }
    this.fail(`wire type ${wire}`);
  }
}

function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** The skimmed copy: pieces in order, each with the file offset its first byte came from. */
class Copy {
  pieces: { bytes: Uint8Array; from: number }[] = [];
  length = 0;
  constructor(
    readonly file: string,
    readonly limit: number,
    /** The limit named in the error (an inner message's copy has what is left of it). */
    readonly stated = limit,
  ) {}
  push(bytes: Uint8Array, from: number): void {
    this.length += bytes.length;
    if (this.length > this.limit)
      throw new FormatError(`more than ${this.stated} bytes of graph structure besides the weights`, {
        file: this.file,
        offset: from,
        expected: `a decoder graph whose nodes and names fit in ${this.stated} bytes`,
      });
    this.pieces.push({ bytes, from });
  }
  /** The file offset of the copy's byte `at`. */
  fileOffset(at: number): number {
    let o = 0;
    for (const p of this.pieces) {
      if (at < o + p.bytes.length) return p.from + (at - o);
      o += p.bytes.length;
    }
    return this.pieces.at(-1)?.from ?? 0;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.pieces) {
      out.set(p.bytes, o);
      o += p.bytes.length;
    }
    return out;
  }
}

/** What to do with a field: leave it out, copy it, or descend into it (a message) with another rule. */
type Rule = (field: number, wire: number) => 'drop' | 'copy' | Rule;

/** Copies the fields of the message [c.pos, end) into `out` as `rule` says; a message descended into gets its new length. */
async function walk(c: Cursor, end: number, out: Copy, rule: Rule): Promise<void> {
  while (c.pos < end) {
    const at = c.pos;
    const tag = await c.varint(end);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    const tagLen = c.pos - at;
    const len = await c.payload(wire, end);
    if (c.pos + len > end) c.fail(`a field of ${len} bytes runs past the end of its message`, at);
    const what = rule(field, wire);
    if (what === 'drop') {
      c.pos += len;
    } else if (what === 'copy' || wire !== 2) {
      c.pos = at;
      out.push(await c.read(tagLen + len), at);
    } else {
      const lenAt = c.pos;
      const n = await c.varint(end);
      const inner = new Copy(out.file, out.limit - out.length, out.stated);
      await walk(c, c.pos + n, inner, what);
      out.push(new Uint8Array([...varintBytes(tag), ...varintBytes(inner.length)]), lenAt);
      for (const p of inner.pieces) out.push(p.bytes, p.from);
    }
  }
}

// ModelProto.graph (7) → GraphProto.initializer (5) → the TensorProto's data fields are left out.
const initializerRule: Rule = (f) => (DATA_FIELDS.has(f) ? 'drop' : 'copy');
const graphRule: Rule = (f, wire) => (f === 5 && wire === 2 ? initializerRule : 'copy');
const modelRule: Rule = (f, wire) => (f === 7 && wire === 2 ? graphRule : 'copy');

/**
 * Reads the structure of the ONNX model in `src` (everything but the initializers' values)
 * and returns it as readOnnxGraph does; errors name the file and the file's own offset.
 */
export async function skimOnnx(src: ByteSource, file: string, limit = MAX_ONNX_STRUCTURE_BYTES): Promise<OnnxGraph> {
  const c = new Cursor(src, file);
  const out = new Copy(file, limit);
  await walk(c, src.size, out, modelRule);
  try {
    return readOnnxGraph(out.bytes(), file);
  } catch (e) {
    if (!(e instanceof FormatError) || e.offset === undefined) throw e;
    const msg = e.message.slice(e.message.indexOf(': ') + 2).replace(/ — (expected|found) .*$/, '');
    throw new FormatError(msg, { file, offset: out.fileOffset(e.offset), expected: e.expected, found: e.found, key: e.key });
  }
}
