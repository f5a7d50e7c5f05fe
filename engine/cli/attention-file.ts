/**
 * `forward --attentions --out <file>`: the attention probabilities [L, H, T, T] as float32 in a
 * binary file, written a layer at a time (no copy of the whole array, no JSON string):
 *   .npy          NumPy format 1.0: magic, header dict ('<f4', C order, the shape), the data
 *   .safetensors  one tensor "attentions" (F32), header padded to 8 bytes
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { UsageError } from './errors';

export type AttentionFileKind = 'npy' | 'safetensors';

/** The format from the file's ending; a UsageError for any other. */
export function attentionFileKind(file: string): AttentionFileKind {
  if (/\.npy$/i.test(file)) return 'npy';
  if (/\.safetensors$/i.test(file)) return 'safetensors';
  throw new UsageError(`--out ${file}: the attentions are written as .npy or .safetensors (name the file so)`);
}

/** The bytes before the data: the format's header for a float32 array of `shape`. */
export function attentionFileHeader(kind: AttentionFileKind, shape: number[]): Uint8Array {
  const dataBytes = 4 * shape.reduce((a, b) => a * b, 1);
  if (kind === 'npy') {
    // header dict, padded with spaces and a newline so the data starts at a multiple of 64
    const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
    const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
    const text = dict + ' '.repeat(total - 10 - dict.length - 1) + '\n';
    const out = new Uint8Array(total);
    out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
    new DataView(out.buffer).setUint16(8, text.length, true);
    out.set(new TextEncoder().encode(text), 10);
    return out;
  }
  let json = JSON.stringify({ attentions: { dtype: 'F32', shape, data_offsets: [0, dataBytes] } });
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  return out;
}

/**
 * Writes the layers ([L] × [H, T, T]) to `file` one after another behind the header; each
 * layer's array is dropped from `layers` once written. Returns the file's size in bytes.
 */
export async function writeAttentions(file: string, layers: (Float32Array | undefined)[], shape: number[]): Promise<number> {
  const header = attentionFileHeader(attentionFileKind(file), shape);
  const perLayer = shape.slice(1).reduce((a, b) => a * b, 1);
  const fd = openSync(file, 'w');
  let bytes = 0;
  try {
    const writeAll = (b: Uint8Array) => {
      for (let at = 0; at < b.length;) at += writeSync(fd, b, at, b.length - at);
      bytes += b.length;
    };
    writeAll(header);
    for (let l = 0; l < layers.length; l++) {
      const a = layers[l]!;
      if (a.length !== perLayer) throw new Error(`attention layer ${l} holds ${a.length} values, expected ${perLayer}`);
      writeAll(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      layers[l] = undefined;
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}
