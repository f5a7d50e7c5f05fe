/**
 * Token inspection for people: per token its id, vocabulary piece, raw bytes, UTF-16 range and
 * whether it is special; counts; and readable forms of whitespace. Used by the editor hover,
 * the status bar, the Tokenizer panel and the CLI. Pure TypeScript.
 */
import { HfTokenizer } from './hf';
import { TiktokenTokenizer } from './tiktoken';
import type { Tokenizer } from './types';
import { CHAR_TO_BYTE } from './unicode';

/** One token as people see it (the message protocol carries it to the Tokenizer panel). */
export interface TokenView {
  id: number;
  /** The vocabulary's form (Ġthe, ▁the, <0xE5>). */
  piece: string;
  /** Raw bytes, hex ("e4 bd"). */
  bytes: string;
  /** [start, end) in UTF-16 units of the text. */
  start: number;
  end: number;
  special: boolean;
  /** Part of a multi-byte character. */
  partial: boolean;
}

export interface TokenCounts {
  tokens: number;
  /** Unicode code points. */
  characters: number;
  /** UTF-8 bytes. */
  bytes: number;
  charsPerToken: number;
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const enc = new TextEncoder();

function isByteLevel(t: Tokenizer): boolean {
  if (t instanceof TiktokenTokenizer) return true;
  if (t instanceof HfTokenizer) return t.byteLevel;
  return t.kind === 'gguf-gpt2';
}

/** The raw bytes a token stands for. */
export function tokenBytes(t: Tokenizer, id: number): Uint8Array {
  if (t instanceof TiktokenTokenizer) return t.tokenBytes(id) ?? new Uint8Array();
  const piece = t.idToToken(id) ?? '';
  const m = BYTE_TOKEN.exec(piece);
  if (m) return Uint8Array.of(parseInt(m[1]!, 16));
  if (isByteLevel(t) && !t.specialIds.has(id)) {
    const out: number[] = [];
    for (const ch of piece) {
      const c = ch.codePointAt(0)!;
      const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c]! : -1;
      if (b < 0) return enc.encode(piece); // not byte-level after all (an added token)
      out.push(b);
    }
    return Uint8Array.from(out);
  }
  return enc.encode(piece.replace(/\u2581/g, ' '));
}

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (i ? ' ' : '') + b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Whether `b` is a whole number of UTF-8 characters. */
function wholeUtf8(b: Uint8Array): boolean {
  let i = 0;
  while (i < b.length) {
    const x = b[i]!;
    const n = x < 0x80 ? 1 : x >= 0xf0 ? 4 : x >= 0xe0 ? 3 : x >= 0xc0 ? 2 : 0;
    if (n === 0 || i + n > b.length) return false;
    for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return false;
    i += n;
  }
  return true;
}

/** Tokens of `text` for display (no BOS/EOS added). */
export function inspectTokens(t: Tokenizer, text: string, limit = Infinity): TokenView[] {
  const e = t.encode(text, { addSpecialTokens: false });
  const n = Math.min(e.ids.length, limit);
  const out: TokenView[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const id = e.ids[i]!;
    const b = tokenBytes(t, id);
    const special = t.specialIds.has(id);
    out[i] = {
      id,
      piece: e.tokens[i] ?? t.idToToken(id) ?? '',
      bytes: hex(b),
      start: e.offsetsUtf16[i]![0],
      end: e.offsetsUtf16[i]![1],
      special,
      partial: !special && !wholeUtf8(b),
    };
  }
  return out;
}

export function countText(text: string, tokens: number): TokenCounts {
  let chars = 0;
  let bytes = 0;
  for (let u = 0; u < text.length; u++) {
    const c = text.charCodeAt(u);
    chars++;
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && u + 1 < text.length && (text.charCodeAt(u + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      u++;
    } else bytes += 3;
  }
  return { tokens, characters: chars, bytes, charsPerToken: tokens ? chars / tokens : 0 };
}

export { visibleText } from './visible';
