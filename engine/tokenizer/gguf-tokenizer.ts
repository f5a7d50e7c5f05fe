/**
 * Tokenizers embedded in GGUF metadata (`tokenizer.ggml.*`), as llama.cpp reads them:
 *   - `llama`: SentencePiece pieces + scores + token types -> SpmTokenizer (llama.cpp's SPM algorithm,
 *     which for llama2.c vocabularies gives run.c's ids)
 *   - `gpt2`: byte-level BPE (tokens + merges) with the pre-tokenizer regexes `tokenizer.ggml.pre` names
 *
 * Token types (llama.cpp): 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
 * Control tokens are special (skipped by decode with skipSpecialTokens); control, user-defined and
 * unknown token texts found in the input are encoded as those tokens (llama.cpp's special-token
 * partition, as llama-cli does for prompts).
 */
import { FormatError, UnsupportedError } from '../errors';
import type { AddedTokenSpec } from './added';
import { BpeBuildError, BpeModel } from './bpe';
import { byteLevelDecode } from './decoders';
import { HfTokenizer } from './hf';
import { fixedPostProcessor } from './post-processors';
import { ByteLevelPre, SequencePre, SplitPre } from './pre-tokenizers';
import { RegexTranslationError, compileOnigRegex } from './regex';
import { SpmTokenizer, toByteString } from './spm';
import type { Tokenizer } from './types';

/** A GGUF metadata value as the GGUF reader produces it. */
export type GgufValue = number | bigint | boolean | string | ArrayLike<number> | GgufValue[];

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const LLAMA3_RE =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_RE = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT2_RE = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

interface PreSpec {
  regexes: string[];
  ignoreMerges: boolean;
  addBos: boolean;
}

/**
 * llama.cpp's pre-tokenizer table (llama-vocab.cpp), for the names supported here.
 * `default` (no or unknown-to-llama.cpp name) is treated as GPT-2's regex; llama.cpp's own
 * "default" chain differs only on punctuation/digit runs.
 */
function preSpec(name: string): PreSpec | null {
  switch (name) {
    case 'llama3':
    case 'llama-v3':
    case 'llama-bpe':
    case 'falcon3':
      return { regexes: [LLAMA3_RE], ignoreMerges: true, addBos: true };
    case 'qwen2':
    case 'deepseek-r1-qwen':
    case 'megrez':
      return { regexes: [QWEN2_RE], ignoreMerges: false, addBos: false };
    case 'gpt-2':
    case 'gpt2':
    case 'default':
    case 'phi-2':
    case 'jina-es':
    case 'jina-de':
    case 'jina-v1-en':
    case 'jina-v2-es':
    case 'jina-v2-de':
    case 'jina-v2-code':
    case 'roberta-bpe':
    case 'gigachat':
      return { regexes: [GPT2_RE], ignoreMerges: false, addBos: false };
    case 'starcoder':
    case 'refact':
    case 'command-r':
    case 'smollm':
    case 'codeshell':
    case 'exaone':
    case 'minerva-7b':
      return { regexes: ['\\p{N}', GPT2_RE], ignoreMerges: false, addBos: false };
    default:
      return null;
  }
}

export interface GgufTokenizerOptions {
  /** File name for error messages. */
  fileName?: string;
}

