/**
 * A small graph builder over the ONNX messages of protobuf.ts: nodes get unique output names,
 * constants become initializers (shared by value), weights become lazy f32 initializers.
 */
import { DT, externalTensor, node, tensor, type AttrValue, type Lazy, type Message } from './protobuf';

/** Where weights go when they are written to an external data file: `place` returns their byte offset there. */
export interface ExternalData {
  location: string;
  place(data: Lazy): number;
}

export class GraphBuilder {
  readonly nodes: Message[] = [];
  readonly initializers: Message[] = [];
  private count = 0;
  private readonly consts = new Map<string, string>();

  /** With `external`, weights go to that file; constants stay inline. */
  constructor(private readonly external?: ExternalData) {}

  /** Adds a node; returns its output names (named `${scope}/${op}_${n}` unless `outs` names them). */
  opN(op: string, inputs: readonly string[], nOut: number, scope: string, attrs: Record<string, AttrValue> = {}, outs?: readonly string[]): string[] {
    const id = this.count++;
    const names: string[] = outs ? [...outs] : Array.from({ length: nOut }, (_, i) => `${scope}/${op}_${id}${nOut > 1 ? `:${i}` : ''}`);
    this.nodes.push(node(op, inputs, names, `${scope}/${op}_${id}`, attrs));
    return names;
  }

  /** Adds a node with one output; returns its name (`out` when given). */
  op(op: string, inputs: readonly string[], scope: string, attrs: Record<string, AttrValue> = {}, out?: string): string {
    return this.opN(op, inputs, 1, scope, attrs, out === undefined ? undefined : [out])[0];
  }

  /** An int64 constant: a 1-D tensor, or a scalar when `scalar` is set. */
  i64(values: readonly number[], scalar = false): string {
    const key = `i64${scalar ? 's' : ''}:${values.join(',')}`;
    const have = this.consts.get(key);
    if (have) return have;
    const name = `const/${key}`;
    const data = new Uint8Array(values.length * 8);
    const dv = new DataView(data.buffer);
    values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
    this.initializers.push(tensor(name, DT.INT64, scalar ? [] : [values.length], data));
    this.consts.set(key, name);
    return name;
  }

  /** An f32 constant: a scalar, or a 1-D tensor for an array. */
  f32(values: number | readonly number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    const key = `f32${typeof values === 'number' ? 's' : ''}:${arr.join(',')}`;
    const have = this.consts.get(key);
    if (have) return have;
    const name = `const/${key.length > 64 ? `f32_${this.consts.size}` : key}`;
    const data = new Uint8Array(new Float32Array(arr).buffer);
    this.initializers.push(tensor(name, DT.FLOAT, typeof values === 'number' ? [] : [arr.length], data));
    this.consts.set(key, name);
    return name;
  }

  /** An f32 initializer whose bytes are made when written (inline, or into the external data file). */
  weight(name: string, dims: readonly number[], data: Lazy): string {
    const ext = this.external;
    this.initializers.push(ext ? externalTensor(name, DT.FLOAT, dims, ext.location, ext.place(data), data.size) : tensor(name, DT.FLOAT, dims, data));
    return name;
  }
}
