/**
 * Shared test helpers for the read-only reference fixtures in `../shared/fixtures`
 * (relative to the repository root). Never write there.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export { maxAbsDiff } from '../max-abs-diff';

/** Absolute path of the fixtures folder (`<repo>/../shared/fixtures`). */
export const fixturesDir = path.resolve(__dirname, '../../../shared/fixtures');

/** Path of a file or folder inside the fixtures. */
export function fixturePath(...parts: string[]): string {
  return path.join(fixturesDir, ...parts);
}

/** A float array as stored in the refs: base64 of little-endian float32, row-major. */
export interface EncodedArray {
  dtype: 'float32';
  shape: number[];
  b64: string;
}

export interface DecodedArray {
  shape: number[];
  data: Float32Array;
}

/** Decodes `{"dtype":"float32","shape":[...],"b64":"..."}` into a Float32Array (checked against the shape). */
export function decodeArray(obj: EncodedArray): DecodedArray {
  if (obj.dtype !== 'float32') throw new Error(`decodeArray: dtype ${String(obj.dtype)} is not float32`);
  const bytes = Buffer.from(obj.b64, 'base64');
  const n = obj.shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== n * 4) throw new Error(`decodeArray: ${bytes.byteLength} bytes for shape [${obj.shape}]`);
  const data = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) data[i] = dv.getFloat32(i * 4, true);
  return { shape: obj.shape.slice(), data };
}

/** Reads `refs/<name>.json` (pass e.g. "tiny-llama.shared" or "tiny-llama.shared.json"). */
export function loadRef<T = RefFile>(name: string): T {
  const file = name.endsWith('.json') ? name : `${name}.json`;
  return JSON.parse(readFileSync(path.join(fixturesDir, 'refs', file), 'utf8')) as T;
}

/** One input sequence of `refs/<model>.shared.json`. */
export interface RefCase {
  input_ids: number[];
  logits: EncodedArray;
  attentions?: EncodedArray;
  final_hidden?: EncodedArray;
  greedy_24?: number[];
  greedy_min_margin?: number;
  beam4_12?: number[][];
  beam4_12_scores?: number[];
}

export interface RefFile {
  model: string;
  split: string;
  cases: RefCase[];
}
