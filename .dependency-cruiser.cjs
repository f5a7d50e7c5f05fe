// The layer rule as import rules (README "Development", Layers), checked by dependency-cruiser:
// `npm run layers`, and `npm test`'s layering step. Which globals each part may use is the
// other half of the rule: the tsconfig.*.json files (scripts/typecheck.mjs).
//
// engine/ layers, lowest first; a layer imports only layers below it (peers in one line may
// import each other):
//   errors, wgsl < ops < formats, tokenizer, model < export, backend < gpu < generate < catalog < protocol < worker, cli
// catalog/ holds the model files the user has; worker/ is the engine worker app.
//
// Where each rule applies: the rules about environments (vscode, extension/, webview/, Node
// builtins) hold for every file, tests and benchmarks included; the layer rules hold for
// library code, not for tests and benchmarks (*.test.ts, *.bench.ts), which drive a layer
// through the ones above it (a Model test runs it through generate()).

const TESTS = '\\.(test|bench)\\.ts$';
const ENGINE = '^engine/';
const CATALOG = 'engine/catalog/';
const PROTOCOL = '^engine/protocol';
const WORKER = '^engine/worker/';
const CLI = '^engine/cli/';
/** `vscode` resolves to its types (the host provides the module at run time). */
const VSCODE = '^(vscode$|node_modules/@types/vscode/)';
/** Engine files that may use Node: *-node.ts, the CLI, tests and benchmarks, test-data generators. */
const ENGINE_NODE = ['-node\\.ts$', CLI, TESTS, '^engine/.*/testdata/'];
/** Library code: all of engine/ but the protocol, the worker app, the CLI, tests and benchmarks. */
const LIBRARY_NOT = [PROTOCOL, WORKER, CLI, TESTS];

/** Library code of one layer: tests and benchmarks left out. */
const lib = (path) => ({ path, pathNot: TESTS });
const rule = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });

module.exports = {
  forbidden: [
    // ---- environments
    rule(
      'engine-not-host-or-ui',
      'engine/ runs in the worker, Node and tests: it never imports extension/, webview/ or vscode.',
      { path: ENGINE },
      { path: ['^extension/', '^webview/', VSCODE] },
    ),
    rule(
      'engine-node-builtins',
      'Node builtins only in engine files named *-node.ts, engine/cli/, tests and benchmarks.',
      { path: ENGINE, pathNot: ENGINE_NODE },
      { dependencyTypes: ['core'] },
    ),
    rule('webview-not-host', 'webview/ runs in the page: it never imports extension/ or vscode.', { path: '^webview/' }, { path: ['^extension/', VSCODE] }),
    rule('webview-no-node-builtins', 'webview/ runs in the page: no Node builtins.', { path: '^webview/' }, { dependencyTypes: ['core'] }),
    rule('webview-no-node-files', 'webview/ runs in the page: none of the engine files that use Node (*-node.ts, the CLI).', { path: '^webview/' }, { path: ['-node\\.ts$', CLI] }),
    rule('extension-not-webview', 'extension/ talks to webview/ through the protocol only: it never imports webview/.', { path: '^extension/' }, { path: '^webview/' }),

    // ---- engine layers
    rule('errors-imports-nothing', 'engine/errors.ts is the bottom layer: it imports nothing from engine/.', lib('^engine/errors\\.ts$'), { path: ENGINE }),
    rule('wgsl-only-errors', 'engine/wgsl/ imports only engine/errors (and itself).', lib('^engine/wgsl/'), { path: `${ENGINE}(?!wgsl/|errors\\.ts$)` }),
    rule('ops-only-wgsl-errors', 'engine/ops/ imports only engine/wgsl, engine/errors and other ops.', lib('^engine/ops/'), { path: `${ENGINE}(?!ops/|wgsl/|errors\\.ts$)` }),
    rule(
      'formats-tokenizer-below-backend',
      'engine/formats and engine/tokenizer never import backend, gpu, generate, catalog, export, protocol, worker or cli.',
      lib('^engine/(formats|tokenizer)/'),
      { path: ['^engine/(backend|gpu|generate|catalog|models|cli|export)/', PROTOCOL, WORKER] },
    ),
    rule(
      'model-below-backend',
      'engine/model may name the backend contract (engine/backend/contract.ts); it never imports the rest of backend, gpu, generate, catalog, export, protocol, worker or cli.',
      lib('^engine/model/'),
      { path: ['^engine/backend/(?!contract\\.ts$)', '^engine/(gpu|generate|catalog|models|cli|export)/', PROTOCOL, WORKER] },
    ),
    rule(
      'contract-types-only',
      'engine/backend/contract.ts is types only: it imports nothing but types.',
      { path: '^engine/backend/contract\\.ts$' },
      { dependencyTypesNot: ['type-only'] },
    ),
    rule('contract-only-model', 'engine/backend/contract.ts imports types from engine/model only.', { path: '^engine/backend/contract\\.ts$' }, { path: `${ENGINE}(?!model/)` }),
    rule(
      'export-below-backend',
      'engine/export writes models the formats, tokenizer and model layers describe: it never imports backend, gpu, generate, catalog, protocol, worker or cli.',
      lib('^engine/export/'),
      { path: ['^engine/(backend|gpu|generate|catalog|models|cli)/', PROTOCOL, WORKER] },
    ),
    rule('backend-below-generate', 'engine/backend never imports generate, catalog, protocol, worker or cli.', lib('^engine/backend/'), {
      path: ['^engine/(generate|catalog|models|cli)/', PROTOCOL, WORKER],
    }),
    rule('backend-gpu-only-registry', 'Of engine/backend, only registry.ts imports engine/gpu (it creates the WebGPU backend).', lib('^engine/backend/(?!registry\\.ts$)'), {
      path: '^engine/gpu/',
    }),
    rule('gpu-below-generate', 'engine/gpu never imports generate, catalog, protocol, worker or cli.', lib('^engine/gpu/'), {
      path: ['^engine/(generate|catalog|models|cli)/', PROTOCOL, WORKER],
    }),
    rule('generate-not-gpu-or-formats', 'engine/generate drives any Backend: it never imports gpu, formats, catalog, protocol, worker or cli.', lib('^engine/generate/'), {
      path: ['^engine/(gpu|formats|catalog|models|cli)/', PROTOCOL, WORKER],
    }),
    rule('catalog-below-protocol', 'The catalog (engine/catalog) never imports protocol, worker or cli.', lib(`^${CATALOG}`), { path: [PROTOCOL, WORKER, CLI] }),
    rule('protocol-below-apps', 'The protocol never imports the worker or the CLI.', lib(PROTOCOL), { path: [WORKER, CLI] }),
    rule(
      'library-not-protocol',
      'Library code (all of engine/ but protocol, worker, cli, tests and benchmarks) never imports the protocol: the protocol imports engine types, never the reverse.',
      { path: ENGINE, pathNot: LIBRARY_NOT },
      { path: PROTOCOL },
    ),
    rule(
      'apps-are-entry-points',
      'Nothing imports the worker app or the CLI but themselves, tests and benchmarks.',
      { pathNot: [WORKER, CLI, TESTS, '^tests/'] },
      { path: [WORKER, CLI] },
    ),
  ],
  options: {
    // Type-only imports count (and are labelled, for contract-types-only).
    tsPreCompilationDeps: true,
    // Packages are checked as edges (`vscode` among them), not cruised.
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.mts', '.d.ts', '.js', '.mjs', '.json'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      exportsFields: ['exports'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
