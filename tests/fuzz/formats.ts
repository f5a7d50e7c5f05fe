/**
 * The fuzzed formats: for each, seeds (the real fixtures), a structure-aware mutator that turns
 * (seed, case index) into a set of files, and the target that feeds them to the engine's own
 * loaders, header checks (inspect) and tokenizers, all over in-memory folders.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readGguf, GgufValueType, type GgufValueTypeName } from '../../engine/formats/gguf';
import { encodeGguf, type GgufTypedValue, type GgufWriteSpec } from '../../engine/formats/gguf-writer';
import { memoryFolder } from '../../engine/formats/hf';
import { parseHfConfig } from '../../engine/formats/hfconfig';
import { inspectGguf, inspectHf, inspectLlama2c, memoryDir } from '../../engine/formats/inspect';
import { loadModel, loadModelTokenizer } from '../../engine/formats/registry';
import { memorySource } from '../../engine/formats/source';
import { loadLoraAdapter } from '../../engine/model/lora';
import type { ModelConfig } from '../../engine/model/types';
import { tokenizerFromBytes } from '../../engine/tokenizer';
import type { Tokenizer } from '../../engine/tokenizer/types';
import { assembleSafetensors, buildSafetensors, byteNoise, f32le, i32le, interestingInt, parseSafetensors, u32le, u64le, type StEntry } from './bytes';
import { EVIL_PATTERNS, mutateJson } from './json-mutate';
import { INTERESTING_NUMBERS, type Rng } from './rng';

export type Files = Record<string, Uint8Array>;

export interface FuzzFormat {
  name: string;
  /** Builds one case's files from the seeds. */
  make(rng: Rng): Files;
  /** Runs the engine on them; resolves on success, throws what the engine throws. */
  run(files: Files): Promise<void>;
}

/** The shared fixtures, beside the repository (commands run from its root). */
export const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');
const MODELS = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];
const TOKENIZERS = ['tiny-bytelevel-gpt2', 'tiny-bytelevel-llama3', 'tiny-sentencepiece-llama2'];
const enc = new TextEncoder();

let root = FIXTURES;
/** Where the fixtures are (the bundled runner passes the repository's path). */
export function setFixtures(dir: string): void {
  root = dir;
}
const cache = new Map<string, Uint8Array>();
function fixture(rel: string): Uint8Array {
  let b = cache.get(rel);
  if (!b) cache.set(rel, (b = new Uint8Array(readFileSync(path.join(root, rel)))));
  return b;
}
const json = (rel: string): unknown => JSON.parse(new TextDecoder().decode(fixture(rel)));

/** Texts every tokenizer case encodes: a backtracking trigger, mixed scripts, controls, bytes. */
const TEXTS = ['a'.repeat(30) + '!', 'Once upon a time, 3 cats ran.  \n\tdef f(x): return x**2', 'héllo 世界 🙂 \u0000\ufffd ▁▁', ' '.repeat(40) + 'x'];

/** Problems a tokenizer can have only once used: encode, decode, round trip. */
function exercise(tok: Tokenizer): void {
  for (const t of TEXTS) {
    const e = tok.encode(t);
    tok.decode(e.ids);
  }
  tok.decode([0, 1, 2, tok.vocabSize - 1]);
}

// ---------------------------------------------------------------------------- JSON documents

/** Mutates a JSON value, keeping its bulky parts (vocabularies, merges) out of the mutator's reach most of the time. */
function mutateDoc(value: unknown, rng: Rng, bulky: string[][] = []): string {
  if (bulky.length === 0 || rng.chance(0.15)) return mutateJson(value, rng);
  const clone = structuredClone(value) as Record<string, unknown>;
  const held: [string, string][] = [];
  bulky.forEach((p, i) => {
    let o: Record<string, unknown> | undefined = clone;
    for (const k of p.slice(0, -1)) o = o?.[k] as Record<string, unknown> | undefined;
    const last = p[p.length - 1];
    if (o && typeof o === 'object' && last in o) {
      const mark = `\u0001bulky${i}\u0001`;
      held.push([JSON.stringify(mark), JSON.stringify(o[last])]);
      o[last] = mark;
    }
  });
  let text = mutateJson(clone, rng);
  // the bulky part goes back once; copies of it that the mutator made stay small (null)
  for (const [mark, real] of held) {
    const parts = text.split(mark);
    text = parts.length === 1 ? text : parts[0] + real + parts.slice(1).join('null');
  }
  return text;
}

