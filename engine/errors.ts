/**
 * Typed errors for bad input. Every message says which file, where (byte offset
 * or JSON key) and what was expected, so a user can act on it.
 */
export interface FormatErrorDetails {
  /** The file (path or display name) being read. */
  file: string;
  /** Byte offset where the problem was found, when it is a binary file. */
  offset?: number;
  /** JSON key / metadata key / tensor name involved. */
  key?: string;
  /** What was expected there. */
  expected?: string;
  /** What was found instead. */
  found?: string;
}

export class FormatError extends Error {
  readonly file: string;
  readonly offset?: number;
  readonly key?: string;
  readonly expected?: string;
  readonly found?: string;

  constructor(message: string, d: FormatErrorDetails) {
    const where = [d.offset !== undefined ? `offset ${d.offset}` : '', d.key !== undefined ? `key "${d.key}"` : ''].filter(Boolean).join(', ');
    const tail = [d.expected !== undefined ? `expected ${d.expected}` : '', d.found !== undefined ? `found ${d.found}` : ''].filter(Boolean).join('; ');
    super(`${d.file}${where ? ` (${where})` : ''}: ${message}${tail ? ` — ${tail}` : ''}`);
    this.name = 'FormatError';
    this.file = d.file;
    this.offset = d.offset;
    this.key = d.key;
    this.expected = d.expected;
    this.found = d.found;
  }
}

/** The model uses something the engine does not implement (architecture, dtype, rope type…). */
export class UnsupportedError extends FormatError {
  constructor(message: string, d: FormatErrorDetails) {
    super(message, d);
    this.name = 'UnsupportedError';
  }
}
