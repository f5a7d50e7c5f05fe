/** skimOnnx: the graph's structure read by range without the weights' bytes, equal to reading the whole file. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { FormatError } from '../errors';
import { readOnnxGraph } from './onnx';
import { onnxModel } from './onnx-proto.test-util';
import { skimOnnx } from './onnx-skim';
import { memorySource, type ByteSource } from './source';

const FIXTURE = path.resolve(__dirname, '../../../shared/fixtures/onnx/tiny-llama/model.onnx');

/** A source that counts the bytes read from it. */
function counting(bytes: Uint8Array): ByteSource & { bytesRead: number } {
  const inner = memorySource(bytes, 'm.onnx');
  const s = {
    name: 'm.onnx',
    size: bytes.length,
    bytesRead: 0,
    async read(offset: number, length: number) {
      s.bytesRead += length;
      return inner.read(offset, length);
    },
  };
  return s;
}

const small = () =>
  onnxModel({
    opsets: { '': 17 },
    inputs: [['input_ids', 7, ['batch', 'seq']]],
    outputs: [['logits', 1, ['batch', 'seq', 100]]],
    initializers: [{ name: 'w', dims: [100, 8] }],
  });

describe('skimOnnx', () => {
  test('the fixture decoder: the same graph as reading the whole file, from a fraction of its bytes', async () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE));
    const src = counting(bytes);
    const skimmed = await skimOnnx(src, 'model.onnx');
    expect(skimmed).toEqual(readOnnxGraph(bytes, 'model.onnx'));
    expect(skimmed.inputs.map((v) => v.name)).toContain('past_key_values.1.value');
    expect(src.bytesRead).toBeLessThan(bytes.length * 0.2); // 4 KiB windows over 0.6 MB of small tensors: 14 %
  });

  test('a graph built here: equal to the whole-file read', async () => {
    const bytes = small();
    expect(await skimOnnx(memorySource(bytes, 'm.onnx'), 'm.onnx')).toEqual(readOnnxGraph(bytes, 'm.onnx'));
  });

  test('a truncated file: a FormatError at an offset inside the file', async () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE)).subarray(0, 300_000);
    const e = await skimOnnx(memorySource(bytes, 'm.onnx'), 'm.onnx').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).file).toBe('m.onnx');
    expect((e as FormatError).offset).toBeGreaterThanOrEqual(0);
    expect((e as FormatError).offset).toBeLessThan(bytes.length);
  });

  test('bytes that are not protobuf, and structure past the limit, are refused with the file named', async () => {
    const junk = new TextEncoder().encode('{"this": "is json, not onnx"}');
    await expect(skimOnnx(memorySource(junk, 'j.onnx'), 'j.onnx')).rejects.toThrow(FormatError);
    await expect(skimOnnx(memorySource(small(), 'm.onnx'), 'm.onnx', 16)).rejects.toThrow(/m\.onnx.*more than 16 bytes of graph structure/);
  });
});
