/**
 * Structure-aware JSON mutations: values are replaced by other types, huge numbers, NaN and
 * Infinity tokens (not JSON, but what a broken writer produces), deep nesting, long strings,
 * catastrophic regex patterns; keys are deleted or duplicated; text is truncated. The result
 * is serialised by hand so that duplicate keys and non-JSON tokens survive.
 */
import { INTERESTING_NUMBERS, type Rng } from './rng';

/** A JSON-like tree that can also hold raw tokens and duplicate keys. */
type Node = null | boolean | number | string | Node[] | { entries: [string, Node][] } | { raw: string };

/** Patterns that backtrack catastrophically in a backtracking engine, and other odd ones. */
export const EVIL_PATTERNS = ['(a+)+$', '(a|a)*$', '(?:x*)*y', '(a*)*b', '^(\\w+\\s?)*$', '(.*a){20}', '((a+)+)+$', '(?=a)*', '[', '(?<n>a)\\k<n>', '\\p{Foo}', '(?i)(a|aa)+$', ''];

function toNode(v: unknown): Node {
  if (Array.isArray(v)) return v.map(toNode);
  if (v && typeof v === 'object') return { entries: Object.entries(v).map(([k, x]) => [k, toNode(x)]) };
  return v as Node;
}

function isObj(n: Node): n is { entries: [string, Node][] } {
  return !!n && typeof n === 'object' && 'entries' in n;
}

/** Every container/value location in the tree, as (parent, key-or-index) pairs. */
function slots(root: Node, out: { parent: Node[] | { entries: [string, Node][] }; at: number }[] = []): typeof out {
  if (Array.isArray(root)) {
    root.forEach((c, i) => {
      out.push({ parent: root, at: i });
      slots(c, out);
    });
  } else if (isObj(root)) {
    root.entries.forEach(([, c], i) => {
      out.push({ parent: root, at: i });
      slots(c, out);
    });
  }
  return out;
}

function get(s: { parent: Node[] | { entries: [string, Node][] }; at: number }): Node {
  return Array.isArray(s.parent) ? s.parent[s.at] : s.parent.entries[s.at][1];
}
function set(s: { parent: Node[] | { entries: [string, Node][] }; at: number }, v: Node): void {
  if (Array.isArray(s.parent)) s.parent[s.at] = v;
  else s.parent.entries[s.at][1] = v;
}

function deep(rng: Rng): Node {
  const n = rng.pick([10, 70, 1000, 100_000]);
  return rng.chance(0.5) ? { raw: '['.repeat(n) + ']'.repeat(n) } : { raw: '{"a":'.repeat(n) + '1' + '}'.repeat(n) };
}

function replacement(rng: Rng, old: Node): Node {
  switch (rng.int(12)) {
    case 0:
      return rng.pick(INTERESTING_NUMBERS);
    case 1:
      return { raw: rng.pick(['NaN', 'Infinity', '-Infinity', '1e999', '-0', '00', '1.', '"\\ud800"']) };
    case 2:
      return rng.pick([null, true, false, '', 'yes', '0', [], { entries: [] }]);
    case 3:
      return rng.pick(EVIL_PATTERNS);
    case 4:
      return 'x'.repeat(rng.pick([1, 300, 70_000, 1_000_000]));
    case 5:
      return deep(rng);
    case 6:
      return typeof old === 'number' ? old * rng.pick([-1, 2, 1000, 1e6, 0.5]) + rng.pick([0, 1, -1]) : rng.pick(INTERESTING_NUMBERS);
    case 7:
      return [old, old];
    case 8:
      return { entries: [['type', rng.pick(['Sequence', 'Split', 'Replace', 'BPE', 'ByteLevel', 'Metaspace', 'llama3', 'linear', 'nope'])]] };
    case 9:
      // long arrays only of small items, so that a case stays a few MB at most
      return Array.from({ length: rng.pick([3, 1000, 100_000]) }, () => (typeof old === 'number' || old === null || (typeof old === 'string' && old.length < 64) ? (old ?? 1) : 1));
    case 10:
      return typeof old === 'string' ? old + rng.pick(['\u0000', '\ud800', '..', '/../../x', '▁', '\\']) : String(old);
    default:
      return rng.pick([0, 1, -1, 'F32', 'F64', 'I8', 'Q4', 'LORA', 'gpt2', 'llama', 'mixtral', '<s>', '</s>']);
  }
}

/** The largest document a case builds (characters). */
const MAX_TEXT = 32 * 1024 * 1024;

/** Applies 1..4 structural mutations to a parsed JSON value; returns the new document's text. */
export function mutateJson(value: unknown, rng: Rng): string {
  const root = toNode(structuredClone(value));
  const n = 1 + rng.int(4);
  let wrapped: Node = root;
  for (let k = 0; k < n; k++) {
    const all = slots(wrapped);
    const op = rng.int(10);
    if (all.length === 0 || op === 0) {
      if (rng.chance(0.3)) wrapped = rng.pick([[wrapped], 'x', 1, null, { entries: [['a', wrapped]] }]);
      continue;
    }
    const s = rng.pick(all);
    if (op <= 5) set(s, replacement(rng, get(s)));
    else if (op === 6 && !Array.isArray(s.parent)) s.parent.entries.splice(s.at, 1);
    else if (op === 7 && !Array.isArray(s.parent)) s.parent.entries.push([s.parent.entries[s.at][0], replacement(rng, get(s))]);
    else if (op === 8 && Array.isArray(s.parent)) s.parent.splice(s.at, rng.chance(0.5) ? 1 : 0, ...(rng.chance(0.5) ? [] : [get(s), get(s)]));
    else set(s, replacement(rng, get(s)));
  }
  let text: string;
  try {
    text = serialise(wrapped);
  } catch {
    text = ''; // over V8's string limit: replaced by the cap below
  }
  // a case stays small enough to build quickly and to keep as a reproducer
  if (text === '' || text.length > MAX_TEXT) text = JSON.stringify(value).slice(0, 1 + rng.int(1000));
  if (rng.chance(0.08)) text = text.slice(0, rng.int(text.length + 1));
  if (rng.chance(0.03)) text = '\ufeff' + text;
  return text;
}

function serialise(n: Node): string {
  if (Array.isArray(n)) return `[${n.map(serialise).join(',')}]`;
  if (n && typeof n === 'object') {
    if ('raw' in n) return n.raw;
    return `{${n.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialise(v)}`).join(',')}}`;
  }
  return JSON.stringify(n) ?? 'null';
}
