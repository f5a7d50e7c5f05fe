// `npm run fuzz`: bundles the fuzzer (tests/fuzz/main.ts and its child) for Node and runs it.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(root, 'dist/fuzz');
for (const name of ['main', 'child']) {
  await build({
    entryPoints: [path.join(root, `tests/fuzz/${name}.ts`)],
    outfile: path.join(out, `${name}.cjs`),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
}
const r = spawnSync(process.execPath, [path.join(out, 'main.cjs'), ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
