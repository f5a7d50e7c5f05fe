/**
 * A depth limit for JSON read from files. JSON.parse itself copes with deep nesting, but the
 * code that walks the result (a tokenizer's normalizer sequences, a safetensors header) is
 * recursive, so a file nested 100,000 levels deep would end in "Maximum call stack size
 * exceeded" with no file or offset. Real files nest a few levels (a tokenizer.json about
 * eight); MAX_JSON_DEPTH leaves ample room.
 */
import { FormatError } from '../errors';

export const MAX_JSON_DEPTH = 64;

/**
 * The offset (UTF-16 index into `text`) of the first `[` or `{` that opens a level deeper
 * than `maxDepth`, or -1. One linear pass; strings (with escapes) are skipped.
 */
export function jsonTooDeepAt(text: string, maxDepth = MAX_JSON_DEPTH): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/** Throws a FormatError naming the file and offset when `text` nests deeper than MAX_JSON_DEPTH. `base`: the text's byte offset in the file, where known. */
export function checkJsonDepth(text: string, file: string, base = 0): void {
  const at = jsonTooDeepAt(text);
  if (at >= 0) throw new FormatError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`, { file, offset: base + at, expected: `at most ${MAX_JSON_DEPTH} levels of [ and {` });
}