/** Targeted values for keys a format is known to read, set at a random matching key. */
function setKey(obj: Record<string, unknown>, keys: string[], rng: Rng, values: unknown[]): string {
  const o = structuredClone(obj);
  const k = rng.pick(keys);
  o[k] = rng.pick(values);
  return JSON.stringify(o);
}

const NUMBERISH = [...INTERESTING_NUMBERS, 'yes', true, null, [], -0, 1.5];

// ---------------------------------------------------------------------------- GGUF

let ggufBase: GgufWriteSpec | undefined;
async function ggufSpec(): Promise<GgufWriteSpec> {
  if (ggufBase) return ggufBase;
  const bytes = fixture('gguf/stories260K.gguf');
  const f = await readGguf(memorySource(bytes, 'seed.gguf'));
  const metadata: [string, GgufTypedValue][] = [];
  for (const [k, v] of f.metadata) {
    const t = f.metadataTypes.get(k)!;
    metadata.push([k, typed(t, v)]);
  }
  const tensors = f.tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type, data: bytes.subarray(t.offset, t.offset + t.byteSize) }));
  return (ggufBase = { version: f.version, metadata, tensors });
}
function typed(t: string, v: unknown): GgufTypedValue {
  const m = /^array<(.+)>$/.exec(t);
  if (m) return { type: 'array', itemType: m[1].startsWith('array') ? 'array' : (m[1] as GgufValueTypeName), items: Array.from(v as ArrayLike<unknown>, (x) => typed(m[1], x)) };
  if (t === 'string') return { type: 'string', value: v as string };
  if (t === 'bool') return { type: 'bool', value: v as boolean };
  return { type: t as Exclude<GgufValueTypeName, 'array' | 'string' | 'bool'>, value: v as number };
}

const GGUF_KEYS = [
  'llama.block_count',
  'llama.context_length',
  'llama.embedding_length',
  'llama.feed_forward_length',
  'llama.attention.head_count',
  'llama.attention.head_count_kv',
  'llama.rope.freq_base',
  'llama.rope.dimension_count',
  'llama.attention.layer_norm_rms_epsilon',
  'tokenizer.ggml.bos_token_id',
  'tokenizer.ggml.eos_token_id',
  'general.alignment',
  'llama.vocab_size',
  'llama.expert_count',
  'llama.expert_used_count',
];
const SCALAR_TYPES: GgufValueTypeName[] = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'u64', 'i64', 'f64'];

function scalar(rng: Rng): GgufTypedValue {
  const type = rng.pick(SCALAR_TYPES) as Exclude<GgufValueTypeName, 'array' | 'string' | 'bool'>;
  const v = type.startsWith('f') ? rng.pick([...INTERESTING_NUMBERS, NaN, Infinity, -Infinity]) : interestingInt(rng);
  return { type, value: type.endsWith('64') && !type.startsWith('f') ? BigInt.asUintN(64, BigInt(Math.trunc(v))) : v };
}

