/**
 * A deterministic mixed corpus (> 1 MB) for tokenizer comparisons and benchmarks:
 * tinyshakespeare + this repository's TypeScript sources (sorted by path) + generated CJK,
 * emoji, other scripts and whitespace runs (seeded PRNG). Node-only (tests, benches).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../..');

export function shakespeare(): string {
  const shipped = path.join(repoRoot, 'models/corpus/tinyshakespeare.txt');
  return readFileSync(shipped, 'utf8');
}

/** The repository's tracked TypeScript files under engine/ extension/ webview/, sorted, concatenated. */
export function repoSources(maxChars = 600_000): string {
  let files: string[] = [];
  try {
    files = execFileSync('git', ['ls-files', '--', 'engine/*.ts', 'extension/*.ts', 'webview/*.ts'], { cwd: repoRoot, encoding: 'utf8' }).split('\n').filter(Boolean).sort();
  } catch {
    files = [];
  }
  let out = '';
  for (const f of files) {
    try {
      out += readFileSync(path.join(repoRoot, f), 'utf8') + '\n';
    } catch {
      /* deleted in the working tree */
    }
    if (out.length > maxChars) break;
  }
  return out.slice(0, maxChars);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generated multilingual / emoji / whitespace text, `chars` UTF-16 units long (about). */
export function generatedMix(chars = 300_000, seed = 5): string {
  const r = mulberry32(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const range = (lo: number, hi: number) => String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
  const emoji = ['😀', '🎉', '👍🏽', '👨‍👩‍👧‍👦', '🇯🇵', '🇫🇷', '❤️', '🧑🏿‍💻', '🌍', '✨', '🙈', '🏳️‍🌈', '1️⃣', '🤖'];
  const ws = [' ', '  ', '    ', '\t', '\n', '\n\n', '\r\n', '   \n', ' \t ', '\u00a0', '\u3000', '\n    ', '\n\t\t', '        '];
  const words = [
    "don't",
    "IT'S",
    "we'll",
    'Hello',
    'world',
    'naïve',
    'café',
    'Straße',
    'ÆØÅ',
    'μικρό',
    'слово',
    'שלום',
    'مرحبا',
    'नमस्ते',
    'ภาษาไทย',
    '12345',
    '3.14159',
    'x_y',
    'fooBar',
    '$$',
    '/**',
    '=>',
    '!==',
    '...',
    '—',
    '«»',
    'e\u0301',
    'a\u0308\u0304',
  ];
  const parts: string[] = [];
  let n = 0;
  while (n < chars) {
    const k = r();
    let s: string;
    if (k < 0.25) {
      s = '';
      const len = 1 + Math.floor(r() * 12);
      for (let i = 0; i < len; i++) s += range(0x4e00, 0x9fff);
      if (r() < 0.5) s += pick(['，', '。', '、', '「', '」', '！', '？']);
    } else if (k < 0.32) s = Array.from({ length: 1 + Math.floor(r() * 6) }, () => range(0x3041, 0x30ff)).join('');
    else if (k < 0.38) s = Array.from({ length: 1 + Math.floor(r() * 5) }, () => range(0xac00, 0xd7a3)).join('');
    else if (k < 0.5) s = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(emoji)).join(r() < 0.5 ? '' : ' ');
    else if (k < 0.72) s = pick(ws);
    else if (k < 0.74) s = ' '.repeat(1 + Math.floor(r() * 80));
    else if (k < 0.95) s = pick(words);
    else if (k < 0.98) s = range(0x1f300, 0x1faff);
    else s = range(0x20, 0x7e);
    parts.push(s);
    n += s.length;
  }
  return parts.join('');
}

/** The whole comparison corpus (> 1 MB of UTF-8). */
export function mixedCorpus(): string {
  return [shakespeare(), repoSources(), generatedMix()].join('\n\n');
}
