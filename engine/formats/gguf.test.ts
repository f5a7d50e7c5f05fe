import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FormatError, UnsupportedError } from '../errors';
import { readGguf, readGgufTensorBytes, readGgufTensorF32 } from './gguf';
import { ggufBool, ggufFloat, ggufString, ggufUint } from './gguf-metadata';
import { encodeGguf, type GgufTypedValue, type GgufWriteSpec, type GgufWriteTensor } from './gguf-writer';
import { loadGgufModel } from './gguf-model';
import { fileSource } from './source-node';
import { GgmlType } from './quant';
import { memorySource, type ByteSource } from './source';

const GGUF_PATH = '../shared/fixtures/gguf/stories260K.gguf';
const REAL = new Uint8Array(readFileSync(GGUF_PATH));
const NAME = 'test.gguf';

/** A memory source that records every read. */
function recordingSource(bytes: Uint8Array, name = NAME): ByteSource & { reads: [number, number][] } {
  const inner = memorySource(bytes, name);
  const reads: [number, number][] = [];
  return {
    name,
    size: bytes.length,
    reads,
    read(offset, length) {
      reads.push([offset, length]);
      return inner.read(offset, length);
    },
  };
}

/** Resolves to the error a promise rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** Asserts a FormatError (or subclass) that says where and what. */
async function expectFormatError(p: Promise<unknown>, opts: { cls?: typeof FormatError; message?: RegExp; offset?: number; key?: string } = {}): Promise<FormatError> {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(opts.cls ?? FormatError);
  const fe = e as FormatError;
  expect(fe.file).toBe(NAME);
  expect(fe.offset !== undefined || fe.key !== undefined).toBe(true);
  expect(fe.expected).toBeDefined();
  if (opts.message) expect(fe.message).toMatch(opts.message);
  if (opts.offset !== undefined) expect(fe.offset).toBe(opts.offset);
  if (opts.key !== undefined) expect(fe.key).toBe(opts.key);
  return fe;
}

const read = (bytes: Uint8Array, opts = {}) => readGguf(memorySource(bytes, NAME), opts);

