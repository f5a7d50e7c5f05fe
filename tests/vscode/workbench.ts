/**
 * The shared harness of the tests/vscode tests: the built extension in code-server
 * (scripts/code-server.mjs), shown in Debian chromium (tests/browser/harness.ts's
 * CHROMIUM and CHROMIUM_ARGS: headless, WebGPU on SwiftShader) driven by playwright-core,
 * and the few ways a person works the workbench: the command palette and the webviews.
 *
 *   let wb: Workbench | undefined;
 *   beforeAll(async () => { wb = await openWorkbench({ name: 'models' }); });
 *   afterEach((ctx) => { if (ctx.task.result?.state === 'fail') wb?.markFailed(); });
 *   afterAll(() => wb?.close());
 *
 * When a test failed (or the set-up did), close() saves test-results/vscode-<name>-failure.png
 * and prints code-server's log, the extension host's logs and the browser console.
 */
import { expect } from 'vitest';
import { chromium, type Browser, type BrowserContext, type FrameLocator, type Locator, type Page } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS } from '../browser/harness';
import { isInstalled, paths, repoRoot, startCodeServer, type CodeServer } from '../../scripts/code-server.mjs';

/** Where the tests' screenshots go. */
export const RESULTS = path.join(repoRoot, 'test-results');

/**
 * Throws, saying what to run, unless the extension is built (dist/extension.js, webview.js,
 * worker.js and `extra`), code-server is installed and chromium is there.
 */
export function requireBuilt(extra: string[] = []): void {
  const missing = ['dist/extension.js', 'dist/webview.js', 'dist/worker.js', ...extra].filter((f) => !fs.existsSync(path.join(repoRoot, f)));
  if (missing.length) {
    throw new Error(`tests/vscode needs the built extension, but ${missing.join(', ')} is missing: run \`node scripts/build.mjs\` first (npm test does).`);
  }
  if (!isInstalled()) {
    throw new Error(`tests/vscode needs code-server in ${paths().cache}: run \`bash scripts/setup.sh\` first (npm test does).`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`tests/vscode needs ${CHROMIUM}: run \`bash scripts/setup.sh\` (apt-get install chromium).`);
}

export interface WorkbenchOptions {
  /** Names the temp folder and the failure screenshot, test-results/vscode-<name>-failure.png. */
  name: string;
  /**
   * Lays out files in the test's temp folder before code-server starts (code-server's own
   * state goes in <tmpRoot>/cs); returns the folder to open, if not a fresh empty one.
   */
  prepare?: (tmpRoot: string) => { folder?: string } | void;
  /** More built files the test needs (relative to the repo), checked with the rest by requireBuilt. */
  requires?: string[];
  /** Set-up after the workbench is drawn (open a file…): a failure here is reported like one in a test. */
  afterOpen?: (page: Page) => Promise<void>;
}

export interface Workbench {
  cs: CodeServer;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** The test's temp folder (removed by close()). */
  tmpRoot: string;
  /** The browser's console errors and warnings, and uncaught page errors. */
  consoleLines: string[];
  /** Makes close() save the failure screenshot and print the logs. */
  markFailed(): void;
  /** Screenshot and logs when a test failed; closes the browser, stops code-server, removes tmpRoot. */
  close(): Promise<void>;
}

/**
 * Starts code-server with the built extension, opens its workbench in chromium and waits
 * until it is drawn: the activity bar, the status bar and the explorer. If any of that
 * fails, it reports and cleans up itself, then throws.
 */
export async function openWorkbench(opts: WorkbenchOptions): Promise<Workbench> {
  requireBuilt(opts.requires);
  fs.mkdirSync(RESULTS, { recursive: true });
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), `llm-playground-vscode-${opts.name}-`));
  const consoleLines: string[] = [];
  let cs: CodeServer | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let failed = false;
  let killOnExit: (() => void) | undefined;
  let closed = false;

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (failed && page) {
      await page.screenshot({ path: path.join(RESULTS, `vscode-${opts.name}-failure.png`) }).catch(() => {});
    }
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    if (cs) {
      if (failed) dumpLogs(cs, consoleLines);
      await cs.stop();
    }
    if (killOnExit) process.removeListener('exit', killOnExit);
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  };

  try {
    const folder = opts.prepare?.(tmpRoot)?.folder;
    cs = await startCodeServer({ tmpRoot: path.join(tmpRoot, 'cs'), folder });
    const pid = cs.pid;
    // If vitest itself is torn down, code-server's process group still goes.
    killOnExit = () => {
      try {
        if (pid !== undefined) process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    process.once('exit', killOnExit);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const p = await context.newPage();
    page = p;
    p.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleLines.push(`[${m.type()}] ${m.text()}`);
    });
    p.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
    await p.goto(cs.url, { waitUntil: 'domcontentloaded' });
    await p.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 120_000 });
    // The workbench is drawn once the activity bar, the status bar and the explorer with
    // the opened folder are. (The extension activates on its commands and views.)
    await p.locator('.part.activitybar, .activitybar').first().waitFor({ state: 'visible', timeout: 60_000 });
    await p.locator('.part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
    await p.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ state: 'visible', timeout: 60_000 });
    await opts.afterOpen?.(p);
    return {
      cs,
      browser,
      context,
      page: p,
      tmpRoot,
      consoleLines,
      markFailed: () => {
        failed = true;
      },
      close,
    };
  } catch (e) {
    failed = true;
    await close();
    throw e;
  }
}

