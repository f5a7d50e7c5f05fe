/** Binary helpers for the mutators: little-endian patches, byte-level noise, a safetensors builder. */
import { INTERESTING_NUMBERS, type Rng } from './rng';

export function u32le(b: Uint8Array, at: number, v: number): void {
  if (at < 0 || at + 4 > b.length) return;
  new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0, true);
}
export function i32le(b: Uint8Array, at: number, v: number): void {
  if (at < 0 || at + 4 > b.length) return;
  new DataView(b.buffer, b.byteOffset).setInt32(at, v | 0, true);
}
export function u64le(b: Uint8Array, at: number, v: number | bigint): void {
  if (at < 0 || at + 8 > b.length) return;
  new DataView(b.buffer, b.byteOffset).setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
}
export function f32le(b: Uint8Array, at: number, v: number): void {
  if (at < 0 || at + 4 > b.length) return;
  new DataView(b.buffer, b.byteOffset).setFloat32(at, v, true);
}

/** An interesting integer that fits the field's width (as a JS number or bigint). */
export function interestingInt(rng: Rng): number {
  const v = rng.pick(INTERESTING_NUMBERS);
  return Number.isInteger(v) ? v : rng.pick([0, -1, 2 ** 31 - 1]);
}

/** Unstructured noise: flips, interesting words at random offsets, truncation, junk appended, a chunk duplicated. */
export function byteNoise(input: Uint8Array, rng: Rng, headerBytes = input.length): Uint8Array {
  let b: Uint8Array = input.slice();
  const n = 1 + rng.int(3);
  for (let k = 0; k < n; k++) {
    const at = rng.int(Math.max(1, Math.min(headerBytes, b.length)));
    switch (rng.int(6)) {
      case 0:
        if (b.length) b[at] ^= 1 << rng.int(8);
        break;
      case 1:
        u32le(b, at, interestingInt(rng));
        break;
      case 2:
        u64le(b, at, rng.pick([0n, 1n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 64n - 1n]));
        break;
      case 3:
        b = b.slice(0, rng.int(b.length + 1));
        break;
      case 4: {
        const junk = new Uint8Array(rng.pick([1, 7, 64, 4096]));
        for (let i = 0; i < junk.length; i++) junk[i] = rng.int(256);
        const out = new Uint8Array(b.length + junk.length);
        out.set(b);
        out.set(junk, b.length);
        b = out;
        break;
      }
      default: {
        const len = Math.min(rng.pick([4, 16, 256]), b.length - at);
        if (len > 0) b.copyWithin(rng.int(Math.max(1, b.length - len)), at, at + len);
      }
    }
  }
  return b;
}

export interface StEntry {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Splits a safetensors file into its header JSON and tensors (the seed side; the file is well formed). */
export function parseSafetensors(file: Uint8Array): { header: Record<string, unknown>; entries: StEntry[] } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const entries: StEntry[] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    entries.push({ name, dtype: e.dtype, shape: e.shape, bytes: file.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]) });
  }
  return { header, entries };
}

/** Writes a safetensors file from a header text and a data section; the length field says `lengthDelta` more than the text. */
export function assembleSafetensors(headerText: string, data: Uint8Array, lengthDelta = 0): Uint8Array {
  const h = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  u64le(out, 0, BigInt(Math.max(0, h.length + lengthDelta)));
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** A well-formed safetensors file from entries (header padded to 8 bytes as the reference writer does). */
export function buildSafetensors(entries: StEntry[]): { header: Record<string, unknown>; data: Uint8Array } {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [at, at + e.bytes.length] };
    at += e.bytes.length;
  }
  const data = new Uint8Array(at);
  at = 0;
  for (const e of entries) {
    data.set(e.bytes, at);
    at += e.bytes.length;
  }
  return { header, data };
}