function patched(bytes: Uint8Array, edits: (dv: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edits(new DataView(copy.buffer));
  return copy;
}

const u32 = (value: number): GgufTypedValue => ({ type: 'u32', value });
const str = (value: string): GgufTypedValue => ({ type: 'string', value });

function f32Tensor(name: string, ne: number[], fill = 1): GgufWriteTensor {
  const n = ne.reduce((a, b) => a * b, 1);
  return { name, ne, type: GgmlType.F32, data: new Uint8Array(new Float32Array(n).fill(fill).buffer) };
}

const small = (over: Partial<GgufWriteSpec> = {}): Uint8Array =>
  encodeGguf({ metadata: [['general.architecture', str('llama')]], tensors: [f32Tensor('a', [4, 2]), f32Tensor('b', [8])], ...over });

// ---------------------------------------------------------------------------

describe('stories260K.gguf', () => {
  test('header, metadata and tensor infos', async () => {
    const src = await fileSource(GGUF_PATH);
    try {
      const f = await readGguf(src);
      expect(f.version).toBe(3);
      expect(f.alignment).toBe(32);
      expect(f.dataOffset).toBe(14176);
      expect(f.metadata.size).toBe(19);
      expect(f.tensors).toHaveLength(48);
      const tokens = f.metadata.get('tokenizer.ggml.tokens') as string[];
      expect(tokens).toHaveLength(512);
      expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
      expect(tokens.every((t) => typeof t === 'string')).toBe(true);
      const scores = f.metadata.get('tokenizer.ggml.scores') as number[];
      expect(scores).toHaveLength(512);
      expect(scores.every((s) => typeof s === 'number')).toBe(true);
      expect([...(f.metadata.get('tokenizer.ggml.token_type') as Int32Array).slice(0, 4)]).toEqual([2, 3, 3, 6]);
      expect(f.metadataTypes.get('tokenizer.ggml.tokens')).toBe('array<string>');
      expect(f.metadataTypes.get('tokenizer.ggml.scores')).toBe('array<f32>');
      expect(f.metadataTypes.get('tokenizer.ggml.token_type')).toBe('array<i32>');
      expect(ggufString(f, 'tokenizer.ggml.model')).toBe('llama');
      expect(ggufUint(f, 'tokenizer.ggml.bos_token_id')).toBe(1);
      expect(ggufUint(f, 'tokenizer.ggml.eos_token_id')).toBe(2);
      expect(ggufUint(f, 'llama.block_count')).toBe(5);
      expect(ggufFloat(f, 'llama.attention.layer_norm_rms_epsilon')).toBe(Math.fround(1e-5));
      const embd = f.tensorsByName.get('token_embd.weight')!;
      expect(embd).toMatchObject({ ne: [64, 512], shape: [512, 64], type: 0, typeName: 'F32', nElements: 32768, byteSize: 131072, relOffset: 0, offset: 14176 });
      expect(f.tensorsByName.get('blk.0.ffn_down.weight')).toMatchObject({ ne: [172, 64], shape: [64, 172] });
      const last = f.tensors[f.tensors.length - 1];
      expect(last.offset + last.byteSize).toBe(REAL.length);
      const norm = await readGgufTensorF32(f, f.tensorsByName.get('output_norm.weight')!);
      expect(norm).toHaveLength(64);
      expect(Array.from(norm).every(Number.isFinite)).toBe(true);
    } finally {
      await src.close?.();
    }
  });

  test('reads only the header region, never the tensor data', async () => {
    const src = recordingSource(REAL);
    const f = await readGguf(src);
    const end = Math.max(...src.reads.map(([o, l]) => o + l));
    expect(end).toBeLessThanOrEqual(64 * 1024);
    expect(end).toBeLessThan(REAL.length / 10);
    // and tensors are read by their own range
    src.reads.length = 0;
    await readGgufTensorBytes(f, f.tensorsByName.get('blk.2.attn_k.weight')!);
    expect(src.reads).toEqual([[f.tensorsByName.get('blk.2.attn_k.weight')!.offset, 64 * 32 * 4]]);
  });

  test('a header larger than the first read is fetched in growing chunks', async () => {
    const src = recordingSource(REAL);
    const f = await readGguf(src, { initialReadBytes: 100 });
    expect(f.tensors).toHaveLength(48);
    expect(src.reads.length).toBeGreaterThan(3);
    expect(Math.max(...src.reads.map(([o, l]) => o + l))).toBeLessThanOrEqual(2 * f.dataOffset);
  });

  test('the window moves forward: any first-read size gives the same header, and bytes are read about once', async () => {
    const whole = await readGguf(memorySource(REAL, NAME));
    for (const first of [16, 100, 4096]) {
      const src = recordingSource(REAL);
      const f = await readGguf(src, { initialReadBytes: first });
      expect(f.metadata).toEqual(whole.metadata);
      expect(f.tensors).toEqual(whole.tensors);
      const read = src.reads.reduce((s, [, l]) => s + l, 0);
      expect(read).toBeLessThan(2 * f.dataOffset + 4096);
    }
  });

  test('keys not kept are skipped undecoded (general.alignment always kept); the tensors are the same', async () => {
    const base = await readGguf(memorySource(REAL, NAME));
    const keep = (k: string) => k.startsWith('tokenizer.');
    const f = await readGguf(memorySource(REAL, NAME), { keep, initialReadBytes: 64 });
    expect([...f.metadata.keys()].every((k) => keep(k) || k === 'general.alignment')).toBe(true);
    expect(f.metadata.get('tokenizer.ggml.tokens')).toEqual(base.metadata.get('tokenizer.ggml.tokens'));
    expect(f.skippedKeys).toBe([...base.metadata.keys()].filter((k) => !keep(k) && k !== 'general.alignment').length);
    expect(f.tensors).toEqual(base.tensors);
    expect(f.dataOffset).toBe(base.dataOffset);
  });
});

describe('metadata values (writer round trip)', () => {
  test('every value type, nested arrays, 64-bit integers', async () => {
    const big = 2n ** 60n + 1n;
    const metadata: [string, GgufTypedValue][] = [
      ['t.u8', { type: 'u8', value: 255 }],
      ['t.i8', { type: 'i8', value: -128 }],
      ['t.u16', { type: 'u16', value: 65535 }],
      ['t.i16', { type: 'i16', value: -32768 }],
      ['t.u32', u32(4294967295)],
      ['t.i32', { type: 'i32', value: -2147483648 }],
      ['t.f32', { type: 'f32', value: 0.1 }],
      ['t.f64', { type: 'f64', value: 0.1 }],
      ['t.bool', { type: 'bool', value: true }],
      ['t.string', str('héllo ▁wörld 🦙')],
      ['t.u64.small', { type: 'u64', value: 2 ** 53 - 1 }],
      ['t.u64.big', { type: 'u64', value: big }],
      ['t.i64.neg', { type: 'i64', value: -(2n ** 62n) }],
      ['t.i64.small', { type: 'i64', value: -5 }],
      ['t.empty', { type: 'array', itemType: 'string', items: [] }],
      ['t.strings', { type: 'array', itemType: 'string', items: ['a', '', 'ß'].map(str) }],
      ['t.floats', { type: 'array', itemType: 'f32', items: [0.5, -1.25].map((value) => ({ type: 'f32', value })) }],
      ['t.bools', { type: 'array', itemType: 'bool', items: [true, false].map((value) => ({ type: 'bool', value })) }],
      [
        't.u64s',
        {
          type: 'array',
          itemType: 'u64',
          items: [
            { type: 'u64', value: 1 },
            { type: 'u64', value: big },
          ],
        },
      ],
      [
        't.nested',
        {
          type: 'array',
          itemType: 'array',
          items: [
            { type: 'array', itemType: 'i32', items: [1, 2, 3].map((value) => ({ type: 'i32', value })) },
            { type: 'array', itemType: 'i32', items: [] },
          ],
        },
      ],
    ];
    const f = await read(encodeGguf({ metadata, tensors: [], version: 2 }));
    expect(f.version).toBe(2);
    const m = Object.fromEntries(f.metadata);
    expect(m).toEqual({
      't.u8': 255,
      't.i8': -128,
      't.u16': 65535,
      't.i16': -32768,
      't.u32': 4294967295,
      't.i32': -2147483648,
      't.f32': Math.fround(0.1),
      't.f64': 0.1,
      't.bool': true,
      't.string': 'héllo ▁wörld 🦙',
      't.u64.small': 2 ** 53 - 1,
      't.u64.big': big,
      't.i64.neg': -(2n ** 62n),
      't.i64.small': -5,
      't.empty': [],
      't.strings': ['a', '', 'ß'],
      't.floats': Float32Array.from([0.5, -1.25]),
      't.bools': [true, false],
      't.u64s': [1, big],
      't.nested': [Int32Array.from([1, 2, 3]), new Int32Array(0)],
    });
    expect(f.metadataTypes.get('t.nested')).toBe('array<array<i32>>');
    expect(f.metadataTypes.get('t.u64.big')).toBe('u64');
    expect(f.tensors).toEqual([]);
  });

  test('typed accessors name the key on a type mismatch', async () => {
    const f = await read(
      encodeGguf({
        metadata: [
          ['a.s', str('x')],
          ['a.neg', { type: 'i32', value: -1 }],
          ['a.f', { type: 'f32', value: 1.5 }],
          ['a.b', { type: 'bool', value: false }],
        ],
        tensors: [],
      }),
    );
    expect(() => ggufUint(f, 'a.s')).toThrow(FormatError);
    expect(() => ggufUint(f, 'a.neg')).toThrow(/non-negative integer/);
    expect(() => ggufUint(f, 'a.f')).toThrow(/key "a.f"/);
    expect(() => ggufString(f, 'a.f')).toThrow(FormatError);
    expect(() => ggufBool(f, 'a.s')).toThrow(FormatError);
    expect(ggufBool(f, 'a.b')).toBe(false);
    expect(ggufUint(f, 'missing')).toBeUndefined();
  });

  test('custom alignment, several tensor types', async () => {
    const q8: GgufWriteTensor = { name: 'q8', ne: [64, 2], type: GgmlType.Q8_0, data: new Uint8Array(4 * 34) };
    const bytes = encodeGguf({ alignment: 64, metadata: [['general.alignment', u32(64)]], tensors: [f32Tensor('x', [3]), q8, f32Tensor('y', [5], 2)] });
    const f = await read(bytes);
    expect(f.alignment).toBe(64);
    expect(f.dataOffset % 64).toBe(0);
    expect(f.tensors.map((t) => [t.name, t.relOffset, t.byteSize])).toEqual([
      ['x', 0, 12],
      ['q8', 64, 136],
      ['y', 256, 20],
    ]);
    expect(Array.from(await readGgufTensorF32(f, f.tensors[2]))).toEqual([2, 2, 2, 2, 2]);
  });
});

// ---------------------------------------------------------------------------

describe('bad input: each a FormatError with file, offset and expectation', () => {
  test('wrong magic', async () => {
    const e = await expectFormatError(read(patched(REAL, (dv) => dv.setUint32(0, 0x67676a74, true))), { message: /not a GGUF/, offset: 0 });
    expect(e.found).toMatch(/tjgg/);
    await expectFormatError(read(new TextEncoder().encode('{"not": "gguf", "but": "json"}')), { message: /not a GGUF/ });
  });

  test('unsupported versions', async () => {
    await expectFormatError(read(patched(REAL, (dv) => dv.setUint32(4, 1, true))), { cls: UnsupportedError, message: /v1/, offset: 4 });
    await expectFormatError(read(patched(REAL, (dv) => dv.setUint32(4, 4, true))), { cls: UnsupportedError, message: /unsupported GGUF version/, offset: 4 });
    await expectFormatError(read(patched(REAL, (dv) => dv.setUint32(4, 3, false))), { cls: UnsupportedError, message: /big-endian/, offset: 4 });
  });

  test('truncation at every byte of the header region', async () => {
    const f = await read(REAL);
    for (let n = 0; n < f.dataOffset; n++) {
      const e = await rejection(read(REAL.subarray(0, n)));
      if (!(e instanceof FormatError) || e.file !== NAME || (e.offset === undefined && e.key === undefined) || e.expected === undefined) {
        throw new Error(`truncation at ${n}: ${String(e)}`);
      }
    }
  });

  test('truncation inside the tensor data (sampled): the header is fine, the data is not there', async () => {
    const f = await read(REAL);
    for (let n = f.dataOffset; n < REAL.length; n += 997) {
      const e = await expectFormatError(read(REAL.subarray(0, n)), { message: /outside the file/ });
      expect(e.key).toMatch(/weight$/);
    }
  });

  test('string and array lengths larger than the file', async () => {
    // first key: u64 length at 24 ("tokenizer.ggml.tokens"), array element count at 61
    let e = await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(24, BigInt(REAL.length), true))), { message: /length is larger than the rest/, offset: 24 });
    expect(e.found).toBe(`${REAL.length} bytes`);
    await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(24, 2n ** 64n - 1n, true))), { message: /impossibly large/, offset: 24 });
    e = await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(61, 2n ** 40n, true))), { message: /array length .* larger than the rest/, offset: 61 });
    expect(e.found).toBe(String(2 ** 40));
    // one token string (the 3rd, "</s>": length at 93) claiming more than is left
    await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(93, 10n ** 9n, true))), { message: /length is larger/, offset: 93 });
  });

  test('header counts flipped', async () => {
    await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(8, 2n ** 50n, true))), { message: /tensor count/, offset: 8 });
    await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(16, 2n ** 40n, true))), { message: /key\/value count/, offset: 16 });
    // one tensor too many: the parser runs into the data and finds garbage, or the end of the file
    await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(8, 49n, true))));
    // one key too many: the first tensor name is read as a key, then its n_dims as a value type
    await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(16, 20n, true))));
  });

  /** File offset of the u64 data-offset field of tensor `name` in `bytes`. */
  async function offsetFieldOf(bytes: Uint8Array, name: string): Promise<number> {
    const t = (await read(bytes)).tensorsByName.get(name)!;
    return t.infoOffset + 8 + new TextEncoder().encode(name).length + 4 + 8 * t.ne.length + 4;
  }

  test('tensor offsets outside the data, misaligned, overlapping', async () => {
    const at = await offsetFieldOf(REAL, 'blk.4.ffn_norm.weight');
    let e = await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(at, BigInt(REAL.length), true))), {
      message: /outside the file/,
      offset: at,
      key: 'blk.4.ffn_norm.weight',
    });
    expect(e.expected).toMatch(/within the 1185376-byte file/);
    await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(at, 2n ** 63n, true))), { message: /impossibly large/, offset: at });
    e = await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(at, dv.getBigUint64(at, true) + 4n, true))), { message: /misaligned/, offset: at });
    expect(e.expected).toMatch(/multiple of 32/);
    const at2 = await offsetFieldOf(REAL, 'output_norm.weight');
    await expectFormatError(read(patched(REAL, (dv) => dv.setBigUint64(at2, 0n, true))), { message: /overlaps/, key: 'output_norm.weight' });
  });

  test('bad tensor infos: rank, unknown type, block multiple, element overflow, duplicates', async () => {
    const t = (over: Partial<GgufWriteTensor>): Uint8Array => small({ tensors: [{ ...f32Tensor('a', [4, 2]), ...over }] });
    await expectFormatError(read(t({ ne: [] })), { message: /rank/, key: 'a' });
    await expectFormatError(read(t({ ne: [1, 1, 1, 1, 2] })), { message: /rank/, key: 'a' });
    let e = await expectFormatError(read(t({ type: 99 })), { cls: UnsupportedError, key: 'a' });
    expect(e.message).toMatch(/tensor "a" has ggml type type99 \(99\)/);
    await expectFormatError(read(t({ type: GgmlType.Q8_0, ne: [33, 1] })), { message: /whole number of blocks/, key: 'a' });
    await expectFormatError(read(t({ ne: [2 ** 40, 2 ** 40] })), { message: /too many elements/, key: 'a' });
    await expectFormatError(read(small({ tensors: [f32Tensor('a', [2]), f32Tensor('a', [2])] })), { message: /duplicate tensor/, key: 'a' });
    // a known but undecodable type parses, and is refused when dequantised, naming tensor and type
    const f = await read(t({ type: GgmlType.Q5_K, ne: [256], data: new Uint8Array(176) }));
    e = await expectFormatError(readGgufTensorF32(f, f.tensors[0]), { cls: UnsupportedError, key: 'a' });
    expect(e.found).toBe('Q5_K (13)');
  });

  test('bad metadata: alignment, value types, booleans, duplicates, deep nesting', async () => {
    const m = (metadata: [string, GgufTypedValue][]) => read(small({ metadata }));
    for (const v of [u32(0), u32(24), str('32'), { type: 'u64', value: 32 } as GgufTypedValue]) {
      await expectFormatError(m([['general.alignment', v]]), { message: /alignment/, key: 'general.alignment' });
    }
    await expectFormatError(
      m([
        ['x', str('1')],
        ['x', str('2')],
      ]),
      { message: /duplicate metadata key/, key: 'x' },
    );
    // value type 13 and an array element type 42
    const bad = encodeGguf({ metadata: [['k', u32(7)]], tensors: [] });
    await expectFormatError(read(patched(bad, (dv) => dv.setUint32(24 + 8 + 1, 13, true))), { message: /unknown metadata value type/, key: 'k', offset: 33 });
    const arr = encodeGguf({ metadata: [['k', { type: 'array', itemType: 'u8', items: [] }]], tensors: [] });
    await expectFormatError(read(patched(arr, (dv) => dv.setUint32(37, 42, true))), { message: /array element type/, key: 'k', offset: 37 });
    const bool = encodeGguf({ metadata: [['k', { type: 'bool', value: true }]], tensors: [] });
    await expectFormatError(read(patched(bool, (dv) => dv.setUint8(37, 2))), { message: /boolean/, key: 'k', offset: 37 });
    let deep: GgufTypedValue = { type: 'array', itemType: 'u8', items: [] };
    for (let i = 0; i < 9; i++) deep = { type: 'array', itemType: 'array', items: [deep] };
    await expectFormatError(m([['deep', deep]]), { message: /nested too deeply/, key: 'deep' });
  });

  test('a metadata region beyond the configured limit is refused before it is read', async () => {
    const src = recordingSource(REAL);
    await expectFormatError(readGguf(src, { maxHeaderBytes: 4096, initialReadBytes: 1024 }), { message: /larger than this reader allows/ });
    expect(Math.max(...src.reads.map(([o, l]) => o + l))).toBeLessThanOrEqual(4096);
  });
});

