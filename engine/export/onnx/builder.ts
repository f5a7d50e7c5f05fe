/**
 * A small graph builder over the ONNX messages of protobuf.ts: nodes get unique output names,
 * constants become initializers (shared by value), weights become lazy f32 initializers.
 */
import { DT, node, tensor, type AttrValue, type Lazy, type Message } from './protobuf';

export class GraphBuilder {
  readonly nodes: Message[] = [];
  readonly initializers: Message[] = [];
  private count = 0;
  private readonly consts = new Map<string, string>();

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

  /** An f32 initializer whose bytes are made when written. */
  weight(name: string, dims: readonly number[], data: Lazy): string {
    this.initializers.push(tensor(name, DT.FLOAT, dims, data));
    return name;
  }
}
