import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openModel } from '../formats/load-node';
import { fromTokenizerJson } from '../tokenizer/hf';
import { fixturePath } from '../../tests/unit/fixtures';
import { exportGguf } from './gguf-export';
import { exportSafetensors } from './hf-export';
import { openExportSource } from './source-node';
import type { ExportResult } from './types';
import { ExportExistsError, writeExport } from './write-node';

const dir = mkdtempSync(path.join(tmpdir(), 'llmp-write-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A two-file folder export whose second file fails (or is aborted) after its first piece. */
function failing(abort?: AbortController): ExportResult {
  return {
    target: 'folder',
    notes: [],
    files: [
      { name: 'a.bin', size: 4, parts: () => [new Uint8Array([1, 2, 3, 4])] },
      {
        name: 'b.bin',
        size: 8,
        *parts() {
          yield new Uint8Array(4);
          if (abort) abort.abort();
          else throw new Error('disk full');
          yield new Uint8Array(4);
        },
      },
    ],
  };
}

describe('writeExport', () => {
  it('never overwrites without force, and replaces with it', async () => {
    const src = await openExportSource(fixturePath('llama2c', 'stories260K.bin'));
    const file = path.join(dir, 'existing.gguf');
    writeFileSync(file, 'keep me');
    await expect(writeExport(exportGguf(src), file)).rejects.toThrow(ExportExistsError);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    const seen: number[] = [];
    const result = exportGguf(src);
    await writeExport(result, file, { force: true, onProgress: (done) => seen.push(done) });
    expect((await openModel(file)).loaded.config.numLayers).toBe(5);
    expect(seen.at(-1)).toBe(result.files[0].size);
    expect(readFileSync(file).length).toBe(result.files[0].size);
    expect(seen.every((x, i) => i === 0 || x > seen[i - 1])).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('a folder export refuses when any of its files exists', async () => {
    const out = path.join(dir, 'folder');
    await writeExport(exportSafetensors(await openExportSource(fixturePath('models', 'tiny-qwen2'))), out);
    const before = readFileSync(path.join(out, 'model.safetensors'));
    await expect(writeExport(exportSafetensors(await openExportSource(fixturePath('models', 'tiny-qwen3'))), out)).rejects.toThrow(/model\.safetensors already exists.*--force/);
    expect(readFileSync(path.join(out, 'model.safetensors')).equals(before)).toBe(true);
  });

  it.each([
    ['fails', undefined],
    ['is aborted', new AbortController()],
  ])('leaves nothing behind when writing %s', async (_what, abort) => {
    const out = path.join(dir, `partial-${abort ? 'abort' : 'fail'}`);
    await expect(writeExport(failing(abort), out, { signal: abort?.signal })).rejects.toThrow(abort ? /abort/i : /disk full/);
    expect(existsSync(out)).toBe(false); // not even a.bin, which was complete, nor the folder: the export is all or nothing
    // into a folder that exists: it stays, empty
    mkdirSync(out);
    await expect(writeExport(failing(), out)).rejects.toThrow(/disk full/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('an already aborted signal writes nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const file = path.join(dir, 'never.gguf');
    await expect(writeExport(exportGguf(await openExportSource(fixturePath('gguf', 'stories260K.gguf'))), file, { signal: ac.signal })).rejects.toThrow();
    expect(existsSync(file)).toBe(false);
  });
});

describe('tokenizer.json from a SentencePiece vocabulary', () => {
  it('stories260K: the exported tokenizer.json encodes and decodes as the llama2.c tokenizer', async () => {
    const out = path.join(dir, 'stories-hf');
    const src = await openExportSource(fixturePath('llama2c', 'stories260K.bin'));
    await writeExport(exportSafetensors(src), out);
    const hf = fromTokenizerJson(readFileSync(path.join(out, 'tokenizer.json'), 'utf8'), 'tokenizer.json');
    const lines = readFileSync(fixturePath('corpus', 'tinyshakespeare.txt'), 'utf8').split('\n').slice(0, 2000).filter(Boolean);
    let same = 0;
    for (const line of lines) {
      const a = hf.encodeIds(line);
      const b = src.tokenizer!.encodeIds(line);
      if (a.length === b.length && a.every((x, i) => x === b[i])) same++;
      expect(hf.decode(b)).toBe(src.tokenizer!.decode(b));
    }
    console.log(`tokenizer.json vs llama2.c tokenizer: ${same}/${lines.length} lines encode alike`);
    expect(same).toBe(lines.length);
    // The folder opens with it as its tokenizer.
    expect((await openModel(out)).tokenizer?.kind).toBe('hf-bpe');
  });
});
