import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { loadHfModel, memoryFolder } from './hf';
import { loadHfModelFromPath } from './hf-node';
import {
  f32ToBf16Bits,
  f32ToF16Bits,
  openSafetensors,
  openShardedSafetensors,
  readSafetensorsHeader,
  readSafetensorsTensor,
  writeSafetensors,
  type TensorToWrite,
} from './safetensors';
import { memorySource, type ByteSource } from './source';
import { fixturePath } from '../../tests/unit/fixtures';

const LLAMA = fixturePath('models', 'tiny-llama');
const llamaBytes = new Uint8Array(readFileSync(`${LLAMA}/model.safetensors`));
const llamaConfig = new Uint8Array(readFileSync(`${LLAMA}/config.json`));

/** A source that fails the test if anything reads outside it or asks for more than the file holds. */
function guardedSource(bytes: Uint8Array, name = 'guarded.safetensors'): ByteSource & { maxRead: number } {
  const src = memorySource(bytes, name);
  const g = {
    name,
    size: src.size,
    maxRead: 0,
    async read(offset: number, length: number) {
      if (offset < 0 || length < 0 || offset + length > bytes.byteLength) throw new Error(`read outside the file: ${length} at ${offset}`);
      g.maxRead = Math.max(g.maxRead, length);
      return src.read(offset, length);
    },
  };
  return g;
}

/** A hand-made file: 8-byte length + header text + data. */
function rawFile(header: string | object, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function formatError(p: Promise<unknown>): Promise<FormatError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FormatError);
  return e as FormatError;
}

describe('safetensors reader', () => {
  it('reads the tiny-llama header and tensors by byte range', async () => {
    const src = guardedSource(llamaBytes, 'tiny-llama.safetensors');
    const h = await readSafetensorsHeader(src);
    expect(h.tensors.size).toBe(21);
    expect(h.metadata).toEqual({ format: 'pt' });
    const e = h.tensors.get('model.layers.0.self_attn.k_proj.weight')!;
    expect(e.dtype).toBe('F32');
    expect(e.shape).toEqual([32, 64]);
    const t = await readSafetensorsTensor(src, e);
    const dv = new DataView(llamaBytes.buffer, llamaBytes.byteOffset);
    for (const i of [0, 1, 777, 2047]) expect(t.data[i]).toBe(dv.getFloat32(e.begin + 4 * i, true));
    expect(src.maxRead).toBe(e.end - e.begin);
    // the returned array is a copy, not a view of the file buffer
    t.data[0] += 1;
    expect((await readSafetensorsTensor(src, e)).data[0]).toBe(dv.getFloat32(e.begin, true));
  });

  it('writes and reads back F32, F16 and BF16', async () => {
    const values = Float32Array.from([0, -0, 1, -2, 0.5, 1.5, 65504, 2 ** -24, 2 ** -14, 3.14159, -1e-3, 1e5, Infinity, -Infinity, 1 / 3]);
    const file = writeSafetensors(
      [
        { name: 'a', shape: [3, 5], data: values },
        { name: 'h', shape: [15], data: values, dtype: 'F16' },
        { name: 'b', shape: [5, 3], data: values, dtype: 'BF16' },
        { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
      ],
      { note: 'x' },
    );
    expect((file.byteLength - 8 - Number(new DataView(file.buffer).getBigUint64(0, true))) % 1).toBe(0);
    expect(Number(new DataView(file.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const store = await openSafetensors(memorySource(file, 'rt.safetensors'));
    expect((await store.read('a')).data).toEqual(values);
    const h = (await store.read('h')).data;
    const b = (await store.read('b')).data;
    expect((await store.read('empty')).shape).toEqual([0, 4]);
    // exactly representable in half
    for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13]) expect(h[i]).toBe(values[i]);
    expect(Object.is(h[1], -0)).toBe(true);
    expect(h[9]).toBe(3.140625); // nearest half to π-ish
    expect(h[11]).toBe(Infinity); // 1e5 overflows half
    expect(Math.abs(h[14] - 1 / 3)).toBeLessThan(2 ** -12);
    for (let i = 0; i < values.length; i++) {
      if (Number.isFinite(values[i])) expect(Math.abs(b[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -8);
      else expect(b[i]).toBe(values[i]);
    }
    expect(b[2]).toBe(1);
    await store.close();
  });

  it('rounds to nearest even when writing half precision', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (1.0)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds to Inf
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie with 0 → even (0)
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(1);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });

  it('lists unsupported dtypes but refuses to load them', async () => {
    const file = rawFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16));
    const src = memorySource(file, 'i64.safetensors');
    const h = await readSafetensorsHeader(src);
    const err = await readSafetensorsTensor(src, h.tensors.get('ids')!).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.key).toBe('ids');
    expect(err.offset).toBe(h.dataStart);
  });
});

