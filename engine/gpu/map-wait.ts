/**
 * Node only: awaiting a GPU promise (a buffer map) without Dawn's busy polling.
 *
 * Why: the `webgpu` package (Dawn for Node) learns that a map or other async GPU work is
 * done by polling: while anything is pending it queues a `setImmediate` callback every
 * event-loop turn, and each one is a fresh native function whose data carries a
 * finalizer. An idle event loop turns every few µs, so a long wait (a long prefill's
 * read-back, the waits between decode blocks) makes hundreds of thousands of them. That
 * garbage outlives the young generation, so Node runs major collections during decoding,
 * and the finalizers they leave stall the next burst of work; either can run the GPU's
 * queue dry (engine/gpu/BENCH.md, "Throttled map waits").
 *
 * `throttledWait` blocks the thread for `sliceMs` (Atomics.wait, which sleeps) between
 * event-loop turns while the promise is pending, so Dawn's poll runs once per slice: a
 * few thousand callbacks per second instead of hundreds of thousands, and the promise is
 * seen at most one slice late. GpuModelOptions.throttleMapWait turns it on.
 */

/** Sleep between event-loop turns while a GPU promise is pending (ms). */
export const MAP_WAIT_SLICE_MS = 0.2;

let cell: Int32Array | undefined;

/** Whether this runtime can block the thread (Node's main thread, a worker): Atomics.wait and setImmediate. */
export function canThrottle(): boolean {
  const g = globalThis as { setImmediate?: unknown; SharedArrayBuffer?: unknown };
  if (typeof g.setImmediate !== 'function' || typeof g.SharedArrayBuffer !== 'function' || typeof Atomics === 'undefined' || typeof Atomics.wait !== 'function') return false;
  try {
    Atomics.wait((cell ??= new Int32Array(new SharedArrayBuffer(4))), 0, 1, 0); // 'not-equal' at once; throws where blocking is not allowed
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves or rejects as `p` does. While `p` is pending, the thread sleeps `sliceMs` between
 * event-loop turns (each turn runs whatever is queued, Dawn's poll included).
 */
export async function throttledWait<T>(p: Promise<T>, sliceMs = MAP_WAIT_SLICE_MS): Promise<T> {
  let done = false;
  const settled = () => void (done = true);
  p.then(settled, settled);
  const c = (cell ??= new Int32Array(new SharedArrayBuffer(4)));
  const immediate = (globalThis as unknown as { setImmediate: (f: () => void) => void }).setImmediate;
  // one turn first: a promise that is already settled costs no sleep
  await new Promise<void>((r) => immediate(r));
  while (!done) {
    Atomics.wait(c, 0, 0, sliceMs); // nothing ever notifies the cell: a plain sleep
    await new Promise<void>((r) => immediate(r));
  }
  return p;
}
