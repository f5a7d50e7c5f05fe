/**
 * An encoding in flat arrays, for long inputs: ids and both offset kinds in Int32Arrays and the
 * tokens as references to the vocabulary's strings — about 28 bytes a token where the public
 * Encoding (one [start, end] array per offset) takes several times that.
 */
import type { EncodeOptions, Encoding, Tokenizer } from './types';

export interface FlatEncoding {
  ids: Int32Array;
  tokens: string[];
  /** [start, end) in code points, two entries per token (Encoding.offsets, flat). */
  offsets: Int32Array;
  /** [start, end) in UTF-16 units, two entries per token (Encoding.offsetsUtf16, flat). */
  offsetsUtf16: Int32Array;
}

/** An Int32Array that grows by doubling (what a long encoding pushes into). */
export class Int32Builder {
  private a = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.a.length) {
      const g = new Int32Array(this.a.length * 2);
      g.set(this.a);
      this.a = g;
    }
    this.a[this.length++] = v;
  }
  /** The values, trimmed to their length (a copy only when the buffer has slack). */
  finish(): Int32Array {
    return this.length === this.a.length ? this.a : this.a.slice(0, this.length);
  }
}

/** The flat form of an Encoding. */
export function flatten(e: Encoding): FlatEncoding {
  const n = e.ids.length;
  const offsets = new Int32Array(2 * n);
  const offsetsUtf16 = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    offsets[2 * i] = e.offsets[i][0];
    offsets[2 * i + 1] = e.offsets[i][1];
    offsetsUtf16[2 * i] = e.offsetsUtf16[i][0];
    offsetsUtf16[2 * i + 1] = e.offsetsUtf16[i][1];
  }
  return { ids: Int32Array.from(e.ids), tokens: e.tokens, offsets, offsetsUtf16 };
}

/** Pairs from flat offsets (the public Encoding's form). */
export function pairs(flat: ArrayLike<number>): [number, number][] {
  const out: [number, number][] = new Array(flat.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = [flat[2 * i], flat[2 * i + 1]];
  return out;
}

/** The tokenizer's flat encoding: its own compact path where it has one, else its Encoding flattened. */
export function encodeFlat(t: Tokenizer, text: string, opts?: EncodeOptions): FlatEncoding {
  return t.encodeFlat ? t.encodeFlat(text, opts) : flatten(t.encode(text, opts));
}
