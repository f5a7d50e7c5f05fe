/**
 * Token counts of large documents without blocking: each line (with its line break) is counted
 * once and cached by its text, so an edit recounts only the lines it changed. The sum is an
 * approximation of the whole-document count (a token can span a line break, e.g. "\n\n");
 * `exactBelow` characters and less are counted exactly in one go instead.
 *
 * Long lines are counted in chunks of `chunkChars` (bounded work per call; also approximate).
 */
import type { Tokenizer } from './types';

export interface CancelToken {
  readonly isCancellationRequested: boolean;
}

export interface CountResult {
  tokens: number;
  exact: boolean;
}

export class LineTokenCounter {
  private cache = new Map<string, number>();

  constructor(
    readonly tokenizer: Tokenizer,
    private readonly maxEntries = 200_000,
    readonly chunkChars = 16_384,
    readonly exactBelow = 65_536,
  ) {}

  /** Tokens of one piece of text (cached when short enough). */
  countPiece(s: string): number {
    const hit = this.cache.get(s);
    if (hit !== undefined) return hit;
    let n = 0;
    if (s.length <= this.chunkChars) n = this.tokenizer.encodeIds(s, { addSpecialTokens: false }).length;
    else for (let i = 0; i < s.length; i += this.chunkChars) n += this.tokenizer.encodeIds(s.slice(i, i + this.chunkChars), { addSpecialTokens: false }).length;
    if (s.length <= 4096) {
      if (this.cache.size >= this.maxEntries) this.cache.clear();
      this.cache.set(s, n);
    }
    return n;
  }

  /**
   * Counts a text made of `lineCount` lines given by `lineAt` (each with its line break).
   * Yields to the caller every `sliceMs` through `pause` (await it) and stops (undefined) on cancel.
   */
  async countLines(lineCount: number, lineAt: (i: number) => string, cancel?: CancelToken, pause?: () => Promise<void>, sliceMs = 8): Promise<CountResult | undefined> {
    let total = 0;
    let t0 = Date.now();
    for (let i = 0; i < lineCount; i++) {
      total += this.countPiece(lineAt(i));
      if (pause && (i & 63) === 63 && Date.now() - t0 > sliceMs) {
        await pause();
        if (cancel?.isCancellationRequested) return undefined;
        t0 = Date.now();
      }
    }
    return { tokens: total, exact: lineCount <= 1 };
  }

  /** Exact count for short texts, else the per-line sum. */
  async count(text: string, cancel?: CancelToken, pause?: () => Promise<void>): Promise<CountResult | undefined> {
    if (text.length <= this.exactBelow) return { tokens: this.tokenizer.encodeIds(text, { addSpecialTokens: false }).length, exact: true };
    const lines: string[] = [];
    let pos = 0;
    while (pos < text.length) {
      let e = text.indexOf('\n', pos);
      e = e < 0 ? text.length : e + 1;
      lines.push(text.slice(pos, e));
      pos = e;
    }
    const r = await this.countLines(lines.length, (i) => lines[i]!, cancel, pause);
    return r && { tokens: r.tokens, exact: false };
  }
}