function mutateGgufSpec(base: GgufWriteSpec, rng: Rng): GgufWriteSpec {
  const s: GgufWriteSpec = { version: base.version, metadata: base.metadata.slice(), tensors: base.tensors.slice() };
  const n = 1 + rng.int(3);
  for (let k = 0; k < n; k++) {
    switch (rng.int(12)) {
      case 0:
      case 1: {
        const key = rng.pick(GGUF_KEYS);
        const i = s.metadata.findIndex(([kk]) => kk === key);
        const v = rng.chance(0.2) ? ({ type: 'string', value: rng.pick(['', 'x', 'llama']) } as GgufTypedValue) : scalar(rng);
        if (i >= 0) s.metadata[i] = [key, v];
        else s.metadata.push([key, v]);
        break;
      }
      case 2: {
        const i = rng.int(s.metadata.length);
        if (rng.chance(0.5)) s.metadata.splice(i, 1);
        else s.metadata.push(s.metadata[i]);
        break;
      }
      case 3: {
        // arrays: shorten, lengthen, change the item type, nest
        const arrays = s.metadata.map((e, i) => [e, i] as const).filter(([[, v]]) => v.type === 'array');
        if (!arrays.length) break;
        const [[key, v], i] = rng.pick(arrays);
        if (v.type !== 'array') break;
        const op = rng.int(4);
        const items = op === 0 ? v.items.slice(0, rng.int(v.items.length + 1)) : op === 1 ? [...v.items, ...v.items.slice(0, rng.pick([1, 100, 5000]))] : v.items;
        const itemType = op === 2 ? rng.pick(SCALAR_TYPES) : op === 3 ? 'array' : v.itemType;
        const conv = (x: GgufTypedValue): GgufTypedValue =>
          op === 3
            ? { type: 'array', itemType: 'u8', items: [{ type: 'u8', value: 1 }] }
            : op === 2
              ? ({ type: itemType, value: itemType.endsWith('64') && itemType[0] !== 'f' ? 1n : 1 } as GgufTypedValue)
              : x;
        s.metadata[i] = [key, { type: 'array', itemType, items: items.map(conv) }];
        break;
      }
      case 4: {
        const i = rng.int(s.tensors.length);
        const t = { ...s.tensors[i] };
        t.ne = t.ne.slice();
        if (rng.chance(0.3)) t.ne.push(rng.pick([1, 2, 0]));
        else t.ne[rng.int(t.ne.length)] = Math.max(0, interestingInt(rng));
        s.tensors[i] = t;
        break;
      }
      case 5: {
        const i = rng.int(s.tensors.length);
        s.tensors[i] = { ...s.tensors[i], type: rng.pick([0, 1, 2, 3, 6, 8, 10, 12, 14, 24, 30, 39, 40, 255, 2 ** 31]) };
        break;
      }
      case 6: {
        const i = rng.int(s.tensors.length);
        if (rng.chance(0.5)) s.tensors.splice(i, 1);
        else s.tensors.push({ ...s.tensors[i] });
        break;
      }
      case 7: {
        const i = rng.int(s.tensors.length);
        s.tensors[i] = { ...s.tensors[i], name: rng.pick(['', 'token_embd.weight', 'output.weight', 'blk.99.attn_q.weight', 'x'.repeat(70000)]) };
        break;
      }
      case 8:
        s.version = rng.pick([0, 1, 2, 4, 99]);
        break;
      case 9:
        s.metadata.push(['tokenizer.ggml.pre', { type: 'string', value: rng.pick(['llama-bpe', 'qwen2', 'gpt-2', 'nope', ...EVIL_PATTERNS]) }]);
        s.metadata = s.metadata.map(([k, v]) => (k === 'tokenizer.ggml.model' ? [k, { type: 'string', value: rng.pick(['gpt2', 'llama', 'bert', '']) }] : [k, v]));
        break;
      case 10: {
        const i = s.metadata.findIndex(([kk]) => kk === 'tokenizer.ggml.tokens');
        if (i < 0) break;
        const v = s.metadata[i][1];
        if (v.type !== 'array') break;
        const items = v.items.slice();
        items[rng.int(items.length)] = {
          type: 'string',
          value: rng.pick(['', '\ud800', 'x'.repeat(100000), '<0xZZ>', '<0x100>', items[0].type === 'string' ? items[0].value : '']),
        };
        s.metadata[i] = [s.metadata[i][0], { type: 'array', itemType: 'string', items }];
        break;
      }
      default: {
        const i = rng.int(s.tensors.length);
        const t = s.tensors[i];
        s.tensors[i] = { ...t, data: t.data.subarray(0, rng.int(t.data.length + 1)) };
      }
    }
  }
  return s;
}

const gguf: FuzzFormat = {
  name: 'gguf',
  make(rng) {
    // the spec is built asynchronously once (prepare()); here it is ready
    const spec = mutateGgufSpec(ggufBase!, rng);
    let b: Uint8Array;
    try {
      b = encodeGguf(spec);
    } catch {
      b = encodeGguf(ggufBase!);
    }
    const r = rng.int(10);
    if (r === 0)
      u64le(b, 8, rng.pick([0n, 2n ** 32n, 2n ** 40n, 2n ** 63n])); // n_tensors
    else if (r === 1)
      u64le(b, 16, rng.pick([0n, 2n ** 32n, 2n ** 40n, 2n ** 63n])); // n_kv
    else if (r === 2) b = byteNoise(b, rng, 4096);
    else if (r === 3) b = b.slice(0, rng.int(b.length));
    else if (r === 4) patchArrayHeader(b, rng);
    return { 'model.gguf': b };
  },
  async run(files) {
    const dir = memoryDir('fuzz', files);
    await inspectGguf(dir, 'model.gguf').then(checkInspect);
    await loadModel('gguf', dir, 'model.gguf');
    const tok = await loadModelTokenizer('gguf', dir, 'model.gguf', 'embedded');
    if (tok) exercise(tok);
  },
};

