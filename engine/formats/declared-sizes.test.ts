import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../errors';
import { fixturePath } from '../../tests/unit/fixtures';
import { loadHfModel, memoryFolder } from './hf';

/** A fixture checkpoint with its config.json changed by `edit`. */
function folderWith(model: string, edit: (c: Record<string, unknown>) => void) {
  const config = JSON.parse(readFileSync(fixturePath('models', model, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(config);
  return memoryFolder(model, {
    'config.json': new TextEncoder().encode(JSON.stringify(config)),
    'model.safetensors': new Uint8Array(readFileSync(fixturePath('models', model, 'model.safetensors'))),
  });
}

describe('sizes a config.json declares are checked against the weights before anything is built per layer', () => {
  it.each([
    ['tiny-llama', 'num_hidden_layers', 1e9],
    ['tiny-llama', 'num_hidden_layers', 1e6],
    ['tiny-mixtral-moe', 'num_local_experts', 1e9],
    ['tiny-gpt2', 'n_layer', 1e7],
  ])('%s with %s = %d: a FormatError naming the key and what the file holds', async (model, key, value) => {
    const e = await loadHfModel(folderWith(model, (c) => (c[key] = value))).catch((x) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.key).toBe(key);
    expect(e.message).toMatch(/config\.json/);
    expect(e.message).toMatch(/the weights hold \d+ tensors/);
  });
});
