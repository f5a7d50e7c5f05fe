/**
 * The checks every feature's validators share: ProtocolError, field readers that
 * say what is wrong in words, and the parser tables the entry points
 * (protocol/index.ts) dispatch on.
 */

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** A message that is an object, its fields not checked yet. */
export type Raw = Record<string, unknown>;

/** One parser per message type of a union; each returns its message, checked. */
export type MessageParsers<U extends { type: string }> = { [T in U['type']]: (raw: Raw) => Extract<U, { type: T }> };

/** One parser per request method of a union; each returns its request, checked (the id already is). */
export type RequestParsers<U extends { method: string }> = { [M in U['method']]: (raw: Raw, id: number) => Extract<U, { method: M }> };

/**
 * Given a map from each request to the types of the messages that answer it (by its id):
 * those types at run time, and the ones after which no more come.
 */
export type ReplyTable<R> = { [T in keyof R]: { replies: readonly R[T][]; last: readonly R[T][] } };

/** Longest string field (characters) unless a message says otherwise. */
export const MAX_STRING = 64 * 1024;

export function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The table's entry for `key`, never one inherited from Object.prototype. */
export function lookup<P extends object>(table: P, key: unknown): P[keyof P] | undefined {
  return typeof key === 'string' && Object.prototype.hasOwnProperty.call(table, key) ? table[key as keyof P] : undefined;
}

export function str(o: Raw, key: string, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') throw new ProtocolError(`field "${key}" must be a string, got ${describe(v)}`);
  if (v.length > MAX_STRING) throw new ProtocolError(`field "${key}" is longer than ${MAX_STRING} characters`);
  return v;
}

export function num(o: Raw, key: string, optional = false): number | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ProtocolError(`field "${key}" must be a finite number, got ${describe(v)}`);
  }
  return v;
}

/** A value in words, for error messages (never the whole value). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 40))}`;
  return typeof v;
}
