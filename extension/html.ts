/** The playground's HTML with a strict CSP and a fresh nonce per render. */
import * as crypto from 'node:crypto';

export interface HtmlParts {
  cspSource: string;
  scriptUri: string;
  codiconUri: string;
  title: string;
}

export function nonce(): string {
  return crypto.randomBytes(18).toString('base64url');
}

/**
 * default-src 'none'; scripts only by nonce; 'wasm-unsafe-eval' for onnxruntime-web; styles
 * only from the webview's resources (no inline styles: the playground's CSS is adopted as
 * constructed stylesheets, webview/dom.ts adoptStyle, and elements are styled through the CSSOM);
 * worker-src blob: because a webview may start workers only from blob:/data: URLs;
 * connect-src limited to the webview's own resource origin (the worker script and model files).
 */
export function csp(cspSource: string, n: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${n}' 'wasm-unsafe-eval'`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `connect-src ${cspSource}`,
    'worker-src blob:',
  ].join('; ');
}

export function playgroundHtml(p: HtmlParts): string {
  const n = nonce();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp(p.cspSource, n)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${p.codiconUri}" id="vscode-codicon-stylesheet">
<title>${escapeHtml(p.title)}</title>
</head>
<body>
<main id="app" aria-live="polite"><p class="loading">Starting the LLM Playground…</p></main>
<script type="module" nonce="${n}" src="${p.scriptUri}"></script>
</body>
</html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
