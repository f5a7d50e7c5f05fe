/**
 * The checks behind `npm test`'s layering and format steps catch what they are for: imports
 * that break the layer rule (.dependency-cruiser.cjs), Node or DOM globals in engine library
 * code (tsconfig.engine.json), unformatted code (.prettierrc.json). Each plants a violation
 * in a temporary folder that mirrors the repository's layout and runs the check on it.
 */
import { cruise, type IConfiguration } from 'dependency-cruiser';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as prettier from 'prettier';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmp-layering-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

describe('import rules (.dependency-cruiser.cjs)', () => {
  it('report each planted violation, and nothing in the allowed files', async () => {
    const dir = path.join(tmp, 'imports');
    write(dir, {
      // allowed
      'engine/errors.ts': 'export class EngineError extends Error {}\n',
      'engine/wgsl/util.ts': "import { EngineError } from '../errors';\nexport const u = EngineError;\n",
      'engine/ops/bar/bar.ts': 'export const bar = 1;\n',
      'engine/ops/foo/ok.ts': "import { u } from '../../wgsl/util';\nimport { bar } from '../bar/bar';\nexport const ok = [u, bar];\n",
      'engine/ops/foo/foo.test.ts': "import { readFileSync } from 'node:fs';\nimport { k } from '../../gpu/kernel';\nexport const t = [readFileSync, k];\n",
      'engine/formats/read-node.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
      'engine/model/m2.ts': "import type { Backend } from '../backend/contract';\nexport type M2 = Backend;\nexport const m2 = 2;\n",
      'engine/protocol/messages.ts': "import type { M2 } from '../model/m2';\nexport type Message = M2;\n",
      'engine/worker/main.ts': "import type { Message } from '../protocol/messages';\nimport { k } from '../gpu/kernel';\nexport const w: Message | number = k;\n",
      'webview/ok.ts': "import type { Message } from '../engine/protocol/messages';\nexport type W = Message;\n",
      'engine/export/ok.ts': "import { m2 } from '../model/m2';\nimport { bar } from '../ops/bar/bar';\nexport const e = [m2, bar];\n",
      // planted
      'engine/export/bad.ts': "import { k } from '../gpu/kernel';\nexport const e = k;\n",
      'engine/gpu/kernel.ts': 'export const k = 1;\n',
      'engine/ops/foo/foo.ts': "import { k } from '../../gpu/kernel';\nexport const f = k;\n",
      'engine/wgsl/bad.ts': "import { bar } from '../ops/bar/bar';\nexport const b = bar;\n",
      'engine/formats/read.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
      'engine/generate/g.ts': "import { k } from '../gpu/kernel';\nexport const g = k;\n",
      'engine/model/m.ts': "import { g } from '../generate/g';\nexport const m = g;\n",
      'engine/backend/contract.ts': "import { m2 } from '../model/m2';\nimport type { EngineError } from '../errors';\nexport type Backend = { m: typeof m2; e: EngineError };\n",
      'engine/tokenizer/t.ts': "import type { Message } from '../protocol/messages';\nexport type T = Message;\n",
      'engine/uses-vscode.ts': "import * as vscode from 'vscode';\nexport const v = vscode;\n",
      'engine/uses-host.ts': "import { x } from '../extension/x';\nexport const h = x;\n",
      'webview/w.ts': "import { readFileSync } from 'node:fs';\nimport { x } from '../extension/x';\nexport const w = [readFileSync, x];\n",
      'extension/x.ts': "import type { W } from '../webview/ok';\nexport const x: W | 1 = 1;\n",
    });
    const config = createRequire(import.meta.url)(path.join(root, '.dependency-cruiser.cjs')) as IConfiguration;
    const result = await cruise(['engine', 'extension', 'webview'], { ...config.options, validate: true, ruleSet: config, baseDir: dir });
    if (typeof result.output === 'string') throw new Error('expected a cruise result');
    const found = result.output.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
    expect(found).toEqual(
      [
        'ops-only-wgsl-errors: engine/ops/foo/foo.ts -> engine/gpu/kernel.ts',
        'wgsl-only-errors: engine/wgsl/bad.ts -> engine/ops/bar/bar.ts',
        'engine-node-builtins: engine/formats/read.ts -> fs',
        'generate-not-gpu-or-formats: engine/generate/g.ts -> engine/gpu/kernel.ts',
        'model-below-backend: engine/model/m.ts -> engine/generate/g.ts',
        'export-below-backend: engine/export/bad.ts -> engine/gpu/kernel.ts',
        'contract-types-only: engine/backend/contract.ts -> engine/model/m2.ts',
        'contract-only-model: engine/backend/contract.ts -> engine/errors.ts',
        'library-not-protocol: engine/tokenizer/t.ts -> engine/protocol/messages.ts',
        'formats-tokenizer-below-backend: engine/tokenizer/t.ts -> engine/protocol/messages.ts',
        'engine-not-host-or-ui: engine/uses-vscode.ts -> vscode',
        'engine-not-host-or-ui: engine/uses-host.ts -> extension/x.ts',
        'webview-no-node-builtins: webview/w.ts -> fs',
        'webview-not-host: webview/w.ts -> extension/x.ts',
        'extension-not-webview: extension/x.ts -> webview/ok.ts',
      ].sort(),
    );
  });
});

