/**
 * llama2.c checkpoint (`.bin`, the "legacy" export that run.c reads):
 *
 *   7 × i32 header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *   then f32 little-endian weights, in run.c `memory_map_weights` order:
 *     token_embedding_table [vocab, dim]
 *     rms_att_weight        [layers, dim]
 *     wq                    [layers, n_heads*head, dim]
 *     wk                    [layers, n_kv_heads*head, dim]
 *     wv                    [layers, n_kv_heads*head, dim]
 *     wo                    [layers, dim, n_heads*head]
 *     rms_ffn_weight        [layers, dim]
 *     w1                    [layers, hidden, dim]     (gate)
 *     w2                    [layers, dim, hidden]     (down)
 *     w3                    [layers, hidden, dim]     (up)
 *     rms_final_weight      [dim]
 *     freq_cis_real         [seq_len, head/2]         (unused, skipped)
 *     freq_cis_imag         [seq_len, head/2]         (unused, skipped)
 *     wcls                  [vocab, dim]              (only when vocab_size < 0: unshared classifier)
 *
 * run.c's matmul computes out[i] = Σ_j W[i*n + j] x[j], so every matrix is
 * already row-major [out, in]. This module parses and validates the header and
 * computes where each block lies; `llama2c-model.ts` turns it into a LoadedModel.
 */
import { FormatError, UnsupportedError } from '../errors';
import type { ByteSource } from './source';
import { readRange } from './gguf';
import { decodeF32 } from './quant';

export const LLAMA2C_HEADER_BYTES = 28;

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** Absolute vocabulary size. */
  vocabSize: number;
  seqLen: number;
  /** vocab_size > 0 in the file: the classifier is the token embedding. */
  sharedClassifier: boolean;
  headSize: number;
}

/** One contiguous weight block: `count` f32 starting at byte `offset`. */
export interface Llama2cBlock {
  offset: number;
  count: number;
}

export interface Llama2cLayout {
  embed: Llama2cBlock;
  rmsAtt: Llama2cBlock;
  wq: Llama2cBlock;
  wk: Llama2cBlock;
  wv: Llama2cBlock;
  wo: Llama2cBlock;
  rmsFfn: Llama2cBlock;
  w1: Llama2cBlock;
  w2: Llama2cBlock;
  w3: Llama2cBlock;
  rmsFinal: Llama2cBlock;
  /** freq_cis_real + freq_cis_imag, kept only so the size adds up. */
  freqCis: Llama2cBlock;
  /** Present only for an unshared classifier. */
  wcls?: Llama2cBlock;
  /** Exact file size the header implies. */
  totalBytes: number;
}

/** Upper bounds that keep every size computation exact and catch garbage headers. */
const LIMITS = {
  dim: 1 << 16,
  hiddenDim: 1 << 18,
  nLayers: 1 << 10,
  nHeads: 1 << 10,
  nKvHeads: 1 << 10,
  vocabSize: 1 << 22,
  seqLen: 1 << 20,
} as const;

const FIELDS = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'seqLen'] as const;
const C_NAMES: Record<(typeof FIELDS)[number], string> = {
  dim: 'dim',
  hiddenDim: 'hidden_dim',
  nLayers: 'n_layers',
  nHeads: 'n_heads',
  nKvHeads: 'n_kv_heads',
  vocabSize: 'vocab_size',
  seqLen: 'seq_len',
};

