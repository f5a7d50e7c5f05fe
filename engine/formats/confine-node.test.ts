import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../errors';
import { fixturePath } from '../../tests/unit/fixtures';
import { ModelRangeServer, RangeRefused } from '../catalog/range-node';
import { loadTokenizerFromPath } from '../tokenizer/load-node';
import { loadHfModelFromPath, nodeModelDir } from './hf-node';
import { fileSource } from './source-node';

const root = mkdtempSync(path.join(tmpdir(), 'confine-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('files are opened only as regular files inside what the user chose', () => {
  it('a symlink from a model folder to a file outside is refused, without quoting the file', async () => {
    const secret = path.join(root, 'secret.txt');
    writeFileSync(secret, 'ssh-rsa AAAA private');
    const model = path.join(root, 'model');
    mkdirSync(model);
    symlinkSync(secret, path.join(model, 'tokenizer.json'));
    const e = await nodeModelDir(model)
      .open('tokenizer.json')
      .catch((x) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/links to a file outside the model folder/);
    expect(e.message).not.toMatch(/ssh-rsa/);
    const server = new ModelRangeServer(() => ({ root: model, files: ['tokenizer.json'] }));
    await expect(server.read('m', 'tokenizer.json', 0, 4)).rejects.toBeInstanceOf(RangeRefused);
  });

  it("a Hugging Face cache snapshot's links to its repository's blobs are followed", async () => {
    const repo = path.join(root, 'hub', 'models--org--tiny');
    const snap = path.join(repo, 'snapshots', 'abc123');
    mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    mkdirSync(snap, { recursive: true });
    for (const [f, blob] of [
      ['config.json', 'b1'],
      ['model.safetensors', 'b2'],
    ]) {
      copyFileSync(fixturePath('models', 'tiny-llama', f), path.join(repo, 'blobs', blob));
      symlinkSync(`../../blobs/${blob}`, path.join(snap, f));
    }
    const m = await loadHfModelFromPath(snap);
    expect(m.config.numLayers).toBeGreaterThan(0);
    // files are named by their place in the snapshot, not by the blob they lead to
    expect(m.source.files).toEqual([path.join(snap, 'model.safetensors')]);
    // a link from the snapshot to another repository's blob is not the cache's layout
    const other = path.join(root, 'hub', 'models--org--other', 'blobs');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'b3'), '{}');
    symlinkSync(path.join(other, 'b3'), path.join(snap, 'generation_config.json'));
    await expect(loadHfModelFromPath(snap)).rejects.toThrow(/links to a file outside/);
  });

  it('a FIFO and a device are refused at once (they would block or never end)', async () => {
    const fifo = path.join(root, 'pipe.gguf');
    execFileSync('mkfifo', [fifo]);
    const e = await fileSource(fifo).catch((x) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/not a regular file.*FIFO/);
    const z = await loadTokenizerFromPath('/dev/zero').catch((x) => x);
    expect(z).toBeInstanceOf(FormatError);
    expect(z.message).toMatch(/character device/);
  });
});
