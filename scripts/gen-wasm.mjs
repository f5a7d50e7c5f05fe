// Assembles every engine/**/*.wat into a sibling <name>.wasm.gen.ts holding the
// module's bytes (base64), so the engine needs no build step or file fetch to get
// its WebAssembly kernels. `node scripts/gen-wasm.mjs --check` fails if a generated
// file is out of date (a unit test runs the same check).
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function find(dir, out = []) {
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) find(p, out);
    else if (e.endsWith('.wat')) out.push(p);
  }
  return out;
}

export async function assemble(watPath) {
  const wabt = await wabtInit();
  const mod = wabt.parseWat(path.basename(watPath), readFileSync(watPath, 'utf8'), { simd: true });
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mod.destroy();
  return Buffer.from(buffer);
}

export function generatedSource(watPath, bytes) {
  const rel = path.relative(root, watPath).split(path.sep).join('/');
  const b64 = bytes.toString('base64');
  const lines = b64.match(/.{1,100}/g) ?? [];
  return `// Generated from ${rel} by scripts/gen-wasm.mjs — do not edit.\n` + `export const WASM_BASE64 =\n${lines.map((l) => `  '${l}'`).join(' +\n')};\n`;
}

const check = process.argv.includes('--check');
let stale = 0;
for (const wat of find(path.join(root, 'engine'))) {
  const out = wat.replace(/\.wat$/, '.wasm.gen.ts');
  const src = generatedSource(wat, await assemble(wat));
  let old = '';
  try {
    old = readFileSync(out, 'utf8');
  } catch {}
  if (old === src) continue;
  if (check) {
    console.error(`stale: ${path.relative(root, out)} (run node scripts/gen-wasm.mjs)`);
    stale++;
  } else {
    writeFileSync(out, src);
    console.log(`wrote ${path.relative(root, out)}`);
  }
}
process.exit(stale ? 1 : 0);
