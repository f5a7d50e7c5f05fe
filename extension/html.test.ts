import { expect, test } from 'vitest';
import { csp, playgroundHtml } from './html';

test('CSP is strict: nothing by default, scripts only by nonce, wasm, blob workers', () => {
  const c = csp('https://x.vscode-cdn.net', 'N0NCE');
  expect(c).toContain("default-src 'none'");
  expect(c).toContain("script-src 'nonce-N0NCE' 'wasm-unsafe-eval'");
  expect(c).toContain('worker-src blob:');
  expect(c).toContain('connect-src https://x.vscode-cdn.net');
  expect(c).not.toMatch(/unsafe-inline/);
  expect(c).toContain('style-src https://x.vscode-cdn.net;');
});

test('each render has a fresh nonce used by the CSP and the script tag', () => {
  const parts = { cspSource: 'vscode-resource:', scriptUri: 'vscode-resource:/w.js', codiconUri: 'c.css', title: 'T<&>' };
  const a = playgroundHtml(parts);
  const b = playgroundHtml(parts);
  const nonceOf = (h: string) => /'nonce-([^']+)'/.exec(h)![1];
  expect(nonceOf(a)).not.toBe(nonceOf(b));
  expect(a).toContain(`<script type="module" nonce="${nonceOf(a)}" src="vscode-resource:/w.js">`);
  expect(a).toContain('<title>T&lt;&amp;&gt;</title>');
});
