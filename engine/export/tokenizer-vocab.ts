/**
 * A SentencePiece vocabulary (llama2.c tokenizer.bin or GGUF `llama`) as llama.cpp and
 * Hugging Face spell it: pieces with `▁` for a space, `<unk>`/`<s>`/`</s>` for llama2.c's
 * special pieces, and llama.cpp's token types — what llama.cpp's llama2.c converter writes.
 */
import { SpmTokenizer, byteStringBytes } from '../tokenizer/spm';
import type { Tokenizer } from '../tokenizer/types';

/** llama.cpp's token types. */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface SpmVocab {
  tokens: string[];
  scores: Float32Array;
  types: number[];
  unkId: number;
  bosId: number | null;
  eosIds: number[];
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
}

/** The vocabulary of a SentencePiece tokenizer, or why there is none to write. */
export function spmVocab(tok: Tokenizer): { vocab: SpmVocab } | { why: string } {
  if (!(tok instanceof SpmTokenizer)) return { why: `a ${tok.kind} tokenizer is not a SentencePiece vocabulary this exporter can convert` };
  const c = tok.spmConfig;
  const llama2c = c.kind === 'llama2c';
  const eos = new Set(c.eosIds);
  const tokens: string[] = [];
  const types: number[] = [];
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (let id = 0; id < c.pieces.length; id++) {
    const piece = c.pieces[id];
    let text: string;
    try {
      text = utf8.decode(byteStringBytes(piece));
    } catch {
      return { why: `piece ${id} is not valid UTF-8, which neither GGUF nor tokenizer.json can hold` };
    }
    if (llama2c && id === c.unkId) tokens.push('<unk>');
    else if (llama2c && id === c.bosId) tokens.push('<s>');
    else if (llama2c && eos.has(id)) tokens.push('</s>');
    else tokens.push(llama2c ? text.replaceAll(' ', '\u2581') : text);
    if (id === c.unkId) types.push(TOKEN_TYPE.unknown);
    else if (c.specialIds.has(id) || id === c.bosId || eos.has(id)) types.push(TOKEN_TYPE.control);
    else if (/^<0x[0-9A-Fa-f]{2}>$/.test(piece)) types.push(TOKEN_TYPE.byte);
    else if (c.splitIds.includes(id)) types.push(TOKEN_TYPE.userDefined);
    else types.push(TOKEN_TYPE.normal);
  }
  return {
    vocab: {
      tokens,
      scores: Float32Array.from(c.scores),
      types,
      unkId: c.unkId,
      bosId: c.bosId,
      eosIds: c.eosIds,
      addBos: c.addBos,
      addEos: c.addEos,
      addSpacePrefix: c.addSpacePrefix,
    },
  };
}
