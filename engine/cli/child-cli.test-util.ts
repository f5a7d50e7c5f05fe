/**
 * Runs the CLI in a child process for tests that measure it: the CLI bundled once (esbuild,
 * into a temp folder), started with a preload that writes the process's peak resident memory
 * and CPU time (process.resourceUsage()) to a file on exit. Gives exit code, stdout, stderr, wall time,
 * CPU time and peak RSS; `onStart` sees the child (to send it a signal).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(__dirname, '../..');
let bundled: { dir: string; cli: string; preload: string } | undefined;

/** Bundles engine/cli/main.ts (once per test file). */
export async function bundleCli(): Promise<void> {
  if (bundled) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'llmp-cli-bundle-'));
  const cli = path.join(dir, 'cli.js');
  await build({
    entryPoints: [path.join(root, 'engine/cli/main.ts')],
    outfile: cli,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['webgpu'],
    logLevel: 'warning',
    // as scripts/build.mjs bundles it: onnxruntime-web's Node build reads import.meta.url (createRequire)
    define: { 'import.meta.url': '__cliFileUrl' },
    banner: { js: "const __cliFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
  const preload = path.join(dir, 'peak-rss.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => { const u = process.resourceUsage(); if (process.env.PEAK_RSS_FILE) require('fs').writeFileSync(process.env.PEAK_RSS_FILE, JSON.stringify({ rss: u.maxRSS * 1024, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 })); });\n`,
  );
  bundled = { dir, cli, preload };
}

export function removeCliBundle(): void {
  if (bundled) rmSync(bundled.dir, { recursive: true, force: true });
  bundled = undefined;
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
  /** Peak resident memory of the child, bytes. */
  peakRss: number;
  /** CPU time of the child (user + system), ms: a time limit that does not depend on how busy the machine is. */
  cpuMs: number;
}

export async function runCliChild(
  argv: string[],
  opts: { onStart?: (child: ChildProcess, err: () => string) => void; timeoutMs?: number; input?: string; env?: Record<string, string> } = {},
): Promise<ChildRun> {
  await bundleCli();
  const b = bundled!;
  const rssFile = path.join(b.dir, `rss-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--require', b.preload, b.cli, ...argv], {
    env: { ...process.env, ...opts.env, PEAK_RSS_FILE: rssFile },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (err += String(d)));
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  opts.onStart?.(child, () => err);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  const ms = performance.now() - t0;
  const usage = existsSync(rssFile) ? (JSON.parse(readFileSync(rssFile, 'utf8')) as { rss: number; cpuMs: number }) : { rss: NaN, cpuMs: NaN };
  rmSync(rssFile, { force: true });
  return { code, signal, out, err, ms, peakRss: usage.rss, cpuMs: usage.cpuMs };
}
