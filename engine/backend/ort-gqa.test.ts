/**
 * The ort backend on a graph with the GroupQueryAttention contrib op (com.microsoft), as
 * onnxruntime-genai's builder exports: it takes int32 `seqlens_k` (total length − 1) and
 * `total_sequence_length` besides the growing past/present cache. A one-layer hand-made
 * graph (embeddings → GQA with 2 query heads over 1 KV head → head) against the attention
 * written out here, prefill and token by token.
 */
import { describe, expect, test } from 'vitest';
import { memoryFolder } from '../formats/hf';
import { loadOnnxModel } from '../formats/onnx-model';
import { ELEM, onnxModel } from '../formats/onnx-proto.test-util';
import { Rng } from '../generate/rng';
import { maxAbsDiff } from '../../tests/max-abs-diff';
import { OrtBackend } from './ort';

const V = 16;
const H = 2;
const KV = 1;
const HD = 8;
const rng = new Rng(7);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const EQ = rand(V * H * HD); // [V, H·hd]
const EK = rand(V * KV * HD); // [V, Kv·hd]
const EV = rand(V * KV * HD); // [V, Kv·hd]
const W = rand(H * HD * V); // [H·hd, V]

const graph = onnxModel({
  opsets: { '': 17, 'com.microsoft': 1 },
  initializers: [
    { name: 'eq', dims: [V, H * HD], data: EQ },
    { name: 'ek', dims: [V, KV * HD], data: EK },
    { name: 'ev', dims: [V, KV * HD], data: EV },
    { name: 'w', dims: [H * HD, V], data: W },
  ],
  nodes: [
    { op: 'Gather', inputs: ['eq', 'input_ids'], outputs: ['q'] },
    { op: 'Gather', inputs: ['ek', 'input_ids'], outputs: ['k'] },
    { op: 'Gather', inputs: ['ev', 'input_ids'], outputs: ['v'] },
    {
      op: 'GroupQueryAttention',
      domain: 'com.microsoft',
      inputs: ['q', 'k', 'v', 'past_key_values.0.key', 'past_key_values.0.value', 'seqlens_k', 'total_sequence_length'],
      outputs: ['attn', 'present.0.key', 'present.0.value'],
      ints: { num_heads: H, kv_num_heads: KV },
    },
    { op: 'MatMul', inputs: ['attn', 'w'], outputs: ['logits'] },
  ],
  inputs: [
    ['input_ids', ELEM.int64, ['batch', 'seq']],
    ['past_key_values.0.key', ELEM.float32, ['batch', KV, 'past', HD]],
    ['past_key_values.0.value', ELEM.float32, ['batch', KV, 'past', HD]],
    ['seqlens_k', ELEM.int32, ['batch']],
    ['total_sequence_length', ELEM.int32, []],
  ],
  outputs: [
    ['logits', ELEM.float32, ['batch', 'seq', V]],
    ['present.0.key', ELEM.float32, ['batch', KV, 'total', HD]],
    ['present.0.value', ELEM.float32, ['batch', KV, 'total', HD]],
  ],
});

/** Causal attention of every query head over the one KV head, then the head matrix: logits [T, V]. */
function reference(ids: number[]): Float32Array {
  const T = ids.length;
  const out = new Float32Array(T * V);
  for (let t = 0; t < T; t++) {
    const attn = new Float32Array(H * HD); // [H·hd]
    for (let h = 0; h < H; h++) {
      const q = EQ.subarray(ids[t] * H * HD + h * HD, ids[t] * H * HD + (h + 1) * HD);
      const s = ids.slice(0, t + 1).map((id) => q.reduce((a, x, d) => a + x * EK[id * HD + d], 0) / Math.sqrt(HD));
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= t; j++) for (let d = 0; d < HD; d++) attn[h * HD + d] += (e[j] / z) * EV[ids[j] * HD + d];
    }
    for (let v = 0; v < V; v++) for (let i = 0; i < H * HD; i++) out[t * V + v] += attn[i] * W[i * V + v];
  }
  return out;
}

describe('ort backend: GroupQueryAttention graphs', () => {
  test('seqlens_k and total_sequence_length are fed: prefill and token-by-token logits equal the attention written out', async () => {
    const loaded = await loadOnnxModel(memoryFolder('gqa', { 'model.onnx': graph }), 'model.onnx');
    expect(loaded.config).toMatchObject({ numLayers: 1, numKvHeads: KV, headDim: HD, vocabSize: V });
    const b = await OrtBackend.create(loaded, { contextLength: 16 });
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const want = reference(ids);
    expect(maxAbsDiff((await b.forward(ids)).logits, want)).toBeLessThan(1e-5);
    b.reset();
    let d = 0;
    for (const [t, id] of ids.entries()) d = Math.max(d, maxAbsDiff((await b.forward([id])).logits, want.subarray(t * V, (t + 1) * V)));
    expect(d).toBeLessThan(1e-5);
    // a split prefill after a truncate
    b.truncate(3);
    expect(maxAbsDiff((await b.forward(ids.slice(3))).logits, want.subarray(3 * V))).toBeLessThan(1e-5);
    b.dispose();
  });
});
