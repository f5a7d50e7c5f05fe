/** The model messages of the protocol: the host requests and the worker's load and range messages. */
import { describe, expect, test } from 'vitest';
import { parseWebviewMessage, parseWorkerMessage, ProtocolError } from './index';

describe('model messages', () => {
  test('readModelRange and useModel are validated', () => {
    expect(parseWebviewMessage({ type: 'request', id: 1, method: 'readModelRange', modelId: 'm', file: 'a', offset: 0, length: 4 })).toMatchObject({
      method: 'readModelRange',
      offset: 0,
      length: 4,
    });
    expect(() => parseWebviewMessage({ type: 'request', id: 1, method: 'readModelRange', modelId: 'm', file: 'a', offset: -1, length: 4 })).toThrow(ProtocolError);
    expect(() => parseWebviewMessage({ type: 'request', id: 1, method: 'readModelRange', modelId: 'm', offset: 0, length: 4 })).toThrow(/"file"/);
    expect(() => parseWebviewMessage({ type: 'request', id: 1, method: 'useModel' })).toThrow(/"modelId"/);
    expect(parseWebviewMessage({ type: 'request', id: 2, method: 'useModel', modelId: 'x' })).toEqual({ type: 'request', id: 2, method: 'useModel', modelId: 'x' });
  });
  test('worker messages', () => {
    expect(parseWorkerMessage({ type: 'genText', id: 1, text: 'a', tokens: 1, tokensPerSec: 0 })).toMatchObject({ type: 'genText' });
    expect(() => parseWorkerMessage({ type: 'readRange', reqId: 1, modelId: 'm', offset: 0, length: 1 })).toThrow(/"file"/);
  });
});