class Meta {
  constructor(
    readonly md: Map<string, GgufValue>,
    readonly file: string,
  ) {}
  err(message: string, key: string, expected?: string, found?: string): FormatError {
    return new FormatError(message, { file: this.file, key, expected, found });
  }
  has(key: string): boolean {
    return this.md.has(key);
  }
  str(key: string): string {
    const v = this.md.get(key);
    if (typeof v !== 'string') throw this.err(v === undefined ? 'missing' : 'wrong type', key, 'a string', describe(v));
    return v;
  }
  optStr(key: string): string | undefined {
    return this.md.has(key) ? this.str(key) : undefined;
  }
  strArray(key: string): string[] {
    const v = this.md.get(key);
    if (!Array.isArray(v)) throw this.err(v === undefined ? 'missing' : 'wrong type', key, 'an array of strings', describe(v));
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'string') throw this.err('wrong element type', `${key}[${i}]`, 'a string', describe(v[i]));
    }
    return v as string[];
  }
  numArray(key: string, length: number): number[] | undefined {
    const v = this.md.get(key);
    if (v === undefined) return undefined;
    const list: ArrayLike<unknown> | undefined = Array.isArray(v) ? v : ArrayBuffer.isView(v) ? (v as unknown as ArrayLike<number>) : undefined;
    if (!list) throw this.err('wrong type', key, 'an array of numbers', describe(v));
    if (list.length !== length) throw this.err('wrong length', key, `${length} entries (one per token)`, `${list.length}`);
    const out = new Array<number>(length);
    for (let i = 0; i < length; i++) {
      const x = list[i];
      const n = typeof x === 'bigint' ? Number(x) : x;
      if (typeof n !== 'number' || Number.isNaN(n)) throw this.err('wrong element type', `${key}[${i}]`, 'a number', describe(x as GgufValue));
      out[i] = n;
    }
    return out;
  }
  optId(key: string, nTokens: number): number | undefined {
    const v = this.md.get(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw this.err('wrong type', key, 'a token id', describe(v));
    if (n === 0xffffffff || n === -1) return undefined; // "none"
    if (n >= nTokens) throw this.err('token id out of range', key, `< ${nTokens}`, String(n));
    return n;
  }
  optBool(key: string): boolean | undefined {
    const v = this.md.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw this.err('wrong type', key, 'a bool', describe(v));
    return v;
  }
}

