/**
 * ONNX decoders: what the engine reads of a .onnx file without running it, and the
 * input/output plan the ort backend (engine/backend/ort.ts) feeds.
 *
 * `readOnnxGraph` walks the ModelProto's protobuf wire format for the opset imports, the
 * graph's inputs and outputs (name, element type, dims) and the op types of its nodes;
 * initializers are skipped by length. `decoderIo` checks that the inputs and outputs are a
 * decoder with an explicit KV cache exported the Optimum way (input_ids, optional
 * attention_mask and position_ids, past_key_values.{i}.key|value [batch, kv_heads, past,
 * head_dim]; logits, present.{i}.key|value) and derives the cache's shape; the backend runs
 * the same check on the session's own metadata. `onnxConfig` makes the engine's
 * ModelConfig from the graph and a config.json beside the file when there is one.
 */
import { FormatError, UnsupportedError } from '../errors';
import type { ModelConfig } from '../model/types';
import { parseHfConfig } from './hfconfig';

/** One graph input or output: its element type (ort's names: float32, int64…) and dims (a number, a symbolic name, or undefined when unset). */
export interface OnnxValue {
  name: string;
  type: string;
  dims: (number | string | undefined)[];
}

export interface OnnxGraph {
  irVersion: number;
  /** opset_import: domain ('' is ai.onnx) → version. */
  opsets: Map<string, number>;
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /** "domain:op_type" of every node ('' domain for ai.onnx). */
  ops: Set<string>;
  /** Initializers whose data lives in external files (their names). */
  externalData: string[];
  /** Every initializer's name (IR < 4 lists them among the inputs too: those are not fed). */
  initializers: Set<string>;
  /** Elements of the initializers, per element type (ort's names). */
  weightElements: Map<string, number>;
  /** The largest initializer's elements. */
  largestInitializer: number;
}

/** The highest ai.onnx opset onnxruntime-web 1.30 runs. */
export const MAX_ONNX_OPSET = 26;

/** ONNX TensorProto.DataType → ort's type names (the ones a decoder uses). */
const ELEM_TYPES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 16: 'bfloat16' };

/** A protobuf wire-format reader over one message's bytes; errors name the file and absolute offset. */
class Wire {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    readonly file: string,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  fail(what: string): never {
    throw new FormatError(`not an ONNX model: ${what}`, { file: this.file, offset: this.pos, expected: 'a protobuf ModelProto' });
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('a varint runs past the end of its message');
      const byte = this.b[this.pos++];
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
    this.fail('a varint longer than 10 bytes');
  }

  /** The next field: its number and wire type, or undefined at the end. */
  tag(): { field: number; wire: number } | undefined {
    if (this.pos >= this.end) return undefined;
    const t = this.varint();
    return { field: Math.floor(t / 8), wire: t & 7 };
  }

  /** A length-delimited field's bounds [start, end) (and moves past it). */
  bytes(): [number, number] {
    const n = this.varint();
    const s = this.pos;
    if (s + n > this.end) this.fail(`a field of ${n} bytes runs past the end of its message`);
    this.pos = s + n;
    return [s, s + n];
  }

  string(): string {
    const [s, e] = this.bytes();
    return new TextDecoder().decode(this.b.subarray(s, e));
  }

  sub(): Wire {
    const [s, e] = this.bytes();
    return new Wire(this.b, this.file, s, e);
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else this.fail(`wire type ${wire}`);
    if (this.pos > this.end) this.fail('a field runs past the end of its message');
  }
}

function readValueInfo(w: Wire): OnnxValue {
  const v: OnnxValue = { name: '', type: 'undefined', dims: [] };
  for (let t = w.tag(); t; t = w.tag()) {
    if (t.field === 1 && t.wire === 2) v.name = w.string();
    else if (t.field === 2 && t.wire === 2) {
      const type = w.sub();
      for (let u = type.tag(); u; u = type.tag()) {
        if (u.field !== 1 || u.wire !== 2) {
          type.skip(u.wire);
          continue;
        }
        const tensor = type.sub();
        for (let x = tensor.tag(); x; x = tensor.tag()) {
          if (x.field === 1 && x.wire === 0) {
            const code = tensor.varint();
            v.type = ELEM_TYPES[code] ?? `onnx type ${code}`;
          } else if (x.field === 2 && x.wire === 2) {
            const shape = tensor.sub();
            for (let d = shape.tag(); d; d = shape.tag()) {
              if (d.field !== 1 || d.wire !== 2) {
                shape.skip(d.wire);
                continue;
              }
              const dim = shape.sub();
              let val: number | string | undefined;
              for (let y = dim.tag(); y; y = dim.tag()) {
                if (y.field === 1 && y.wire === 0) val = dim.varint();
                else if (y.field === 2 && y.wire === 2) val = dim.string();
                else dim.skip(y.wire);
              }
              v.dims.push(val);
            }
          } else tensor.skip(x.wire);
        }
      }
    } else w.skip(t.wire);
  }
  return v;
}

