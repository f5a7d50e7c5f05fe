import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLoraAdapterFromPath } from '../formats/hf-node';
import { openModel } from '../formats/load-node';
import { maxAbsDiff } from '../../tests/max-abs-diff';
import { fixturePath } from '../../tests/unit/fixtures';
import { runCli } from './run-cli.test-util';

const dir = mkdtempSync(path.join(tmpdir(), 'llmp-cli-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('export', () => {
  it('writes a GGUF and says what it wrote', async () => {
    const out = path.join(dir, 's.gguf');
    const r = await runCli('export', '--model', fixturePath('llama2c', 'stories260K.bin'), '--format', 'gguf', '--dtype', 'q8_0', '--out', out, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ format: 'gguf', dtype: 'q8_0', files: [out] });
    expect(j.notes.join(' ')).toMatch(/written F16, not Q8_0/);
    expect((await openModel(out)).loaded.source.dtypes.sort()).toEqual(['F16', 'F32', 'Q8_0']);
    const again = await runCli('export', '--model', fixturePath('llama2c', 'stories260K.bin'), '--format', 'gguf', '--out', out);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already exists \(pass --force/);
    expect((await runCli('export', '--model', fixturePath('llama2c', 'stories260K.bin'), '--format', 'gguf', '--out', out, '--force')).code).toBe(0);
  });

  it('writes an ONNX folder that generates on the ort backend as the original does on the CPU', async () => {
    const out = path.join(dir, 'onnx');
    const m = fixturePath('llama2c', 'stories260K.bin');
    const r = await runCli('export', '--model', m, '--format', 'onnx', '--out', out, '--json');
    expect(r.code).toBe(0);
    expect(
      JSON.parse(r.out)
        .files.map((f: string) => path.basename(f))
        .sort(),
    ).toEqual(['config.json', 'generation_config.json', 'model.onnx', 'tokenizer.json']);
    const gen = (model: string, backend: string) =>
      runCli('generate', '--model', model, '--backend', backend, '--prompt', 'Once upon a time', '--max-tokens', '24', '--ignore-eos', '--json');
    const [a, b] = [await gen(m, 'cpu'), await gen(out, 'ort')];
    expect(b.code).toBe(0);
    expect(JSON.parse(b.out).generated_ids).toEqual(JSON.parse(a.out).generated_ids);
    expect(JSON.parse(b.out).text).toBe(JSON.parse(a.out).text);
  });

  it('merges a LoRA adapter into a safetensors folder', async () => {
    const out = path.join(dir, 'lora');
    const m = fixturePath('models', 'tiny-llama');
    const r = await runCli('export', '--model', m, '--format', 'safetensors', '--out', out, '--lora', path.join(m, 'lora'), '--merge');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/LoRA adapter .* merged/);
    expect(existsSync(path.join(out, 'config.json'))).toBe(true);
  });

  it('copies an unmerged adapter beside the weights (safetensors), refuses one in a GGUF', async () => {
    const m = fixturePath('models', 'tiny-llama');
    const lora = path.join(m, 'lora');
    const out = path.join(dir, 'unmerged');
    const r = await runCli('export', '--model', m, '--format', 'safetensors', '--out', out, '--lora', lora, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).notes.join(' ')).toMatch(/written unmerged/);
    const base = await openModel(m);
    const back = await openModel(out);
    expect(maxAbsDiff(back.loaded.weights.get('model.layers.0.self_attn.q_proj.weight')!.data, base.loaded.weights.get('model.layers.0.self_attn.q_proj.weight')!.data)).toBe(0);
    expect(readFileSync(path.join(out, 'adapter_model.safetensors')).equals(readFileSync(path.join(lora, 'adapter_model.safetensors')))).toBe(true);
    const adapter = await loadLoraAdapterFromPath(out, back.loaded.config); // the folder is also an adapter folder
    expect(adapter.targets.length).toBe(6);
    const g = await runCli('export', '--model', m, '--format', 'gguf', '--out', path.join(dir, 'u.gguf'), '--lora', lora);
    expect(g.code).toBe(1);
    expect(g.err).toMatch(/unmerged LoRA adapter has no place in a model GGUF/);
  });

  it.each([
    [['--format', 'onnx', '--dtype', 'f16', '--out', 'x'], /--dtype for onnx must be f32, got "f16"/],
    [['--format', 'gguff', '--out', 'x'], /--format must be gguf, safetensors, onnx, got "gguff"/],
    [['--format', 'safetensors', '--dtype', 'q8_0', '--out', 'x'], /--dtype for safetensors must be f32, f16, got "q8_0"/],
    [['--format', 'gguf'], /export needs --out/],
  ])('refuses %j', async (args, message) => {
    const r = await runCli('export', '--model', fixturePath('models', 'tiny-llama'), ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('says when the output path is the wrong kind', async () => {
    const m = fixturePath('llama2c', 'stories260K.bin');
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = await runCli('export', '--model', m, '--format', 'safetensors', '--out', file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is a file: this format is written as a folder/);
    const g = await runCli('export', '--model', m, '--format', 'gguf', '--out', dir);
    expect(g.code).toBe(2);
    expect(g.err).toMatch(/is a folder: this format is written as one file/);
  });

  it('names what a format cannot hold', async () => {
    const r = await runCli('export', '--model', fixturePath('models', 'tiny-mistral-swa'), '--format', 'gguf', '--out', path.join(dir, 'g.gguf'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/has no sliding window/);
    expect(existsSync(path.join(dir, 'g.gguf'))).toBe(false);
  });
});
