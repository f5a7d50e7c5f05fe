/**
 * A SentencePiece vocabulary as a Hugging Face tokenizer.json, the way transformers'
 * LlamaConverter writes one: a BPE model with byte fallback whose merges come from the
 * piece scores (SentencePieceExtractor: every split of a piece into two pieces, ranked by the
 * piece's score, then by the lengths of the left and right parts, longest first), the
 * `Prepend("▁")` + `Replace(" ", "▁")` normaliser, BOS added by a TemplateProcessing
 * post-processor, and the decoder that undoes them.
 */
import type { Tokenizer } from '../tokenizer/types';
import { spmVocab } from './tokenizer-vocab';

const cpLength = (s: string) => [...s].length;

/** BPE merges from piece scores (transformers' SentencePieceExtractor.extract with scores). */
export function mergesFromScores(tokens: string[], scores: Float32Array, skip: ReadonlySet<number>): [string, string][] {
  const vocab = new Map<string, number>();
  tokens.forEach((t, id) => {
    if (!vocab.has(t)) vocab.set(t, id);
  });
  const merges: { l: string; r: string; score: number }[] = [];
  tokens.forEach((piece, id) => {
    if (skip.has(id)) return;
    const cps = [...piece];
    const local: { l: string; r: string; score: number }[] = [];
    for (let i = 1; i < cps.length; i++) {
      const l = cps.slice(0, i).join('');
      const r = cps.slice(i).join('');
      if (vocab.has(l) && vocab.has(r)) local.push({ l, r, score: scores[id] });
    }
    local.sort((a, b) => vocab.get(a.l)! - vocab.get(b.l)! || vocab.get(a.r)! - vocab.get(b.r)!);
    merges.push(...local);
  });
  // Python's sorted(..., reverse=True) on (score, len(l), len(r)) is stable: equal keys keep their order.
  merges.sort((a, b) => b.score - a.score || cpLength(b.l) - cpLength(a.l) || cpLength(b.r) - cpLength(a.r));
  return merges.map((m) => [m.l, m.r]);
}

/** tokenizer.json for a SentencePiece tokenizer, or why none can be written. */
export function spmTokenizerJson(tok: Tokenizer): { json: Record<string, unknown> } | { json?: undefined; why: string } {
  const r = spmVocab(tok);
  if ('why' in r) return { why: r.why };
  const v = r.vocab;
  const special = v.types.map((t, id) => (t === 2 || t === 3 ? id : -1)).filter((id) => id >= 0);
  const skip = new Set(v.types.map((t, id) => (t === 1 ? -1 : id)).filter((id) => id >= 0));
  const vocab: Record<string, number> = {};
  v.tokens.forEach((t, id) => {
    if (!(t in vocab)) vocab[t] = id;
  });
  const bos = v.addBos && v.bosId !== null ? v.tokens[v.bosId] : undefined;
  const eos = v.addEos && v.eosIds.length ? v.tokens[v.eosIds[0]] : undefined;
  const seq = (id: 'A' | 'B') => ({ Sequence: { id, type_id: 0 } });
  const sp = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const around = (inner: object[]) => [...(bos ? [sp(bos)] : []), ...inner, ...(eos ? [sp(eos)] : [])];
  const specialTokens: Record<string, unknown> = {};
  for (const t of [bos, eos]) if (t) specialTokens[t] = { id: t, ids: [vocab[t]], tokens: [t] };
  return {
    json: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: special.map((id) => ({ id, content: v.tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: {
        type: 'Sequence',
        normalizers: [...(v.addSpacePrefix ? [{ type: 'Prepend', prepend: '\u2581' }] : []), { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }],
      },
      pre_tokenizer: null,
      post_processor: { type: 'TemplateProcessing', single: around([seq('A')]), pair: around([seq('A'), seq('B')]), special_tokens: specialTokens },
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(v.addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: v.tokens[v.unkId],
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges: mergesFromScores(v.tokens, v.scores, skip),
      },
    },
  };
}