/** An initializer's name, element type and count, and whether its data lives in an external file (data_location = EXTERNAL). */
function readInitializer(w: Wire): { name: string; type: string; elements: number; external: boolean } {
  let name = '';
  let external = false;
  let type = 'undefined';
  let elements = 1;
  for (let t = w.tag(); t; t = w.tag()) {
    if (t.field === 8 && t.wire === 2) name = w.string();
    else if (t.field === 14 && t.wire === 0) external = w.varint() === 1;
    else if (t.field === 2 && t.wire === 0) {
      const code = w.varint();
      type = ELEM_TYPES[code] ?? `onnx type ${code}`;
    } else if (t.field === 1 && t.wire === 0) elements *= w.varint();
    else if (t.field === 1 && t.wire === 2) {
      const dims = w.sub(); // packed dims
      while (dims.pos < dims.end) elements *= dims.varint();
    } else w.skip(t.wire);
  }
  return { name, type, elements, external };
}

/** Reads an ONNX ModelProto's opsets, graph inputs and outputs and node op types (initializer data is skipped). */
export function readOnnxGraph(bytes: Uint8Array, file: string): OnnxGraph {
  const g: OnnxGraph = {
    irVersion: 0,
    opsets: new Map(),
    inputs: [],
    outputs: [],
    ops: new Set(),
    externalData: [],
    initializers: new Set(),
    weightElements: new Map(),
    largestInitializer: 0,
  };
  const w = new Wire(bytes, file, 0, bytes.length);
  let sawGraph = false;
  for (let t = w.tag(); t; t = w.tag()) {
    if (t.field === 1 && t.wire === 0) g.irVersion = w.varint();
    else if (t.field === 8 && t.wire === 2) {
      const o = w.sub();
      let domain = '';
      let version = 0;
      for (let u = o.tag(); u; u = o.tag()) {
        if (u.field === 1 && u.wire === 2) domain = o.string();
        else if (u.field === 2 && u.wire === 0) version = o.varint();
        else o.skip(u.wire);
      }
      g.opsets.set(domain === 'ai.onnx' ? '' : domain, version);
    } else if (t.field === 7 && t.wire === 2) {
      sawGraph = true;
      const graph = w.sub();
      for (let u = graph.tag(); u; u = graph.tag()) {
        if (u.field === 1 && u.wire === 2) {
          const node = graph.sub();
          let op = '';
          let domain = '';
          for (let x = node.tag(); x; x = node.tag()) {
            if (x.field === 4 && x.wire === 2) op = node.string();
            else if (x.field === 7 && x.wire === 2) domain = node.string();
            else node.skip(x.wire);
          }
          g.ops.add(`${domain === 'ai.onnx' ? '' : domain}:${op}`);
        } else if (u.field === 5 && u.wire === 2) {
          const init = readInitializer(graph.sub());
          g.initializers.add(init.name);
          g.weightElements.set(init.type, (g.weightElements.get(init.type) ?? 0) + init.elements);
          g.largestInitializer = Math.max(g.largestInitializer, init.elements);
          if (init.external) g.externalData.push(init.name);
        } else if (u.field === 11 && u.wire === 2) g.inputs.push(readValueInfo(graph.sub()));
        else if (u.field === 12 && u.wire === 2) g.outputs.push(readValueInfo(graph.sub()));
        else graph.skip(u.wire);
      }
    } else w.skip(t.wire);
  }
  if (!sawGraph || g.irVersion === 0) throw new FormatError('not an ONNX model: no graph or ir_version', { file, offset: 0, expected: 'a protobuf ModelProto with a graph' });
  return g;
}

/** Refuses opsets onnxruntime-web does not run and weights in external files. */
export function checkOnnxRuntimeable(g: OnnxGraph, file: string): void {
  const opset = g.opsets.get('');
  if (opset === undefined)
    throw new UnsupportedError('the model imports no ai.onnx opset', { file, key: 'opset_import', expected: `an ai.onnx opset from 7 to ${MAX_ONNX_OPSET}` });
  if (opset > MAX_ONNX_OPSET || opset < 7)
    throw new UnsupportedError('unknown ai.onnx opset', { file, key: 'opset_import', expected: `7 to ${MAX_ONNX_OPSET} (onnxruntime-web 1.30)`, found: String(opset) });
  if (g.externalData.length > 0)
    throw new UnsupportedError('weights in external data files are not read yet', {
      file,
      key: g.externalData[0],
      expected: 'the weights inside the .onnx file',
      found: `${g.externalData.length} initializers with data_location EXTERNAL`,
    });
}

