/**
 * The fuzzer's worker process: runs cases of one format in-process, one after another, and
 * reports each verdict to the parent over IPC. The parent's watchdog kills it on a hang or
 * when its memory passes the limit; each case is rebuilt from (seed, format, index) alone.
 */
import { classify, type Verdict } from './classify';
import { FORMATS, prepare, setFixtures } from './formats';
import { caseSeed, Rng } from './rng';

export interface Job {
  format: string;
  seed: number;
  from: number;
  to: number;
  fixtures: string;
}
export type Report = { type: 'done'; index: number; verdict: Verdict; ms: number } | { type: 'end' };

let current = -1;
const send = (m: Report) => new Promise<void>((res) => process.send!(m, undefined, {}, () => res()));

async function runJob(job: Job): Promise<void> {
  setFixtures(job.fixtures);
  await prepare();
  const format = FORMATS.find((f) => f.name === job.format)!;
  for (let i = job.from; i < job.to; i++) {
    current = i;
    let files;
    try {
      files = format.make(new Rng(caseSeed(job.seed, format.name, i)));
    } catch (e) {
      // a bug of the fuzzer's own mutator, told apart from the engine's findings
      await send({ type: 'done', index: i, verdict: { kind: 'finding', reason: 'fuzzer: the case could not be built', message: String(e) }, ms: 0 });
      continue;
    }
    const t0 = performance.now();
    let verdict: Verdict;
    try {
      await format.run(files);
      verdict = { kind: 'ok' };
    } catch (e) {
      verdict = classify(e);
    }
    await send({ type: 'done', index: i, verdict, ms: performance.now() - t0 });
  }
  await send({ type: 'end' });
}

process.on('unhandledRejection', (e) => {
  void send({ type: 'done', index: current, verdict: { kind: 'finding', reason: 'unhandled rejection', message: String(e) }, ms: 0 }).then(() => process.exit(3));
});
// the parent gone (killed, interrupted): stop too, instead of running the batch to its end
process.on('disconnect', () => process.exit(0));
process.on('message', (job: Job) => {
  runJob(job).then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(2);
    },
  );
});