function dumpLogs(cs: CodeServer, consoleLines: string[]): void {
  console.error(`--- code-server log (${cs.logPath}) ---\n${cs.readLog().slice(-50_000)}\n--- end of code-server log ---`);
  for (const f of findLogs(cs.userDataDir)) console.error(`--- ${f} ---\n${fs.readFileSync(f, 'utf8').slice(-20_000)}`);
  if (consoleLines.length) console.error(`--- browser console ---\n${consoleLines.slice(-200).join('\n')}`);
}

/** The extension host's, the remote agent's and the extension's own logs under the user-data dir. */
function findLogs(userDataDir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 6) return;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (/exthost\.log$|LLM Playground\.log$|remoteagent\.log$/.test(e.name)) out.push(p);
    }
  };
  walk(path.join(userDataDir, 'logs'), 0);
  return out;
}

/**
 * Runs a command from the command palette: F1, type its title, Enter on the matching row.
 * Extension commands join the palette a few seconds after the workbench shows, so it
 * closes and reopens the palette until the row is there (also when the palette closes while
 * the title is typed). With `waitHidden` (the default)
 * it then waits for the palette to close; a command that asks for input keeps it open.
 */
export async function runCommand(page: Page, title: string, { timeoutMs = 90_000, waitHidden = true }: { timeoutMs?: number; waitHidden?: boolean } = {}): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  const row = widget.locator('.monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press('F1');
    if (await visibleWithin(input, 10_000)) {
      // the palette can close under us (a notification or a view taking focus): then try again
      const filled = await input.fill(`>${title}`, { timeout: 5_000 }).then(
        () => true,
        () => false,
      );
      if (filled && (await visibleWithin(row, 3_000))) break;
      await page.keyboard.press('Escape');
    }
    if (Date.now() > deadline) throw new Error(`the command palette did not offer "${title}" within ${timeoutMs} ms`);
    await page.waitForTimeout(1_000);
  }
  // Enter runs the first row: make sure it is ours.
  await expect.poll(async () => (await widget.locator('.monaco-list-row').first().innerText()).split('\n')[0], { timeout: 5_000 }).toBe(title);
  await input.press('Enter');
  if (waitHidden) await widget.waitFor({ state: 'hidden', timeout: 10_000 });
  // A command that asks for input reuses the palette's box: wait until the palette has let go
  // of it, so that what the caller types goes to the command's own input.
  else await expect.poll(async () => (await input.isVisible()) && (await input.inputValue().catch(() => '')) === `>${title}`, { timeout: 10_000 }).toBe(false);
}

/**
 * Presses Enter in code-server's simple file dialog until `seen()` matches `want`. The dialog
 * may take an Enter as picking the listed item whose name is in the box (the dialog stays
 * open with the name still there), so while nothing has happened 3 s after an Enter and the
 * box still holds `value`, Enter is pressed again. A failure shows what `seen()` last returned.
 */
export async function acceptFileDialog(page: Page, input: Locator, value: RegExp, seen: () => Promise<string>, want: RegExp, timeoutMs = 30_000): Promise<void> {
  await input.press('Enter');
  let pressed = Date.now();
  await expect
    .poll(
      async () => {
        const text = await seen();
        if (!want.test(text) && Date.now() - pressed > 3_000 && (await input.isVisible()) && value.test(await input.inputValue().catch(() => ''))) {
          await input.press('Enter');
          pressed = Date.now();
        }
        return text;
      },
      { timeout: timeoutMs, interval: 500 },
    )
    .toMatch(want);
}

