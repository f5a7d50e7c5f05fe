import { describe, expect, test } from 'vitest';
import { parseWorkerMessage } from './index';

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
  });
});