describe('tsconfigs', () => {
  const parse = (name: string): ts.ParsedCommandLine => {
    const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, name), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => expect.fail(String(d.messageText)) });
    if (!parsed) throw new Error(`${name} did not parse`);
    expect(parsed.errors).toEqual([]);
    return parsed;
  };

  it('engine library code gets no Node or DOM globals, only the shared few', () => {
    const engine = parse('tsconfig.engine.json');
    const file = path.join(tmp, 'planted-engine.ts');
    const lines = [
      'export const t = performance.now();',
      "export const bytes = new TextEncoder().encode('x');",
      'export const title = document.title;',
      'export const home = process.env.HOME;',
      "export const buf = Buffer.from('x');",
    ];
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const program = ts.createProgram({ rootNames: [file, path.join(root, 'engine/globals.d.ts')], options: engine.options });
    const errors = ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start!);
      return `${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n').split('.')[0]}`;
    });
    expect(errors).toEqual(["3: Cannot find name 'document'", "4: Cannot find name 'process'", "5: Cannot find name 'Buffer'"]);
  });

  it('every TypeScript file belongs to exactly one of the configs tsconfig.json references', () => {
    const configs = (parse('tsconfig.json').projectReferences ?? []).map((r) => path.relative(root, ts.resolveProjectReferencePath(r)));
    expect(configs.sort()).toEqual([
      'tsconfig.engine.json',
      'tsconfig.extension.json',
      'tsconfig.node.json',
      'tsconfig.tests.json',
      'tsconfig.webview.json',
      'tsconfig.worker.json',
    ]);
    const owners = new Map<string, string[]>();
    for (const c of configs) for (const f of parse(c).fileNames) owners.set(path.relative(root, f), [...(owners.get(path.relative(root, f)) ?? []), c]);
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) walk(rel);
        else if (/\.m?ts$/.test(e.name)) sources.push(rel);
      }
    };
    for (const d of ['engine', 'extension', 'webview', 'tests', 'scripts']) walk(d);
    expect(sources.filter((f) => (owners.get(f) ?? []).length !== 1).map((f) => `${f}: ${owners.get(f)?.join(', ') ?? 'no config'}`)).toEqual([]);
    // where the layer rule puts a few files
    expect(owners.get('engine/generate/generate.ts')).toEqual(['tsconfig.engine.json']);
    expect(owners.get('engine/formats/load-node.ts')).toEqual(['tsconfig.node.json']);
    expect(owners.get('engine/cli/main.ts')).toEqual(['tsconfig.node.json']);
    expect(owners.get('engine/worker/worker.ts')).toEqual(['tsconfig.worker.json']);
  });
});

describe('format (.prettierrc.json)', () => {
  it('fails a badly formatted snippet and passes it formatted', async () => {
    const file = path.join(root, 'engine/planted.ts');
    const options = { ...(await prettier.resolveConfig(file)), filepath: file };
    const bad = 'export const a = {b:"x", c: [1,2]}\n';
    expect(await prettier.check(bad, options)).toBe(false);
    const good = await prettier.format(bad, options);
    expect(good).toBe("export const a = { b: 'x', c: [1, 2] };\n");
    expect(await prettier.check(good, options)).toBe(true);
  });
});
