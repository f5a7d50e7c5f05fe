/** Readable forms of whitespace and control characters (no dependencies: the webview imports it). */

/** Whitespace and control characters made visible: space ·, tab →, newline ↵, others as \u{…}. */
export function visibleText(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === ' ') out += '·';
    else if (ch === '\t') out += '→';
    else if (ch === '\n') out += '↵';
    else if (ch === '\r') out += '␍';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfeff || c === 0x200b || c === 0x200c || c === 0x200d || c === 0x2028 || c === 0x2029 || c === 0xa0 || c === 0x3000) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return out;
}
