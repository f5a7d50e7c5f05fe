/**
 * GGUF → LoadedModel for the llama, qwen2 and qwen3 architectures.
 *
 * Tensor names (llama.cpp gguf-py constants) map onto the canonical HF names
 * of model/types.ts; GGML dims (ne[0] innermost) are reversed into row-major
 * shapes, which makes every linear weight [out, in] as HF stores it. All
 * tensors are dequantised to f32 (quant.ts).
 *
 * RoPE layout. llama.cpp rotates adjacent pairs (2i, 2i+1) for `llama`
 * (LLAMA_ROPE_TYPE_NORM) and halves (i, i + d/2) for `qwen2`/`qwen3`
 * (NEOX). To make HF Llama checkpoints (trained and stored in the 'half'
 * layout) work with the adjacent-pair rotation, convert_hf_to_gguf.py
 * `LlamaModel.permute` reorders the rows of q_proj/k_proj inside each head
 * from (i, i + d/2) to (2i, 2i+1). Qwen2/Qwen3 converters do not permute.
 * llama2.c checkpoints are natively adjacent-pair ('interleaved': model.py
 * and run.c rotate (2i, 2i+1)) and llama.cpp's llama2.c converter copies them
 * unpermuted. So a GGUF llama file is, as stored, 'interleaved'.
 *
 * Decision: keep tensors as stored and declare `rope.style` accordingly
 * ('interleaved' for llama, 'half' for qwen2/qwen3). Nothing is moved, a
 * GGUF and a llama2.c export of the same model load bit-identically, and a
 * later GPU path can keep quantised blocks as they are. A forward pass that
 * only implements 'half' can ask for `{ ropeLayout: 'half' }`, which applies
 * the inverse of `LlamaModel.permute` to Q/K rows (and biases) instead.
 *
 * Evidence (gguf-model.test.ts, model/stories260k.test.ts): stories260K.gguf
 * and the llama2.c stories260K.bin load bit-identically; a run.c port with
 * adjacent-pair RoPE on the GGUF tensors reproduces run.c's greedy ids while
 * 'half' RoPE on the same tensors does not; with `ropeLayout: 'half'` the
 * engine's Model gives the same ids and logits within 1e-5.
 *
 * A GGUF `output.weight` byte-identical to `token_embd.weight` (llama.cpp's
 * llama2.c converter writes the shared classifier twice) is read as a tied head.
 */
import { FormatError, UnsupportedError } from '../errors';
import { fromWhole, materialise, rowCount, rowLength } from '../model/lazy';
import type { Architecture, LazyModel, LazyTensor, LazyWeightMap, LoadedModel, ModelConfig, RopeScaling, Tensor } from '../model/types';
import type { ByteSource } from './source';
import { readGguf, readGgufTensorBytes, readGgufTensorF32, readRange, type GgufFile, type GgufTensorInfo, type ReadGgufOptions } from './gguf';
import { DEQUANTISABLE, dequantize, GgmlType, ggmlByteSize, ggmlTypeSize } from './quant';
import { ggufFloat, ggufPositiveFloat, ggufString, ggufUint } from './gguf-metadata';

const SUPPORTED: Record<string, { arch: Architecture; ropeStyle: 'half' | 'interleaved' }> = {
  llama: { arch: 'llama', ropeStyle: 'interleaved' },
  qwen2: { arch: 'qwen2', ropeStyle: 'half' },
  qwen3: { arch: 'qwen3', ropeStyle: 'half' },
};

/** The metadata keys the engine reads: general.*, tokenizer.* and those of the architectures it runs. Others are skipped undecoded. */
export function ggufKeyForEngine(key: string): boolean {
  const dot = key.indexOf('.');
  const ns = dot < 0 ? key : key.slice(0, dot);
  return ns === 'general' || ns === 'tokenizer' || Object.hasOwn(SUPPORTED, ns);
}

export interface LoadGgufOptions extends ReadGgufOptions {
  /**
   * 'as-stored' (default): keep Q/K rows as in the file and report the file's
   * RoPE style. 'half': un-permute 'interleaved' Q/K rows to the HF 'half'
   * layout and report style 'half'.
   */
  ropeLayout?: 'as-stored' | 'half';
}

