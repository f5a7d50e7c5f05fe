/** Sorts what a case's run ended with: success, a typed error that names the file, or a finding. */
import { FormatError } from '../../engine/errors';

export type Verdict = { kind: 'ok' } | { kind: 'typed'; message: string } | { kind: 'finding'; reason: string; message: string };

const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s);

export function classify(e: unknown): Verdict {
  if (e instanceof FormatError) {
    if (!e.file) return { kind: 'finding', reason: 'typed error without a file', message: clip(e.message) };
    return { kind: 'typed', message: clip(e.message) };
  }
  const name = e instanceof Error ? e.name : typeof e;
  const message = e instanceof Error ? e.message : String(e);
  const reason = /Maximum call stack/.test(message) ? 'stack overflow' : `untyped ${name}`;
  return { kind: 'finding', reason, message: clip(message) };
}