describe('safetensors bad input → FormatError with file and offset/key', () => {
  const read = (bytes: Uint8Array, name = 'bad.safetensors') => readSafetensorsHeader(guardedSource(bytes, name));

  it('too short for the length field', async () => {
    for (let n = 0; n < 8; n++) {
      const e = await formatError(read(llamaBytes.subarray(0, n)));
      expect(e.file).toBe('bad.safetensors');
      expect(e.offset).toBe(0);
    }
  });

  it('header length larger than the file, or absurdly large (no allocation)', async () => {
    const e = await formatError(read(rawFile('{}', new Uint8Array(0), 1000n)));
    expect(e.offset).toBe(0);
    expect(e.key).toBe('header length');
    const src = guardedSource(rawFile('{}', new Uint8Array(0), 2n ** 64n - 1n));
    const e2 = await formatError(readSafetensorsHeader(src));
    expect(e2.key).toBe('header length');
    expect(src.maxRead).toBe(8);
  });

  it('bad JSON, non-object JSON, bad UTF-8', async () => {
    for (const text of ['{"a": ', 'null', '[1,2]', '"x"', '{"a": 1}', '{"__metadata__": {"a": 1}}']) {
      const e = await formatError(read(rawFile(text)));
      expect(e.offset).toBe(8);
    }
    const bytes = rawFile('{"a":1}');
    bytes[10] = 0xff;
    expect((await formatError(read(bytes))).offset).toBe(8);
  });

  it('unknown dtype, bad shape, bad offsets', async () => {
    const data = new Uint8Array(64);
    const cases: [object, string][] = [
      [{ t: { dtype: 'F33', shape: [4], data_offsets: [0, 16] } }, 't.dtype'],
      [{ t: { dtype: 'F32', shape: [4.5], data_offsets: [0, 16] } }, 't.shape'],
      [{ t: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, 't.shape'],
      [{ t: { dtype: 'F32', shape: '4', data_offsets: [0, 16] } }, 't.shape'],
      [{ t: { dtype: 'F32', shape: [4], data_offsets: [16, 0] } }, 't.data_offsets'],
      [{ t: { dtype: 'F32', shape: [4], data_offsets: [0] } }, 't.data_offsets'],
      [{ t: { dtype: 'F32', shape: [4], data_offsets: [-16, 0] } }, 't.data_offsets'],
      [{ t: { dtype: 'F32', shape: [4] } }, 't.data_offsets'],
      [{ t: 5 }, 't'],
      [{ t: { dtype: 'F32', shape: [4], data_offsets: [56, 72] } }, 't'], // outside the data
      [{ t: { dtype: 'F32', shape: [2 ** 20, 2 ** 20, 2 ** 20], data_offsets: [0, 64] } }, 't'], // giant shape
      [{ t: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, 't'], // size ≠ shape
      [{ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, u: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, 'u'], // overlap
    ];
    for (const [header, key] of cases) {
      const e = await formatError(read(rawFile(header, data)));
      expect(e.file).toBe('bad.safetensors');
      expect(e.key).toBe(key);
      expect(e.offset).toBeTypeOf('number');
    }
  });

  it('a header length one byte short (or long), a gap, trailing bytes: refused, not shifted into NaN logits', async () => {
    const n = Number(new DataView(llamaBytes.buffer, llamaBytes.byteOffset).getBigUint64(0, true));
    for (const delta of [-1, 1, -8]) {
      const bytes = llamaBytes.slice();
      new DataView(bytes.buffer).setBigUint64(0, BigInt(n + delta), true);
      const e = await formatError(read(bytes));
      expect(e.file).toBe('bad.safetensors');
      expect(e.offset).toBeTypeOf('number');
    }
    const gap = await formatError(read(rawFile({ t: { dtype: 'F32', shape: [4], data_offsets: [16, 32] } }, new Uint8Array(32))));
    expect(gap.message).toMatch(/a gap in the tensor data/);
    const tail = await formatError(read(rawFile({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(20))));
    expect(tail.message).toMatch(/4 bytes after it/);
  });

  it('truncated at many points', async () => {
    const h = await readSafetensorsHeader(memorySource(llamaBytes));
    const cuts = new Set<number>();
    for (let n = 0; n < 64; n++) cuts.add(n);
    for (let n = h.dataStart - 40; n <= h.dataStart + 40; n++) cuts.add(n);
    for (let i = 1; i < 200; i++) cuts.add(Math.floor((llamaBytes.byteLength * i) / 200));
    for (let n = llamaBytes.byteLength - 8; n < llamaBytes.byteLength; n++) cuts.add(n);
    for (const n of cuts) {
      const src = guardedSource(llamaBytes.slice(0, n), 'cut.safetensors');
      const e = await formatError(readSafetensorsHeader(src));
      expect(e.file).toBe('cut.safetensors');
      expect(e.offset !== undefined || e.key !== undefined).toBe(true);
      expect(src.maxRead).toBeLessThanOrEqual(n);
    }
  });

  it('fuzz: random truncations and byte flips of a real checkpoint load or fail with FormatError', async () => {
    const h = await readSafetensorsHeader(memorySource(llamaBytes));
    let loaded = 0;
    let failed = 0;
    const pos = fc.oneof(fc.integer({ min: 0, max: h.dataStart + 16 }), fc.integer({ min: 0, max: llamaBytes.byteLength - 1 }));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          cut: fc.option(fc.integer({ min: 0, max: llamaBytes.byteLength }), { nil: undefined }),
          flips: fc.array(fc.tuple(pos, fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        }),
        async ({ cut, flips }) => {
          const bytes = llamaBytes.slice(0, cut ?? llamaBytes.byteLength);
          for (const [p, v] of flips) if (p < bytes.length) bytes[p] = v;
          const src = guardedSource(bytes, 'fuzz/model.safetensors');
          const folder = {
            name: 'fuzz',
            async open(file: string) {
              return file === 'config.json' ? memorySource(llamaConfig, 'fuzz/config.json') : file === 'model.safetensors' ? src : null;
            },
          };
          try {
            const m = await loadHfModel(folder);
            expect(m.weights.size).toBe(21);
            loaded++;
          } catch (e) {
            failed++;
            expect(e).toBeInstanceOf(FormatError);
            const fe = e as FormatError;
            expect(fe.file.startsWith('fuzz')).toBe(true);
            expect(fe.offset !== undefined || fe.key !== undefined).toBe(true);
          }
          expect(src.maxRead).toBeLessThanOrEqual(bytes.length);
        },
      ),
      { numRuns: 300, seed: 20261129 },
    );
    expect(loaded).toBeGreaterThan(10);
    expect(failed).toBeGreaterThan(10);
  });
});

describe('sharded checkpoints', () => {
  async function shards(): Promise<{ files: Record<string, Uint8Array>; names: string[] }> {
    const src = memorySource(llamaBytes);
    const h = await readSafetensorsHeader(src);
    const all: TensorToWrite[] = [];
    for (const [name, e] of h.tensors) all.push({ name, shape: e.shape, data: (await readSafetensorsTensor(src, e)).data });
    const a = all.filter((_, i) => i % 2 === 0);
    const b = all.filter((_, i) => i % 2 === 1);
    const weight_map: Record<string, string> = {};
    for (const t of a) weight_map[t.name] = 'model-00001-of-00002.safetensors';
    for (const t of b) weight_map[t.name] = 'model-00002-of-00002.safetensors';
    return {
      files: {
        'config.json': llamaConfig,
        'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 0 }, weight_map })),
        'model-00001-of-00002.safetensors': writeSafetensors(a),
        'model-00002-of-00002.safetensors': writeSafetensors(b),
      },
      names: all.map((t) => t.name),
    };
  }

  it('loads the same weights as the single file', async () => {
    const { files } = await shards();
    const sharded = await loadHfModel(memoryFolder('sharded', files));
    const single = await loadHfModelFromPath(LLAMA);
    expect(sharded.source.files).toEqual(['sharded/model-00001-of-00002.safetensors', 'sharded/model-00002-of-00002.safetensors']);
    expect([...sharded.weights.keys()].sort()).toEqual([...single.weights.keys()].sort());
    for (const [k, t] of single.weights) expect(sharded.weights.get(k)!.data).toEqual(t.data);
  });

  it('index errors: missing shard, tensor not in its shard, bad names, no weight_map', async () => {
    const { files } = await shards();
    const idx = JSON.parse(new TextDecoder().decode(files['model.safetensors.index.json']));
    const withIndex = (index: unknown, drop?: string) => {
      const f: Record<string, Uint8Array> = { ...files, 'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify(index)) };
      if (drop) delete f[drop];
      return memoryFolder('s', f);
    };
    let e = await formatError(loadHfModel(withIndex(idx, 'model-00002-of-00002.safetensors')));
    expect(e.key).toBe('model-00002-of-00002.safetensors');
    const inSecond = Object.keys(idx.weight_map).find((k) => idx.weight_map[k] === 'model-00002-of-00002.safetensors')!;
    const moved = { weight_map: { ...idx.weight_map, [inSecond]: 'model-00001-of-00002.safetensors' } };
    e = await formatError(loadHfModel(withIndex(moved)));
    expect(e.key).toBe(inSecond);
    expect(e.file).toMatch(/model-00001-of-00002/);
    e = await formatError(loadHfModel(withIndex({ weight_map: { ...idx.weight_map, 'model.norm.weight': '../x.safetensors' } })));
    expect(e.key).toBe('weight_map.model.norm.weight');
    e = await formatError(loadHfModel(withIndex({ metadata: {} })));
    expect(e.key).toBe('weight_map');
    await formatError(openShardedSafetensors('i.json', [], async () => null));
    // a tensor the model needs that no shard lists
    const { 'model.norm.weight': _dropped, ...rest } = idx.weight_map;
    e = await formatError(loadHfModel(withIndex({ weight_map: rest })));
    expect(e.key).toBe('model.norm.weight');
  });
});
