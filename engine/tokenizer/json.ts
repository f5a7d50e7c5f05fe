/** Typed access to parsed JSON with FormatErrors that name the file and the key path. */
import { FormatError, UnsupportedError } from '../errors';
import { checkJsonDepth } from '../formats/json-depth';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

export class JsonReader {
  constructor(readonly file: string) {}

  error(message: string, key: string, expected?: string, found?: unknown): FormatError {
    return new FormatError(message, { file: this.file, key, expected, found: found === undefined ? undefined : describe(found) });
  }

  unsupported(message: string, key: string, found?: string): UnsupportedError {
    return new UnsupportedError(message, { file: this.file, key, found });
  }

  parse(text: string): Json {
    try {
      const json = JSON.parse(text) as Json;
      checkJsonDepth(text, this.file);
      return json;
    } catch (e) {
      if (e instanceof FormatError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      const m = /position (\d+)/.exec(msg);
      throw new FormatError('not valid JSON', {
        file: this.file,
        offset: m ? Number(m[1]) : undefined,
        expected: 'a JSON document',
        found: msg,
      });
    }
  }

  obj(v: Json | undefined, key: string): JsonObject {
    if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) {
      throw this.error(v === undefined ? 'missing' : 'wrong type', key, 'an object', v === undefined ? undefined : v);
    }
    return v;
  }

  arr(v: Json | undefined, key: string): Json[] {
    if (!Array.isArray(v)) throw this.error(v === undefined ? 'missing' : 'wrong type', key, 'an array', v);
    return v;
  }

  str(v: Json | undefined, key: string): string {
    if (typeof v !== 'string') throw this.error(v === undefined ? 'missing' : 'wrong type', key, 'a string', v);
    return v;
  }

  optStr(v: Json | undefined, key: string): string | null {
    if (v === undefined || v === null) return null;
    return this.str(v, key);
  }

  bool(v: Json | undefined, key: string, dflt?: boolean): boolean {
    if ((v === undefined || v === null) && dflt !== undefined) return dflt;
    if (typeof v !== 'boolean') throw this.error(v === undefined ? 'missing' : 'wrong type', key, 'true or false', v);
    return v;
  }

  int(v: Json | undefined, key: string, dflt?: number): number {
    if ((v === undefined || v === null) && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw this.error(v === undefined ? 'missing' : 'wrong type', key, 'a non-negative integer', v);
    }
    return v;
  }

  /**
   * Token ids must lie below this once the vocabulary is read (its number of entries plus room
   * for added tokens): an id far above would make tables the size of the id.
   */
  idLimit = Number.MAX_SAFE_INTEGER;
  /** How `idLimit` was set, for the error ("the number of entries + 65536"). */
  idLimitWhy = '';

  /** A token id: a non-negative integer below `idLimit`. */
  tokenId(v: Json | undefined, key: string): number {
    const id = this.int(v, key);
    if (id >= this.idLimit)
      throw this.error('token id is far above the size of the vocabulary', key, `an id below ${this.idLimit}${this.idLimitWhy ? ` (${this.idLimitWhy})` : ''}`, id);
    return id;
  }

  /** A single character (Rust `char`). */
  char(v: Json | undefined, key: string): string {
    const s = this.str(v, key);
    if ([...s].length !== 1) throw this.error('wrong value', key, 'a single character', s);
    return s;
  }
}
