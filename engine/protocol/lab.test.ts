/** The decoding lab's messages: worker answers validated by parseWorkerMessage, the export request by parseWebviewMessage. */
import { describe, expect, it } from 'vitest';
import { parseWebviewMessage, parseWorkerMessage, ProtocolError } from './index';

const inspection = {
  stages: [{ name: 'logits', top: [{ id: 3, prob: 0.5, score: -Infinity }], surviving: 2, entropy: 0.7 }],
  chosen: { id: 3, rank: 0, prob: 0.5 },
  named: [{ id: 4, before: { rank: 1, prob: 0.2 }, after: null }],
};

describe('lab messages', () => {
  it('accepts well-formed worker answers', () => {
    const step = { type: 'labStep', id: 1, column: 0, step: 0, token: 3, text: 'a', inspection, pieces: { '3': 'a', '4': 'b' } };
    expect(parseWorkerMessage(step)).toEqual(step);
    const beam = {
      type: 'labBeam',
      id: 1,
      column: 2,
      sequences: [[3, 4]],
      scores: [-0.5],
      texts: ['ab'],
      tree: [{ index: 0, parent: -1, token: -1, step: -1, logProb: 0, state: 'alive' }],
      pieces: {},
    };
    expect(parseWorkerMessage(beam)).toEqual(beam);
    expect(parseWorkerMessage({ type: 'labColumnDone', id: 1, column: 0, tokens: 3, stopReason: 'length', ms: 2 })).toMatchObject({ tokens: 3 });
    expect(parseWorkerMessage({ type: 'labStart', id: 1, promptIds: [1], promptText: 'x', named: { text: ' a', id: 4 } })).toMatchObject({ named: { id: 4 } });
  });

  it('rejects malformed ones with a reason', () => {
    const bad: [unknown, RegExp][] = [
      [{ type: 'labStep', id: 1, column: 0, step: 0, token: 3, text: 'a', pieces: { x: 'a' } }, /pieces/],
      [{ type: 'labStep', id: 1, column: 0, step: 0, token: 3, text: 'a', pieces: {}, inspection: { ...inspection, stages: 'no' } }, /"stages" must be an array/],
      [{ type: 'labBeam', id: 1, column: 0, sequences: [[0.5]], scores: [], texts: [], tree: [], pieces: {} }, /"sequences" must be an array of integers/],
      [
        { type: 'labBeam', id: 1, column: 0, sequences: [], scores: [], texts: [], tree: [{ index: 0, parent: -1, token: 1, step: 0, logProb: 0, state: 'dead' }], pieces: {} },
        /state/,
      ],
    ];
    for (const [m, re] of bad) (expect(() => parseWorkerMessage(m)).toThrow(ProtocolError), expect(() => parseWorkerMessage(m)).toThrow(re));
  });

  it('checks the export request', () => {
    expect(parseWebviewMessage({ type: 'request', id: 2, method: 'exportFile', format: 'csv', content: 'a,b\n', suggestedName: 'decoding-lab.csv', title: 'Export' })).toEqual({
      type: 'request',
      id: 2,
      method: 'exportFile',
      format: 'csv',
      content: 'a,b\n',
      suggestedName: 'decoding-lab.csv',
      title: 'Export',
    });
    expect(() => parseWebviewMessage({ type: 'request', id: 2, method: 'exportFile', format: 'xml', content: '', suggestedName: 'a.xml', title: 'Export' })).toThrow(
      /"format" must be one of json, csv, png/,
    );
    expect(() => parseWebviewMessage({ type: 'request', id: 2, method: 'exportFile', format: 'json', content: '', suggestedName: '../x.json', title: 'Export' })).toThrow(
      /plain file name/,
    );
    expect(() => parseWebviewMessage({ type: 'request', id: 2, method: 'exportFile', format: 'png', content: 'not base64!', suggestedName: 'a.png', title: 'Export' })).toThrow(
      /base64/,
    );
  });
});
