import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { LLAMA2C_HEADER_BYTES, llama2cLayout, parseLlama2cHeader, readLlama2cHeader } from './llama2c';
import { llama2cConfig, loadLlama2cModel } from './llama2c-model';
import { fileSource } from './source-node';
import { memorySource, type ByteSource } from './source';

const BIN_PATH = '../shared/fixtures/llama2c/stories260K.bin';
const REAL = new Uint8Array(readFileSync(BIN_PATH));
const NAME = 'test.bin';

function recordingSource(bytes: Uint8Array): ByteSource & { reads: [number, number][] } {
  const inner = memorySource(bytes, NAME);
  const reads: [number, number][] = [];
  return { name: NAME, size: bytes.length, reads, read: (o, l) => (reads.push([o, l]), inner.read(o, l)) };
}

async function rejection(p: Promise<unknown>): Promise<FormatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    const fe = e as FormatError;
    expect(fe.file).toBe(NAME);
    expect(fe.offset).toBeTypeOf('number');
    expect(fe.expected).toBeDefined();
    return fe;
  }
  throw new Error('expected a rejection');
}

const load = (bytes: Uint8Array) => loadLlama2cModel(memorySource(bytes, NAME));

/** Real file with header field `i` (0..6) replaced. */
function withField(i: number, value: number, bytes: Uint8Array = REAL): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setInt32(i * 4, value, true);
  return copy;
}

/** A synthetic checkpoint: header + `floats` f32 of value index/1000 (tiny shapes). */
function synth(header: number[]): Uint8Array {
  const h = parseLlama2cHeader(new Uint8Array(Int32Array.from(header).buffer), 'synth');
  const total = llama2cLayout(h).totalBytes;
  const out = new Uint8Array(total);
  out.set(new Uint8Array(Int32Array.from(header).buffer));
  const f = new Float32Array(out.buffer, LLAMA2C_HEADER_BYTES, (total - LLAMA2C_HEADER_BYTES) / 4);
  for (let i = 0; i < f.length; i++) f[i] = i;
  return out;
}

describe('stories260K.bin', () => {
  test('header and config', async () => {
    const src = await fileSource(BIN_PATH);
    try {
      const { header, layout } = await readLlama2cHeader(src);
      expect(header).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true, headSize: 8 });
      expect(layout.totalBytes).toBe(REAL.length);
      expect(layout.wcls).toBeUndefined();
      expect(llama2cConfig(header)).toMatchObject({
        architecture: 'llama',
        maxPositions: 512,
        norm: { kind: 'rms', eps: Math.fround(1e-5) },
        rope: { theta: 10000, style: 'interleaved' },
        tieEmbeddings: true,
        bosTokenId: 1,
        eosTokenIds: [2],
        stopTokenIds: [1],
      });
    } finally {
      await src.close?.();
    }
  });

  test('weights: shapes, first values, one range read per tensor, never the freq_cis block', async () => {
    const src = recordingSource(REAL);
    const m = await loadLlama2cModel(src);
    expect(m.weights.size).toBe(2 + 5 * 9);
    expect(m.weights.get('model.embed_tokens.weight')!.shape).toEqual([512, 64]);
    expect(m.weights.get('model.layers.4.self_attn.k_proj.weight')!.shape).toEqual([32, 64]);
    expect(m.weights.get('model.layers.0.mlp.down_proj.weight')!.shape).toEqual([64, 172]);
    // first float after the header (xxd: 50e9 96be)
    expect(m.weights.get('model.embed_tokens.weight')!.data[0]).toBe(new DataView(REAL.buffer).getFloat32(28, true));
    expect(src.reads.length).toBe(1 + m.weights.size);
    const { layout } = await readLlama2cHeader(memorySource(REAL, NAME));
    const fc0 = layout.freqCis.offset;
    const fc1 = fc0 + layout.freqCis.count * 4;
    expect(fc1).toBe(REAL.length);
    for (const [o, l] of src.reads) expect(o + l <= fc0 || o >= fc1).toBe(true);
    for (const [name, t] of m.weights) expect(t.data.length, name).toBe(t.shape.reduce((a, b) => a * b, 1));
  });
});

