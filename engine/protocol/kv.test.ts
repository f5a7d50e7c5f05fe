import { describe, expect, test } from 'vitest';
import { parseWorkerMessage } from './index';

describe('KV worker messages', () => {
  test('a step and a header parse; bad fields are named', () => {
    const step = { step: 1, phase: 'decode', tokens: 6, ms: 0.4, usedPerLayer: [1, 2], allocations: 0 };
    expect(parseWorkerMessage({ type: 'kvStep', id: 3, step })).toEqual({ type: 'kvStep', id: 3, step });
    const header = { backend: 'CPU', capacity: 64, bytesPerToken: 1280, allocatedPerLayer: [16384] };
    expect(parseWorkerMessage({ type: 'kvHeader', id: 3, header })).toMatchObject({ type: 'kvHeader', id: 3, header });
    expect(() => parseWorkerMessage({ type: 'kvStep', id: 3, step: { ...step, usedPerLayer: ['x'] } })).toThrow(/usedPerLayer/);
    expect(() => parseWorkerMessage({ type: 'kvHeader', id: 3 })).toThrow(/header/);
    expect(() => parseWorkerMessage({ type: 'kvCompareResult', id: 3, rows: 'no' })).toThrow(/rows/);
  });

  test('kvQuantEffectResult parses; a missing number, a non-numeric KL and a short per-position array are named', () => {
    const result = {
      backend: 'CPU',
      tokens: 3,
      textTokens: 5,
      maxAbsPerPosition: [0.1, 0.2, 0.05],
      klPerPosition: [1e-4, 2e-4, 5e-5],
      maxAbs: 0.2,
      maxKl: 2e-4,
      meanKl: 1.17e-4,
      logitScale: 7,
      perplexityF32: 58.1,
      perplexityInt8: 58.4,
      perplexityChange: 0.005,
      context: 512,
      bytesF32: 1024,
      bytesInt8: 320,
    };
    expect(parseWorkerMessage({ type: 'kvQuantEffectResult', id: 4, result })).toEqual({ type: 'kvQuantEffectResult', id: 4, result });
    const { perplexityInt8: _, ...noPpl } = result;
    expect(() => parseWorkerMessage({ type: 'kvQuantEffectResult', id: 4, result: noPpl })).toThrow(/perplexityInt8/);
    expect(() => parseWorkerMessage({ type: 'kvQuantEffectResult', id: 4, result: { ...result, klPerPosition: [1, 'x', 2] } })).toThrow(/klPerPosition/);
    expect(() => parseWorkerMessage({ type: 'kvQuantEffectResult', id: 4, result: { ...result, klPerPosition: [1] } })).toThrow(/one value per token \(3\)/);
    expect(() => parseWorkerMessage({ type: 'kvQuantEffectResult', id: 4 })).toThrow(/result/);
  });
});