/**
 * Makes the listed model `label` active through "Use This Model": types it into the quick pick
 * and takes the first row once that row is it. The quick pick closes when something else takes
 * focus while it is open (a webview updating as the model list changes), so a try whose pick
 * went away is made again, up to three tries.
 */
export async function useModel(page: Page, label: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  for (let attempt = 1; ; attempt++) {
    try {
      await runCommand(page, 'LLM Playground: Use This Model', { waitHidden: false });
      await widget.locator('.monaco-list-row', { hasText: label }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await input.fill(label, { timeout: 5_000 });
      await expect.poll(async () => (await widget.locator('.monaco-list-row').first().innerText()).split('\n')[0], { timeout: 5_000 }).toContain(label);
      await input.press('Enter', { timeout: 5_000 });
      await widget.waitFor({ state: 'hidden', timeout: 15_000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      console.log(`Use This Model ${label}: try ${attempt} lost its pick (${String(e).split('\n')[0]}); again`);
      if (await input.isVisible()) await input.press('Escape');
      await page.waitForTimeout(1_000);
    }
  }
}

function visibleWithin(l: Locator, timeout: number): Promise<boolean> {
  return l.waitFor({ state: 'visible', timeout }).then(
    () => true,
    () => false,
  );
}

export interface HoverOptions {
  timeoutMs?: number;
  /** Where the pointer goes between tries (default: the page's top-left corner). */
  away?: { x: number; y: number };
  /** How far into `target` from its left edge to rest (default: its middle); vertically, its middle. */
  offsetX?: number;
  /** How long each try waits for `shown`. */
  tryMs?: number;
}

/**
 * Hovers `target` until `shown` is visible. Workbench hovers need the pointer to come
 * in and rest, and one that arrives while the workbench is busy may be missed, so it moves
 * away and back until the hover shows.
 */
export async function hoverUntil(
  page: Page,
  target: Locator,
  shown: Locator,
  { timeoutMs = 60_000, away = { x: 0, y: 0 }, offsetX, tryMs = 3_000 }: HoverOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const box = await target.boundingBox();
    if (box) {
      await page.mouse.move(away.x, away.y);
      await page.mouse.move(box.x + (offsetX ?? box.width / 2), box.y + box.height / 2, { steps: 4 });
      if (await visibleWithin(shown, tryMs)) return;
    }
    if (Date.now() > deadline) throw new Error(`no hover appeared over ${target} within ${timeoutMs} ms`);
    if (!box) await page.waitForTimeout(500);
  }
}

/** The playground's document inside the webview whose outer iframe is `outer` (`iframe.webview.ready` → `#active-frame`). */
export function playgroundIn(outer: Locator): FrameLocator {
  return outer.contentFrame().locator('#active-frame').contentFrame();
}

export interface FindWebviewOptions {
  timeoutMs?: number;
  /** Skip the first `skip` webview iframes (those there before a new one was opened). */
  skip?: number;
  /** Only visible webviews wider than this; the widest of them is the one returned. */
  minWidth?: number;
}

/**
 * Waits for a webview whose document holds `selector` and returns that document (the
 * inner FrameLocator), the first such one in the page unless `minWidth` asks for the widest.
 */
export async function findWebview(page: Page, selector: string, { timeoutMs = 90_000, skip = 0, minWidth }: FindWebviewOptions = {}): Promise<FrameLocator> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frames = page.locator('iframe.webview.ready');
    const n = await frames.count();
    let best: { doc: FrameLocator; width: number } | undefined;
    for (let i = skip; i < n; i++) {
      const outer = frames.nth(i);
      const doc = playgroundIn(outer);
      if (
        (await doc
          .locator(selector)
          .count()
          .catch(() => 0)) === 0
      )
        continue;
      if (minWidth === undefined) return doc;
      if (!(await outer.isVisible().catch(() => false))) continue;
      const width = (await outer.boundingBox().catch(() => null))?.width ?? 0;
      if (width > minWidth && (!best || width > best.width)) best = { doc, width };
    }
    if (best) return best.doc;
    if (Date.now() > deadline)
      throw new Error(`no webview with ${selector}${minWidth === undefined ? '' : ` wider than ${minWidth} px`} appeared within ${timeoutMs} ms (webview iframes: ${n})`);
    await page.waitForTimeout(500);
  }
}
