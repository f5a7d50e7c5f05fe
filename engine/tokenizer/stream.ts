/**
 * Streaming detokenizer shared by all tokenizer kinds, HF `DecodeStream`'s algorithm:
 * decode a small window of ids (the previous chunk as context plus the new ids) and emit
 * the part beyond the context's own decoding, unless it ends in U+FFFD (an incomplete
 * UTF-8 character: wait for more ids).
 */
import type { DecodeOptions, StreamDecoder, StreamDecoderOptions } from './types';

/** How many context ids are kept: enough for every decoder rule (leading spaces, up to 4 pending bytes). */
const CONTEXT_TAIL = 8;

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
    const ctx = opts.context ? opts.context.slice(Math.max(0, opts.context.length - CONTEXT_TAIL)) : [];
    this.ids = ctx;
    this.prefix = ctx.length > 0 ? this.decode(ctx, this.opts) : '';
    this.prefixIndex = 0;
    if (ctx.length > 0 && this.prefix.endsWith('\ufffd')) {
      // context ends inside a character: those bytes belong to what comes next
      this.prefix = this.decodeLongestComplete(ctx);
    }
  }

  private decodeLongestComplete(ctx: number[]): string {
    for (let cut = ctx.length - 1; cut >= Math.max(0, ctx.length - 4); cut--) {
      const s = this.decode(ctx.slice(0, cut), this.opts);
      if (!s.endsWith('\ufffd')) return s;
    }
    return this.decode(ctx, this.opts);
  }

  push(id: number): string {
    this.ids.push(id);
    const s = this.decode(this.ids, this.opts);
    if (s.length > this.prefix.length && !s.endsWith('\ufffd') && s.startsWith(this.prefix)) {
      const out = s.slice(this.prefix.length);
      const newPrefixIndex = this.ids.length - this.prefixIndex;
      this.ids = this.ids.slice(this.prefixIndex);
      this.prefix = this.decode(this.ids, this.opts);
      this.prefixIndex = newPrefixIndex;
      return out;
    }
    if (s.length > this.prefix.length && !s.endsWith('\ufffd') && !s.startsWith(this.prefix)) {
      // The window changed how its start decodes (should not happen with HF's decoders): resync.
      const out = s.slice(commonPrefixLength(s, this.prefix));
      this.ids = this.ids.slice(this.prefixIndex);
      this.prefix = this.decode(this.ids, this.opts);
      this.prefixIndex = this.ids.length;
      return out;
    }
    return '';
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