/** Declares a huge item count (or first string length) for one of the GGUF's metadata arrays, found by its key. */
function patchArrayHeader(b: Uint8Array, rng: Rng): void {
  const key = enc.encode(rng.pick(['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges']));
  let at = -1;
  for (let i = 0; i + key.length <= Math.min(b.length, 1 << 20) && at < 0; i++) {
    let k = 0;
    while (k < key.length && b[i + k] === key[k]) k++;
    if (k === key.length) at = i + key.length;
  }
  if (at < 0) return;
  // key, then u32 value type (array), u32 item type, u64 count, then the first item
  const huge = rng.pick([2n ** 20n, 2n ** 26n, 2n ** 32n, 2n ** 40n, 2n ** 62n, 2n ** 64n - 1n]);
  if (rng.chance(0.6)) u64le(b, at + 8, huge);
  else if (rng.chance(0.5)) u32le(b, at + 4, rng.pick([0, 4, 6, 8, 9, 10, 12, 13, 2 ** 31]));
  else u64le(b, at + 16, huge);
}

/** inspect catches errors into a problem; one that was not a typed error (kind "io" over memory files) is rethrown. */
function checkInspect(c: { status: string; problem?: { kind: string; detail: string } }): void {
  if (c.problem?.kind === 'io') throw new Error(`inspect reported an untyped error: ${c.problem.detail}`);
}

// ---------------------------------------------------------------------------- safetensors

function hfFiles(model: string): Files {
  return {
    'config.json': fixture(`models/${model}/config.json`),
    'generation_config.json': fixture(`models/${model}/generation_config.json`),
    'model.safetensors': fixture(`models/${model}/model.safetensors`),
  };
}

async function runHf(files: Files): Promise<void> {
  const dir = memoryDir('fuzz', files);
  await inspectHf(dir).then(checkInspect);
  await loadModel('safetensors', dir, undefined);
}

function mutateSafetensors(file: Uint8Array, rng: Rng): Uint8Array {
  const { header, entries } = parseSafetensors(file);
  const { data } = buildSafetensors(entries);
  const r = rng.int(10);
  if (r <= 4) {
    // the header JSON, structurally: dtypes, shapes, offsets, names, metadata, nesting
    let text: string;
    const h = structuredClone(header) as Record<string, Record<string, unknown>>;
    const names = Object.keys(h).filter((k) => k !== '__metadata__');
    const name = rng.pick(names);
    if (r === 0) text = mutateJson(h, rng);
    else if (r === 1) {
      h[name].dtype = rng.pick(['F64', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'bf16', '', 7, null, 'F16', 'BF16', 'F32']);
      text = JSON.stringify(h);
    } else if (r === 2) {
      const shape = (h[name].shape as unknown[]).slice();
      if (rng.chance(0.3)) shape.push(rng.pick([0, 1, 2]));
      else shape[rng.int(Math.max(1, shape.length))] = rng.pick(NUMBERISH);
      h[name].shape = rng.chance(0.1) ? rng.pick(['x', 3, null]) : shape;
      text = JSON.stringify(h);
    } else if (r === 3) {
      const off = (h[name].data_offsets as unknown[]).slice();
      off[rng.int(2)] = rng.pick([...NUMBERISH, data.length, data.length + 1]);
      h[name].data_offsets = rng.chance(0.1) ? [off[0]] : off;
      text = JSON.stringify(h);
    } else {
      text = JSON.stringify(h).replace(/\}$/, `,${JSON.stringify(name)}:${JSON.stringify(h[name])}}`);
    }
    return assembleSafetensors(text, data, rng.chance(0.2) ? rng.pick([-1, 1, -8, 8]) : 0);
  }
  if (r === 5) return assembleSafetensors(JSON.stringify(header), data, rng.pick([-1, 1, 2 ** 20, 2 ** 40]));
  if (r === 6) return assembleSafetensors(JSON.stringify(header), data.subarray(0, rng.int(data.length)));
  if (r === 7) {
    const h = JSON.stringify(header);
    return assembleSafetensors(h + ' '.repeat(rng.pick([1, 7, 100])), data);
  }
  return byteNoise(file, rng, 64 + rng.int(4096));
}

