/**
 * Validation of the playground's numeric fields: the text of the field against a whole-number
 * range, with the message shown beside the field. Pure (no DOM), so it is unit-tested; the
 * fields use it through `numberField` (dom.ts).
 */

export interface IntRange {
  /** The field's name as the message says it ("Max new tokens"). */
  label: string;
  min: number;
  max: number;
}

export type Checked = { ok: true; value: number } | { ok: false; message: string };

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Checks a field's text: a whole number from `min` to `max`, else the message that says why. */
export function checkInt(text: string, r: IntRange): Checked {
  const range = `a whole number from ${fmt(r.min)} to ${fmt(r.max)}`;
  const t = text.trim();
  if (t === '') return { ok: false, message: `${r.label}: enter ${range}.` };
  const v = Number(t);
  if (!Number.isFinite(v)) return { ok: false, message: `${r.label} must be ${range}.` };
  if (!Number.isInteger(v)) return { ok: false, message: `${r.label} must be ${range}, not ${t}.` };
  if (v < r.min) return { ok: false, message: `${r.label} must be at least ${fmt(r.min)} (${range}); ${fmt(v)} is too small.` };
  if (v > r.max) return { ok: false, message: `${r.label} must be at most ${fmt(r.max)} (${range}); ${fmt(v)} is too large.` };
  return { ok: true, value: v };
}
