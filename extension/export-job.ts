/** What the host asks of the export worker and what it answers (export-worker.ts). */
import type { ExportDtype, ExportFormat } from '../engine/export/types';

export interface ExportJob {
  model: string;
  format: ExportFormat;
  dtype: ExportDtype;
  out: string;
  force: boolean;
  /** A PEFT adapter folder to merge into the weights. */
  lora?: string;
}

export type ExportReply =
  { type: 'progress'; done: number; total: number } | { type: 'done'; files: string[]; notes: string[] } | { type: 'error'; message: string; cancelled: boolean };