const safetensors: FuzzFormat = {
  name: 'safetensors',
  make(rng) {
    const files = hfFiles(rng.pick(MODELS));
    files['model.safetensors'] = mutateSafetensors(files['model.safetensors'], rng);
    return files;
  },
  run: runHf,
};

const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
const sharded: FuzzFormat = {
  name: 'safetensors-sharded',
  make(rng) {
    const model = rng.pick(MODELS);
    const base = hfFiles(model);
    const { entries } = parseSafetensors(base['model.safetensors']);
    const halves: StEntry[][] = [[], []];
    entries.forEach((e, i) => halves[i % 2].push(e));
    const weightMap: Record<string, string> = {};
    halves.forEach((h, s) => h.forEach((e) => (weightMap[e.name] = SHARDS[s])));
    const shards = halves.map((h) => {
      const { header, data } = buildSafetensors(h);
      return assembleSafetensors(JSON.stringify(header), data);
    });
    const index = { metadata: { total_size: shards.reduce((n, s) => n + s.length, 0) }, weight_map: weightMap };
    const files: Files = { 'config.json': base['config.json'], 'model.safetensors.index.json': enc.encode(JSON.stringify(index)), [SHARDS[0]]: shards[0], [SHARDS[1]]: shards[1] };
    const r = rng.int(6);
    if (r <= 1) files['model.safetensors.index.json'] = enc.encode(mutateDoc(index, rng));
    else if (r === 2) {
      const wm = { ...weightMap };
      const k = rng.pick(Object.keys(wm));
      wm[rng.chance(0.5) ? k : `extra.${rng.int(9)}.weight`] = rng.pick([
        '../config.json',
        'config.json',
        'nope.safetensors',
        '',
        '/etc/passwd',
        'model.safetensors.index.json',
        SHARDS[0],
      ]);
      files['model.safetensors.index.json'] = enc.encode(JSON.stringify({ ...index, weight_map: wm }));
    } else if (r === 3) {
      delete files[rng.pick(SHARDS)];
    } else if (r === 4) {
      const many: Record<string, string> = {};
      const n = rng.pick([1000, 20000]);
      for (let i = 0; i < n; i++) many[`t.${i}`] = `shard-${i}.safetensors`;
      files['model.safetensors.index.json'] = enc.encode(JSON.stringify({ weight_map: many }));
    } else {
      const s = rng.pick(SHARDS);
      files[s] = mutateSafetensors(files[s], rng);
    }
    return files;
  },
  run: runHf,
};

// ---------------------------------------------------------------------------- HF config.json / generation_config.json

const CONFIG_KEYS = [
  'num_hidden_layers',
  'n_layer',
  'num_local_experts',
  'num_experts_per_tok',
  'hidden_size',
  'n_embd',
  'intermediate_size',
  'num_attention_heads',
  'n_head',
  'num_key_value_heads',
  'head_dim',
  'vocab_size',
  'max_position_embeddings',
  'n_positions',
  'rope_theta',
  'rms_norm_eps',
  'layer_norm_epsilon',
  'sliding_window',
  'tie_word_embeddings',
  'model_type',
  'architectures',
  'rope_scaling',
  'rope_parameters',
  'bos_token_id',
  'eos_token_id',
  'torch_dtype',
  'hidden_act',
  'attention_bias',
];
const hfConfig: FuzzFormat = {
  name: 'hf-config',
  make(rng) {
    const files = hfFiles(rng.pick(MODELS));
    const which = rng.chance(0.8) ? 'config.json' : 'generation_config.json';
    const value = JSON.parse(new TextDecoder().decode(files[which])) as Record<string, unknown>;
    const text =
      which === 'config.json' && rng.chance(0.5)
        ? setKey(value, CONFIG_KEYS, rng, [
            ...NUMBERISH,
            { rope_type: rng.pick(['llama3', 'linear', 'yarn', 'dynamic', 7]), factor: rng.pick(NUMBERISH) },
            'llama',
            'gpt2',
            'mixtral',
          ])
        : mutateDoc(value, rng);
    files[which] = enc.encode(text);
    return files;
  },
  run: runHf,
};

