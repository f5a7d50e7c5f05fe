/** The decoders of a Hugging Face tokenizer.json, each built from its JSON and behaving as in HF tokenizers (Rust). */
import { type Json, JsonReader } from './json';
import { type PatternSpec, readPattern } from './patterns';
import { readPrependScheme } from './pre-tokenizers';
import { CHAR_TO_BYTE, utf8DecodeLossy, utf8DecodeStrict, utf8Encode } from './unicode';

export type Decoder = (tokens: string[]) => string[];

/** HF ByteLevel decoder: tokens -> bytes (raw UTF-8 for tokens outside the byte alphabet) -> lossy UTF-8. */
export function byteLevelDecode(tokens: string[]): string[] {
  const bytes: number[] = [];
  for (const t of tokens) {
    let ok = true;
    for (let k = 0; k < t.length; k++) {
      const c = t.charCodeAt(k);
      if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c]! < 0) {
        ok = false;
        break;
      }
    }
    if (ok) for (let k = 0; k < t.length; k++) bytes.push(CHAR_TO_BYTE[t.charCodeAt(k)]!);
    else for (const b of utf8Encode(t)) bytes.push(b);
  }
  return [utf8DecodeLossy(Uint8Array.from(bytes))];
}

/** HF ByteFallback decoder. */
export function byteFallbackDecode(tokens: string[]): string[] {
  const out: string[] = [];
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const s = utf8DecodeStrict(Uint8Array.from(pending));
    if (s !== null) out.push(s);
    else for (let k = 0; k < pending.length; k++) out.push('\ufffd');
    pending = [];
  };
  for (const t of tokens) {
    const b = byteTokenValue(t);
    if (b >= 0) pending.push(b);
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
}

/** `<0xNN>` -> NN, else -1 (HF: length 6, starts with "<0x", ends with ">", two hex digits). */
export function byteTokenValue(t: string): number {
  if (t.length !== 6 || !t.startsWith('<0x') || t[5] !== '>') return -1;
  const h = t.slice(3, 5);
  if (!/^[0-9a-fA-F]{2}$/.test(h)) return -1;
  return parseInt(h, 16);
}

function replaceAll(p: PatternSpec, s: string, content: string): string {
  if (p.kind === 'string') return p.s.length === 0 ? s : s.split(p.s).join(content);
  p.re.lastIndex = 0;
  return s.replace(p.re, () => content);
}

export function buildDecoder(r: JsonReader, v: Json | undefined, key: string): Decoder | null {
  if (v === undefined || v === null) return null;
  const o = r.obj(v, key);
  const type = r.str(o.type, `${key}.type`);
  switch (type) {
    case 'ByteLevel':
      return byteLevelDecode;
    case 'ByteFallback':
      return byteFallbackDecode;
    case 'Fuse':
      return (tokens) => [tokens.join('')];
    case 'Strip': {
      const content = r.char(o.content, `${key}.content`);
      const start = r.int(o.start, `${key}.start`, 0);
      const stop = r.int(o.stop, `${key}.stop`, 0);
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t];
          let startCut = 0;
          for (let i = 0; i < Math.min(start, chars.length); i++) {
            if (chars[i] === content) startCut = i + 1;
            else break;
          }
          let stopCut = chars.length;
          for (let i = 0; i < Math.min(stop, chars.length - startCut); i++) {
            const idx = chars.length - i - 1;
            if (chars[idx] === content) stopCut = idx;
            else break;
          }
          return chars.slice(startCut, stopCut).join('');
        });
    }
    case 'Replace': {
      const pat = readPattern(r, o.pattern, `${key}.pattern`);
      const content = r.str(o.content, `${key}.content`);
      return (tokens) => tokens.map((t) => replaceAll(pat, t, content));
    }
    case 'Metaspace': {
      const rep = r.char(o.replacement, `${key}.replacement`);
      const scheme = readPrependScheme(r, o, key);
      return (tokens) =>
        tokens.map((t, i) => {
          let s = '';
          for (const c of t) {
            if (c === rep) {
              if (!(i === 0 && scheme !== 'never')) s += ' ';
            } else s += c;
          }
          return s;
        });
    }
    case 'BPEDecoder': {
      const suffix = r.str(o.suffix ?? '</w>', `${key}.suffix`);
      return (tokens) => tokens.map((t, i) => (suffix ? t.split(suffix).join(i === tokens.length - 1 ? '' : ' ') : t));
    }
    case 'WordPiece': {
      const prefix = r.str(o.prefix ?? '##', `${key}.prefix`);
      const cleanup = r.bool(o.cleanup, `${key}.cleanup`, true);
      return (tokens) =>
        tokens.map((t, i) => {
          let s = t;
          if (i !== 0) s = s.startsWith(prefix) ? s.slice(prefix.length) : ` ${s}`;
          if (cleanup) {
            s = s
              .split(' .')
              .join('.')
              .split(' ?')
              .join('?')
              .split(' !')
              .join('!')
              .split(' ,')
              .join(',')
              .split(" ' ")
              .join("'")
              .split(" n't")
              .join("n't")
              .split(" 'm")
              .join("'m")
              .split(' do not')
              .join(" don't")
              .split(" 's")
              .join("'s")
              .split(" 've")
              .join("'ve")
              .split(" 're")
              .join("'re");
          }
          return s;
        });
    }
    case 'Sequence': {
      const list = r.arr(o.decoders, `${key}.decoders`);
      const decs = list.map((d, i) => buildDecoder(r, d, `${key}.decoders[${i}]`)).filter((d): d is Decoder => d !== null);
      return (tokens) => {
        for (const d of decs) tokens = d(tokens);
        return tokens;
      };
    }
    default:
      throw r.unsupported(`decoder type "${type}" is not supported`, `${key}.type`, type);
  }
}