function requireUint(file: GgufFile, key: string): number {
  const v = ggufUint(file, key);
  if (v === undefined) throw new FormatError('required metadata key is missing', { file: file.name, key, expected: 'a non-negative integer' });
  return v;
}

function positive(file: GgufFile, key: string, v: number): number {
  if (v <= 0) throw new FormatError('metadata value must be positive', { file: file.name, key, expected: '> 0', found: String(v) });
  return v;
}

/** The architecture entry for `general.architecture`, or UnsupportedError. */
export function ggufArchitecture(file: GgufFile): { name: string; arch: Architecture; ropeStyle: 'half' | 'interleaved' } {
  const name = ggufString(file, 'general.architecture');
  if (name === undefined) throw new FormatError('required metadata key is missing', { file: file.name, key: 'general.architecture', expected: 'a string' });
  const s = SUPPORTED[name];
  if (!s) {
    throw new UnsupportedError(`GGUF architecture "${name}" is not supported`, {
      file: file.name,
      key: 'general.architecture',
      expected: Object.keys(SUPPORTED).join(', '),
      found: name,
    });
  }
  return { name, ...s };
}

/**
 * Recognises llama.cpp's `rope_freqs` tensor (per-frequency divisors written
 * for Llama 3.1-style rope scaling) as HF `llama3` scaling by recomputing it
 * for the usual parameter sets; undefined when nothing matches.
 */
export function recogniseLlama3RopeFactors(factors: Float32Array, theta: number, headDim: number): RopeScaling | undefined {
  const maxFactor = factors.reduce((m, f) => Math.max(m, f), 1);
  // The published models' original lengths first, then every other power of two (small test models).
  const usual = [8192, 4096, 2048, 16384, 32768, 65536, 131072];
  const others = Array.from({ length: 16 }, (_, i) => 2 ** (i + 5)).filter((n) => !usual.includes(n));
  for (const originalMaxPositions of [...usual, ...others]) {
    for (const lowFreqFactor of [1, 2]) {
      for (const highFreqFactor of [4, 8, 2]) {
        if (highFreqFactor <= lowFreqFactor) continue;
        const lowWavelen = originalMaxPositions / lowFreqFactor;
        const highWavelen = originalMaxPositions / highFreqFactor;
        let ok = factors.length === headDim / 2;
        for (let i = 0; ok && i < factors.length; i++) {
          const freq = 1 / theta ** ((2 * i) / headDim);
          const wavelen = (2 * Math.PI) / freq;
          let f: number;
          if (wavelen < highWavelen) f = 1;
          else if (wavelen > lowWavelen) f = maxFactor;
          else {
            const smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            f = 1 / ((1 - smooth) / maxFactor + smooth);
          }
          ok = Math.abs(f - factors[i]) <= 1e-4 * Math.max(1, f);
        }
        if (ok) return { type: 'llama3', factor: maxFactor, lowFreqFactor, highFreqFactor, originalMaxPositions };
      }
    }
  }
  return undefined;
}

/** RoPE scaling from `<arch>.rope.scaling.*` / `<arch>.rope.scale_linear` (rope_freqs is handled by the loader). */
function ropeScaling(file: GgufFile, a: string): RopeScaling {
  const type = ggufString(file, `${a}.rope.scaling.type`);
  const factor = ggufPositiveFloat(file, `${a}.rope.scaling.factor`);
  if (type === undefined || type === 'none') {
    const linear = ggufPositiveFloat(file, `${a}.rope.scale_linear`);
    return linear !== undefined && linear !== 1 ? { type: 'linear', factor: linear } : { type: 'default' };
  }
  if (type === 'linear' && factor !== undefined) return { type: 'linear', factor };
  throw new UnsupportedError(`RoPE scaling "${type}" is not supported`, { file: file.name, key: `${a}.rope.scaling.type`, expected: 'none or linear', found: type });
}

