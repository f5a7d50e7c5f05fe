/**
 * The editor hover's content: the tokens of a line (or a selection) as coloured spans with ids
 * and the count, as Markdown with HTML. Pure (no `vscode`), so the benchmark measures it as is.
 *
 * VS Code's hover sanitizer keeps only `style="color:…;background-color:…;border-radius:Npx;"`
 * on spans, with `var(--vscode-…)` colours: the palette is theme colours, so light, dark and
 * high-contrast themes all work.
 */
import { inspectTokens, visibleText } from '../engine/tokenizer/inspect';
import type { Tokenizer } from '../engine/tokenizer/types';

const PALETTE = [
  'var(--vscode-editor-findMatchHighlightBackground)',
  'var(--vscode-diffEditor-insertedTextBackground)',
  'var(--vscode-editor-wordHighlightStrongBackground)',
  'var(--vscode-diffEditor-removedTextBackground)',
];

export interface HoverOptions {
  /** At most this many characters around `focus` are tokenized (lines of megabytes). */
  maxChars?: number;
  /** At most this many tokens are drawn. */
  maxTokens?: number;
  /** UTF-16 index the window is centred on (the hovered column). */
  focus?: number;
}

export interface HoverContent {
  markdown: string;
  tokens: number;
  /** The text was cut to a window or the token list to maxTokens. */
  truncated: boolean;
  /** [start, end) of the text that was tokenized. */
  window: [number, number];
}

function esc(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    // every ASCII punctuation as an entity: neither Markdown nor HTML can read it as syntax
    if ((c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e)) out += `&#${c};`;
    else out += ch;
  }
  return out;
}

/** Cuts [start, end) to at most `max` characters around `focus`, never inside a surrogate pair. */
export function windowAround(text: string, max: number, focus = 0): [number, number] {
  if (text.length <= max) return [0, text.length];
  let s = Math.max(0, Math.min(focus - (max >> 1), text.length - max));
  let e = s + max;
  if (s > 0 && (text.charCodeAt(s) & 0xfc00) === 0xdc00) s++;
  if (e < text.length && (text.charCodeAt(e) & 0xfc00) === 0xdc00) e++;
  return [s, e];
}

export function tokenHoverMarkdown(t: Tokenizer, label: string, text: string, opts: HoverOptions = {}): HoverContent {
  const maxChars = opts.maxChars ?? 2000;
  const maxTokens = opts.maxTokens ?? 300;
  const [ws, we] = windowAround(text, maxChars, opts.focus ?? 0);
  const src = ws === 0 && we === text.length ? text : text.slice(ws, we);
  const all = inspectTokens(t, src);
  const shown = all.length > maxTokens ? all.slice(0, maxTokens) : all;
  const parts: string[] = [];
  let lastEnd = -1;
  let k = 0;
  for (const tok of shown) {
    // tokens that share a character (bytes of one glyph) draw the glyph once
    const piece = tok.start >= lastEnd ? src.slice(tok.start, tok.end) : '';
    lastEnd = Math.max(lastEnd, tok.end);
    const shownText = tok.special ? tok.piece : piece === '' ? '\u200b' : visibleText(piece);
    const bg = PALETTE[k++ % PALETTE.length];
    parts.push(`<span style="background-color:${bg};border-radius:3px;">${esc(shownText)}</span>`);
    if (piece.includes('\n')) parts.push('<br>');
  }
  const truncated = all.length > shown.length || ws > 0 || we < text.length;
  const ids = shown.map((x) => x.id).join(' ');
  const where = ws > 0 || we < text.length ? ` (characters ${ws}–${we} of ${text.length})` : '';
  const md = [
    `**${all.length} token${all.length === 1 ? '' : 's'}** · ${esc(label)} · ${[...src].length} characters${where}`,
    '',
    parts.join(''),
    '',
    `ids: \`${ids}${all.length > shown.length ? ` …+${all.length - shown.length}` : ''}\``,
  ].join('\n');
  return { markdown: md, tokens: all.length, truncated, window: [ws, we] };
}
