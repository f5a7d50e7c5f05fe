/**
 * Add Model refuses what is no model (README.md, a folder without config.json, a tokenizer
 * .bin) with the reason and what is accepted; models, broken or not, are listed. A missing
 * file is named in the problem the Models view shows.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { fixturePath } from '../../tests/unit/fixtures';
import { FormatError } from '../errors';
import { describeProblem } from './inspect';
import { whyNotListablePath } from './load-node';
import { LISTED_PATHS, whyNotListable } from './registry';
import { memorySource } from './source';

const bytes = (...p: string[]) => new Uint8Array(readFileSync(fixturePath(...p)));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'llm-refusal-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('whyNotListable (the registry)', () => {
  test('README.md: not a model file, with what is accepted', async () => {
    const why = await whyNotListable({ name: 'README.md', src: memorySource(new TextEncoder().encode('# hello'), 'README.md') }, 'README.md');
    expect(why).toBe(`README.md is not a model file: it is none of ${LISTED_PATHS}.`);
  });

  test('a folder without config.json (empty or not)', async () => {
    expect(await whyNotListable({ folder: [] }, 'empty')).toMatch(/^empty is not a model folder: it has no config\.json \(the folder is empty\)\. Add a \.gguf/);
    expect(await whyNotListable({ folder: ['notes.txt'] }, 'notes')).toMatch(/^notes is not a model folder: it has no config\.json\. Add /);
  });

  test('a tokenizer.bin is not a llama2.c checkpoint', async () => {
    expect(await whyNotListable({ name: 'tok512.bin', src: memorySource(bytes('llama2c/tok512.bin'), 'tok512.bin') }, 'tok512.bin')).toMatch(
      /tok512\.bin is not a llama2\.c checkpoint/,
    );
  });

  test('models are listed: a GGUF (even truncated: listed with its problem), a checkpoint, an HF folder, an ONNX file', async () => {
    const gguf = bytes('gguf/stories260K.gguf');
    expect(await whyNotListable({ name: 'stories260K.gguf', src: memorySource(gguf) }, 'x')).toBeUndefined();
    expect(await whyNotListable({ name: 'cut.gguf', src: memorySource(gguf.subarray(0, 1000)) }, 'x')).toBeUndefined();
    expect(await whyNotListable({ name: 'stories260K.bin', src: memorySource(bytes('llama2c/stories260K.bin')) }, 'x')).toBeUndefined();
    expect(await whyNotListable({ folder: ['config.json', 'model.safetensors'] }, 'x')).toBeUndefined();
    expect(await whyNotListable({ name: 'model.onnx', src: memorySource(bytes('onnx/tiny-llama/model.onnx')) }, 'x')).toBeUndefined();
  });
});

describe('whyNotListablePath (paths on disk)', () => {
  test('README.md, an empty folder and a missing path are refused; the fixture GGUF is not', async () => {
    const readme = path.join(tmp, 'README.md');
    writeFileSync(readme, '# not a model\n');
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    expect(await whyNotListablePath(readme)).toMatch(/^README\.md is not a model file/);
    expect(await whyNotListablePath(empty)).toMatch(/^empty is not a model folder: it has no config\.json \(the folder is empty\)/);
    expect(await whyNotListablePath(path.join(tmp, 'nope.gguf'))).toBe(`No such file or folder: ${path.join(tmp, 'nope.gguf')}`);
    expect(await whyNotListablePath(fixturePath('gguf/stories260K.gguf'))).toBeUndefined();
  });
});

test('a missing file is named in the problem ("File is missing: tokenizer.json")', () => {
  const p = describeProblem(new FormatError('file is missing', { file: 'models/x/tokenizer.json', expected: "the model's tokenizer" }));
  expect(p).toMatchObject({ kind: 'missing', message: 'File is missing: tokenizer.json' });
});