// ---------------------------------------------------------------------------

/** Applies random byte flips to a copy. */
function mutate(bytes: Uint8Array, cut: number, flips: [number, number][]): Uint8Array {
  const out = bytes.slice(0, cut);
  for (const [pos, xor] of flips) if (pos < out.length) out[pos] ^= xor || 1;
  return out;
}

describe('fuzz: truncations and byte flips of the real file', () => {
  const headerEnd = 14176;
  const flips = fc.array(fc.tuple(fc.oneof(fc.nat(headerEnd + 64), fc.nat(REAL.length - 1)), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 });

  test('readGguf resolves or rejects with a located FormatError, reading only inside the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(REAL.length), fc.nat(REAL.length)), flips, async (cut, fl) => {
        const src = recordingSource(mutate(REAL, cut, fl));
        try {
          const f = await readGguf(src);
          for (const t of f.tensors) expect(t.offset + t.byteSize).toBeLessThanOrEqual(src.size);
        } catch (e) {
          expect(e).toBeInstanceOf(FormatError);
          const fe = e as FormatError;
          expect(fe.file).toBe(NAME);
          expect(fe.offset !== undefined || fe.key !== undefined).toBe(true);
        }
        for (const [o, l] of src.reads) expect(o + l).toBeLessThanOrEqual(src.size);
        expect(src.reads.reduce((s, [, l]) => s + l, 0)).toBeLessThanOrEqual(Math.max(64 * 1024, 2 * src.size));
      }),
      { numRuns: 400 },
    );
  });

  test('loadGgufModel resolves or rejects with a FormatError', async () => {
    const headerFlips = fc.array(fc.tuple(fc.nat(headerEnd + 64), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(REAL.length), fc.constant(REAL.length), fc.nat(REAL.length)), fc.oneof(flips, headerFlips), async (cut, fl) => {
        try {
          const m = await loadGgufModel(memorySource(mutate(REAL, cut, fl), NAME));
          expect(m.weights.size).toBeGreaterThan(0);
        } catch (e) {
          expect(e).toBeInstanceOf(FormatError);
          expect((e as FormatError).file).toBe(NAME);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('large numeric metadata arrays', () => {
  test('a 64 MiB u8 array is read as one Uint8Array (not 67 million JS numbers)', async () => {
    const n = 64 * 1024 * 1024;
    const key = new TextEncoder().encode('junk.bytes');
    const head = new Uint8Array(4 + 4 + 8 + 8 + 8 + key.length + 4 + 4 + 8);
    const dv = new DataView(head.buffer);
    head.set(new TextEncoder().encode('GGUF'), 0);
    let o = 4;
    dv.setUint32(o, 3, true); // version
    dv.setBigUint64((o += 4), 0n, true); // tensors
    dv.setBigUint64((o += 8), 1n, true); // metadata entries
    dv.setBigUint64((o += 8), BigInt(key.length), true);
    head.set(key, (o += 8));
    dv.setUint32((o += key.length), 9, true); // array
    dv.setUint32((o += 4), 0, true); // of u8
    dv.setBigUint64((o += 4), BigInt(n), true);
    const bytes = new Uint8Array(head.length + n + 32);
    bytes.set(head);
    bytes[head.length + 5] = 7;
    const f = await readGguf(memorySource(bytes, 'junk.gguf'));
    const v = f.metadata.get('junk.bytes');
    expect(v).toBeInstanceOf(Uint8Array);
    expect((v as Uint8Array).length).toBe(n);
    expect((v as Uint8Array)[5]).toBe(7);
    expect(f.metadataTypes.get('junk.bytes')).toBe('array<u8>');
  });
});
