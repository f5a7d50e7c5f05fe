/**
 * The packaged .vsix (dist-vsix/llm-playground.vsix, made by `npm run package`,
 * which `npm test` runs before vitest) holds only what ships, and the retired
 * webview UI toolkit ("@vscode" / "webview-ui-toolkit") is used nowhere.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VSIX = path.join(root, 'dist-vsix', 'llm-playground.vsix');

/** Names of the entries in a zip file, from its central directory. */
export function zipEntries(buf: Buffer): string[] {
  // End of central directory record: signature 0x06054b50, at most 65535 + 22 bytes from the end.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file: no end-of-central-directory record');
  const count = buf.readUInt16LE(eocd + 10);
  let off = buf.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(off) !== 0x02014b50) throw new Error(`bad central directory entry at ${off}`);
    const nameLen = buf.readUInt16LE(off + 28);
    const extraLen = buf.readUInt16LE(off + 30);
    const commentLen = buf.readUInt16LE(off + 32);
    names.push(buf.toString('utf8', off + 46, off + 46 + nameLen));
    off += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

if (!fs.existsSync(VSIX)) {
  console.warn(`package.test.ts: skipping the .vsix checks: ${path.relative(root, VSIX)} is not built (run \`npm run package\`; \`npm test\` does)`);
}

describe.skipIf(!fs.existsSync(VSIX))('the packaged .vsix (dist-vsix/llm-playground.vsix)', () => {
  const entries = fs.existsSync(VSIX) ? zipEntries(fs.readFileSync(VSIX)) : [];
  const files = entries.filter((e) => e.startsWith('extension/')).map((e) => e.slice('extension/'.length));

  it('is a VS Code extension package', () => {
    expect(entries).toContain('extension.vsixmanifest');
    expect(entries).toContain('[Content_Types].xml');
    expect(entries.filter((e) => !e.startsWith('extension/')).sort()).toEqual(['[Content_Types].xml', 'extension.vsixmanifest']);
  });

  it('holds the manifest, notices, built bundles, media and the bundled model', () => {
    for (const f of [
      'package.json',
      'readme.md',
      'LICENSE.txt',
      'NOTICE',
      'dist/extension.js',
      'dist/webview.js',
      'dist/worker.js',
      'dist/codicons/codicon.css',
      'dist/codicons/codicon.ttf',
      'media/icon.svg',
      'models/stories260K.bin',
      'models/tok512.bin',
      'dist/vocab/o200k_base.tiktoken.br',
      'dist/vocab/cl100k_base.tiktoken.br',
      'dist/vocab/llama2.tokenizer.json.br',
      'dist/vocab/llama3.tokenizer.json.br',
      'dist/vocab/qwen3.tokenizer.json.br',
      'dist/corpus/tinyshakespeare.txt.br',
      'dist/ort/ort-wasm-simd-threaded.jsep.wasm',
      'dist/ort/ort-wasm-simd-threaded.wasm',
      'dist/ort/ort-wasm-simd-threaded.mjs',
    ]) {
      expect(files, f).toContain(f);
    }
  });

  it('holds nothing else: no sources, tests, maps, fixtures, scripts, node_modules or configs', () => {
    // onnxruntime-web's wasm files and the CLI's glue for them (scripts/build.mjs ortAssets) are built assets
    const ort = (f: string) => /^dist\/ort\/ort-wasm-simd-threaded(\.jsep)?\.wasm$|^dist\/ort\/ort-wasm-simd-threaded\.mjs$/.test(f);
    const allowed = (f: string) =>
      ort(f) ||
      ['package.json', 'readme.md', 'LICENSE.txt', 'NOTICE'].includes(f) ||
      /^dist\/[^/]+\.js$/.test(f) ||
      /^dist\/codicons\/codicon\.(css|ttf)$/.test(f) ||
      /^dist\/(vocab|corpus)\/[^/]+\.br$/.test(f) ||
      f.startsWith('media/') ||
      ['models/stories260K.bin', 'models/tok512.bin'].includes(f);
    expect(files.filter((f) => !allowed(f))).toEqual([]);
    expect(files.filter((f) => !ort(f) && /\.(ts|map|mjs|sh)$|(^|\/)(node_modules|tests?|engine|extension|webview|scripts|fixtures|\.ci)\//.test(f))).toEqual([]);
  });

  it('carries the package.json it was built from', () => {
    const buf = fs.readFileSync(VSIX);
    expect(buf.includes(Buffer.from('extension/package.json'))).toBe(true);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.main).toBe('./dist/extension.js');
    expect(files).toContain(pkg.main.replace(/^\.\//, ''));
  });
});

describe('dependencies', () => {
  it('never uses the retired webview UI toolkit (@vscode + webview-ui-toolkit)', () => {
    const banned = ['@vscode', 'webview-ui-toolkit'].join('/');
    for (const f of ['package.json', 'package-lock.json']) {
      expect(fs.readFileSync(path.join(root, f), 'utf8').includes(banned), f).toBe(false);
    }
    // Every tracked or new (not ignored) source file; this test names it only as a split string.
    const tracked = execFileSync(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', 'engine', 'extension', 'webview', 'scripts', 'tests', 'media', '*.json', '*.ts', '*.mjs'],
      { cwd: root, encoding: 'utf8' },
    )
      .split('\0')
      .filter((f) => f && /\.(ts|mts|mjs|js|json|html|css)$/.test(f) && fs.existsSync(path.join(root, f)));
    const hits = tracked.filter((f) => fs.readFileSync(path.join(root, f), 'utf8').includes(banned));
    expect(hits).toEqual([]);
  });
});
