/**
 * A GGUF with 241 MB of junk metadata (many string key/values, or big string arrays) before
 * stories260K's own: `inspect` ends within 5 s (of CPU time: the machine may be busy) and 1 GB
 * (a child process, measured).
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { fixturePath } from '../../tests/unit/fixtures';
import { removeCliBundle, runCliChild } from './child-cli.test-util';

const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-ggufjunk-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  removeCliBundle();
});

const JUNK_BYTES = 241_000_000;
const STRING = 8; // gguf_type string
const ARRAY = 9;

/**
 * stories260K.gguf with `kvs` junk key/values written before its own metadata. The junk is a
 * multiple of 32 bytes long, so the data section keeps its alignment and the file stays valid.
 */
function withJunk(name: string, kvs: { count: number; write: (buf: Buffer, at: number, i: number) => number }): { file: string; bytes: number } {
  const orig = readFileSync(fixturePath('gguf/stories260K.gguf'));
  const file = path.join(tmp, name);
  const fd = openSync(file, 'w');
  try {
    const head = Buffer.from(orig.subarray(0, 24));
    head.writeBigUInt64LE(orig.readBigUInt64LE(16) + BigInt(kvs.count), 16);
    writeSync(fd, head);
    const chunk = Buffer.alloc(16 << 20);
    let used = 0;
    let total = 0;
    for (let i = 0; i < kvs.count; i++) {
      if (used > chunk.length - (1 << 20)) {
        writeSync(fd, chunk, 0, used);
        total += used;
        used = 0;
      }
      used = kvs.write(chunk, used, i);
    }
    writeSync(fd, chunk, 0, used);
    total += used;
    if (total % 32 !== 0) throw new Error(`junk of ${total} bytes is not a multiple of 32`);
    writeSync(fd, orig.subarray(24));
    return { file, bytes: total };
  } finally {
    closeSync(fd);
  }
}

/** Writes a GGUF string (u64 length + bytes) of `len` bytes of `fill`. */
function str(buf: Buffer, at: number, s: string | { len: number; fill: number }): number {
  if (typeof s === 'string') {
    buf.writeBigUInt64LE(BigInt(Buffer.byteLength(s)), at);
    return at + 8 + buf.write(s, at + 8);
  }
  buf.writeBigUInt64LE(BigInt(s.len), at);
  buf.fill(s.fill, at + 8, at + 8 + s.len);
  return at + 8 + s.len;
}

describe('GGUF with 241 MB of junk metadata', () => {
  test('a million string key/values: inspect within 5 s and 1 GB', async () => {
    // each: key "junk.NNNNNNN" (8 + 12) + type (4) + value (8 + 208) = 240 bytes
    const count = Math.floor(JUNK_BYTES / 240 / 2) * 2; // even: 240 × even is a multiple of 32
    const { file, bytes } = withJunk('kvs.gguf', {
      count,
      write(buf, at, i) {
        at = str(buf, at, `junk.${String(i).padStart(7, '0')}`);
        buf.writeUInt32LE(STRING, at);
        return str(buf, at + 4, { len: 208, fill: 0x61 + (i % 26) });
      },
    });
    expect(bytes).toBeGreaterThan(240e6);
    const r = await runCliChild(['inspect', file, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).parameters).toBeGreaterThan(200_000);
    expect(r.cpuMs).toBeLessThan(5000);
    expect(r.peakRss).toBeLessThan(2 ** 30);
  });

  test('a million junk keys under tokenizer.* (kept keys): a typed error naming the file and offset, within 5 s and 1 GB', async () => {
    const count = Math.floor(JUNK_BYTES / 240 / 2) * 2;
    const { file } = withJunk('tok-kvs.gguf', {
      count,
      write(buf, at, i) {
        at = str(buf, at, `tokenizer.${String(i).padStart(7, '0')}`); // 8 + 17
        buf.writeUInt32LE(STRING, at);
        return str(buf, at + 4, { len: 203, fill: 0x61 + (i % 26) });
      },
    });
    const r = await runCliChild(['inspect', file, '--json']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/tok-kvs\.gguf \(offset \d+, key "tokenizer\.0065536"\): too many metadata keys — expected at most 65,536/);
    expect(r.cpuMs).toBeLessThan(5000);
    expect(r.peakRss).toBeLessThan(2 ** 30);
  });

  test('big string arrays: inspect within 5 s and 1 GB', async () => {
    // 8 arrays of 250,000 strings of 112 bytes (8 + 112 each): 240 MB
    const { file, bytes } = stringArrays(250_000);
    expect(bytes).toBeGreaterThan(240e6);
    const r = await runCliChild(['inspect', file, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(r.cpuMs).toBeLessThan(5000);
    expect(r.peakRss).toBeLessThan(2 ** 30);
  });
});

/** stories260K.gguf with 8 junk string arrays of `perArray` strings of 112 bytes before its own metadata. */
function stringArrays(perArray: number): { file: string; bytes: number } {
  const orig = readFileSync(fixturePath('gguf/stories260K.gguf'));
  const file = path.join(tmp, 'arrays.gguf');
  const fd = openSync(file, 'w');
  try {
    const head = Buffer.from(orig.subarray(0, 24));
    head.writeBigUInt64LE(orig.readBigUInt64LE(16) + 8n, 16);
    writeSync(fd, head);
    const chunk = Buffer.alloc(16 << 20);
    let used = 0;
    let total = 0;
    const flush = () => {
      writeSync(fd, chunk, 0, used);
      total += used;
      used = 0;
    };
    for (let a = 0; a < 8; a++) {
      used = str(chunk, used, `junk.array.${a}`); // 8 + 12
      chunk.writeUInt32LE(ARRAY, used);
      chunk.writeUInt32LE(STRING, used + 4);
      chunk.writeBigUInt64LE(BigInt(perArray), used + 8);
      used += 16; // 36 per array header
      for (let i = 0; i < perArray; i++) {
        if (used > chunk.length - 4096) flush();
        used = str(chunk, used, { len: 112, fill: 0x41 + ((a + i) % 26) });
      }
    }
    // 8 × 36 = 288 = 9 × 32; 8 × 250,000 × 120 is a multiple of 32
    flush();
    if (total % 32 !== 0) throw new Error(`junk of ${total} bytes is not a multiple of 32`);
    writeSync(fd, orig.subarray(24));
    return { file, bytes: total };
  } finally {
    closeSync(fd);
  }
}
