import { describe, expect, it } from 'vitest';
import { FormatError } from '../errors';
import { fromTokenizerJson } from '../tokenizer/hf';
import { loadHfModel, memoryFolder } from './hf';
import { jsonTooDeepAt, MAX_JSON_DEPTH } from './json-depth';
import { openSafetensors } from './safetensors';
import { memorySource } from './source';

const enc = (s: string) => new TextEncoder().encode(s);
const nested = (levels: number, inner = '0') => '['.repeat(levels) + inner + ']'.repeat(levels);

describe('JSON depth limit', () => {
  it('finds the first bracket past the limit, skipping strings', () => {
    expect(jsonTooDeepAt(nested(MAX_JSON_DEPTH))).toBe(-1);
    expect(jsonTooDeepAt(nested(MAX_JSON_DEPTH + 1))).toBe(MAX_JSON_DEPTH);
    expect(jsonTooDeepAt(`{"a": "${'['.repeat(500)}\\"[[["}`)).toBe(-1);
  });

  it('a tokenizer.json whose normalizer sequences nest 100,000 levels: a FormatError with the file and offset, no stack overflow', () => {
    let norm = '{"type": "Lowercase"}';
    for (let i = 0; i < 1000; i++) norm = `{"type": "Sequence", "normalizers": [${norm}]}`;
    const deep = `{"type": "Sequence", "normalizers": [${nested(100_000, norm)}]}`;
    const text = `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": ${deep}}`;
    const e = (() => {
      try {
        fromTokenizerJson(text, 'deep/tokenizer.json');
      } catch (x) {
        return x as FormatError;
      }
    })();
    expect(e).toBeInstanceOf(FormatError);
    expect(e!.file).toBe('deep/tokenizer.json');
    expect(e!.offset).toBeGreaterThan(0);
    expect(e!.message).toMatch(/nested deeper than 64 levels/);
  });

  it('a safetensors header nested 100,000 levels deep: a FormatError at its offset', async () => {
    const header = enc(`{"__metadata__": {"x": ${nested(100_000)}}}`);
    const bytes = new Uint8Array(8 + header.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    const e = await openSafetensors(memorySource(bytes, 'deep.safetensors')).catch((x) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.file).toBe('deep.safetensors');
    expect(e.offset).toBe(8 + `{"__metadata__": {"x": `.length + MAX_JSON_DEPTH - 2);
  });

  it('a config.json nested 100,000 levels deep: a FormatError naming config.json', async () => {
    const e = await loadHfModel(memoryFolder('m', { 'config.json': enc(`{"model_type": "llama", "rope_scaling": ${nested(100_000)}}`) })).catch((x) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/config\.json/);
    expect(e.message).toMatch(/nested deeper/);
  });
});
