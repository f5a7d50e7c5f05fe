import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { openModel } from '../formats/load-node';
import { predictEngineKv } from '../model/kv/layout';
import { fixturePath } from '../../tests/unit/fixtures';
import { runCli } from './run-cli.test-util';

const run = (argv: string[]) => runCli(...argv);

const FIXTURES = [
  ...['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'].map((m) => fixturePath('models', m)),
  fixturePath('llama2c', 'stories260K.bin'),
  fixturePath('gguf', 'stories260K.gguf'),
];

const tmp = mkdtempSync(path.join(tmpdir(), 'kv-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('llm-playground kv', () => {
  test('--model: predicted bytes equal the CPU arrays allocated (stories260K, context 17)', async () => {
    const r = await run(['kv', '--model', fixturePath('llama2c', 'stories260K.bin'), '--context', '17', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    // 5 layers · 2 · 4 KV heads · 8 head dim · 4 bytes = 1280 bytes per token
    expect(j).toMatchObject({ bytes_per_token: 1280, predicted_bytes: 1280 * 17, allocated_bytes: 1280 * 17, per_layer_bytes: Array(5).fill(256 * 17) });
  });

  test.each(FIXTURES)('--model %s --kv-dtype int8: predicted bytes equal the CPU’s int8 arrays and scales at contexts 1, 17 and the maximum', async (file) => {
    const c = (await openModel(file)).loaded.config;
    for (const ctx of [1, 17, c.maxPositions]) {
      const r = await run(['kv', '--model', file, '--context', String(ctx), '--kv-dtype', 'int8', '--json']);
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out);
      const p = predictEngineKv(c, ctx, 'cpu', 'int8');
      // per layer: K and V of ctx·Kv·hd bytes, and their scales of ctx·Kv·4 bytes
      expect(p.perLayer[0]).toBe(2 * ctx * c.numKvHeads * (c.headDim + 4));
      expect(j).toMatchObject({ kv_dtype: 'int8', predicted_bytes: p.total, allocated_bytes: p.total, per_layer_bytes: p.perLayer, bytes_per_token: p.bytesPerToken });
    }
  });

  test('--kv-dtype int8 on stories260K: a quarter of f32 plus the scales', async () => {
    const j = JSON.parse((await run(['kv', '--model', fixturePath('llama2c', 'stories260K.bin'), '--context', '17', '--kv-dtype', 'int8', '--json'])).out);
    // 5 layers · 2 · 4 KV heads · (8 int8 + one 4-byte scale) = 480 bytes per token (f32: 1280)
    expect(j).toMatchObject({ bytes_per_token: 480, predicted_bytes: 480 * 17, allocated_bytes: 480 * 17 });
    expect(j.layout).toMatch(/int8 K and V of \[17, 4, 8\] and f32 scales of \[17, 4\]/);
  });

  test('generate and forward take --kv-dtype int8 (CPU)', async () => {
    const g = await run(['generate', '--ids', '1,403', '--max-tokens', '4', '--kv-dtype', 'int8', '--json']);
    expect(g.code, g.err).toBe(0);
    expect(JSON.parse(g.out).generated_ids).toHaveLength(4);
    const f = await run(['forward', '--model', fixturePath('models', 'tiny-llama'), '--ids', '1,2,3', '--kv-dtype', 'int8', '--json']);
    expect(f.code, f.err).toBe(0);
    expect((await run(['generate', '--ids', '1,403', '--kv-dtype', 'int4'])).err).toMatch(/--kv-dtype must be f32 or int8/);
  });

  test('--model on a sliding-window model says the cache holds the full context', async () => {
    const j = JSON.parse((await run(['kv', '--model', fixturePath('models', 'tiny-mistral-swa'), '--context', '256', '--json'])).out);
    expect(j.predicted_bytes).toBe(j.allocated_bytes);
    expect(j.layout).toMatch(/full context/);
  });

  test('--config with a built-in: Llama-3.1-8B at 128k f16 is 16 GiB; GQA vs MHA', async () => {
    const gqa = JSON.parse((await run(['kv', '--config', 'Llama-3.1-8B', '--context', '131072', '--json'])).out);
    expect(gqa.cache_bytes).toBe(16 * 2 ** 30);
    const mha = JSON.parse((await run(['kv', '--config', 'Llama-3.1-8B', '--context', '131072', '--attention', 'mha', '--json'])).out);
    expect(mha.cache_bytes).toBe(64 * 2 ** 30);
  });

  test("--kv-dtype q8_0 is llama.cpp's 34 bytes per 32 values: Llama-3.1-8B at 4096 is llama.cpp's 272.00 MiB", async () => {
    const j = JSON.parse((await run(['kv', '--config', 'Llama-3.1-8B', '--context', '4096', '--kv-dtype', 'q8_0', '--json'])).out);
    expect(j.cache_bytes).toBe(272 * 2 ** 20);
    expect(j.per_layer_k_bytes[0] * 2).toBe(j.per_layer_bytes[0]);
  });

  test('--config with a pasted config.json; a missing field is named', async () => {
    const good = path.join(tmp, 'config.json');
    writeFileSync(
      good,
      JSON.stringify({
        model_type: 'llama',
        num_hidden_layers: 2,
        hidden_size: 64,
        num_attention_heads: 8,
        num_key_value_heads: 4,
        intermediate_size: 128,
        vocab_size: 512,
        max_position_embeddings: 256,
      }),
    );
    const j = JSON.parse((await run(['kv', '--config', good, '--context', '10', '--kv-dtype', 'f32', '--json'])).out);
    expect(j.cache_bytes).toBe(2 * 10 * 2 * 4 * 8 * 4);
    // head width 8: q8_0's blocks of 32 do not fit, as llama.cpp says
    const q = await run(['kv', '--config', good, '--context', '10', '--kv-dtype', 'q8_0']);
    expect(q.code).toBe(1);
    expect(q.err).toMatch(/kv dtype: q8_0 .* head width of 8/);
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 8, vocab_size: 512 }));
    const r = await run(['kv', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/max_position_embeddings/);
  });

  test('absurd context: a number and a warning; bad flags name the flag', async () => {
    const r = await run(['kv', '--config', 'Llama-3.1-8B', '--context', '1e12', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.cache_bytes).toBe(131072e12);
    expect(j.warnings.length).toBeGreaterThan(0);
    expect((await run(['kv', '--config', 'Llama-3.1-8B', '--context', '0'])).err).toMatch(/--context must be an integer ≥ 1/);
    expect((await run(['kv', '--config', 'Llama-3.1-8B', '--kv-dtype', 'f8'])).err).toMatch(/--kv-dtype must be/);
    expect((await run(['kv', '--model', fixturePath('llama2c', 'stories260K.bin'), '--context', '8', '--kv-dtype', 'f16'])).err).toMatch(/f32 or int8/);
    expect((await run(['kv', '--config', 'No-Such-Model'])).err).toMatch(/neither a readable config.json/);
  });
});
