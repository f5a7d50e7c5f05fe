import { describe, expect, it } from 'vitest';
import { loadBuiltinTokenizer } from '../engine/tokenizer/builtin-node';
import { tokenHoverMarkdown, windowAround } from './token-markdown';
import { wellFormed } from '../engine/tokenizer/unicode';

describe('token hover markdown', () => {
  it('coloured spans with theme colours only, ids and the count; Markdown/HTML in the text is escaped', async () => {
    const t = await loadBuiltinTokenizer('o200k_base');
    const line = 'const x = a*b <b>bold</b> [link](http://x) 你好';
    const h = tokenHoverMarkdown(t, 'GPT-4o', line);
    const ids = t.encodeIds(line);
    expect(h.tokens).toBe(ids.length);
    expect(h.markdown).toContain(`**${ids.length} tokens**`);
    expect(h.markdown).toContain(`ids: \`${ids.join(' ')}\``);
    const styles = [...h.markdown.matchAll(/style="([^"]*)"/g)].map((m) => m[1]!);
    expect(styles.length).toBe(ids.length);
    // VS Code's hover sanitizer keeps only this form
    for (const s of styles) expect(s).toMatch(/^(background-color:var\(--vscode(-[a-zA-Z0-9]+)+\);)(border-radius:[0-9]+px;)$/);
    expect(h.markdown).not.toContain('<b>');
    expect(h.markdown).not.toMatch(/\[link\]/);
    expect(h.markdown).toContain('·'); // spaces are visible
  });

  it('a line of megabytes is cut to a window around the cursor', async () => {
    const t = await loadBuiltinTokenizer('cl100k_base');
    const line = 'word '.repeat(400_000);
    const t0 = performance.now();
    const h = tokenHoverMarkdown(t, 'GPT-4', line, { focus: 1_000_000, maxChars: 2000 });
    expect(performance.now() - t0).toBeLessThan(200);
    expect(h.truncated).toBe(true);
    expect(h.window[1] - h.window[0]).toBeLessThanOrEqual(2001);
    expect(h.window[0]).toBeGreaterThan(990_000);
  });

  it('windows never split a surrogate pair', () => {
    const s = '😀'.repeat(10);
    const [a, b] = windowAround(s, 5, 5);
    expect(wellFormed(s.slice(a, b))).toBe(s.slice(a, b));
  });
});
