// Assembles every engine/**/*.wat into a sibling <name>.wasm.gen.ts holding the
// module's bytes (base64), so the engine needs no build step or file fetch to get
// its WebAssembly kernels. Each comes twice: WASM_BASE64 imports an ordinary memory,
// WASM_SHARED_BASE64 the same module importing a shared one (the memory line
// `(memory (import "env" "memory") 1)` marked `1 32768 shared`), which worker threads
// can run on together (engine/ops/wasm.ts). `node scripts/gen-wasm.mjs --check` fails if a generated
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

const MEMORY_LINE = '(memory (import "env" "memory") 1)';

/** The module's bytes: as written, or (shared) with its memory import marked shared. */
export async function assemble(watPath, shared = false) {
  const wabt = await wabtInit();
  let text = readFileSync(watPath, 'utf8');
  if (shared) {
    if (!text.includes(MEMORY_LINE)) throw new Error(`${watPath}: no line ${MEMORY_LINE} to mark shared`);
    text = text.replace(MEMORY_LINE, '(memory (import "env" "memory") 1 32768 shared)');
  }
  const mod = wabt.parseWat(path.basename(watPath), text, { simd: true, threads: shared });
  // wabt's validator refuses shared memories even with threads on; V8 validates that variant
  if (!shared) mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mod.destroy();
  if (shared && !WebAssembly.validate(buffer)) throw new Error(`${watPath}: the shared-memory variant does not validate`);
  return Buffer.from(buffer);
}

function b64lines(bytes) {
  return (bytes.toString('base64').match(/.{1,100}/g) ?? []).map((l) => `  '${l}'`).join(' +\n');
}

export function generatedSource(watPath, bytes, sharedBytes) {
  const rel = path.relative(root, watPath).split(path.sep).join('/');
  return (
    `// Generated from ${rel} by scripts/gen-wasm.mjs — do not edit.\n` +
    `export const WASM_BASE64 =\n${b64lines(bytes)};\n` +
    `export const WASM_SHARED_BASE64 =\n${b64lines(sharedBytes)};\n`
  );
}

const check = process.argv.includes('--check');
let stale = 0;
for (const wat of find(path.join(root, 'engine'))) {
  const out = wat.replace(/\.wat$/, '.wasm.gen.ts');
  const src = generatedSource(wat, await assemble(wat), await assemble(wat, true));
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
