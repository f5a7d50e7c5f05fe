/**
 * npm run bench -- inside: the Inside panel on a 4,096-token input in headless Chromium
 * (a random-weight Llama-shaped model generated here; the CPU backend in a worker, as the
 * playground runs it). Prints the first paint of a head's heatmap after the forward, a
 * zoomed-in tile, pan/zoom frame times (median of 100) against the 16 ms of a 60 Hz frame,
 * and the bytes the worker keeps for the views.
 */
import { bundleForBrowser, launchBrowser, serve } from './harness';

async function main(): Promise<void> {
  const [page, worker] = await Promise.all([bundleForBrowser('tests/browser/entries/inside-bench.entry.ts'), bundleForBrowser('tests/browser/entries/inside-worker.entry.ts')]);
  const server = await serve({
    '/': { body: '<!doctype html><html><body><script src="/page.js"></script></body></html>' },
    '/page.js': { body: page },
    '/inside-worker.js': { body: worker },
  });
  const browser = await launchBrowser();
  try {
    const p = await browser.newPage();
    await p.goto(server.url);
    await p.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: 600_000, polling: 500 });
    const r = (await p.evaluate(() => (window as unknown as { __result: Record<string, unknown> }).__result)) as Record<string, number | boolean | string>;
    if (r.error) throw new Error(String(r.error));
    const ms = (k: string) => `${Number(r[k]).toFixed(1)} ms`;
    console.log(`inside: ${r.tokens} tokens, random Llama ${r.layers} layers × ${r.heads} heads, head dim ${r.headDim}; CPU backend in a worker`);
    console.log(`  forward with the captures             ${ms('forwardMs')} (run answered in ${ms('runMs')})`);
    console.log(
      `  first paint of a head's heatmap       ${ms('firstPaintMs')} (median of 5 heads ${ms('firstPaintMedianMs')}; target 200 ms: ${(Number(r.firstPaintMedianMs) / 200).toFixed(2)}×; overview rows ${r.overviewExact ? 'exact' : 'sampled'})`,
    );
    console.log(`  zoomed-in tile (256 × 256 cells)      ${ms('zoomedTileMs')} (${r.zoomedExact ? 'exact' : 'sampled'})`);
    console.log(`  mean over heads, whole input          ${ms('meanOverHeadsMs')}`);
    console.log(`  pan/zoom frame, median of 100         ${ms('frameMedianMs')} (max ${ms('frameMaxMs')}; target 16 ms: ${(Number(r.frameMedianMs) / 16).toFixed(2)}×)`);
    console.log(`  head grid (all heads, 32 px + summaries) ${ms('headGridMs')}; logit lens, 24 positions ${ms('lens24Ms')}`);
    console.log(
      `  worker memory for the views: ${(Number(r.keptBytes) / 1048576).toFixed(2)} MiB (queries, keys, residuals) vs ${((Number(r.layers) * Number(r.heads) * Number(r.tokens) ** 2 * 4) / 1048576).toFixed(0)} MiB for L·H·T² probabilities`,
    );
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
