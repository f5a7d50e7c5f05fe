/**
 * A minimal protobuf writer and the ONNX messages the exporter writes (onnx.proto, IR version 8):
 * ModelProto, OperatorSetIdProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto with TypeProto.Tensor and TensorShapeProto.
 *
 * A message is a list of parts built first and serialised after, because a nested message is
 * written behind its byte length. Large payloads (weights) are `Lazy`: their size is known up
 * front and their bytes are made only while the chunks are being written, so a model is never
 * held twice in memory.
 */

/** Bytes made on demand, of a size known before. */
export interface Lazy {
  size: number;
  bytes(): Uint8Array;
}

type Part = Uint8Array | Message | Lazy;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const utf8 = new TextEncoder();

/** The varint bytes of an unsigned value, or of a negative int64 as its 64-bit two's complement (10 bytes). */
export function varint(v: number | bigint): Uint8Array {
  let n = BigInt(v);
  if (n < 0n) n = BigInt.asUintN(64, n);
  const out: number[] = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return Uint8Array.from(out);
}

function tag(field: number, wire: number): Uint8Array {
  return varint(field * 8 + wire);
}

/** A protobuf message under construction; fields are written in the order they are added. */
export class Message {
  private readonly parts: Part[] = [];
  private cached = -1;

  get size(): number {
    if (this.cached < 0) {
      let n = 0;
      for (const p of this.parts) n += p instanceof Uint8Array ? p.length : p.size;
      this.cached = n;
    }
    return this.cached;
  }

  private add(...p: Part[]): this {
    this.parts.push(...p);
    this.cached = -1;
    return this;
  }

  /** int32 / int64 / enum / bool field (varint). */
  int(field: number, v: number | bigint): this {
    return this.add(tag(field, WIRE_VARINT), varint(v));
  }

  /** float field (fixed32, little-endian). */
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.add(tag(field, WIRE_I32), b);
  }

  /** double / fixed64 field (little-endian). */
  double(field: number, v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    return this.add(tag(field, WIRE_I64), b);
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  bytes(field: number, b: Uint8Array): this {
    return this.add(tag(field, WIRE_LEN), varint(b.length), b);
  }

  /** A length-delimited field whose bytes are made when written. */
  lazyBytes(field: number, lazy: Lazy): this {
    return this.add(tag(field, WIRE_LEN), varint(lazy.size), lazy);
  }

  message(field: number, m: Message): this {
    // The length is read when this message is serialised, so `m` must be complete by then.
    const len: Lazy = {
      get size() {
        return varint(m.size).length;
      },
      bytes: () => varint(m.size),
    };
    return this.add(tag(field, WIRE_LEN), len, m);
  }

  /** A packed repeated varint field (int32 / int64), one length-delimited record. */
  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    const body = concat(vs.map(varint));
    return this.bytes(field, body);
  }

  /** A repeated varint field written unpacked (one tag per value), as proto2 declares ONNX's dims and ints. */
  repeatedInts(field: number, vs: readonly (number | bigint)[]): this {
    for (const v of vs) this.int(field, v);
    return this;
  }

  /** Serialised bytes, small parts coalesced into chunks of about `chunk` bytes; lazy payloads come as made. */
  *chunks(chunk = 1 << 16): Generator<Uint8Array> {
    let buf = new Uint8Array(chunk);
    let used = 0;
    const stack: Part[][] = [this.parts];
    const idx: number[] = [0];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const i = idx[idx.length - 1]++;
      if (i >= top.length) {
        stack.pop();
        idx.pop();
        continue;
      }
      const p = top[i];
      if (p instanceof Message) {
        stack.push(p.parts);
        idx.push(0);
        continue;
      }
      const b = p instanceof Uint8Array ? p : p.bytes();
      if (!(p instanceof Uint8Array) && b.length !== p.size) throw new Error(`protobuf: lazy part made ${b.length} bytes, ${p.size} announced`);
      if (b.length >= chunk >> 2) {
        if (used) yield buf.slice(0, used);
        used = 0;
        yield b;
      } else {
        if (used + b.length > chunk) {
          yield buf.slice(0, used);
          buf = new Uint8Array(chunk);
          used = 0;
        }
        buf.set(b, used);
        used += b.length;
      }
    }
    if (used) yield buf.slice(0, used);
  }

  /** All bytes in one array (tests, small messages). */
  toBytes(): Uint8Array {
    return concat([...this.chunks()]);
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- ONNX (onnx.proto field numbers)

/** TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type DataType = (typeof DT)[keyof typeof DT];

/** AttributeProto.AttributeType values used here. */
const AT = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, INTS: 7 } as const;

