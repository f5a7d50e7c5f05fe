/**
 * The format registry: every format detected from a real fixture (by name, by magic
 * bytes, as a folder), checked, loaded and given its tokenizer through the same
 * platform-neutral records; files that are no model refused with a reason; and the one
 * list of ids is the one the protocol and the loaders use.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { fixturePath } from '../../tests/unit/fixtures';
import { FormatError } from '../errors';
import type { LoadedModel } from '../model/types';
import type { ModelLoadSpec, ModelRef } from '../protocol';
import { memoryFolder } from './hf';
import { memoryDir, type ModelInfo } from './inspect';
import {
  detectFile,
  detectFolder,
  detectLoadable,
  findTokenizer,
  FORMAT_IDS,
  formatById,
  FORMATS,
  isLoadableFile,
  isRunnable,
  isRunnableFormat,
  LOADABLE_PATHS,
  loadModel,
  loadModelTokenizer,
  modelsAmong,
  RUNNABLE_FORMAT_IDS,
  type FormatId,
  type RunnableFormatId,
} from './registry';
import { memorySource } from './source';

const bytes = (...p: string[]) => new Uint8Array(readFileSync(fixturePath(...p)));
const BIN = bytes('llama2c/stories260K.bin');
const TOK = bytes('llama2c/tok512.bin');
const GGUF = bytes('gguf/stories260K.gguf');
const ONNX = bytes('onnx/tiny-llama/model.onnx');
const HF = {
  'config.json': bytes('models/tiny-llama/config.json'),
  'generation_config.json': bytes('models/tiny-llama/generation_config.json'),
  'model.safetensors': bytes('models/tiny-llama/model.safetensors'),
};
const HF_TOKENIZER = bytes('tokenizers/tiny-bytelevel-llama3/tokenizer.json');

describe('one list of format ids', () => {
  test('one record per id; the runnable ones are those with a loader', () => {
    expect(FORMATS.map((f) => f.id).sort()).toEqual([...FORMAT_IDS].sort());
    for (const id of FORMAT_IDS) expect(formatById(id).id).toBe(id);
    expect(
      FORMATS.filter(isRunnable)
        .map((f) => f.id)
        .sort(),
    ).toEqual([...RUNNABLE_FORMAT_IDS].sort());
    for (const f of FORMATS) expect(f.notRunnable === undefined).toBe(isRunnable(f));
    expect(FORMAT_IDS.filter(isRunnableFormat)).toEqual([...RUNNABLE_FORMAT_IDS]);
    expect(isRunnableFormat('onnx')).toBe(true);
    expect(isRunnableFormat('pickle')).toBe(false);
  });

  test('the protocol, the header checks and the loaders use the same ids (checked by tsc)', () => {
    expectTypeOf<ModelRef['format']>().toEqualTypeOf<FormatId>();
    expectTypeOf<ModelLoadSpec['format']>().toEqualTypeOf<RunnableFormatId>();
    expectTypeOf<ModelInfo['format']>().toEqualTypeOf<FormatId>();
    expectTypeOf<LoadedModel['source']['format']>().toEqualTypeOf<RunnableFormatId>();
  });
});

describe('every format from a real fixture', () => {
  test('llama2.c: by its .bin name and header; tok512.bin beside it', async () => {
    const d = await detectFile('stories260K.bin', memorySource(BIN));
    expect(d).toMatchObject({ format: { id: 'llama2c' }, main: 'stories260K.bin' });
    expect(await isLoadableFile('stories260K.bin', memorySource(BIN))).toBe(true);
    const dir = memoryDir('llama2c', { 'stories260K.bin': BIN, 'tok512.bin': TOK });
    const check = await d!.format.inspect(dir, d!.main);
    expect(check).toMatchObject({ status: 'ready', info: { format: 'llama2c', tokenizer: { kind: 'llama2c', source: 'tok512.bin' } } });
    const source = findTokenizer('llama2c', await dir.list(), d!.main);
    expect(source).toBe('tok512.bin');
    expect((await loadModel('llama2c', dir, d!.main)).source.format).toBe('llama2c');
    expect((await loadModelTokenizer('llama2c', dir, d!.main, source))?.kind).toBe('llama2c');
  });

  test('GGUF: by its name, and by its magic bytes under another name; tokenizer embedded', async () => {
    expect(await detectFile('stories260K.gguf')).toMatchObject({ format: { id: 'gguf' }, main: 'stories260K.gguf' });
    expect(await detectFile('model.bin', memorySource(GGUF))).toMatchObject({ format: { id: 'gguf' }, main: 'model.bin' });
    const dir = memoryDir('gguf', { 'stories260K.gguf': GGUF });
    expect(await formatById('gguf').inspect(dir, 'stories260K.gguf')).toMatchObject({
      status: 'ready',
      info: { format: 'gguf', tokenizer: { kind: 'gguf-llama', source: 'embedded' } },
    });
    expect(findTokenizer('gguf', await dir.list(), 'stories260K.gguf')).toBe('embedded');
    expect((await loadModel('gguf', dir, 'stories260K.gguf')).source.format).toBe('gguf');
    const tok = await loadModelTokenizer('gguf', dir, 'stories260K.gguf', 'embedded');
    expect(tok?.encodeIds('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
  });

  test('an HF folder: by its config.json; tokenizer.json beside it', async () => {
    const names = [...Object.keys(HF), 'tokenizer.json'];
    for (const d of [detectFolder(names), await detectFile('config.json')]) {
      expect(d?.format.id).toBe('safetensors');
      expect(d?.main).toBeUndefined(); // the model is the folder
    }
    const dir = memoryDir('tiny-llama', { ...HF, 'tokenizer.json': HF_TOKENIZER });
    expect(await formatById('safetensors').inspect(dir, undefined)).toMatchObject({
      status: 'ready',
      info: { format: 'safetensors', architecture: 'llama', tokenizer: { kind: 'hf-bpe', source: 'tokenizer.json' } },
    });
    expect(findTokenizer('safetensors', names, undefined)).toBe('tokenizer.json');
    const m = await loadModel('safetensors', dir, undefined);
    expect(m.source.format).toBe('safetensors');
    expect((await loadModelTokenizer('safetensors', dir, undefined, 'tokenizer.json'))?.kind).toBe('hf-bpe');
  });

  test('a .safetensors file: by its name, config.json read from beside it; no tokenizer there', async () => {
    const d = await detectFile('model.safetensors');
    expect(d).toMatchObject({ format: { id: 'safetensors' }, main: 'model.safetensors' });
    expect(await detectFile('model.safetensors.index.json')).toMatchObject({ format: { id: 'safetensors' } });
    const dir = memoryDir('tiny-llama', HF);
    const check = await d!.format.inspect(dir, d!.main);
    expect(check).toMatchObject({ status: 'warning', info: { format: 'safetensors' }, problem: { kind: 'tokenizer' } });
    expect(findTokenizer('safetensors', Object.keys(HF), d!.main)).toBeUndefined();
    expect((await loadModel('safetensors', memoryFolder('tiny-llama', HF), d!.main)).source.files).toEqual(['tiny-llama/model.safetensors']);
  });

  test('ONNX: runnable on the ort backend; its header check reads the graph; tokenizer.json and config.json beside it', async () => {
    const d = await detectFile('model.onnx', memorySource(ONNX));
    expect(d).toMatchObject({ format: { id: 'onnx' }, main: 'model.onnx' });
    expect(isRunnable(d!.format)).toBe(true);
    // alone: ready with what the graph says, but no tokenizer
    const alone = await d!.format.inspect(memoryDir('onnx', { 'model.onnx': ONNX }), 'model.onnx');
    expect(alone).toMatchObject({
      status: 'warning',
      info: { format: 'onnx', architecture: 'onnx', fileBytes: ONNX.length, numLayers: 2, numKvHeads: 4, headDim: 8, vocabSize: 512, dtypes: ['F32'] },
      problem: { kind: 'tokenizer' },
    });
    expect(alone.info!.parameters).toBeGreaterThan(0);
    // with the HF config of the same weights and a tokenizer.json: ready
    const files = { 'model.onnx': ONNX, 'config.json': HF['config.json'], 'tokenizer.json': HF_TOKENIZER };
    const check = await d!.format.inspect(memoryDir('onnx', files), 'model.onnx');
    expect(check).toMatchObject({ status: 'ready', info: { architecture: 'onnx (llama)', numHeads: 8, tokenizer: { source: 'tokenizer.json' } } });
    expect(check.info!.files.map((f) => f.role)).toEqual(['weights', 'config', 'tokenizer']);
    expect(findTokenizer('onnx', Object.keys(files), 'model.onnx')).toBe('tokenizer.json');
    expect(await isLoadableFile('model.onnx', memorySource(ONNX))).toBe(true);
    expect(await detectLoadable({ name: 'model.onnx', src: memorySource(ONNX) }, 'x/model.onnx')).toMatchObject({ format: { id: 'onnx' } });
    const loaded = await loadModel('onnx', memoryFolder('onnx', files), 'model.onnx');
    expect(loaded).toMatchObject({ source: { format: 'onnx', files: ['model.onnx', 'config.json'] }, onnx: { file: 'onnx/model.onnx' } });
    expect(loaded.weights.size).toBe(0);
    // a file that is no decoder: listed with its problem
    const broken = await d!.format.inspect(memoryDir('onnx', { 'model.onnx': new Uint8Array(16) }), 'model.onnx');
    expect(broken).toMatchObject({ status: 'error', problem: { kind: 'onnx' } });
  });

  test('discovery lists each kind from one folder listing (a lone tokenizer is not a model)', async () => {
    const files = { ...HF, 'stories260K.bin': BIN, 'tok512.bin': TOK, 'stories260K.gguf': GGUF, 'model.onnx': ONNX, 'README.md': new Uint8Array(4) };
    const found = await modelsAmong(Object.keys(files), memoryFolder('mixed', files));
    expect(found.folder?.id).toBe('safetensors');
    expect(found.files.map((f) => `${f.name}:${f.format.id}`).sort()).toEqual(['model.onnx:onnx', 'stories260K.bin:llama2c', 'stories260K.gguf:gguf']);
    // a llama2.c .bin is listed only with a tokenizer beside it
    expect((await modelsAmong(['stories260K.bin'], memoryFolder('alone', { 'stories260K.bin': BIN }))).files).toEqual([]);
  });
});

describe('files that are no model are refused with a reason', () => {
  const refusal = async (entry: Parameters<typeof detectLoadable>[0]) => {
    try {
      await detectLoadable(entry, 'some/path');
    } catch (e) {
      return e as FormatError;
    }
    throw new Error('not refused');
  };

  test('an unknown file', async () => {
    const readme = memorySource(bytes('README.md'));
    expect(await detectFile('README.md', readme)).toBeUndefined();
    expect(await isLoadableFile('README.md', readme)).toBe(false);
    const e = await refusal({ name: 'README.md', src: readme });
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toBe(`some/path: unrecognised model file — expected ${LOADABLE_PATHS}`);
  });

  test('a folder without config.json', async () => {
    expect(detectFolder(['model.safetensors'])).toBeUndefined();
    expect((await refusal({ folder: ['model.safetensors'] })).message).toMatch(/^some\/path: this folder has no config\.json — expected an HF folder/);
  });

  test('a .gguf whose magic bytes are wrong', async () => {
    const e = await refusal({ name: 'fake.gguf', src: memorySource(BIN) });
    expect(e.message).toBe('some/path (offset 0): not a GGUF file: the magic bytes are wrong — expected "GGUF"');
  });

  test('a llama2.c tokenizer: named like a checkpoint, but its header says no', async () => {
    expect(await detectFile('tok512.bin', memorySource(TOK))).toMatchObject({ format: { id: 'llama2c' } });
    expect(await isLoadableFile('tok512.bin', memorySource(TOK))).toBe(false);
  });

  test('a tokenizer the model names but its folder lacks', async () => {
    await expect(loadModelTokenizer('llama2c', memoryFolder('m', { 'stories260K.bin': BIN }), 'stories260K.bin', 'tok512.bin')).rejects.toThrow(/m\/tok512\.bin: file is missing/);
    await expect(loadModel('gguf', memoryFolder('m', {}), 'stories260K.gguf')).rejects.toThrow("stories260K.gguf is not among the model's files");
  });
});
