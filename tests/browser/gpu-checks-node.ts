/**
 * The GpuModel fixture checks (gpu-checks.ts) in Node through Dawn, for machines
 * where the browser test cannot run (the H200 machine: no chromium, real GPU).
 *   FIXTURES=<folder> node dist/gpu-checks.js      (default ../shared/fixtures)
 * Prints one JSON line per model and a summary; exit code 1 on any failure.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openNodeGpu } from '../../engine/gpu/gpu-node';
import { checkSameSeed, checkStories, checkTinyModel, TINY } from './gpu-checks';
import { checkInt8Stories, checkInt8Tiny, int8Ok } from './kv-int8-checks';

async function main(): Promise<number> {
  const dir = path.resolve(process.env.FIXTURES ?? '../shared/fixtures');
  const read = async (rel: string) => new Uint8Array(await readFile(path.join(dir, rel)));
  const g = await openNodeGpu();
  if (!('device' in g)) throw new Error(`no WebGPU device: ${g.env.reason}`);
  console.log(JSON.stringify({ adapter: g.env.adapter, features: g.env.features }));
  let bad = 0;
  for (const name of (process.env.MODELS ?? TINY.join(',')).split(',')) {
    const t = performance.now();
    const r = await checkTinyModel(g.device, read, name);
    // the browser test's limits (tests/browser/gpu.test.ts); f16 read as f16 must equal f16 unpacked
    const ok =
      r.logitsVsHf <= 1e-3 &&
      r.greedyExact &&
      r.pipelineExact &&
      r.attentionsVsHf <= 1e-4 &&
      r.decodeVsPrefill <= 1e-3 &&
      (r.gqaDecodeVsPrefill ?? 0) <= 1e-3 &&
      (r.extra?.loraVsHf ?? 0) <= 1e-3 &&
      (r.extra?.loraGateUpVsCpu ?? 0) <= 1e-3 &&
      r.f16VsCpu <= 0.05 &&
      (r.f16NativeVsPacked ?? 0) <= 1e-5;
    if (!ok) bad++;
    console.log(JSON.stringify({ ok, ms: Math.round(performance.now() - t), ...r, greedy: r.greedy.map((x) => x.got.join(',') === x.want.join(',')) }));
  }
  const s = await checkStories(g.device, read, { f16: true });
  for (const c of s) {
    const ok = c.got.join(',') === c.want.join(',');
    if (!ok) bad++;
    console.log(JSON.stringify({ stories: c.prompt, ok, f16Exact: c.f16.join(',') === c.want.join(','), n: c.got.length }));
  }
  const same = await checkSameSeed(g.device, read);
  const sameOk = same.gpu.join(',') === same.cpu.join(',') && same.gpu.length === 200;
  if (!sameOk) bad++;
  console.log(JSON.stringify({ sameSeed: 'stories260K, 200 tokens, temperature 0.8, top-p 0.9, seed 7', ok: sameOk, n: same.gpu.length }));
  // the int8 KV cache: GPU against the CPU Model's (kv-int8-checks.ts)
  for (const name of (process.env.MODELS ?? TINY.join(',')).split(',')) {
    const r = await checkInt8Tiny(g.device, read, name);
    if (!int8Ok(r)) bad++;
    console.log(JSON.stringify({ int8Kv: name, ok: int8Ok(r), ...r }));
  }
  const s8 = await checkInt8Stories(g.device, read);
  if (!int8Ok(s8)) bad++;
  console.log(JSON.stringify({ int8Kv: 'stories260K', ok: int8Ok(s8), ...s8 }));
  console.log(bad ? `FAILED: ${bad}` : 'ALL OK');
  g.device.destroy();
  return bad ? 1 : 0;
}

main().then(
  (c) => process.exit(c),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
