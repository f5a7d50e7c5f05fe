/**
 * Added/special tokens split out of the text before the model, as HF's AddedVocabulary:
 * leftmost-longest matching (Aho-Corasick LeftmostLongest there, a trie here), with the
 * `single_word`, `lstrip` and `rstrip` rules.
 */
import { type Piece, slicePiece } from './piece';

export interface AddedTokenSpec {
  id: number;
  content: string;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

interface TrieNode {
  next: Map<number, TrieNode>;
  /** index into `tokens`, or -1 */
  tok: number;
}

/** Rust regex `\w` (Unicode) and `\s`, as HF's single_word / lstrip / rstrip rules use them. */
const WORD_CHAR = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;
const SPACE_CHAR = /^\p{White_Space}$/u;

/** The code point that ends just before unit `u`. */
function lastCharBefore(text: string, u: number): string {
  const lo = text.charCodeAt(u - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && u >= 2) {
    const hi = text.charCodeAt(u - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return text.slice(u - 2, u);
  }
  return text.slice(u - 1, u);
}

export class AddedTokenMatcher {
  private readonly root: TrieNode = { next: new Map(), tok: -1 };
  private readonly first = new Uint8Array(65536);
  private readonly tokens: { id: number; singleWord: boolean; lstrip: boolean; rstrip: boolean }[] = [];
  /** The first unit of every token when they all share it, else null. */
  private readonly onlyFirst: string | null;

  /** `patterns[i]` is the text to look for (the normalized content for normalized tokens). */
  constructor(entries: { pattern: string; spec: AddedTokenSpec }[]) {
    for (const { pattern, spec } of entries) {
      if (pattern.length === 0) continue;
      let node = this.root;
      for (let k = 0; k < pattern.length; k++) {
        const c = pattern.charCodeAt(k);
        let nx = node.next.get(c);
        if (!nx) {
          nx = { next: new Map(), tok: -1 };
          node.next.set(c, nx);
        }
        node = nx;
      }
      if (node.tok >= 0) continue; // first one wins (same content twice)
      node.tok = this.tokens.length;
      this.tokens.push({ id: spec.id, singleWord: spec.singleWord, lstrip: spec.lstrip, rstrip: spec.rstrip });
      this.first[pattern.charCodeAt(0)] = 1;
    }
    const firsts = new Set(entries.filter((e) => e.pattern.length > 0).map((e) => e.pattern[0]!));
    this.onlyFirst = firsts.size === 1 ? [...firsts][0]! : null;
  }

  get empty(): boolean {
    return this.tokens.length === 0;
  }

  /** HF `find_matches`: splits covering `text`, each [start, end, tokenId or -1]. */
  findMatches(text: string): [number, number, number][] {
    const res: [number, number, number][] = [];
    if (text.length === 0 || this.tokens.length === 0) {
      if (text.length > 0) res.push([0, text.length, -1]);
      return res;
    }
    let startOffset = 0;
    let i = 0;
    const n = text.length;
    const only = this.onlyFirst;
    while (i < n) {
      if (only !== null) {
        // one UTF-16 unit starts every token (Llama 2's "<"): jump to its next occurrence
        i = text.indexOf(only, i);
        if (i < 0) break;
      } else if (this.first[text.charCodeAt(i)] === 0) {
        i++;
        continue;
      }
      // longest match starting at i
      let node: TrieNode | undefined = this.root;
      let bestEnd = -1;
      let bestTok = -1;
      for (let k = i; k < n; k++) {
        node = node.next.get(text.charCodeAt(k));
        if (!node) break;
        if (node.tok >= 0) {
          bestEnd = k + 1;
          bestTok = node.tok;
        }
      }
      if (bestEnd < 0) {
        i++;
        continue;
      }
      let start = i;
      let stop = bestEnd;
      i = bestEnd;
      const t = this.tokens[bestTok]!;
      if (t.singleWord) {
        const startSpace = start === 0 || !WORD_CHAR.test(lastCharBefore(text, start));
        const stopSpace = stop === n || !WORD_CHAR.test(String.fromCodePoint(text.codePointAt(stop)!));
        if (!startSpace || !stopSpace) continue;
      }
      if (t.lstrip) {
        let newStart = start;
        while (newStart > 0) {
          const ch = lastCharBefore(text, newStart);
          if (!SPACE_CHAR.test(ch)) break;
          newStart -= ch.length;
        }
        start = Math.max(newStart, startOffset);
      }
      if (t.rstrip) {
        while (stop < n) {
          const ch = String.fromCodePoint(text.codePointAt(stop)!);
          if (!SPACE_CHAR.test(ch)) break;
          stop += ch.length;
        }
        i = stop;
      }
      if (startOffset < start) res.push([startOffset, start, -1]);
      res.push([start, stop, t.id]);
      startOffset = stop;
    }
    if (startOffset !== n) res.push([startOffset, n, -1]);
    return res;
  }

  /** Splits a piece: added tokens become token pieces; the rest stays (empty parts dropped). */
  split(p: Piece, out: Piece[]): void {
    if (this.tokens.length === 0) {
      if (p.text.length > 0) out.push(p);
      return;
    }
    for (const [s, e, id] of this.findMatches(p.text)) {
      if (e <= s) continue;
      const sl = slicePiece(p, s, e);
      if (id >= 0) sl.tokenId = id;
      out.push(sl);
    }
  }
}
