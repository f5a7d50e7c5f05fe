import { describe, expect, test } from 'vitest';
import { parseWorkerMessage, xcheckPairProblem } from './index';

describe('cross-check worker messages', () => {
  const side = { label: 'CPU', ids: [5, 6], pieces: ['a', 'b'], prefillMs: 1, msPerToken: 0.5 };
  const result = {
    source: 'export',
    onnxBytes: 1000,
    provider: 'wasm',
    promptTokens: 2,
    maxAbsPerPosition: [1e-6, Infinity, 2e-6],
    maxAbs: Infinity,
    logitScale: 3,
    engine: side,
    ort: { ...side, label: 'onnxruntime-web (wasm EP)' },
    firstDivergence: -1,
  };

  test('a result parses (an Infinity difference stands for a NaN); progress and a cancelled error too', () => {
    expect(parseWorkerMessage({ type: 'xcheckResult', id: 1, result })).toEqual({ type: 'xcheckResult', id: 1, result });
    expect(parseWorkerMessage({ type: 'xcheckProgress', id: 1, phase: 'exporting', done: 3, total: 9 })).toMatchObject({ phase: 'exporting' });
    expect(parseWorkerMessage({ type: 'xcheckError', id: 1, message: 'x', cancelled: true })).toEqual({ type: 'xcheckError', id: 1, message: 'x', cancelled: true });
  });

  test('bad fields are named', () => {
    expect(() => parseWorkerMessage({ type: 'xcheckResult', id: 1, result: { ...result, provider: 'cuda' } })).toThrow(/provider/);
    expect(() => parseWorkerMessage({ type: 'xcheckResult', id: 1, result: { ...result, maxAbsPerPosition: [NaN, 1, 2] } })).toThrow(/maxAbsPerPosition/);
    expect(() => parseWorkerMessage({ type: 'xcheckResult', id: 1, result: { ...result, maxAbsPerPosition: [1] } })).toThrow(/prompt's 2 positions/);
    expect(() => parseWorkerMessage({ type: 'xcheckResult', id: 1, result: { ...result, engine: { ...side, pieces: ['a'] } } })).toThrow(/engine\.pieces/);
    expect(() => parseWorkerMessage({ type: 'xcheckProgress', id: 1, phase: 'dancing', done: 0, total: 1 })).toThrow(/phase/);
    expect(() => parseWorkerMessage({ type: 'xcheckResult', id: 1, result: { ...result, source: 'pair' } })).toThrow(/models/);
    expect(() => parseWorkerMessage({ type: 'xcheckResult', id: 1, result: { ...result, source: 'pair', models: { engine: 'a' } } })).toThrow(/onnx/);
    expect(() => parseWorkerMessage({ type: 'xcheckResult', id: 1, result: { ...result, models: { engine: 'a', onnx: 'b' } } })).toThrow(/pair/);
    expect(() => parseWorkerMessage({ type: 'xcheckResult', id: 1, result: { ...result, source: 'file' } })).toThrow(/source/);
  });

  test('a pair result parses with its models and tokenizer note; loading progress too', () => {
    const pair = { ...result, source: 'pair', models: { engine: 'tiny-llama', onnx: 'model.onnx' }, tokenizerNote: 'the ids differ' };
    expect(parseWorkerMessage({ type: 'xcheckResult', id: 2, result: pair })).toEqual({ type: 'xcheckResult', id: 2, result: pair });
    expect(parseWorkerMessage({ type: 'xcheckProgress', id: 2, phase: 'loading', done: 1, total: 2 })).toMatchObject({ phase: 'loading' });
  });

  test('a pair is one ONNX model and one engine model of the same vocabulary', () => {
    expect(xcheckPairProblem({ name: 'm.onnx', format: 'onnx', vocabSize: 512 }, { name: 'llama', format: 'safetensors', vocabSize: 512 })).toBeUndefined();
    expect(xcheckPairProblem({ name: 'm.onnx', format: 'onnx' }, { name: 'llama', format: 'gguf' })).toBeUndefined();
    expect(xcheckPairProblem({ name: 'm.onnx', format: 'onnx', vocabSize: 512 }, { name: 'big.gguf', format: 'gguf', vocabSize: 32000 })).toBe(
      'The vocabularies differ: m.onnx has 512 tokens and big.gguf has 32,000; logits are compared id for id, so both need the same vocabulary.',
    );
    expect(xcheckPairProblem({ name: 'a.onnx', format: 'onnx' }, { name: 'b.onnx', format: 'onnx' })).toMatch(/one ONNX model .* b\.onnx is an ONNX file/);
    expect(xcheckPairProblem({ name: 'x.bin', format: 'llama2c' }, { name: 'y', format: 'safetensors' })).toMatch(/x\.bin is a llama2c model the engine runs/);
  });
});
