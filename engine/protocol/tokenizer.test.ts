/** The tokenizer requests of the protocol: validated by parseWebviewMessage. */
import { describe, expect, it } from 'vitest';
import { MAX_TOKENIZE_TEXT, parseWebviewMessage, ProtocolError } from './index';

describe('tokenizer requests', () => {
  it('accepts well-formed requests', () => {
    expect(parseWebviewMessage({ type: 'request', id: 1, method: 'tokenizerList' })).toEqual({ type: 'request', id: 1, method: 'tokenizerList' });
    expect(parseWebviewMessage({ type: 'request', id: 2, method: 'tokenize', tokenizers: ['o200k_base', 'active-model'], text: 'hi', extra: 1 })).toEqual({
      type: 'request',
      id: 2,
      method: 'tokenize',
      tokenizers: ['o200k_base', 'active-model'],
      text: 'hi',
    });
    expect(parseWebviewMessage({ type: 'request', id: 3, method: 'trainBpe', source: 'shakespeare', vocabSize: 1000 })).toMatchObject({ source: 'shakespeare', vocabSize: 1000 });
    expect(parseWebviewMessage({ type: 'request', id: 4, method: 'cancelTrainBpe' })).toEqual({ type: 'request', id: 4, method: 'cancelTrainBpe' });
    expect(parseWebviewMessage({ type: 'request', id: 5, method: 'exportBpe' })).toEqual({ type: 'request', id: 5, method: 'exportBpe' });
  });

  it('rejects malformed ones with a reason', () => {
    const bad: [unknown, RegExp][] = [
      [{ type: 'request', id: 1, method: 'tokenize', tokenizers: [], text: 'x' }, /tokenizers/],
      [{ type: 'request', id: 1, method: 'tokenize', tokenizers: ['a', 'b', 'c', 'd'], text: 'x' }, /1 to 3/],
      [{ type: 'request', id: 1, method: 'tokenize', tokenizers: ['../etc'], text: 'x' }, /tokenizer ids/],
      [{ type: 'request', id: 1, method: 'tokenize', tokenizers: ['o200k_base'], text: 5 }, /"text" must be a string/],
      [{ type: 'request', id: 1, method: 'tokenize', tokenizers: ['o200k_base'], text: 'x'.repeat(MAX_TOKENIZE_TEXT + 1) }, /longer than/],
      [{ type: 'request', id: 1, method: 'trainBpe', source: 'disk', vocabSize: 1000 }, /source/],
      [{ type: 'request', id: 1, method: 'trainBpe', source: 'folder', vocabSize: 10 }, /vocabSize/],
      [{ type: 'request', id: 1, method: 'trainBpe', source: 'folder', vocabSize: 1000.5 }, /vocabSize/],
    ];
    for (const [m, re] of bad) (expect(() => parseWebviewMessage(m)).toThrow(ProtocolError), expect(() => parseWebviewMessage(m)).toThrow(re));
  });
});
