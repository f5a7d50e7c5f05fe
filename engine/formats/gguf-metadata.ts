/** Typed access to a parsed GGUF file's metadata: every mismatch is a FormatError naming the key. */
import { FormatError } from '../errors';
import type { GgufFile } from './gguf';

function typeError(file: GgufFile, key: string, expected: string): FormatError {
  const v = file.metadata.get(key);
  return new FormatError('metadata value has the wrong type', {
    file: file.name,
    key,
    expected,
    found: `${file.metadataTypes.get(key)} ${Array.isArray(v) || ArrayBuffer.isView(v) ? `[${v.length} items]` : String(v)}`,
  });
}

/** An unsigned integer value (any integer type, non-negative, safe); undefined when absent. */
export function ggufUint(file: GgufFile, key: string): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  const t = file.metadataTypes.get(key) ?? '';
  if (typeof v !== 'number' || !/^[ui](8|16|32|64)$/.test(t) || v < 0) throw typeError(file, key, 'a non-negative integer');
  return v;
}

/** A float (f32/f64, or an integer type); undefined when absent. */
export function ggufFloat(file: GgufFile, key: string): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw typeError(file, key, 'a number');
  return v;
}

/** A finite float > 0 (a RoPE base, a scale factor, an epsilon); undefined when absent. 0, a negative value or NaN would make NaN logits. */
export function ggufPositiveFloat(file: GgufFile, key: string): number | undefined {
  const v = ggufFloat(file, key);
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new FormatError('bad value', { file: file.name, key, expected: 'a finite number > 0', found: String(v) });
  return v;
}

export function ggufString(file: GgufFile, key: string): string | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw typeError(file, key, 'a string');
  return v;
}

export function ggufBool(file: GgufFile, key: string): boolean | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw typeError(file, key, 'a boolean');
  return v;
}
