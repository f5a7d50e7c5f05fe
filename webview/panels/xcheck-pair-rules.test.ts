/** The Cross-check tab's pair choice: defaults, picks, refusals and the empty state. */
import { describe, expect, it } from 'vitest';
import type { ModelSummary } from '../../engine/protocol/index';
import type { FormatId } from '../../engine/formats/ids';
import { pairBlocked, pairEmpty, resolvePair } from './xcheck-pair-rules';

function model(id: string, format: FormatId | undefined, vocabSize?: number, tokenizer = true): ModelSummary {
  return {
    id,
    name: id,
    path: `/m/${id}`,
    origin: 'user',
    status: format ? 'ready' : 'error',
    ...(vocabSize !== undefined
      ? {
          info: {
            format: format ?? 'gguf',
            architecture: 'llama',
            parameters: 1,
            dtypes: ['F32'],
            fileBytes: 1,
            contextLength: 64,
            vocabSize,
            hiddenSize: 8,
            numLayers: 1,
            numHeads: 1,
            numKvHeads: 1,
            headDim: 8,
            ...(tokenizer ? { tokenizer: { kind: 'bpe', source: 'tokenizer.json' } } : {}),
            kvBytesPerToken: 1,
            largestTensorBytes: 1,
            files: [],
          },
        }
      : {}),
    ...(format ? { load: { modelId: id, name: id, format, files: [], weights: 'w' } } : {}),
  } as ModelSummary;
}

const stories = model('stories', 'llama2c', 512);
const big = model('big', 'gguf', 32000);
const llama = model('llama', 'safetensors', 512);
const onnxBig = model('onnx-big', 'onnx', 32000);
const onnx = model('onnx', 'onnx', 512);
const broken = model('broken', undefined);
const list = [broken, stories, big, onnxBig, llama, onnx];

describe('Cross-check pair choice', () => {
  it('defaults: the active model on its side, the first listed model of the other kind with its vocabulary size on the other', () => {
    expect(resolvePair(list, 'llama', { pairing: 'pair' })).toEqual({ onnx, engine: llama });
    expect(resolvePair(list, 'big', { pairing: 'pair' })).toEqual({ onnx: onnxBig, engine: big });
    expect(resolvePair(list, 'onnx', { pairing: 'pair' })).toEqual({ onnx, engine: stories });
    expect(resolvePair(list, 'onnx-big', { pairing: 'pair' })).toEqual({ onnx: onnxBig, engine: big });
    // no loadable active model: the first engine model, and an ONNX model that matches it
    expect(resolvePair(list, 'broken', { pairing: 'pair' })).toEqual({ onnx, engine: stories });
    // no model of the matching size: the first of the kind
    expect(resolvePair([model('x', 'gguf', 100), onnxBig, onnx], 'x', { pairing: 'pair' })).toEqual({ onnx: onnxBig, engine: model('x', 'gguf', 100) });
  });

  it('picks win while listed as their kind; a stale pick falls back to the default', () => {
    expect(resolvePair(list, 'llama', { pairing: 'pair', onnx: 'onnx-big', engine: 'big' })).toEqual({ onnx: onnxBig, engine: big });
    expect(resolvePair(list, 'llama', { pairing: 'pair', onnx: 'gone', engine: 'onnx' })).toEqual({ onnx, engine: llama });
  });

  it('refusals name both vocabulary sizes; a model without a tokenizer on both sides; the kinds', () => {
    expect(pairBlocked(list, { onnx, engine: llama })).toBeUndefined();
    expect(pairBlocked(list, { onnx: onnxBig, engine: llama })).toBe(
      'The vocabularies differ: onnx-big has 32,000 tokens and llama has 512; logits are compared id for id, so both need the same vocabulary.',
    );
    const noTokO = model('o', 'onnx', 512, false);
    const noTokE = model('e', 'gguf', 512, false);
    expect(pairBlocked([noTokO, noTokE], { onnx: noTokO, engine: noTokE })).toBe('Neither e nor o has a tokenizer, so the text cannot be turned into tokens.');
    expect(pairBlocked([noTokO, llama], { onnx: noTokO, engine: llama })).toBeUndefined();
    expect(pairBlocked(list, { onnx: llama, engine: stories })).toMatch(/^A pair is one ONNX model/);
  });

  it('empty state: says what to add when a kind is missing', () => {
    expect(pairEmpty(list)).toBeUndefined();
    expect(pairEmpty([stories, broken])).toMatch(/^The Models list has no ONNX model\. Add a \.onnx decoder with LLM Playground: Add Model from Path…/);
    expect(pairEmpty([onnx])).toMatch(/^The Models list has no model the engine runs\. Add a \.safetensors folder, GGUF or llama2\.c file/);
    expect(pairEmpty([])).toMatch(/no model that loads/);
    expect(pairBlocked([onnx], { onnx })).toBe(pairEmpty([onnx]));
  });
});
