/** A minimal protobuf writer for hand-made ONNX ModelProtos in tests (field numbers from onnx.proto). */

export const ELEM = { float32: 1, int32: 6, int64: 7, bool: 9, float16: 10 } as const;

const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
};
const field = (f: number, wire: number) => varint(f * 8 + wire);
export const vint = (f: number, v: number) => [...field(f, 0), ...varint(v)];
export const bytes = (f: number, b: ArrayLike<number>) => [...field(f, 2), ...varint(b.length), ...Array.from(b)];
export const str = (f: number, s: string) => bytes(f, [...new TextEncoder().encode(s)]);

export type Dims = (number | string)[];
export type Value = [name: string, elem: number, dims: Dims];

/** ValueInfoProto: name, tensor type (elem type, dims: numbers or symbolic names). */
function valueInfo([name, elem, dims]: Value): number[] {
  const shape = dims.flatMap((d) => bytes(1, typeof d === 'number' ? vint(1, d) : str(2, d)));
  return [...str(1, name), ...bytes(2, bytes(1, [...vint(1, elem), ...bytes(2, shape)]))];
}

export interface Initializer {
  name: string;
  dims: number[];
  /** f32 values (raw_data); absent: no data. */
  data?: Float32Array;
  /** data_location = EXTERNAL */
  external?: boolean;
}

export interface Node {
  op: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  /** int attributes */
  ints?: Record<string, number>;
}

export interface Graph {
  nodes?: Node[];
  inputs: Value[];
  outputs: Value[];
  initializers?: Initializer[];
  /** domain → version; default ai.onnx 17 */
  opsets?: Record<string, number>;
}

export function onnxModel(g: Graph): Uint8Array {
  const node = (n: Node) =>
    bytes(1, [
      ...n.inputs.flatMap((i) => str(1, i)),
      ...n.outputs.flatMap((o) => str(2, o)),
      ...str(4, n.op),
      ...(n.domain ? str(7, n.domain) : []),
      ...Object.entries(n.ints ?? {}).flatMap(([k, v]) => bytes(5, [...str(1, k), ...vint(3, v), ...vint(20, 2)])),
    ]);
  const init = (i: Initializer) =>
    bytes(5, [
      ...i.dims.flatMap((d) => vint(1, d)),
      ...vint(2, ELEM.float32),
      ...str(8, i.name),
      ...(i.data ? bytes(9, new Uint8Array(i.data.buffer, i.data.byteOffset, i.data.byteLength)) : []),
      ...(i.external ? vint(14, 1) : []),
    ]);
  const graph = [
    ...(g.nodes ?? [{ op: 'MatMul', inputs: [], outputs: [] }]).flatMap(node),
    ...str(2, 'test'),
    ...(g.initializers ?? []).flatMap(init),
    ...g.inputs.flatMap((v) => bytes(11, valueInfo(v))),
    ...g.outputs.flatMap((v) => bytes(12, valueInfo(v))),
  ];
  const opsets = Object.entries(g.opsets ?? { '': 17 }).flatMap(([d, v]) => bytes(8, [...str(1, d), ...vint(2, v)]));
  return Uint8Array.from([...vint(1, 8), ...bytes(7, graph), ...opsets]);
}
