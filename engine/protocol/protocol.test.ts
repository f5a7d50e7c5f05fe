import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { parseWebviewMessage, parseWorkerMessage, ProtocolError, WORKER_REPLIES } from './index';

describe('parseWebviewMessage (host-side validation)', () => {
  test('accepts each well-formed message', () => {
    expect(parseWebviewMessage({ type: 'ready' })).toEqual({ type: 'ready' });
    expect(parseWebviewMessage({ type: 'log', level: 'warn', message: 'x' })).toEqual({ type: 'log', level: 'warn', message: 'x' });
    expect(parseWebviewMessage({ type: 'request', id: 3, method: 'openLog' })).toEqual({ type: 'request', id: 3, method: 'openLog' });
    const env = { backend: 'webgpu', adapter: { vendor: 'v' }, features: ['subgroups'] };
    expect(parseWebviewMessage({ type: 'env', env })).toEqual({ type: 'env', env });
    expect(parseWebviewMessage({ type: 'error', message: 'boom' })).toEqual({ type: 'error', message: 'boom', stack: undefined });
  });

  test.each([
    [null, /must be an object, got null/],
    ['ready', /must be an object, got the string "ready"/],
    [[], /must be an object, got an array/],
    [{}, /unknown message type undefined/],
    [{ type: 'nuke' }, /unknown message type the string "nuke"/],
    [{ type: 'log', level: 'loud', message: 'x' }, /field "level" must be one of/],
    [{ type: 'log', level: 'info', message: 5 }, /field "message" must be a string, got number/],
    [{ type: 'request', id: 1, method: 'rm -rf' }, /unknown request method/],
    [{ type: 'request', id: -1, method: 'openLog' }, /non-negative integer/],
    [{ type: 'request', id: 'a', method: 'openLog' }, /field "id" must be a finite number/],
    [{ type: 'env', env: { backend: 'tpu' } }, /env.backend/],
    [{ type: 'env', env: { backend: 'cpu', features: [1] } }, /env.features/],
    [{ type: 'log', level: 'info', message: 'x'.repeat(70_000) }, /longer than/],
  ])('rejects %j with a specific reason', (raw, why) => {
    expect(() => parseWebviewMessage(raw)).toThrow(ProtocolError);
    expect(() => parseWebviewMessage(raw)).toThrow(why);
  });

  test('names every request method when one is unknown, and finds none on Object.prototype', () => {
    expect(() => parseWebviewMessage({ type: 'request', id: 1, method: 'getBundledModel' })).toThrow(
      'unknown request method the string "getBundledModel"; expected one of openLog, showModels, useModel, readModelRange, tokenizerList, tokenize, trainBpe, cancelTrainBpe, exportBpe',
    );
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
      expect(() => parseWebviewMessage(JSON.parse(`{"type":"${name}"}`))).toThrow(/unknown message type/);
      expect(() => parseWebviewMessage(JSON.parse(`{"type":"request","id":1,"method":"${name}"}`))).toThrow(/unknown request method/);
      expect(() => parseWorkerMessage(JSON.parse(`{"type":"${name}"}`))).toThrow(/unknown worker message type/);
    }
  });

  test('never throws anything but ProtocolError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        try {
          parseWebviewMessage(raw);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseWorkerMessage', () => {
  test('accepts env and fatal; rejects unknown', () => {
    expect(parseWorkerMessage({ type: 'fatal', message: 'lost' })).toEqual({ type: 'fatal', message: 'lost' });
    expect(parseWorkerMessage({ type: 'env', id: 1, env: { backend: 'cpu' } }).type).toBe('env');
    expect(() => parseWorkerMessage({ type: 'x' })).toThrow(/unknown worker message type/);
  });

  test("a long prompt's progress is a reply to generate, its counts validated", () => {
    expect(parseWorkerMessage({ type: 'genProgress', id: 1, done: 256, total: 300 })).toEqual({ type: 'genProgress', id: 1, done: 256, total: 300 });
    expect(() => parseWorkerMessage({ type: 'genProgress', id: 1, done: '256', total: 300 })).toThrow(/done/);
  });

  test('an odd log level reads as info, an odd stop reason as length', () => {
    expect(parseWorkerMessage({ type: 'log', level: 'loud', message: 'x' })).toEqual({ type: 'log', level: 'info', message: 'x' });
    expect(parseWorkerMessage({ type: 'genDone', id: 1, text: '', tokens: 0, promptTokens: 1, tokensPerSec: 0, stopReason: 'criterion' })).toMatchObject({ stopReason: 'length' });
  });
});

describe('WORKER_REPLIES', () => {
  test('the last answers are among the answers, and every answer is a worker message that carries the id', () => {
    for (const [request, { replies, last }] of Object.entries(WORKER_REPLIES)) {
      for (const t of last) expect(replies, request).toContain(t);
      if (replies.length > 0) expect(last.length, request).toBeGreaterThan(0);
      for (const t of replies) expect(() => parseWorkerMessage({ type: t, summary: {} }), `${request} -> ${t}`).toThrow(/field "id"/);
    }
  });
});
