/**
 * Load time on a device: `cli generate --backend webgpu --max-tokens 1` on a GGUF given by
 * LLMP_LOAD_GGUF, with a 120-id prompt (the ids ../shared/gpu/peers/llamacpp_ttft.mjs uses,
 * kept inside the vocabulary), in a fresh process each run. Prints, per run, the time from
 * spawning the process to the first token on stdout (to its exit when the model has no
 * tokenizer) and the process's peak RSS, beside an idle Node process's peak RSS; then the
 * median, as ratios to the targets (time: LLMP_LOAD_PEER_MS, e.g. llama.cpp's figure from
 * llamacpp_ttft.mjs; memory: 1 GB above idle Node). Each run's `--trace-load` lines (the steps of
 * its load, ms since its start, and the host's split of the upload) are printed under it.
 * Env: LLMP_LOAD_GGUF (required), LLMP_CLI (default dist/cli.js, bundled here when absent),
 * LLMP_LOAD_REPEATS (default 3), LLMP_LOAD_WEIGHTS (auto, f16 or f32), LLMP_LOAD_PEER_MS.
 * Run: LLMP_LOAD_GGUF=model.gguf node scripts/run-benches.mjs load.bench
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readGguf } from '../formats/gguf';
import { fileSource } from '../formats/source-node';

const root = path.resolve(__dirname, '../..');
const MODEL = process.env.LLMP_LOAD_GGUF;
const REPEATS = Number(process.env.LLMP_LOAD_REPEATS ?? 3);
const WEIGHTS = process.env.LLMP_LOAD_WEIGHTS ?? 'auto';
const PEER_MS = Number(process.env.LLMP_LOAD_PEER_MS ?? 3100);

interface Run {
  firstMs: number;
  exitMs: number;
  peakRss: number;
  code: number | null;
  err: string;
}

/** Spawns node with a preload that writes its peak RSS on exit; times the first stdout byte and the exit. */
function run(preload: string, args: string[]): Promise<Run> {
  const rssFile = path.join(path.dirname(preload), `rss-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--require', preload, ...args], { env: { ...process.env, PEAK_RSS_FILE: rssFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  let firstMs = NaN;
  let err = '';
  child.stdout.on('data', () => {
    if (Number.isNaN(firstMs)) firstMs = performance.now() - t0;
  });
  child.stderr.on('data', (d) => (err += String(d)));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const exitMs = performance.now() - t0;
      const peakRss = existsSync(rssFile) ? (JSON.parse(readFileSync(rssFile, 'utf8')) as { rss: number }).rss : NaN;
      rmSync(rssFile, { force: true });
      resolve({ firstMs: Number.isNaN(firstMs) ? exitMs : firstMs, exitMs, peakRss, code, err });
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;

async function main(): Promise<void> {
  if (!MODEL) {
    console.log('load: skipped (set LLMP_LOAD_GGUF to a GGUF file)');
    return;
  }
  const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-load-bench-'));
  try {
    let cli = process.env.LLMP_CLI ?? path.join(root, 'dist/cli.js');
    if (!existsSync(cli)) {
      cli = path.join(tmp, 'cli.js');
      const { build } = await import('esbuild');
      await build({
        entryPoints: [path.join(root, 'engine/cli/main.ts')],
        outfile: cli,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        external: ['webgpu'],
        logLevel: 'warning',
      });
    }
    const preload = path.join(tmp, 'peak-rss.cjs');
    writeFileSync(
      preload,
      `process.on('exit', () => { if (process.env.PEAK_RSS_FILE) require('fs').writeFileSync(process.env.PEAK_RSS_FILE, JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024 })); });\n`,
    );
    const src = await fileSource(MODEL);
    const f = await readGguf(src, { keep: (k) => k === 'tokenizer.ggml.tokens' || k.endsWith('.vocab_size') });
    await src.close?.();
    const vocab = f.tensorsByName.get('token_embd.weight')?.shape[0] ?? 32000;
    const ids = Array.from({ length: 120 }, (_, i) => 300 + ((i * 7919) % Math.max(1, vocab - 300)));
    const args = [cli, 'generate', '--model', MODEL, '--backend', 'webgpu', '--weights', WEIGHTS, '--ids', ids.join(','), '--max-tokens', '1', '--context', '512', '--trace-load'];
    const idle = await run(preload, ['-e', '0']);
    console.log(`load: ${path.basename(MODEL)} (${mb(src.size)}), weights ${WEIGHTS}; idle node peak RSS ${mb(idle.peakRss)}`);
    const runs: Run[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const r = await run(preload, args);
      if (r.code !== 0) throw new Error(`cli exited with ${r.code}: ${r.err.slice(-2000)}`);
      runs.push(r);
      console.log(
        `  run ${i + 1}: first token ${(r.firstMs / 1000).toFixed(2)} s, exit ${(r.exitMs / 1000).toFixed(2)} s, peak RSS ${mb(r.peakRss)} (+${mb(r.peakRss - idle.peakRss)} over idle node)`,
      );
      for (const line of r.err.match(/^trace-load: .*$/gm) ?? []) console.log(`    ${line}`);
    }
    const first = median(runs.map((r) => r.firstMs));
    const above = median(runs.map((r) => r.peakRss)) - idle.peakRss;
    console.log(`load: time to first token ${(first / 1000).toFixed(2)} s = ${(first / PEER_MS).toFixed(2)}× the peer's ${(PEER_MS / 1000).toFixed(1)} s (target ≤ 1.5×)`);
    console.log(`load: peak RSS ${mb(above)} above idle node = ${(above / 2 ** 30).toFixed(2)}× the 1 GB target`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
