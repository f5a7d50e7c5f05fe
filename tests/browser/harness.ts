/**
 * Browser-test harness: Debian's chromium, headless, driven by playwright-core,
 * with WebGPU on SwiftShader (CPU), and a tiny static server on 127.0.0.1
 * (WebGPU needs a secure context, which http://127.0.0.1 is).
 */
import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const repoRoot = path.resolve(__dirname, '../..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export type Files = Record<string, { body: string | Uint8Array; type?: string; headers?: Record<string, string> }>;

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `files` (path → content) on 127.0.0.1 at a free port. Unknown paths are 404. */
export async function serve(files: Files): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    const f = files[p];
    if (!f) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('content-type', f.type ?? guessType(p));
    for (const [k, v] of Object.entries(f.headers ?? {})) res.setHeader(k, v);
    res.end(f.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function guessType(p: string): string {
  if (p.endsWith('.js')) return 'text/javascript';
  if (p.endsWith('.css')) return 'text/css';
  if (p.endsWith('.html') || p === '/') return 'text/html';
  return 'application/octet-stream';
}

/** Bundles a TypeScript entry for the browser and returns the JS text. */
export async function bundleForBrowser(entry: string, format: 'iife' | 'esm' = 'iife'): Promise<string> {
  const out = await build({
    entryPoints: [path.resolve(repoRoot, entry)],
    bundle: true,
    write: false,
    format,
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}
