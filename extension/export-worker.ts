/**
 * The export worker thread (bundled as dist/export-worker.js): one per export, so loading and
 * encoding a model never blocks the extension host. It runs the job in `workerData`
 * (export-model.ts: ExportJob), posts progress, and stops on a `cancel` message: the writer
 * then removes its temporary files, so a cancelled export leaves nothing behind.
 * No `vscode`: it runs in a worker_threads Worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EXPORTERS } from '../engine/export/exporters';
import { openExportSource } from '../engine/export/source-node';
import { writeExport } from '../engine/export/write-node';
import type { ExportJob, ExportReply } from './export-job';

const job = workerData as ExportJob;
const ac = new AbortController();
const post = (m: ExportReply) => parentPort!.postMessage(m);
parentPort!.on('message', (m: { op: 'cancel' }) => {
  if (m.op === 'cancel') ac.abort();
});

void (async () => {
  try {
    const exporter = EXPORTERS[job.format];
    const src = await openExportSource(job.model, { lora: job.lora, merge: true });
    ac.signal.throwIfAborted();
    const result = exporter(src, { dtype: job.dtype });
    let last = 0;
    const files = await writeExport(result, job.out, {
      force: job.force,
      signal: ac.signal,
      onProgress: (done, total) => {
        // at most every 1 % (and the end), so the host is not flooded with messages
        if (done === total || done - last >= total / 100) {
          last = done;
          post({ type: 'progress', done, total });
        }
      },
    });
    post({ type: 'done', files, notes: result.notes });
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e), cancelled: ac.signal.aborted });
  }
})();