function describe(v: GgufValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `an array of ${(v as unknown as ArrayLike<number>).length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Builds the tokenizer described by a GGUF file's metadata. */
export function tokenizerFromGgufMetadata(md: Map<string, GgufValue>, opts: GgufTokenizerOptions = {}): Tokenizer {
  const m = new Meta(md, opts.fileName ?? 'GGUF metadata');
  const model = m.str('tokenizer.ggml.model');
  if (model === 'llama') return spmFromGguf(m);
  if (model === 'gpt2') return bpeFromGguf(m);
  throw new UnsupportedError(`tokenizer model "${model}" is not supported (only llama and gpt2)`, {
    file: m.file,
    key: 'tokenizer.ggml.model',
    found: model,
  });
}

function commonIds(m: Meta, n: number): { bos?: number; eos: number[]; unk?: number } {
  const bos = m.optId('tokenizer.ggml.bos_token_id', n);
  const eos: number[] = [];
  for (const k of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id']) {
    const id = m.optId(k, n);
    if (id !== undefined && !eos.includes(id)) eos.push(id);
  }
  const unk = m.optId('tokenizer.ggml.unknown_token_id', n);
  return { bos, eos, unk };
}

function spmFromGguf(m: Meta): Tokenizer {
  const tokens = m.strArray('tokenizer.ggml.tokens');
  const n = tokens.length;
  if (n === 0) throw m.err('empty vocabulary', 'tokenizer.ggml.tokens', 'at least one token', '0');
  const scores = m.numArray('tokenizer.ggml.scores', n) ?? new Array<number>(n).fill(0);
  const types = m.numArray('tokenizer.ggml.token_type', n) ?? new Array<number>(n).fill(TOKEN_TYPE.normal);
  const ids = commonIds(m, n);
  const bos = ids.bos ?? (n > 1 ? 1 : undefined);
  const eos = ids.eos.length > 0 ? ids.eos : n > 2 ? [2] : [];
  const unk = ids.unk ?? 0;
  const specialIds = new Set<number>();
  const splitIds: number[] = [];
  types.forEach((t, id) => {
    if (t === TOKEN_TYPE.control) specialIds.add(id);
    if (t === TOKEN_TYPE.control || t === TOKEN_TYPE.userDefined || t === TOKEN_TYPE.unknown) {
      if (tokens[id]!.length > 0) splitIds.push(id);
    }
  });
  return new SpmTokenizer({
    kind: 'gguf-llama',
    pieces: tokens.map(toByteString),
    scores: Float32Array.from(scores),
    space: toByteString('\u2581'),
    addSpacePrefix: m.optBool('tokenizer.ggml.add_space_prefix') ?? true,
    bosId: bos ?? null,
    eosIds: eos,
    unkId: unk,
    addBos: m.optBool('tokenizer.ggml.add_bos_token') ?? true,
    addEos: m.optBool('tokenizer.ggml.add_eos_token') ?? false,
    specialIds,
    splitIds,
    dropControlBytes: false,
  });
}

function bpeFromGguf(m: Meta): Tokenizer {
  const tokens = m.strArray('tokenizer.ggml.tokens');
  const n = tokens.length;
  if (n === 0) throw m.err('empty vocabulary', 'tokenizer.ggml.tokens', 'at least one token', '0');
  const mergeStrs = m.strArray('tokenizer.ggml.merges');
  const types = m.numArray('tokenizer.ggml.token_type', n) ?? new Array<number>(n).fill(TOKEN_TYPE.normal);
  const preName = m.optStr('tokenizer.ggml.pre') ?? 'default';
  const spec = preSpec(preName);
  if (!spec) {
    throw new UnsupportedError(`pre-tokenizer "${preName}" is not supported`, { file: m.file, key: 'tokenizer.ggml.pre', found: preName });
  }
  const vocab = new Map<string, number>();
  tokens.forEach((t, id) => vocab.set(t, id)); // llama.cpp: a later duplicate wins
  const merges: [string, string][] = mergeStrs.map((s, i) => {
    const pos = s.indexOf(' ', 1);
    if (pos < 0) throw m.err('a merge must be two tokens separated by a space', `tokenizer.ggml.merges[${i}]`, '"left right"', JSON.stringify(s));
    return [s.slice(0, pos), s.slice(pos + 1)];
  });
  let bpe: BpeModel;
  try {
    bpe = new BpeModel(vocab, merges, {
      unkToken: null,
      fuseUnk: false,
      byteFallback: false,
      continuingSubwordPrefix: null,
      endOfWordSuffix: null,
      ignoreMerges: spec.ignoreMerges,
    });
  } catch (e) {
    if (e instanceof BpeBuildError) {
      throw m.err(e.message, `tokenizer.ggml.merges[${e.index}]`, 'tokens of tokenizer.ggml.tokens', JSON.stringify(e.found));
    }
    throw e;
  }
  let steps;
  try {
    steps = spec.regexes.map((r) => new SplitPre({ kind: 'regex', re: compileOnigRegex(r) }, 'Isolated', false));
  } catch (e) {
    if (e instanceof RegexTranslationError) throw new UnsupportedError(e.message, { file: m.file, key: 'tokenizer.ggml.pre', found: preName });
    throw e;
  }
  const pre = new SequencePre([...steps, new ByteLevelPre(false, false)]);
  const ids = commonIds(m, n);
  const added: AddedTokenSpec[] = [];
  types.forEach((t, id) => {
    if (t === TOKEN_TYPE.control || t === TOKEN_TYPE.userDefined || t === TOKEN_TYPE.unknown) {
      added.push({
        id,
        content: tokens[id]!,
        singleWord: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: t !== TOKEN_TYPE.userDefined,
      });
    }
  });
  const addBos = m.optBool('tokenizer.ggml.add_bos_token') ?? spec.addBos;
  const addEos = m.optBool('tokenizer.ggml.add_eos_token') ?? false;
  const before: [number, string][] = addBos && ids.bos !== undefined ? [[ids.bos, tokens[ids.bos]!]] : [];
  const after: [number, string][] = addEos && ids.eos.length > 0 ? [[ids.eos[0]!, tokens[ids.eos[0]!]!]] : [];
  return new HfTokenizer(
    {
      model: bpe,
      normalizer: null,
      preTokenizer: pre,
      postProcessor: fixedPostProcessor(before, after),
      decoder: byteLevelDecode,
      added,
    },
    { bosId: ids.bos ?? null, eosIds: ids.eos },
    'gguf-gpt2',
  );
}
