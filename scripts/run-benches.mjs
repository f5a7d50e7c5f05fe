// Finds every `*.bench.ts` (beside the code it measures), bundles it for Node and
// runs it, one after another (benchmarks never run in parallel). Optional filter args.
// Opt-in benches (the hour-long soak, the llama.cpp KV check) run only when a filter names them.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

function find(dir, out = []) {
  for (const e of readdirSync(dir)) {
    if (e === 'node_modules' || e.startsWith('.') || e === 'dist') continue;
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) find(p, out);
    else if (e.endsWith('.bench.ts')) out.push(p);
  }
  return out;
}

// Opt-in benches run only when a filter names them: the hour-long soak, and the llama.cpp KV
// comparison (it allocates several GiB of caches and checks figures rather than timing anything).
const OPT_IN = ['soak.bench.ts', 'llamacpp-kv.bench.ts'];
// Node flags a bench needs beyond --expose-gc. The soak pins V8's young generation at its
// largest (16 MiB semi-spaces) so that V8 growing it once (a step of ~17 MiB of RSS) is not
// read as a leak by its RSS check (engine/generate/soak.bench.ts).
const NODE_FLAGS = { 'soak.bench.ts': ['--min-semi-space-size=16', '--max-semi-space-size=16'] };
const benches = ['engine', 'extension', 'tests']
  .flatMap((d) => find(path.join(root, d)))
  .filter((p) => (filters.length === 0 ? !OPT_IN.includes(path.basename(p)) : filters.some((f) => path.relative(root, p).includes(f))));
if (benches.length === 0) {
  console.error(`bench: nothing matches ${filters.join(', ')}`);
  process.exit(1);
}
mkdirSync(path.join(root, 'dist/bench'), { recursive: true });
let failed = 0;
for (const b of benches) {
  const rel = path.relative(root, b);
  const outfile = path.join(root, 'dist/bench', rel.replace(/[\\/]/g, '__').replace(/\.ts$/, '.cjs'));
  await build({
    entryPoints: [b],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // onnxruntime-web stays in node_modules: its Node build finds its wasm files beside itself
    external: ['webgpu', 'node-llama-cpp', 'playwright-core', 'esbuild', 'onnxruntime-web'],
    logLevel: 'warning',
  });
  console.log(`\n=== ${rel}`);
  try {
    execFileSync(process.execPath, ['--expose-gc', ...(NODE_FLAGS[path.basename(b)] ?? []), outfile], { stdio: 'inherit', cwd: root });
  } catch {
    failed++;
    console.error(`bench: ${rel} failed`);
  }
}
process.exit(failed ? 1 : 0);
