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
});