describe('layout', () => {
  test('unshared classifier (negative vocab_size) comes after freq_cis; layers are sliced in run.c order', async () => {
    // dim 4, hidden 6, 2 layers, 2 heads, 1 kv head, vocab -3, seq 5
    const bytes = synth([4, 6, 2, 2, 1, -3, 5]);
    const m = await load(bytes);
    expect(m.config.tieEmbeddings).toBe(false);
    const at = (name: string) => m.weights.get(name)!.data[0];
    // float index of each block start: embed 0 (12), rms_att 12 (8), wq 20 (32), wk 52 (16), wv 68 (16),
    // wo 84 (32), rms_ffn 116 (8), w1 124 (48), w2 172 (48), w3 220 (48), rms_final 268 (4), freq_cis 272 (10), wcls 282 (12)
    expect(at('model.embed_tokens.weight')).toBe(0);
    expect(at('model.layers.0.input_layernorm.weight')).toBe(12);
    expect(at('model.layers.1.input_layernorm.weight')).toBe(16);
    expect(at('model.layers.0.self_attn.q_proj.weight')).toBe(20);
    expect(at('model.layers.1.self_attn.q_proj.weight')).toBe(36);
    expect(at('model.layers.1.self_attn.k_proj.weight')).toBe(60);
    expect(at('model.layers.1.self_attn.v_proj.weight')).toBe(76);
    expect(at('model.layers.1.self_attn.o_proj.weight')).toBe(100);
    expect(at('model.layers.1.post_attention_layernorm.weight')).toBe(120);
    expect(at('model.layers.1.mlp.gate_proj.weight')).toBe(148);
    expect(at('model.layers.1.mlp.down_proj.weight')).toBe(196);
    expect(at('model.layers.1.mlp.up_proj.weight')).toBe(244);
    expect(at('model.norm.weight')).toBe(268);
    expect(at('lm_head.weight')).toBe(282);
    expect(m.weights.get('lm_head.weight')!.shape).toEqual([3, 4]);
    expect(m.weights.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([2, 4]);
    expect(m.weights.get('model.layers.0.self_attn.o_proj.weight')!.shape).toEqual([4, 4]);
    expect(m.weights.get('model.layers.0.mlp.down_proj.weight')!.shape).toEqual([4, 6]);
    expect(bytes.length).toBe(28 + 294 * 4);
  });
});

describe('bad input: FormatError with file, offset, expectation', () => {
  test('every header field: zero, negative, too large', async () => {
    for (let i = 0; i < 7; i++) {
      for (const v of [0, -1, 2 ** 31 - 1]) {
        if (i === 5 && v === -1) continue; // vocab -1 is a (tiny) unshared classifier, caught by the length check instead
        const e = await rejection(load(withField(i, v)));
        expect(e.offset, `field ${i} = ${v}`).toBe(i * 4);
        expect(e.found).toBe(String(v));
      }
    }
  });

  test('inconsistent heads', async () => {
    let e = await rejection(load(withField(3, 7))); // 64 % 7
    expect(e).toMatchObject({ offset: 12, key: 'n_heads' });
    e = await rejection(load(withField(4, 3))); // 8 % 3
    expect(e).toMatchObject({ offset: 16, key: 'n_kv_heads' });
    e = await rejection(load(withField(4, 16))); // more kv heads than heads
    expect(e.key).toBe('n_kv_heads');
    e = await rejection(load(withField(3, 64, withField(4, 64)))); // head size 1: odd
    expect(e.message).toMatch(/n_heads/);
    expect(e.expected).toMatch(/even/);
  });

  test('file length must be exactly what the header implies (checked before allocating)', async () => {
    let e = await rejection(load(REAL.subarray(0, REAL.length - 1)));
    expect(e.message).toMatch(/truncated/);
    expect(e.expected).toMatch(/^1056540 bytes for dim=64 hidden_dim=172 n_layers=5 n_heads=8 n_kv_heads=4 vocab_size=512 seq_len=512/);
    expect(e.found).toBe('1056539 bytes');
    const longer = new Uint8Array(REAL.length + 4);
    longer.set(REAL);
    e = await rejection(load(longer));
    expect(e.message).toMatch(/trailing/);
    // negative vocab: an unshared classifier the file does not contain
    e = await rejection(load(withField(5, -512)));
    expect(e.expected).toMatch(/^1187612 bytes .*vocab_size=-512/);
    // a plausible but huge model in a small file: refused by size, nothing big is read
    const src = recordingSource(withField(2, 1000));
    e = await rejection(loadLlama2cModel(src));
    expect(src.reads).toEqual([[0, 28]]);
  });

  test('truncation at every byte of the header and sampled later', async () => {
    for (let n = 0; n < REAL.length; n = n < 64 ? n + 1 : n + 4099) {
      const e = await rejection(load(REAL.subarray(0, n)));
      expect(e.offset).toBeLessThanOrEqual(n);
    }
  });

  test('llama2.c export v1/v2 files (magic ak42) are named as such', async () => {
    const v1 = new Uint8Array(256);
    new DataView(v1.buffer).setUint32(0, 0x616b3432, true);
    const e = await rejection(load(v1));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.message).toMatch(/ak42/);
  });

  test('fuzz: truncations and byte flips either load or raise a located FormatError', async () => {
    const flips = fc.array(fc.tuple(fc.oneof(fc.nat(40), fc.nat(REAL.length - 1)), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(REAL.length), fc.nat(REAL.length)), flips, async (cut, fl) => {
        const bytes = REAL.slice(0, cut);
        for (const [pos, x] of fl) if (pos < bytes.length) bytes[pos] ^= x;
        const src = recordingSource(bytes);
        try {
          const m = await loadLlama2cModel(src);
          expect(m.weights.size).toBe(2 + m.config.numLayers * 9 + (m.config.tieEmbeddings ? 0 : 1));
        } catch (e) {
          expect(e).toBeInstanceOf(FormatError);
          expect((e as FormatError).file).toBe(NAME);
          expect((e as FormatError).offset).toBeTypeOf('number');
        }
        expect(src.reads.reduce((s, [, l]) => s + l, 0)).toBeLessThanOrEqual(Math.max(28, bytes.length));
      }),
      { numRuns: 300 },
    );
  });
});
