/**
 * A byte-level BPE tokenizer.json (GPT-2, Llama-3, Qwen2 style) as GGUF `tokenizer.ggml.*`
 * (model `gpt2`), as convert_hf_to_gguf.py's get_vocab_base writes it: tokens by id (holes and
 * the rows past the vocabulary padded with `[PAD<i>]`, type unused), merges as "left right",
 * added special tokens as control, other added tokens as user-defined. The pre-tokenizer is
 * named by the regex of its Split step (llama.cpp names: `gpt-2`, `llama-bpe`, `qwen2`);
 * anything else is refused with the reason, never guessed.
 */
import type { GgufTypedValue } from '../formats/gguf-writer';
import type { ModelConfig } from '../model/types';
import { TOKEN_TYPE } from './tokenizer-vocab';

type Json = Record<string, unknown>;

/** Split regexes of tokenizer.json files, by the llama.cpp pre-tokenizer name that runs them. */
const PRE_BY_REGEX: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'llama-bpe',
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'qwen2',
};

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The llama.cpp pre-tokenizer name for a tokenizer.json's pre_tokenizer, or why there is none. */
function preName(pre: unknown): string | { why: string } {
  if (isObj(pre) && pre.type === 'ByteLevel') return pre.use_regex === false ? { why: 'a ByteLevel pre-tokenizer without its regex' } : 'gpt-2';
  const steps = isObj(pre) && pre.type === 'Sequence' && Array.isArray(pre.pretokenizers) ? (pre.pretokenizers as unknown[]) : undefined;
  if (steps?.length === 2 && isObj(steps[0]) && isObj(steps[1]) && steps[0].type === 'Split' && steps[1].type === 'ByteLevel' && steps[1].use_regex === false) {
    const pattern = steps[0].pattern;
    const regex = isObj(pattern) && typeof pattern.Regex === 'string' ? pattern.Regex : undefined;
    const name = regex !== undefined ? PRE_BY_REGEX[regex] : undefined;
    if (name) return name;
    return { why: `its Split regex is none llama.cpp names here (GPT-2, Llama-3 and Qwen2 are): ${JSON.stringify(regex ?? pattern).slice(0, 60)}…` };
  }
  return { why: 'its pre-tokenizer is not byte-level BPE (GPT-2, Llama-3 or Qwen2 style)' };
}

/** GGUF tokenizer metadata from a tokenizer.json, or why it cannot be written. */
export function ggufVocabFromTokenizerJson(json: unknown, c: ModelConfig): { md: [string, GgufTypedValue][] } | { why: string } {
  if (!isObj(json) || !isObj(json.model)) return { why: 'tokenizer.json has no model' };
  const m = json.model;
  if (m.type !== 'BPE' || !isObj(m.vocab) || !Array.isArray(m.merges)) return { why: `tokenizer.json's model is ${String(m.type)}, not BPE` };
  if (m.byte_fallback === true) return { why: 'a SentencePiece-style BPE tokenizer.json (byte fallback) needs its tokenizer.model for GGUF' };
  const pre = preName(json.pre_tokenizer);
  if (typeof pre !== 'string') return pre;
  const norm = json.normalizer;
  if (norm !== null && norm !== undefined && !(isObj(norm) && norm.type === 'NFC')) return { why: 'its normalizer has no GGUF spelling' };
  const tokens: (string | undefined)[] = [];
  const types: number[] = [];
  for (const [t, id] of Object.entries(m.vocab)) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return { why: `vocab entry ${JSON.stringify(t)} has no valid id` };
    tokens[id] = t;
    types[id] = TOKEN_TYPE.normal;
  }
  for (const a of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    if (!isObj(a) || typeof a.id !== 'number' || typeof a.content !== 'string') return { why: 'an added token without id or content' };
    tokens[a.id] = a.content;
    types[a.id] = a.special === true ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  }
  if (tokens.length > c.vocabSize) return { why: `it has ${tokens.length} tokens, the model's embedding ${c.vocabSize} rows` };
  for (let i = 0; i < c.vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
  const merges: string[] = [];
  for (const x of m.merges as unknown[]) {
    if (typeof x === 'string') merges.push(x);
    else if (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string') merges.push(`${x[0]} ${x[1]}`);
    else return { why: 'a merge that is neither "a b" nor ["a", "b"]' };
  }
  // BOS is added when the post-processor puts a special token before the sequence (Llama-3).
  const pp = json.post_processor;
  const single = isObj(pp) && pp.type === 'TemplateProcessing' && Array.isArray(pp.single) ? (pp.single as unknown[]) : [];
  const first = single.length > 1 && isObj(single[0]) && isObj(single[0].SpecialToken) ? single[0].SpecialToken : undefined;
  const addBos = first !== undefined;
  // that token is the BOS (its id from the template's special_tokens, else the vocabulary); otherwise the config's
  const specials = isObj(pp) && isObj(pp.special_tokens) ? pp.special_tokens : {};
  const entry = first && typeof first.id === 'string' ? specials[first.id] : undefined;
  const templateBos = isObj(entry) && Array.isArray(entry.ids) && typeof entry.ids[0] === 'number' ? entry.ids[0] : first ? tokens.indexOf(first.id as string) : -1;
  const bos = templateBos >= 0 ? templateBos : c.bosTokenId;
  const str = (value: string): GgufTypedValue => ({ type: 'string', value });
  const u32 = (value: number): GgufTypedValue => ({ type: 'u32', value });
  const md: [string, GgufTypedValue][] = [
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(pre)],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', items: (tokens as string[]).map(str) }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', items: types.map((value) => ({ type: 'i32', value })) }],
    ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', items: merges.map(str) }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos }],
  ];
  if (bos !== undefined && bos < c.vocabSize) md.push(['tokenizer.ggml.bos_token_id', u32(bos)]);
  if (c.eosTokenIds.length && c.eosTokenIds[0] < c.vocabSize) md.push(['tokenizer.ggml.eos_token_id', u32(c.eosTokenIds[0])]);
  return { md };
}
