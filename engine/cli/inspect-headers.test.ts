/**
 * `inspect` reads headers only: a model of hundreds of MB (sparse files: the data costs no
 * disk) is described with a resident memory far below its size, and the description equals
 * what the loaded model says on the fixtures.
 */
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { fixturePath } from '../../tests/unit/fixtures';
import { openModel } from '../formats/load-node';
import { removeCliBundle, runCliChild } from './child-cli.test-util';
import { runCli } from './run-cli.test-util';

const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-inspect-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  removeCliBundle();
});

/** A file of `size` bytes: `head` then zeros that take no disk (ftruncate). */
function sparseFile(p: string, head: Uint8Array, size: number): void {
  const fd = openSync(p, 'w');
  try {
    writeSync(fd, head);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

const SHAPE = { dim: 1024, hidden: 2816, layers: 16, heads: 16, kvHeads: 8, vocab: 512, seq: 1024 };
const headDim = SHAPE.dim / SHAPE.heads;
/** Parameters of a Llama of SHAPE with a tied head. */
const PARAMS =
  SHAPE.vocab * SHAPE.dim + SHAPE.layers * (2 * SHAPE.dim + 2 * SHAPE.dim * SHAPE.dim + 2 * SHAPE.kvHeads * headDim * SHAPE.dim + 3 * SHAPE.dim * SHAPE.hidden) + SHAPE.dim;

/** A llama2.c checkpoint of SHAPE (860 MB of zeros) with tok512.bin beside it. */
function bigLlama2c(): string {
  const dir = path.join(tmp, 'l2c');
  mkdirSync(dir);
  const h = new Int32Array([SHAPE.dim, SHAPE.hidden, SHAPE.layers, SHAPE.heads, SHAPE.kvHeads, SHAPE.vocab, SHAPE.seq]);
  const freqCis = SHAPE.seq * headDim; // real + imag, each [seq, head/2]
  const p = path.join(dir, 'big.bin');
  sparseFile(p, new Uint8Array(h.buffer), 28 + 4 * (PARAMS + freqCis));
  copyFileSync(fixturePath('llama2c/tok512.bin'), path.join(dir, 'tok512.bin'));
  return p;
}

/** An HF folder of SHAPE, F16 safetensors (430 MB of zeros), tied embeddings. */
function bigHf(): string {
  const dir = path.join(tmp, 'hf');
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: SHAPE.dim,
      intermediate_size: SHAPE.hidden,
      num_hidden_layers: SHAPE.layers,
      num_attention_heads: SHAPE.heads,
      num_key_value_heads: SHAPE.kvHeads,
      vocab_size: SHAPE.vocab,
      max_position_embeddings: SHAPE.seq,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: true,
    }),
  );
  const kv = SHAPE.kvHeads * headDim;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [SHAPE.vocab, SHAPE.dim]]];
  for (let i = 0; i < SHAPE.layers; i++) {
    const p = `model.layers.${i}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [SHAPE.dim]],
      [`${p}.self_attn.q_proj.weight`, [SHAPE.dim, SHAPE.dim]],
      [`${p}.self_attn.k_proj.weight`, [kv, SHAPE.dim]],
      [`${p}.self_attn.v_proj.weight`, [kv, SHAPE.dim]],
      [`${p}.self_attn.o_proj.weight`, [SHAPE.dim, SHAPE.dim]],
      [`${p}.post_attention_layernorm.weight`, [SHAPE.dim]],
      [`${p}.mlp.gate_proj.weight`, [SHAPE.hidden, SHAPE.dim]],
      [`${p}.mlp.up_proj.weight`, [SHAPE.hidden, SHAPE.dim]],
      [`${p}.mlp.down_proj.weight`, [SHAPE.dim, SHAPE.hidden]],
    );
  }
  shapes.push(['model.norm.weight', [SHAPE.dim]]);
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, shape] of shapes) {
    const bytes = 2 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F16', shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setUint32(0, json.length, true);
  head.set(new TextEncoder().encode(json), 8);
  sparseFile(path.join(dir, 'model.safetensors'), head, head.length + at);
  return dir;
}

describe('inspect reads headers only', () => {
  test.each([
    ['llama2.c', bigLlama2c, 4 * PARAMS],
    ['safetensors (F16)', bigHf, 2 * PARAMS],
  ])('a %s model of hundreds of MB: described with far less memory than its size', async (_what, make, dataBytes) => {
    const p = make();
    const r = await runCliChild(['inspect', p, '--json']);
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(r.out);
    expect(d.parameters).toBe(PARAMS);
    expect(d.config.numLayers).toBe(SHAPE.layers);
    expect(d.fileBytes).toBeGreaterThanOrEqual(dataBytes);
    expect(dataBytes).toBeGreaterThan(300 * 2 ** 20);
    // Node itself and the tokenizer take ~60–100 MB; loading the weights would take the data size at least.
    expect(r.peakRss).toBeLessThan(200 * 2 ** 20);
  });

  test.each([fixturePath('gguf/stories260K.gguf'), fixturePath('llama2c/stories260K.bin'), fixturePath('models/tiny-gpt2'), fixturePath('models/tiny-mixtral-moe')])(
    '%s: the description agrees with the loaded model',
    async (p) => {
      const r = await runCli('inspect', p, '--json');
      expect(r.code, r.err).toBe(0);
      const d = JSON.parse(r.out);
      const m = await openModel(p);
      const distinct = new Set([...m.loaded.weights.values()].map((t) => t.data));
      expect(d.parameters).toBe([...distinct].reduce((s, a) => s + a.length, 0));
      expect(d.config).toEqual(JSON.parse(JSON.stringify(m.loaded.config)));
      expect(d.dtypes).toEqual(m.loaded.source.dtypes);
      expect(d.tokenizer?.vocabSize).toBe(m.tokenizer?.vocabSize);
    },
  );
});
