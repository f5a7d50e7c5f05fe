/**
 * Node only: the child process of load-rss.test.ts: opens the GGUF named by argv[2] lazily, makes the model's
 * buffers, streams the weights into them (upload.ts) and prints RSS figures as one JSON line:
 * before, after the buffers are made (on SwiftShader the device memory is host memory), and the
 * highest RSS seen during the upload (sampled every 2 ms and after each flush; the process's
 * maxRSS would include Dawn's start-up), with the weight bytes on the device.
 */
import { openModelLazily } from '../formats/load-node';
import { openNodeGpu } from './gpu-node';
import { ModelCore } from './lifecycle';
import { WeightUploader } from './upload';
import { uploadModel } from './weights';

const rss = () => process.memoryUsage().rss;

(async () => {
  const g = await openNodeGpu();
  if (!('device' in g)) {
    console.log(JSON.stringify({ skipped: g.env.reason ?? 'no adapter' }));
    return;
  }
  const m = await openModelLazily(process.argv[2]);
  const before = rss();
  const core = new ModelCore(g.device, m.lazy.config, { weights: 'f16', contextLength: 16 });
  core.ledger.kind = 'weights';
  let high = 0;
  const sample = () => void (high = Math.max(high, rss()));
  const up = new WeightUploader(core, m.lazy.lazy, m.lazy.totalBytes, { onProgress: sample });
  await uploadModel(core, up);
  const allocated = rss();
  const timer = setInterval(sample, 2);
  await up.run();
  clearInterval(timer);
  sample();
  const after = high;
  console.log(JSON.stringify({ before, allocated, peak: after, weights: core.ledger.report().weights, fileBytes: m.lazy.totalBytes }));
  await m.lazy.close();
  core.destroy();
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