// ---------------------------------------------------------------------------- llama2.c checkpoint

const llama2c: FuzzFormat = {
  name: 'llama2c',
  make(rng) {
    let b: Uint8Array = fixture('llama2c/stories260K.bin').slice();
    const r = rng.int(8);
    if (r <= 3) {
      const n = 1 + rng.int(3);
      for (let k = 0; k < n; k++) i32le(b, 4 * rng.int(7), rng.chance(0.3) ? rng.pick([4096, 11008, 32, 32, 32000, -32000, 2048]) : interestingInt(rng));
    } else if (r === 4) {
      // a big model's header over a small file (sparse-file amplification)
      [4096, 11008, 32, 32, 32, rng.pick([32000, -32000]), 2048].forEach((v, i) => i32le(b, 4 * i, v));
    } else if (r === 5) b = b.slice(0, rng.int(b.length));
    else if (r === 6) f32le(b, 28 + 4 * rng.int(1000), rng.pick([NaN, Infinity, -Infinity, 1e38]));
    else b = byteNoise(b, rng, 64);
    return { 'model.bin': b, 'tokenizer.bin': fixture('llama2c/tok512.bin') };
  },
  async run(files) {
    const dir = memoryDir('fuzz', files);
    await inspectLlama2c(dir, 'model.bin').then(checkInspect);
    await loadModel('llama2c', dir, 'model.bin');
  },
};

// ---------------------------------------------------------------------------- llama2.c tokenizer.bin

/** Byte offsets of each token record in a llama2.c tokenizer (the seed is well formed). */
function tokenRecords(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let o = 4; o + 8 <= b.length;) {
    out.push(o);
    o += 8 + dv.getInt32(o + 4, true);
  }
  return out;
}
const llama2cTok: FuzzFormat = {
  name: 'llama2c-tokenizer',
  make(rng) {
    const seed = fixture('llama2c/tok512.bin');
    const recs = tokenRecords(seed);
    let b: Uint8Array = seed.slice();
    const r = rng.int(9);
    const at = rng.pick(recs);
    if (r === 0) i32le(b, 0, interestingInt(rng));
    else if (r === 1) i32le(b, at + 4, interestingInt(rng));
    else if (r === 2) f32le(b, at, rng.pick([NaN, Infinity, -Infinity, -1e38, 0]));
    else if (r === 3) {
      // invalid UTF-8 / odd bytes in a piece
      const len = new DataView(b.buffer).getInt32(at + 4, true);
      for (let i = 0; i < len; i++) b[at + 8 + i] = rng.pick([0xff, 0xc0, 0x80, 0x00, 0xe2, 0x20]);
    } else if (r === 4) b = b.slice(0, rng.chance(0.5) ? at + rng.int(8) : rng.int(b.length));
    else if (r === 5) {
      // more tokens than the vocabulary: records appended
      const extra = seed.subarray(recs[rng.int(recs.length)], seed.length);
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      b = out;
    } else if (r === 6) {
      // a duplicate piece: one record's bytes copied over another's of the same length
      const other = rng.pick(recs);
      const dv = new DataView(b.buffer);
      if (dv.getInt32(other + 4, true) === dv.getInt32(at + 4, true)) b.copyWithin(at + 8, other + 8, other + 8 + dv.getInt32(at + 4, true));
    } else b = byteNoise(b, rng);
    return { 'tokenizer.bin': b };
  },
  async run(files) {
    exercise(tokenizerFromBytes(files['tokenizer.bin'], 'fuzz/tokenizer.bin'));
    exercise(tokenizerFromBytes(files['tokenizer.bin'], 'fuzz/tokenizer.bin', { vocabSize: 512 }));
  },
};

// ---------------------------------------------------------------------------- tokenizer.json