/** One layer's cache tensors. */
export interface KvNames {
  key: string;
  value: string;
}

/** How to feed an ONNX decoder and read it: what `decoderIo` finds in its inputs and outputs. */
export interface DecoderIo {
  inputIds: string;
  attentionMask?: string;
  positionIds?: string;
  /** Optimum's merged decoders: a bool scalar that picks the with-past branch. */
  useCacheBranch?: string;
  /** GroupQueryAttention graphs: int32 [batch] = total length − 1, and int32 scalar total length. */
  seqlensK?: string;
  totalSequenceLength?: string;
  /** past_key_values.{i}.key|value, one per layer. */
  past: KvNames[];
  /** present.{i}.key|value, one per layer. */
  present: KvNames[];
  logits: string;
  /** The element type of the cache (float32 or float16) and of the logits. */
  kvType: 'float32' | 'float16';
  logitsType: 'float32' | 'float16';
  /** From the past inputs' dims [batch, kv_heads, past, head_dim] (undefined when symbolic). */
  numKvHeads?: number;
  headDim?: number;
  /** From the logits' last dim (undefined when symbolic). */
  vocab?: number;
}

const INPUT_IDS = 'input_ids';
const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT = /^present\.(\d+)\.(key|value)$/;

function layers(values: OnnxValue[], re: RegExp, what: string, file: string): KvNames[] {
  const byLayer = new Map<number, Partial<KvNames>>();
  for (const v of values) {
    const m = re.exec(v.name);
    if (!m) continue;
    const l = Number(m[1]);
    (byLayer.get(l) ?? byLayer.set(l, {}).get(l)!)[m[2] as 'key' | 'value'] = v.name;
  }
  const out: KvNames[] = [];
  for (let l = 0; l < byLayer.size; l++) {
    const kv = byLayer.get(l);
    if (!kv?.key || !kv.value)
      throw new FormatError(`the ${what} tensors of layer ${l} are missing`, { file, expected: `${what}.${l}.key and ${what}.${l}.value for layers 0..${byLayer.size - 1}` });
    out.push({ key: kv.key, value: kv.value });
  }
  return out;
}

/**
 * Checks that inputs and outputs are an ONNX decoder with an explicit KV cache and returns
 * how to feed it; a FormatError (UnsupportedError for what is understood but not run) that
 * names the file and what was expected otherwise.
 */
