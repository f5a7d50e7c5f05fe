/**
 * Streaming detokenizer shared by all tokenizer kinds, HF `DecodeStream`'s algorithm:
 * decode a small window of ids (the previous chunk as context plus the new ids) and emit
 * the part beyond the context's own decoding, unless it ends in U+FFFD (an incomplete
 * UTF-8 character: wait for more ids).
 */
import type { DecodeOptions, StreamDecoder, StreamDecoderOptions } from './types';

type DecodeFn = (ids: readonly number[], opts: DecodeOptions) => string;

export class WindowStreamDecoder implements StreamDecoder {
  private ids: number[];
  private prefix: string;
  private prefixIndex: number;
  private readonly opts: DecodeOptions;

  constructor(
    private readonly decode: DecodeFn,
    opts: StreamDecoderOptions = {},
  ) {
    this.opts = { skipSpecialTokens: opts.skipSpecialTokens };
    // Context: keep its tail as the window's first chunk (enough for leading-space and byte rules).
    // The whole context: a tail could start with tokens that decode to nothing, and then a
    // decoder rule about the start of the text (Strip, leading-space) would hit the new ids.
    // It is decoded on the first push only: the window drops it once text is emitted.
    const ctx = opts.context ? [...opts.context] : [];
    this.ids = ctx;
    this.prefix = ctx.length > 0 ? this.decode(ctx, this.opts) : '';
    this.prefixIndex = 0;
  }

  push(id: number): string {
    this.ids.push(id);
    const s = this.decode(this.ids, this.opts);
    if (s.length <= this.prefix.length || s.endsWith('\ufffd')) return '';
    // Normally the window's text extends the previous one. It does not when the previous text
    // ended in an incomplete character (a context cut inside a character) that is now complete:
    // then what differs is emitted.
    const out = s.startsWith(this.prefix) ? s.slice(this.prefix.length) : s.slice(commonPrefixLength(s, this.prefix));
    const newPrefixIndex = this.ids.length - this.prefixIndex;
    this.ids = this.ids.slice(this.prefixIndex);
    this.prefix = this.decode(this.ids, this.opts);
    this.prefixIndex = newPrefixIndex;
    return out;
  }

  flush(): string {
    const s = this.decode(this.ids, this.opts);
    const out = s.length > this.prefix.length && s.startsWith(this.prefix) ? s.slice(this.prefix.length) : '';
    this.prefix = s;
    this.prefixIndex = this.ids.length;
    return out;
  }
}

function commonPrefixLength(a: string, b: string): number {
  let k = 0;
  while (k < a.length && k < b.length && a.charCodeAt(k) === b.charCodeAt(k)) k++;
  return k;
}
