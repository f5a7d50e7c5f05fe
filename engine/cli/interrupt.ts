/**
 * Long runs in the CLI: progress on stderr and Ctrl-C. While a run is interruptible, the first
 * SIGINT sets `signal.aborted` (the run stops at its next chunk or step and the command ends
 * with Interrupted: exit code 130, one line, no stack trace); a second quits at once. The
 * engine computes synchronously between awaits, so the run calls `breathe()` between chunks:
 * it gives the event loop a turn (where the signal is delivered) at most every 50 ms.
 */

/** Ctrl-C stopped the command (exit code 130). */
export class Interrupted extends Error {}

/** Prompt ids per forward when a prompt is long: progress and Ctrl-C are checked between chunks. */
export const PREFILL_CHUNK = 256;

export interface Interruptible {
  readonly signal: { readonly aborted: boolean };
  /** Lets a pending SIGINT be delivered (an event-loop turn), at most every 50 ms. */
  breathe(): Promise<void>;
  /** Removes the handler (Ctrl-C quits at once again). */
  dispose(): void;
}

export function interruptible(): Interruptible {
  const signal = { aborted: false };
  const onSigint = () => {
    if (signal.aborted) process.exit(130);
    signal.aborted = true;
    process.stderr.write('\nllm-playground: stopping (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  let last = performance.now();
  return {
    signal,
    async breathe() {
      const now = performance.now();
      if (now - last < 50) return;
      last = now;
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    dispose: () => process.off('SIGINT', onSigint),
  };
}

/** Prints "prefill 4,096/20,000 tokens (3.1 s)" to stderr at most once a second, and the last chunk. */
export function prefillProgress(total: number): (done: number) => void {
  const t0 = performance.now();
  let last = t0;
  return (done) => {
    const now = performance.now();
    if (now - last < 1000 && done < total) return;
    last = now;
    process.stderr.write(`llm-playground: prefill ${done.toLocaleString('en')}/${total.toLocaleString('en')} tokens (${((now - t0) / 1000).toFixed(1)} s)\n`);
  };
}

/**
 * Load progress for a terminal: "loading weights 1.2/2.5 GB (1.3 s)" on stderr at most twice a
 * second and at the end, only when stderr is a TTY (scripts and tests read stderr).
 */
export function loadProgress(): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const t0 = performance.now();
  let last = t0;
  return (done, total) => {
    const now = performance.now();
    if (now - last < 500 && done < total) return;
    last = now;
    const gb = (n: number) => (n / 1e9).toFixed(2);
    process.stderr.write(`llm-playground: loading weights ${gb(done)}/${gb(total)} GB (${((now - t0) / 1000).toFixed(1)} s)\n`);
  };
}