const TOKENIZER_KEYS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder', 'added_tokens', 'truncation', 'padding'];
const tokJson: FuzzFormat = {
  name: 'tokenizer-json',
  make(rng) {
    const value = json(`tokenizers/${rng.pick(TOKENIZERS)}/tokenizer.json`) as Record<string, unknown>;
    let text: string;
    const r = rng.int(10);
    if (r <= 1) {
      // a catastrophic or odd pattern where the format takes one
      const pattern = rng.pick(EVIL_PATTERNS);
      const v = structuredClone(value);
      v[rng.pick(['normalizer', 'pre_tokenizer'])] = rng.chance(0.5)
        ? { type: 'Split', pattern: { Regex: pattern }, behavior: rng.pick(['Isolated', 'Removed', 'MergedWithPrevious', 'Contiguous', 'nope']), invert: rng.chance(0.5) }
        : { type: 'Sequence', [rng.chance(0.5) ? 'normalizers' : 'pretokenizers']: [{ type: 'Replace', pattern: { Regex: pattern }, content: 'x' }] };
      text = JSON.stringify(v);
    } else if (r === 2) {
      // deep Sequence nesting
      let inner: unknown = { type: 'NFC' };
      for (let i = 0, n = rng.pick([10, 100, 100_000]); i < n; i++) inner = { type: 'Sequence', normalizers: [inner] };
      const head = JSON.stringify({ ...value, normalizer: null }).replace('"normalizer":null', '"normalizer":\u0002');
      text = head.replace(
        '\u0002',
        (() => {
          // serialise without recursion (JSON.stringify would overflow the fuzzer's own stack)
          const n = (function depth(x: unknown): number {
            let d = 0;
            for (let o = x as { normalizers?: unknown[] }; o.normalizers; o = o.normalizers[0] as { normalizers?: unknown[] }) d++;
            return d;
          })(inner);
          return '{"type":"Sequence","normalizers":['.repeat(n) + '{"type":"NFC"}' + ']}'.repeat(n);
        })(),
      );
    } else if (r === 3) {
      const v = structuredClone(value) as { model: Record<string, unknown> };
      const k = rng.pick(['unk_token', 'byte_fallback', 'fuse_unk', 'dropout', 'continuing_subword_prefix', 'end_of_word_suffix', 'ignore_merges', 'type']);
      v.model[k] = rng.pick([...NUMBERISH, 'BPE', 'WordPiece', 'Unigram', '<unk>', '']);
      text = JSON.stringify(v);
    } else
      text = mutateDoc(value, rng, [
        ['model', 'vocab'],
        ['model', 'merges'],
      ]);
    void TOKENIZER_KEYS;
    return { 'tokenizer.json': enc.encode(text) };
  },
  async run(files) {
    exercise(tokenizerFromBytes(files['tokenizer.json'], 'fuzz/tokenizer.json'));
  },
};

// ---------------------------------------------------------------------------- PEFT adapter

let baseConfig: ModelConfig | undefined;
const ADAPTER_KEYS = ['r', 'lora_alpha', 'use_rslora', 'use_dora', 'bias', 'target_modules', 'modules_to_save', 'peft_type', 'rank_pattern', 'alpha_pattern', 'lora_bias'];
const adapter: FuzzFormat = {
  name: 'peft-adapter',
  make(rng) {
    const cfg = json('models/tiny-llama/lora/adapter_config.json') as Record<string, unknown>;
    const weights = fixture('models/tiny-llama/lora/adapter_model.safetensors');
    const r = rng.int(6);
    let text = JSON.stringify(cfg);
    let w = weights;
    if (r <= 1) text = mutateDoc(cfg, rng);
    else if (r === 2) {
      const pattern = rng.pick([...EVIL_PATTERNS, 'q_proj', '.*', 'model.layers.0.self_attn.q_proj']);
      text = setKey(cfg, ['rank_pattern', 'alpha_pattern'], rng, [{ [pattern]: rng.pick([4, 8, 0, -1, 1e9, 'x']) }, [], 'x', null]);
    } else if (r === 3) text = setKey(cfg, ADAPTER_KEYS, rng, [...NUMBERISH, 'LORA', 'none', 'all', ['q_proj'], ['lm_head'], 'yes']);
    else w = mutateSafetensors(weights, rng);
    return { 'adapter_config.json': enc.encode(text), 'adapter_model.safetensors': w };
  },
  async run(files) {
    baseConfig ??= parseHfConfig(json('models/tiny-llama/config.json'));
    await loadLoraAdapter(memoryFolder('fuzz', files), baseConfig);
  },
};

export const FORMATS: readonly FuzzFormat[] = [gguf, safetensors, sharded, llama2c, llama2cTok, hfConfig, tokJson, adapter];

/** Reads what the mutators need before the first case (the GGUF seed's spec). */
export async function prepare(): Promise<void> {
  await ggufSpec();
}

void GgufValueType;
