/**
 * generate --trace-load: one line on stderr per step of the load, as it is reached, with the ms
 * since the process started (performance.now(): Node's time origin is the process start):
 *
 *   trace-load: <ms> ms file opened and parsed
 *   trace-load: <ms> ms device opened
 *   trace-load: <ms> ms pipelines compiled
 *   trace-load: <ms> ms upload done (host: read …, pack/convert …, write …, fold … (n on the GPU, n on the host), flush wait …)
 *   trace-load: <ms> ms first prefill submitted
 *   trace-load: <ms> ms first token
 *
 * The device steps come through LoadControl.onPhase (the device from openBackend, the rest from
 * GpuModel.create and the model's first submission); the CPU backend has only the first and the
 * last. The pipelines compile while the weights upload, so those two lines come in either order.
 */
import type { LoadControl, LoadPhase, UploadSplit } from '../gpu/upload';

export interface LoadTrace {
  /** Prints a step the CLI itself reaches. */
  mark(what: string): void;
  /** The LoadControl hook for the steps of the backend's load. */
  onPhase: NonNullable<LoadControl['onPhase']>;
}

const PHASES: Record<LoadPhase, string> = {
  device: 'device opened',
  pipelines: 'pipelines compiled',
  upload: 'upload done',
  'first-submit': 'first prefill submitted',
};

const ms = (x: number) => `${x.toFixed(1)} ms`;

/** What the upload line adds: the host's split of it. */
export function describeSplit(s: UploadSplit): string {
  return `host: read ${ms(s.readMs)}, pack/convert ${ms(s.packMs)}, write ${ms(s.writeMs)}, fold ${ms(s.foldMs)} (${s.gpuFolds} on the GPU, ${s.hostFolds} on the host), flush wait ${ms(s.flushMs)}`;
}

/** The trace when `on`, else undefined. */
export function loadTrace(on: boolean): LoadTrace | undefined {
  if (!on) return undefined;
  const line = (what: string) => process.stderr.write(`trace-load: ${performance.now().toFixed(1)} ms ${what}\n`);
  return {
    mark: line,
    onPhase: (phase, split) => line(split ? `${PHASES[phase]} (${describeSplit(split)})` : PHASES[phase]),
  };
}
