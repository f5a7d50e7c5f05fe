import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openModel } from '../formats/load-node';
import { randomFill } from '../model/random';
import type { LoadedModel } from '../model/types';
import { fromTokenizerJson } from '../tokenizer/hf';
import { fixturePath } from '../../tests/unit/fixtures';
import { exportGguf } from './gguf-export';
import { writeExport } from './write-node';

const dir = mkdtempSync(path.join(tmpdir(), 'llmp-tokgguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** tiny-llama with a 1024-row embedding and head (random), to carry the 1024-token fixture tokenizers. */
async function model1024(): Promise<LoadedModel> {
  const m = (await openModel(fixturePath('models', 'tiny-llama'))).loaded;
  const V = 1024;
  m.config.vocabSize = V;
  m.weights.set('model.embed_tokens.weight', { shape: [V, 64], data: randomFill(V * 64, 1, 0.2) });
  m.weights.set('lm_head.weight', { shape: [V, 64], data: randomFill(V * 64, 2, 0.2) });
  return m;
}

describe('tokenizer.json embedded in a GGUF', () => {
  it.each(['tiny-bytelevel-gpt2', 'tiny-bytelevel-llama3'])('%s: the GGUF tokenizer encodes as the tokenizer.json', async (name) => {
    const bytes = readFileSync(fixturePath('tokenizers', name, 'tokenizer.json'));
    const file = path.join(dir, `${name}.gguf`);
    const r = exportGguf({ loaded: await model1024(), name, tokenizerFiles: { 'tokenizer.json': new Uint8Array(bytes) } });
    expect(r.notes.join(' ')).not.toMatch(/tokenizer not embedded/);
    await writeExport(r, file);
    const back = await openModel(file);
    expect(back.tokenizer?.kind).toBe('gguf-gpt2');
    const hf = fromTokenizerJson(bytes.toString('utf8'), name);
    const lines = readFileSync(fixturePath('corpus', 'tinyshakespeare.txt'), 'utf8').split('\n').slice(0, 1500).filter(Boolean);
    let same = 0;
    for (const line of lines) {
      const a = back.tokenizer!.encodeIds(line);
      const b = hf.encodeIds(line);
      if (a.length === b.length && a.every((x, i) => x === b[i])) same++;
    }
    console.log(`${name}: ${same}/${lines.length} lines encode alike`);
    expect(same).toBe(lines.length);
  });

  it('a SentencePiece-style tokenizer.json is named as not embedded, with the reason', async () => {
    const bytes = readFileSync(fixturePath('tokenizers', 'tiny-sentencepiece-llama2', 'tokenizer.json'));
    const m = await model1024();
    m.config.vocabSize = 4096;
    m.weights.set('model.embed_tokens.weight', { shape: [4096, 64], data: randomFill(4096 * 64, 1, 0.2) });
    m.weights.set('lm_head.weight', { shape: [4096, 64], data: randomFill(4096 * 64, 2, 0.2) });
    const r = exportGguf({ loaded: m, name: 'spm', tokenizerFiles: { 'tokenizer.json': new Uint8Array(bytes) } });
    expect(r.notes.join(' ')).toMatch(/tokenizer not embedded .*byte fallback.*tokenizer\.model/);
  });
});