export function decoderIo(inputs: readonly OnnxValue[], outputs: readonly OnnxValue[], file: string): DecoderIo {
  const byName = new Map(inputs.map((v) => [v.name, v]));
  const logits = outputs.find((v) => v.name === 'logits');
  if (!logits)
    throw new FormatError('not a decoder: no "logits" output', {
      file,
      expected: 'outputs logits and present.{i}.key|value',
      found: outputs.map((v) => v.name).join(', ') || 'none',
    });
  const ids = byName.get(INPUT_IDS);
  if (!ids)
    throw new FormatError('not a decoder: no "input_ids" input', {
      file,
      expected: 'inputs input_ids and past_key_values.{i}.key|value',
      found: inputs.map((v) => v.name).join(', ') || 'none',
    });
  if (ids.type !== 'int64' && ids.type !== 'int32')
    throw new UnsupportedError('input_ids has an unexpected element type', { file, key: INPUT_IDS, expected: 'int64 or int32', found: ids.type });
  const past = layers(inputs as OnnxValue[], PAST, 'past_key_values', file);
  const present = layers(outputs as OnnxValue[], PRESENT, 'present', file);
  if (past.length === 0)
    throw new FormatError('no KV cache inputs', { file, expected: 'past_key_values.{i}.key|value inputs (exported with use_cache: Optimum task text-generation-with-past)' });
  if (present.length !== past.length)
    throw new FormatError('the cache outputs do not match its inputs', { file, expected: `${past.length} layers of present.{i}.key|value`, found: `${present.length}` });
  const first = byName.get(past[0].key)!;
  const kvType = first.type;
  if (kvType !== 'float32' && kvType !== 'float16')
    throw new UnsupportedError('the KV cache has an unsupported element type', { file, key: first.name, expected: 'float32 or float16', found: kvType });
  if (logits.type !== 'float32' && logits.type !== 'float16')
    throw new UnsupportedError('the logits have an unsupported element type', { file, key: 'logits', expected: 'float32 or float16', found: logits.type });
  if (first.dims.length !== 4)
    throw new FormatError('a past tensor is not 4-d', { file, key: first.name, expected: '[batch, kv_heads, past_seq, head_dim]', found: `${first.dims.length} dims` });
  const seqDim = first.dims[2];
  const io: DecoderIo = {
    inputIds: INPUT_IDS,
    past,
    present,
    logits: 'logits',
    kvType,
    logitsType: logits.type,
    numKvHeads: typeof first.dims[1] === 'number' ? first.dims[1] : undefined,
    headDim: typeof first.dims[3] === 'number' ? first.dims[3] : undefined,
    vocab: typeof logits.dims[logits.dims.length - 1] === 'number' ? (logits.dims[logits.dims.length - 1] as number) : undefined,
  };
  if (typeof seqDim === 'number')
    throw new UnsupportedError('the KV cache has a fixed length (a shared past/present buffer)', {
      file,
      key: first.name,
      expected: 'a symbolic past sequence length (the cache grows: present = past + new tokens)',
      found: `past_seq = ${seqDim}`,
    });
  const known = new Set([INPUT_IDS, ...past.flatMap((p) => [p.key, p.value])]);
  for (const v of inputs) {
    if (known.has(v.name)) continue;
    if (v.name === 'attention_mask') io.attentionMask = v.name;
    else if (v.name === 'position_ids') io.positionIds = v.name;
    else if (v.name === 'use_cache_branch' && v.type === 'bool') io.useCacheBranch = v.name;
    else if (v.name === 'seqlens_k' && v.type === 'int32') io.seqlensK = v.name;
    else if (v.name === 'total_sequence_length' && v.type === 'int32') io.totalSequenceLength = v.name;
    else
      throw new UnsupportedError(`an input the ort backend does not know how to feed: "${v.name}"`, {
        file,
        key: v.name,
        expected: 'input_ids, attention_mask, position_ids, past_key_values.{i}.key|value (and use_cache_branch, seqlens_k, total_sequence_length)',
      });
  }
  for (const name of [io.attentionMask, io.positionIds]) {
    const t = name && byName.get(name)!.type;
    if (t && t !== 'int64' && t !== 'int32') throw new UnsupportedError(`${name} has an unexpected element type`, { file, key: name, expected: 'int64 or int32', found: t });
  }
  return io;
}

/** The decoder plan of a graph read from the file: the runtime checks (opset, external data) first. */
export function onnxDecoder(g: OnnxGraph, file: string): DecoderIo {
  checkOnnxRuntimeable(g, file);
  return decoderIo(
    g.inputs.filter((v) => !g.initializers.has(v.name)),
    g.outputs,
    file,
  );
}

/**
 * The engine's ModelConfig for an ONNX decoder: a config.json beside it (parsed as any HF
 * config) checked against the graph, or, without one, what the graph says (layers, KV heads,
 * head width, vocabulary) with the rest filled as a Llama of that shape (numHeads = KV heads,
 * 2048 positions); the ort backend reads none of those guessed fields.
 */
export function onnxConfig(io: DecoderIo, file: string, hfConfig?: { json: unknown; file: string }): ModelConfig {
  if (hfConfig) {
    const c = parseHfConfig(hfConfig.json, hfConfig.file);
    const check = (what: string, ours: number, graph: number | undefined) => {
      if (graph !== undefined && ours !== graph)
        throw new FormatError(`${hfConfig.file} does not describe this graph: ${what} differs`, {
          file,
          expected: `${what} ${ours} (from ${hfConfig.file})`,
          found: `${graph} in the graph`,
        });
    };
    check('layers', c.numLayers, io.past.length);
    check('KV heads', c.numKvHeads, io.numKvHeads);
    check('head_dim', c.headDim, io.headDim);
    check('vocab size', c.vocabSize, io.vocab);
    return c;
  }
  const need = (what: string, v: number | undefined): number => {
    if (v === undefined)
      throw new FormatError(`the graph does not say its ${what} and there is no config.json beside it`, { file, expected: `a numeric ${what} dim, or a config.json` });
    return v;
  };
  const numKvHeads = need('number of KV heads', io.numKvHeads);
  const headDim = need('head_dim', io.headDim);
  return {
    architecture: 'llama',
    vocabSize: need('vocabulary size (the logits last dim)', io.vocab),
    hiddenSize: numKvHeads * headDim,
    intermediateSize: 0,
    numLayers: io.past.length,
    numHeads: numKvHeads,
    numKvHeads,
    headDim,
    maxPositions: 2048,
    norm: { kind: 'rms', eps: 1e-6 },
    positions: 'rope',
    mlp: 'gated',
    activation: 'silu',
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: false,
    tieEmbeddings: false,
    eosTokenIds: [],
  };
}
