/**
 * npm run bench -- cache-compare: the decode step time with the KV cache and recomputing the
 * prefix without it, at contexts 64…2048, on stories260K (CPU backend, WebAssembly SIMD). The
 * two curves: with the cache the step grows slowly with the position (attention over p keys),
 * without it the whole prefix runs again (p + 1 tokens of matmuls and p² attention).
 */
import path from 'node:path';
import { CpuBackend } from '../backend/cpu';
import { openModel } from '../formats/load-node';
import { compareWithAndWithoutCache } from './cache-compare';

async function main(): Promise<void> {
  const loaded = (await openModel(path.resolve(__dirname, '../../models/stories260K.bin'))).loaded;
  const positions = [64, 128, 256, 512, 1024, 2048].map((n) => n - 1);
  const b = new CpuBackend(loaded, { contextLength: 2048 });
  const ids = Array.from({ length: 2048 }, (_, i) => (i * 37 + 5) % loaded.config.vocabSize);
  await compareWithAndWithoutCache(b, ids, [2047], { reps: 1 }); // warm-up: the scratch grows to 2048 rows once
  const r = await compareWithAndWithoutCache(b, ids, positions, { reps: 3 });
  console.log(`stories260K on ${b.label}: one decode step at context n (median of 3)`);
  console.log('context | with cache (ms) | without cache (ms) | without / with | max |Δ logits|');
  for (const x of r)
    console.log(
      `${String(x.position + 1).padStart(7)} | ${x.withCacheMs.toFixed(3).padStart(15)} | ${x.withoutCacheMs.toFixed(3).padStart(18)} | ${(x.withoutCacheMs / x.withCacheMs).toFixed(1).padStart(14)}× | ${x.maxAbsDiff.toExponential(1)}`,
    );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
