// Type-checks every config that tsconfig.json references: one per environment (engine library
// code, the worker, webview, extension, Node-side code, browser tests), each with only the
// globals that environment has (README "Development", Layers). `node scripts/typecheck.mjs`;
// run by scripts/build.mjs and by `npm test`'s layering step. Exits 1 on any error.
// One process checks them all and shares the parsed files between them (the lib and @types
// files, and engine/, which every config reaches): all configs have the same options except
// `lib`, `types` and the files, which is what tsserver needs to share them too.
import ts from 'typescript';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The configs tsconfig.json references, as absolute paths. */
export function referencedConfigs() {
  const parsed = parseConfig(path.join(root, 'tsconfig.json'));
  return (parsed.projectReferences ?? []).map((r) => ts.resolveProjectReferencePath(r));
}

function parseConfig(file) {
  const parsed = ts.getParsedCommandLineOfConfigFile(file, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) });
  if (parsed.errors.length) fail(parsed.errors);
  return parsed;
}

const formatHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
const format = (diagnostics) => (process.stderr.isTTY ? ts.formatDiagnosticsWithColorAndContext : ts.formatDiagnostics)(diagnostics, formatHost);

function fail(diagnostics) {
  console.error(format(diagnostics));
  process.exit(1);
}

/** Diagnostics of each config, sharing parsed source files between them. */
export function typecheck(configs = referencedConfigs()) {
  const cache = new Map();
  const results = [];
  for (const file of configs) {
    const parsed = parseConfig(file);
    const host = ts.createCompilerHost(parsed.options);
    const getSourceFile = host.getSourceFile;
    host.getSourceFile = (name, languageVersion, onError, create) => {
      let sf = cache.get(name);
      if (!sf) {
        sf = getSourceFile.call(host, name, languageVersion, onError, create);
        if (sf) cache.set(name, sf);
      }
      return sf;
    };
    const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, host, projectReferences: parsed.projectReferences });
    results.push({ config: path.relative(root, file), diagnostics: ts.getPreEmitDiagnostics(program) });
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  let errors = 0;
  // An engine file is in most programs: report each error once, under the first config.
  const seen = new Set();
  for (const { config, diagnostics } of typecheck()) {
    const fresh = diagnostics.filter((d) => {
      const key = `${d.file?.fileName}:${d.start}:${d.code}`;
      return !seen.has(key) && seen.add(key);
    });
    if (fresh.length) console.error(`typecheck: ${config}:\n` + format(fresh));
    errors += fresh.length;
  }
  if (errors) {
    console.error(`typecheck: ${errors} error(s) (above)`);
    process.exit(1);
  }
  console.log(`typecheck: ${referencedConfigs().length} configs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
