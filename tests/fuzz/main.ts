/**
 * `npm run fuzz`: structure-aware fuzzing of every model, tokenizer and config format the
 * engine reads. Cases run in batches inside a child process (node --max-old-space-size) under
 * a watchdog: no verdict within the time limit is a hang, resident memory above the limit or
 * a dead child is a finding; such a case is then run again alone in a fresh child to confirm.
 *
 *   npm run fuzz [-- --cases N] [--seed S] [--format a,b] [--case I] [--out DIR]
 *
 * Prints a table of cases per format and every finding with its seed, index and a folder
 * holding the reproducing files. Exits 1 when there is a finding.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Verdict } from './classify';
import type { Job, Report } from './child';
import { FIXTURES, FORMATS, prepare, setFixtures } from './formats';
import { caseSeed, Rng } from './rng';

const TIME_LIMIT_MS = 5000;
const MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024;
const BATCH = 2000;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const cases = Number(arg('cases') ?? 10_000);
const seed = Number(arg('seed') ?? Math.floor(Math.random() * 2 ** 31));
const only = arg('format')?.split(',');
const single = arg('case') !== undefined ? Number(arg('case')) : undefined;
const outDir = arg('out') ?? path.join(os.tmpdir(), `llm-playground-fuzz-${seed}`);
const childScript = path.join(__dirname, 'child.cjs');

interface Finding {
  format: string;
  index: number;
  reason: string;
  message: string;
  folder?: string;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs cases [from, to) of a format in one child; calls back per verdict; resolves with how the child stopped. */
function runBatch(
  format: string,
  from: number,
  to: number,
  onDone: (index: number, v: Verdict, ms: number) => void,
): Promise<{ next: number; stopped?: { index: number; reason: string; message: string } }> {
  return new Promise((resolve) => {
    const child: ChildProcess = fork(childScript, [], { execArgv: ['--max-old-space-size=1024'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let next = from;
    let stderr = '';
    let stopped: { index: number; reason: string; message: string } | undefined;
    let last = Date.now();
    child.stderr!.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
    const timer = setInterval(() => {
      const rss = child.pid ? rssOf(child.pid) : 0;
      if (rss > MEMORY_LIMIT_BYTES) stop('memory above the limit', `resident memory ${(rss / 2 ** 20).toFixed(0)} MiB > ${MEMORY_LIMIT_BYTES / 2 ** 20} MiB`);
      else if (Date.now() - last > TIME_LIMIT_MS) stop('hang', `no result within ${TIME_LIMIT_MS / 1000} s`);
    }, 50);
    function stop(reason: string, message: string) {
      if (stopped) return;
      stopped = { index: next, reason, message };
      child.kill('SIGKILL');
    }
    child.on('message', (m: Report) => {
      if (m.type === 'done') {
        onDone(m.index, m.verdict, m.ms);
        next = m.index + 1;
        last = Date.now();
      }
    });
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (!stopped && next < to) stopped = { index: next, reason: 'crash', message: `child exited (${signal ?? code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}` };
      resolve({ next, stopped });
    });
    child.send({ format, seed, from, to, fixtures: FIXTURES } satisfies Job);
  });
}

/** Writes the files of a case and how to run it again. */
async function writeReproducer(format: string, index: number, f: Finding): Promise<string> {
  setFixtures(FIXTURES);
  await prepare();
  const fmt = FORMATS.find((x) => x.name === format)!;
  const files = fmt.make(new Rng(caseSeed(seed, format, index)));
  const dir = path.join(outDir, `${format}-${index}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes);
  writeFileSync(path.join(dir, 'finding.json'), JSON.stringify({ ...f, seed, rerun: `npm run fuzz -- --format ${format} --seed ${seed} --case ${index}` }, null, 2));
  return dir;
}

async function fuzzFormat(format: string, findings: Finding[]): Promise<{ ok: number; typed: number; findings: number; ms: number }> {
  const stats = { ok: 0, typed: 0, findings: 0, ms: 0 };
  const t0 = Date.now();
  const first = single ?? 0;
  const end = single !== undefined ? single + 1 : cases;
  const record = async (index: number, reason: string, message: string) => {
    stats.findings++;
    const f: Finding = { format, index, reason, message };
    f.folder = await writeReproducer(format, index, f).catch((e) => `(not written: ${(e as Error).message})`);
    findings.push(f);
  };
  const onDone = (index: number, v: Verdict) => {
    if (v.kind === 'ok') stats.ok++;
    else if (v.kind === 'typed') stats.typed++;
    else void record(index, v.reason, v.message);
    if (single !== undefined) console.log(`${format} #${index}: ${JSON.stringify(v)}`);
  };
  for (let from = first; from < end;) {
    const to = Math.min(end, from + BATCH);
    const r = await runBatch(format, from, to, onDone);
    from = r.next;
    if (r.stopped) {
      // run the suspicious case again alone: a fresh process, nothing left over from the batch
      const alone = await runBatch(format, r.stopped.index, r.stopped.index + 1, onDone);
      if (alone.stopped) await record(r.stopped.index, alone.stopped.reason, alone.stopped.message);
      from = r.stopped.index + 1;
    }
  }
  stats.ms = Date.now() - t0;
  return stats;
}

async function main(): Promise<void> {
  const formats = FORMATS.map((f) => f.name).filter((n) => !only || only.includes(n));
  console.log(
    `fuzz: seed ${seed}, ${single !== undefined ? `case ${single}` : `${cases} cases`} per format, limits ${TIME_LIMIT_MS / 1000} s and ${MEMORY_LIMIT_BYTES / 2 ** 30} GiB per case`,
  );
  const findings: Finding[] = [];
  const rows: string[][] = [];
  for (const f of formats) {
    const s = await fuzzFormat(f, findings);
    await new Promise((r) => setTimeout(r, 10));
    const n = s.ok + s.typed + s.findings;
    rows.push([f, String(n), String(s.ok), String(s.typed), String(s.findings), `${(s.ms / 1000).toFixed(0)} s`]);
    console.log(`fuzz: ${f}: ${n} cases, ${s.findings} findings (${(s.ms / 1000).toFixed(0)} s)`);
  }
  const head = ['format', 'cases', 'ok', 'typed error', 'findings', 'time'];
  const table = [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  console.log(`\n${table}\n`);
  for (const f of findings) console.log(`finding: ${f.format} #${f.index} (seed ${seed}): ${f.reason}: ${f.message}\n  files: ${f.folder}`);
  console.log(findings.length ? `fuzz: ${findings.length} findings; reproducers in ${outDir}` : 'fuzz: no findings');
  process.exit(findings.length ? 1 : 0);
}

void main();