/** Parses and validates the 28-byte header (sizes and divisibility; not yet the file length). */
export function parseLlama2cHeader(bytes: Uint8Array, file: string): Llama2cHeader {
  if (bytes.byteLength < LLAMA2C_HEADER_BYTES) {
    throw new FormatError('file is too short for a llama2.c header', {
      file,
      offset: bytes.byteLength,
      expected: `${LLAMA2C_HEADER_BYTES} header bytes (7 × int32)`,
      found: `${bytes.byteLength} bytes`,
    });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, LLAMA2C_HEADER_BYTES);
  if (dv.getUint32(0, true) === 0x616b3432) {
    throw new UnsupportedError('this is a llama2.c export v1/v2 file (magic "ak42"); only the legacy run.c format is supported', {
      file,
      offset: 0,
      expected: 'legacy header (int32 dim first)',
      found: 'magic 0x616b3432',
    });
  }
  const raw = FIELDS.map((_, i) => dv.getInt32(i * 4, true));
  const v = Object.fromEntries(FIELDS.map((f, i) => [f, f === 'vocabSize' ? Math.abs(raw[i]) : raw[i]])) as Record<(typeof FIELDS)[number], number>;
  FIELDS.forEach((f, i) => {
    if (v[f] <= 0 || v[f] > LIMITS[f]) {
      throw new FormatError(`bad llama2.c header field ${C_NAMES[f]}`, {
        file,
        offset: i * 4,
        key: C_NAMES[f],
        expected: `${f === 'vocabSize' ? '|value|' : 'a value'} in 1..${LIMITS[f]}`,
        found: String(raw[i]),
      });
    }
  });
  const check = (ok: boolean, field: number, key: string, expected: string, found: string) => {
    if (!ok) throw new FormatError(`inconsistent llama2.c header (${key})`, { file, offset: field * 4, key, expected, found });
  };
  check(v.dim % v.nHeads === 0, 3, 'n_heads', `a divisor of dim ${v.dim}`, String(v.nHeads));
  check(v.nKvHeads <= v.nHeads && v.nHeads % v.nKvHeads === 0, 4, 'n_kv_heads', `a divisor of n_heads ${v.nHeads}`, String(v.nKvHeads));
  const headSize = v.dim / v.nHeads;
  check(headSize % 2 === 0, 3, 'n_heads', `dim / n_heads even (RoPE rotates pairs)`, `head size ${headSize}`);
  return { ...v, sharedClassifier: raw[5] > 0, headSize };
}

/** Byte offsets of every weight block, in run.c `memory_map_weights` order. */
export function llama2cLayout(h: Llama2cHeader): Llama2cLayout {
  let at = LLAMA2C_HEADER_BYTES;
  const take = (count: number): Llama2cBlock => {
    const b = { offset: at, count };
    at += count * 4;
    return b;
  };
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, headSize } = h;
  const layout: Omit<Llama2cLayout, 'totalBytes'> = {
    embed: take(vocabSize * dim),
    rmsAtt: take(nLayers * dim),
    wq: take(nLayers * dim * nHeads * headSize),
    wk: take(nLayers * dim * nKvHeads * headSize),
    wv: take(nLayers * dim * nKvHeads * headSize),
    wo: take(nLayers * nHeads * headSize * dim),
    rmsFfn: take(nLayers * dim),
    w1: take(nLayers * dim * hiddenDim),
    w2: take(nLayers * hiddenDim * dim),
    w3: take(nLayers * dim * hiddenDim),
    rmsFinal: take(dim),
    freqCis: take(seqLen * headSize), // real + imag, seq_len × head/2 each
  };
  const wcls = h.sharedClassifier ? undefined : take(vocabSize * dim);
  return { ...layout, ...(wcls ? { wcls } : {}), totalBytes: at };
}

/** Reads and validates the header, then checks the file is exactly as long as the header implies. */
export async function readLlama2cHeader(src: ByteSource): Promise<{ header: Llama2cHeader; layout: Llama2cLayout }> {
  const head = await readRange(src, 0, Math.min(src.size, LLAMA2C_HEADER_BYTES), 'llama2.c header');
  const header = parseLlama2cHeader(head, src.name);
  const layout = llama2cLayout(header);
  if (src.size !== layout.totalBytes) {
    const h = header;
    throw new FormatError(src.size < layout.totalBytes ? 'llama2.c checkpoint is truncated' : 'llama2.c checkpoint has trailing bytes', {
      file: src.name,
      offset: Math.min(src.size, layout.totalBytes),
      expected:
        `${layout.totalBytes} bytes for dim=${h.dim} hidden_dim=${h.hiddenDim} n_layers=${h.nLayers} n_heads=${h.nHeads} ` +
        `n_kv_heads=${h.nKvHeads} vocab_size=${h.sharedClassifier ? '' : '-'}${h.vocabSize} seq_len=${h.seqLen}`,
      found: `${src.size} bytes`,
    });
  }
  return { header, layout };
}

/** Reads `count` f32 at byte `offset` (little-endian) into a new array. */
export async function readF32Block(src: ByteSource, block: Llama2cBlock, what: string): Promise<Float32Array> {
  const bytes = await readRange(src, block.offset, block.count * 4, what);
  const out = new Float32Array(block.count);
  decodeF32(bytes, out);
  return out;
}