export type AttrValue = number | bigint | string | number[] | { float: number } | { tensor: Message };

/** An attribute: a plain integer is INT, `{ float }` FLOAT, an array INTS, a string STRING, `{ tensor }` TENSOR. */
export function attribute(name: string, v: AttrValue): Message {
  const m = new Message().string(1, name);
  if (typeof v === 'number' || typeof v === 'bigint') return m.int(3, v).int(20, AT.INT);
  if (typeof v === 'string') return m.string(4, v).int(20, AT.STRING);
  if (Array.isArray(v)) return m.repeatedInts(8, v).int(20, AT.INTS);
  if ('float' in v) return m.float(2, v.float).int(20, AT.FLOAT);
  return m.message(5, v.tensor).int(20, AT.TENSOR);
}

/** NodeProto: op_type with inputs ('' = optional input left out), outputs and attributes. */
export function node(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, attrs: Record<string, AttrValue> = {}): Message {
  const m = new Message();
  for (const i of inputs) m.string(1, i);
  for (const o of outputs) m.string(2, o);
  m.string(3, name).string(4, opType);
  for (const [k, v] of Object.entries(attrs)) m.message(5, attribute(k, v));
  return m;
}

/** TensorProto with raw_data (little-endian), made on demand when `data` is lazy. */
export function tensor(name: string, dataType: DataType, dims: readonly number[], data: Uint8Array | Lazy): Message {
  const m = new Message().repeatedInts(1, dims).int(2, dataType).string(8, name);
  return data instanceof Uint8Array ? m.bytes(9, data) : m.lazyBytes(9, data);
}

/**
 * TensorProto whose bytes live in an external data file: external_data holds the file's
 * relative `location`, the byte `offset` and `length`; data_location is EXTERNAL (1).
 */
export function externalTensor(name: string, dataType: DataType, dims: readonly number[], location: string, offset: number, length: number): Message {
  const m = new Message().repeatedInts(1, dims).int(2, dataType).string(8, name);
  for (const [k, v] of [
    ['location', location],
    ['offset', String(offset)],
    ['length', String(length)],
  ])
    m.message(13, new Message().string(1, k).string(2, v));
  return m.int(14, 1);
}

/** A dimension: a fixed size or a symbolic name. */
export type Dim = number | string;

/** ValueInfoProto of a tensor: name, element type, shape with named dynamic dimensions. */
export function valueInfo(name: string, elemType: DataType, dims: readonly Dim[]): Message {
  const shape = new Message();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  const tensorType = new Message().int(1, elemType).message(2, shape);
  const type = new Message().message(1, tensorType);
  return new Message().string(1, name).message(2, type);
}

export interface GraphParts {
  name: string;
  nodes: Message[];
  initializers: Message[];
  inputs: Message[];
  outputs: Message[];
}

/** GraphProto. */
export function graph(g: GraphParts): Message {
  const m = new Message();
  for (const n of g.nodes) m.message(1, n);
  m.string(2, g.name);
  for (const t of g.initializers) m.message(5, t);
  for (const i of g.inputs) m.message(11, i);
  for (const o of g.outputs) m.message(12, o);
  return m;
}

/** ModelProto: IR version, producer, one opset import for the default domain, the graph, metadata. */
export function model(
  g: Message,
  opts: { irVersion: number; opset: number; producer: string; producerVersion: string; docString?: string; metadata?: Record<string, string> },
): Message {
  const m = new Message().int(1, opts.irVersion).string(2, opts.producer).string(3, opts.producerVersion);
  if (opts.docString) m.string(6, opts.docString);
  m.message(7, g);
  m.message(8, new Message().string(1, '').int(2, opts.opset));
  for (const [k, v] of Object.entries(opts.metadata ?? {})) m.message(14, new Message().string(1, k).string(2, v));
  return m;
}
