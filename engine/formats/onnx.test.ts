/** The ONNX graph reader and the decoder plan: what is fed, what is derived, what is refused and how it is said. */
import { describe, expect, test } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { decoderIo, onnxConfig, onnxDecoder, readOnnxGraph, type OnnxValue } from './onnx';
import { onnxModel, type Graph as ProtoGraph } from './onnx-proto.test-util';

const model = (g: Graph) => onnxModel({ ...g, opsets: { '': g.opset ?? 17 } });
type Graph = Omit<ProtoGraph, 'opsets'> & { opset?: number };

const F32 = 1;
const F16 = 10;
const I64 = 7;
const I32 = 6;
const BOOL = 9;
const kv = (prefix: string, layers: number, elem: number, seq: number | string): [string, number, (number | string)[]][] =>
  Array.from({ length: layers }, (_, l) => ['key', 'value'].map((k) => [`${prefix}.${l}.${k}`, elem, ['batch', 2, seq, 4]] as [string, number, (number | string)[]])).flat();
const decoder = (extra: Graph['inputs'] = [], elem = F32): Graph => ({
  inputs: [['input_ids', I64, ['batch', 'seq']], ...extra, ...kv('past_key_values', 3, elem, 'past')],
  outputs: [['logits', elem, ['batch', 'seq', 100]], ...kv('present', 3, elem, 'total')],
  initializers: [{ name: 'w', dims: [100, 8] }],
});
const values = (l: Graph['inputs']): OnnxValue[] => l.map(([name, t, dims]) => ({ name, type: { 1: 'float32', 10: 'float16', 7: 'int64', 6: 'int32', 9: 'bool' }[t]!, dims }));
const plan = (g: Graph) => onnxDecoder(readOnnxGraph(model(g), 'm.onnx'), 'm.onnx');

describe('readOnnxGraph', () => {
  test('opsets, inputs and outputs with their dims, op types and initializer sizes', () => {
    const g = readOnnxGraph(model(decoder()), 'm.onnx');
    expect(g.opsets).toEqual(new Map([['', 17]]));
    expect(g.inputs[1]).toEqual({ name: 'past_key_values.0.key', type: 'float32', dims: ['batch', 2, 'past', 4] });
    expect(g.ops).toEqual(new Set([':MatMul']));
    expect(g.weightElements).toEqual(new Map([['float32', 800]]));
    expect(g.largestInitializer).toBe(800);
  });

  test('a truncated file or something else: a FormatError with the file and offset', () => {
    const b = model(decoder());
    expect(() => readOnnxGraph(b.subarray(0, 40), 'm.onnx')).toThrow(/m\.onnx \(offset \d+\): not an ONNX model: a field of \d+ bytes runs past the end of its message/);
    expect(() => readOnnxGraph(new TextEncoder().encode('hello'), 'm.onnx')).toThrow(FormatError);
  });
});

describe('the decoder plan', () => {
  test('derives layers, KV heads, head width and vocabulary; feeds optional inputs by name', () => {
    const io = plan(
      decoder([
        ['attention_mask', I64, ['batch', 'total']],
        ['position_ids', I64, ['batch', 'seq']],
      ]),
    );
    expect(io).toMatchObject({ attentionMask: 'attention_mask', positionIds: 'position_ids', kvType: 'float32', numKvHeads: 2, headDim: 4, vocab: 100 });
    expect(io.past).toHaveLength(3);
    const c = onnxConfig(io, 'm.onnx');
    expect(c).toMatchObject({ numLayers: 3, numKvHeads: 2, headDim: 4, vocabSize: 100 });
  });

  test('an f16 cache, a merged decoder (use_cache_branch), GroupQueryAttention inputs (seqlens_k, total_sequence_length)', () => {
    const io = plan(
      decoder(
        [
          ['use_cache_branch', BOOL, [1]],
          ['seqlens_k', I32, ['batch']],
          ['total_sequence_length', I32, []],
        ],
        F16,
      ),
    );
    expect(io).toMatchObject({ kvType: 'float16', logitsType: 'float16', useCacheBranch: 'use_cache_branch', seqlensK: 'seqlens_k', totalSequenceLength: 'total_sequence_length' });
  });

  test('refused, each with the file and what was expected', () => {
    const g = decoder();
    expect(() => plan({ ...g, opset: 27 })).toThrow(/m\.onnx \(key "opset_import"\): unknown ai\.onnx opset — expected 7 to 26 \(onnxruntime-web 1\.30\); found 27/);
    expect(() => plan({ ...g, initializers: [{ name: 'w', dims: [4], external: true }] })).toThrow(/m\.onnx \(key "w"\): weights in external data files are not read yet/);
    expect(() => plan({ ...g, outputs: g.outputs.filter(([n]) => n !== 'logits') })).toThrow(/not a decoder: no "logits" output/);
    expect(() => plan({ ...g, inputs: g.inputs.filter(([n]) => !n.startsWith('past')), outputs: g.outputs.filter(([n]) => !n.startsWith('present')) })).toThrow(
      /no KV cache inputs/,
    );
    expect(() => plan({ ...g, inputs: g.inputs.filter(([n]) => n !== 'past_key_values.2.value') })).toThrow(/the past_key_values tensors of layer 2 are missing/);
    expect(() => plan({ ...g, outputs: g.outputs.filter(([n]) => !n.startsWith('present.2')) })).toThrow(/the cache outputs do not match its inputs/);
    expect(() => plan(decoder([['token_type_ids', I64, ['batch', 'seq']]]))).toThrow(/an input the ort backend does not know how to feed: "token_type_ids"/);
    const fixed = { ...g, inputs: [['input_ids', I64, ['batch', 'seq']], ...kv('past_key_values', 3, F32, 256)] as Graph['inputs'] };
    expect(() => plan(fixed)).toThrow(UnsupportedError);
    expect(() => plan(fixed)).toThrow(/the KV cache has a fixed length/);
    expect(() => decoderIo(values([['input_ids', F32, ['b', 's']]]), values([['logits', F32, ['b', 's', 9]]]), 'm.onnx')).toThrow(/input_ids has an unexpected element type/);
  });

  test('a config.json beside the graph must describe it', () => {
    const io = plan(decoder());
    const json = {
      model_type: 'llama',
      vocab_size: 100,
      hidden_size: 8,
      intermediate_size: 16,
      num_hidden_layers: 3,
      num_attention_heads: 2,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
    };
    expect(onnxConfig(io, 'm.onnx', { json, file: 'config.json' })).toMatchObject({ numLayers: 3, numHeads: 2, hiddenSize: 8 });
    expect(() => onnxConfig(io, 'm.onnx', { json: { ...json, num_hidden_layers: 4 }, file: 'config.json' })).toThrow(
      /config\.json does not describe this graph: layers differs — expected layers 4/,
    );
  });
});