/** Stop tokens: EOS plus llama.cpp's end-of-turn/end-of-message ids, keeping only ids inside the vocabulary. */
function stopTokens(file: GgufFile, vocabSize: number): number[] {
  const ids: number[] = [];
  for (const key of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id']) {
    const id = ggufUint(file, key);
    if (id !== undefined && id < vocabSize && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * ModelConfig from `<arch>.*` metadata and the tensor list (which decides
 * vocabulary size, tied head, biases and q/k norms).
 */
export function ggufModelConfig(file: GgufFile): ModelConfig {
  const { name: a, arch, ropeStyle } = ggufArchitecture(file);
  const tensor = (n: string) => file.tensorsByName.get(n);
  const hiddenSize = positive(file, `${a}.embedding_length`, requireUint(file, `${a}.embedding_length`));
  const numLayers = positive(file, `${a}.block_count`, requireUint(file, `${a}.block_count`));
  if (numLayers * 9 > file.tensors.length) {
    // every layer has at least 9 tensors: refuse before building per-layer lists
    throw new FormatError('block_count is larger than the tensors in the file allow', {
      file: file.name,
      key: `${a}.block_count`,
      expected: `at most ${Math.floor(file.tensors.length / 9)} (${file.tensors.length} tensors)`,
      found: String(numLayers),
    });
  }
  const numHeads = positive(file, `${a}.attention.head_count`, requireUint(file, `${a}.attention.head_count`));
  const numKvHeads = positive(file, `${a}.attention.head_count_kv`, ggufUint(file, `${a}.attention.head_count_kv`) ?? numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new FormatError('head_count is not a multiple of head_count_kv', {
      file: file.name,
      key: `${a}.attention.head_count_kv`,
      expected: `a divisor of ${numHeads}`,
      found: String(numKvHeads),
    });
  }
  const keyLength = ggufUint(file, `${a}.attention.key_length`);
  if (keyLength === undefined && hiddenSize % numHeads !== 0) {
    throw new FormatError('embedding_length is not a multiple of head_count', {
      file: file.name,
      key: `${a}.attention.head_count`,
      expected: `a divisor of ${hiddenSize}`,
      found: String(numHeads),
    });
  }
  const headDim = positive(file, `${a}.attention.key_length`, keyLength ?? hiddenSize / numHeads);
  if (headDim % 2 !== 0) {
    throw new FormatError('head size must be even for rotary embeddings', {
      file: file.name,
      key: `${a}.attention.head_count`,
      expected: 'an even head size',
      found: String(headDim),
    });
  }
  const valueLength = ggufUint(file, `${a}.attention.value_length`);
  if (valueLength !== undefined && valueLength !== headDim) {
    throw new UnsupportedError('key and value head sizes differ', { file: file.name, key: `${a}.attention.value_length`, expected: String(headDim), found: String(valueLength) });
  }
  const ropeDims = ggufUint(file, `${a}.rope.dimension_count`);
  if (ropeDims !== undefined && ropeDims !== headDim) {
    throw new UnsupportedError('partial rotary embeddings are not supported', {
      file: file.name,
      key: `${a}.rope.dimension_count`,
      expected: `${headDim} (the head size)`,
      found: String(ropeDims),
    });
  }
  const experts = ggufUint(file, `${a}.expert_count`);
  if (experts)
    throw new UnsupportedError('mixture-of-experts GGUF models are not supported yet', { file: file.name, key: `${a}.expert_count`, expected: '0', found: String(experts) });

  const embd = tensor('token_embd.weight');
  if (!embd) throw new FormatError('tensor is missing', { file: file.name, key: 'token_embd.weight', expected: 'a token embedding' });
  const vocabSize = embd.shape[0];
  const declaredVocab = ggufUint(file, `${a}.vocab_size`);
  if (declaredVocab !== undefined && declaredVocab !== vocabSize) {
    throw new FormatError('vocab_size disagrees with token_embd', { file: file.name, key: `${a}.vocab_size`, expected: String(vocabSize), found: String(declaredVocab) });
  }
  const eps = ggufFloat(file, `${a}.attention.layer_norm_rms_epsilon`);
  if (eps === undefined || !(eps > 0)) {
    throw new FormatError('RMSNorm epsilon missing or not positive', { file: file.name, key: `${a}.attention.layer_norm_rms_epsilon`, expected: 'an f32 > 0', found: String(eps) });
  }
  const slidingWindow = ggufUint(file, `${a}.attention.sliding_window`);
  const bos = ggufUint(file, 'tokenizer.ggml.bos_token_id');
  return {
    architecture: arch,
    vocabSize,
    hiddenSize,
    intermediateSize: positive(file, `${a}.feed_forward_length`, requireUint(file, `${a}.feed_forward_length`)),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    maxPositions: positive(file, `${a}.context_length`, requireUint(file, `${a}.context_length`)),
    norm: { kind: 'rms', eps },
    positions: 'rope',
    rope: { theta: ggufPositiveFloat(file, `${a}.rope.freq_base`) ?? 10000, scaling: ropeScaling(file, a), style: ropeStyle },
    mlp: 'gated',
    activation: 'silu',
    qkvBias: tensor('blk.0.attn_q.bias') !== undefined,
    oBias: tensor('blk.0.attn_output.bias') !== undefined,
    mlpBias: false,
    qkNorm: tensor('blk.0.attn_q_norm.weight') !== undefined,
    ...(slidingWindow ? { slidingWindow } : {}),
    tieEmbeddings: tensor('output.weight') === undefined,
    ...(bos !== undefined && bos < vocabSize ? { bosTokenId: bos } : {}),
    eosTokenIds: stopTokens(file, vocabSize),
  };
}

/** One expected tensor: GGUF name, canonical name, row-major shape. */
interface Expected {
  gguf: string;
  canonical: string;
  shape: number[];
}

/** Every tensor the config implies, with its canonical name and shape. */
export function expectedGgufTensors(c: ModelConfig): Expected[] {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const out: Expected[] = [
    { gguf: 'token_embd.weight', canonical: 'model.embed_tokens.weight', shape: [c.vocabSize, D] },
    { gguf: 'output_norm.weight', canonical: 'model.norm.weight', shape: [D] },
  ];
  if (!c.tieEmbeddings) out.push({ gguf: 'output.weight', canonical: 'lm_head.weight', shape: [c.vocabSize, D] });
  for (let i = 0; i < c.numLayers; i++) {
    const b = `blk.${i}`;
    const p = `model.layers.${i}`;
    const add = (g: string, n: string, shape: number[]) => out.push({ gguf: `${b}.${g}`, canonical: `${p}.${n}`, shape });
    add('attn_norm.weight', 'input_layernorm.weight', [D]);
    add('attn_q.weight', 'self_attn.q_proj.weight', [q, D]);
    add('attn_k.weight', 'self_attn.k_proj.weight', [kv, D]);
    add('attn_v.weight', 'self_attn.v_proj.weight', [kv, D]);
    add('attn_output.weight', 'self_attn.o_proj.weight', [D, q]);
    if (c.qkvBias) {
      add('attn_q.bias', 'self_attn.q_proj.bias', [q]);
      add('attn_k.bias', 'self_attn.k_proj.bias', [kv]);
      add('attn_v.bias', 'self_attn.v_proj.bias', [kv]);
    }
    if (c.oBias) add('attn_output.bias', 'self_attn.o_proj.bias', [D]);
    if (c.qkNorm) {
      add('attn_q_norm.weight', 'self_attn.q_norm.weight', [c.headDim]);
      add('attn_k_norm.weight', 'self_attn.k_norm.weight', [c.headDim]);
    }
    add('ffn_norm.weight', 'post_attention_layernorm.weight', [D]);
    add('ffn_gate.weight', 'mlp.gate_proj.weight', [F, D]);
    add('ffn_up.weight', 'mlp.up_proj.weight', [F, D]);
    add('ffn_down.weight', 'mlp.down_proj.weight', [D, F]);
  }
  return out;
}

function sameShape(found: number[], expected: number[]): boolean {
  let f = found;
  while (f.length > expected.length && f[0] === 1) f = f.slice(1); // tolerate leading unit dims
  return f.length === expected.length && f.every((n, i) => n === expected[i]);
}

/**
 * Row permutation inside each head of a Q/K weight [heads*hd, in] or bias [heads*hd].
 * 'toInterleaved' is llama.cpp's `LlamaModel.permute`: row (h, s, i) of the
 * 'half' layout (s ∈ {0,1} the half, i < hd/2) moves to (h, i, s), so the
 * pair (i, i + hd/2) becomes (2i, 2i+1). 'toHalf' is its inverse.
 */
export function permuteRopeRows(t: Tensor, nHeads: number, direction: 'toInterleaved' | 'toHalf'): Tensor {
  const rows = t.shape[0];
  const cols = t.shape.length > 1 ? t.data.length / rows : 1;
  const hd = rows / nHeads;
  if (!Number.isInteger(hd) || hd % 2 !== 0) throw new RangeError(`cannot permute ${rows} rows into ${nHeads} heads of even size`);
  const half = hd / 2;
  const out = new Float32Array(t.data.length);
  for (let h = 0; h < nHeads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < half; i++) {
        const halfRow = h * hd + s * half + i;
        const pairRow = h * hd + 2 * i + s;
        const [from, to] = direction === 'toInterleaved' ? [halfRow, pairRow] : [pairRow, halfRow];
        out.set(t.data.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return { shape: [...t.shape], data: out };
}

/**
 * True when `output.weight` holds exactly the bytes of `token_embd.weight` (a tied head written twice).
 * `maxBytes`: compare only heads up to this size (the header check's bound; larger ones count as untied).
 */
export async function outputDuplicatesEmbedding(file: GgufFile, maxBytes = Infinity): Promise<boolean> {
  const out = file.tensorsByName.get('output.weight');
  const emb = file.tensorsByName.get('token_embd.weight');
  if (!out || !emb || out.type !== emb.type || out.byteSize !== emb.byteSize || !sameShape(out.shape, emb.shape)) return false;
  if (out.byteSize > maxBytes) return false;
  const [a, b] = await Promise.all([readGgufTensorBytes(file, out), readGgufTensorBytes(file, emb)]);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Tensors consumed by the config rather than loaded as weights. */
export const GGUF_CONFIG_TENSORS: ReadonlySet<string> = new Set(['rope_freqs.weight']);

/**
 * The config the loader runs: the metadata's (ggufModelConfig), with Llama-3 RoPE scaling read
 * from rope_freqs and a head that duplicates the embedding taken as tied (compared only when
 * it is at most `maxDuplicateCheckBytes`, so a header check stays cheap on large files).
 */
export async function ggufModelConfigFromFile(file: GgufFile, maxDuplicateCheckBytes = Infinity): Promise<ModelConfig> {
  const config = ggufModelConfig(file);
  const ropeFreqs = file.tensorsByName.get('rope_freqs.weight');
  if (ropeFreqs && config.rope) {
    const factors = await readGgufTensorF32(file, ropeFreqs);
    const scaling = recogniseLlama3RopeFactors(factors, config.rope.theta, config.headDim);
    if (!scaling) {
      throw new UnsupportedError('per-frequency RoPE factors (rope_freqs) that are not Llama-3 scaling are not supported', {
        file: file.name,
        offset: ropeFreqs.infoOffset,
        key: 'rope_freqs.weight',
        expected: 'factors matching HF llama3 rope scaling',
        found: `[${Array.from(factors.slice(0, 4), (f) => f.toPrecision(4)).join(', ')}, …]`,
      });
    }
    config.rope.scaling = scaling;
  }
  if (!config.tieEmbeddings && (await outputDuplicatesEmbedding(file, maxDuplicateCheckBytes))) config.tieEmbeddings = true;

  return config;
}

/**
 * Opens a GGUF model without reading its weights: config from metadata, every expected tensor
 * checked (present, shaped as the config says, a type this engine dequantises) and left in the
 * file as a LazyTensor under its canonical name, read by row ranges (F16 also as its raw half
 * bits). A missing, misshapen or unknown tensor is a FormatError/UnsupportedError naming it.
 * `src` stays open: the caller closes it after the last read (LazyModel.close does nothing here).
 */
export async function openGgufModel(src: ByteSource, opts: LoadGgufOptions = {}): Promise<LazyModel> {
  const file = await readGguf(src, { keep: ggufKeyForEngine, ...opts });
  const config = await ggufModelConfigFromFile(file);

  const expected = expectedGgufTensors(config);
  const known = new Set([...expected.map((e) => e.gguf), ...GGUF_CONFIG_TENSORS, 'output.weight']);
  const unknown = file.tensors.filter((t) => !known.has(t.name));
  if (unknown.length) {
    throw new UnsupportedError(
      `GGUF has tensors this engine would ignore: ${unknown
        .slice(0, 5)
        .map((t) => t.name)
        .join(', ')}${unknown.length > 5 ? ', …' : ''}`,
      {
        file: file.name,
        offset: unknown[0].infoOffset,
        key: unknown[0].name,
        expected: `only the tensors of a ${config.architecture} model`,
        found: `${unknown.length} other tensor(s)`,
      },
    );
  }

  const unpermute = opts.ropeLayout === 'half' && config.rope?.style === 'interleaved';
  const lazy: LazyWeightMap = new Map();
  const dtypes = new Set<string>();
  let totalBytes = 0;
  for (const e of expected) {
    const info = file.tensorsByName.get(e.gguf);
    if (!info) throw new FormatError('tensor is missing', { file: file.name, key: e.gguf, expected: `a tensor of shape [${e.shape.join(', ')}]` });
    if (!sameShape(info.shape, e.shape)) {
      throw new FormatError('tensor has the wrong shape', {
        file: file.name,
        offset: info.infoOffset,
        key: e.gguf,
        expected: `[${e.shape.join(', ')}] (row-major)`,
        found: `[${info.shape.join(', ')}] (ne [${info.ne.join(', ')}])`,
      });
    }
    let t = ggufLazyTensor(file, info, e.shape);
    const heads = /\.self_attn\.q_proj\./.test(e.canonical) ? config.numHeads : /\.self_attn\.k_proj\./.test(e.canonical) ? config.numKvHeads : 0;
    if (unpermute && heads) {
      const stored = t;
      t = fromWhole(e.shape, info.typeName, info.byteSize, async () => permuteRopeRows({ shape: e.shape, data: await stored.rowsF32(0, rowCount(e.shape)) }, heads, 'toHalf').data);
    }
    lazy.set(e.canonical, t);
    dtypes.add(info.typeName);
    totalBytes += info.byteSize;
  }
  if (unpermute && config.rope) config.rope.style = 'half';

  return { config, lazy, source: { format: 'gguf', files: [file.name], dtypes: [...dtypes] }, totalBytes, close: async () => {} };
}

/** One GGUF tensor as a LazyTensor: rows [r0, r1) are one byte range (a row is a whole number of blocks). */
function ggufLazyTensor(file: GgufFile, info: GgufTensorInfo, shape: number[]): LazyTensor {
  if (!DEQUANTISABLE.has(info.type)) {
    throw new UnsupportedError(`tensor "${info.name}" has ggml type ${info.typeName} (${info.type}), which this engine cannot dequantise`, {
      file: file.name,
      offset: info.infoOffset,
      key: info.name,
      expected: 'F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K',
      found: `${info.typeName} (${info.type})`,
    });
  }
  const rowElems = rowLength(shape);
  const { blockSize } = ggmlTypeSize(info.type)!;
  if (rowElems % blockSize !== 0) {
    throw new FormatError('a row is not a whole number of blocks', {
      file: file.name,
      offset: info.infoOffset,
      key: info.name,
      expected: `a row length that is a multiple of ${blockSize} (${info.typeName})`,
      found: String(rowElems),
    });
  }
  const rowBytes = ggmlByteSize(info.type, rowElems);
  const bytes = (r0: number, r1: number) => readRange(file.source, info.offset + r0 * rowBytes, (r1 - r0) * rowBytes, `data of tensor "${info.name}"`);
  const t: LazyTensor = {
    shape,
    dtype: info.typeName,
    byteSize: info.byteSize,
    rowsF32: async (r0, r1) => dequantize(info.type, await bytes(r0, r1), (r1 - r0) * rowElems),
  };
  if (info.type === GgmlType.F16) {
    t.rowsF16 = async (r0, r1) => {
      const b = await bytes(r0, r1);
      return b.byteOffset % 2 === 0 ? new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2) : new Uint16Array(b.slice().buffer);
    };
  }
  return t;
}

/**
 * Loads a GGUF model: config from metadata, every tensor dequantised to f32
 * under its canonical name (openGgufModel, then every tensor read whole).
 */
export async function loadGgufModel(src: ByteSource, opts: LoadGgufOptions = {}): Promise<LoadedModel> {
  const m = await openGgufModel(src, opts);
  return { config: m.config, weights: await materialise(m.lazy), source: m.source };
}
