/**
 * A decoding-lab run as a file: JSON (everything: the strategies, every step's inspection,
 * the beam results and tree) and CSV (one row per column and step: the token, its rank and
 * probability, the entropy before and after the chain, the named token's rank and
 * probability before and after). Pure (no DOM): unit-tested; the host saves the text.
 */
import type { LabStrategy } from '../engine/protocol/index';
import type { LabStepMessage } from '../engine/protocol/lab';
import type { BeamTreeNode } from '../engine/generate/beam';

export interface LabColumnRun {
  strategy: LabStrategy;
  forced?: number[];
  steps: Pick<LabStepMessage, 'step' | 'token' | 'text' | 'forced' | 'inspection' | 'drafted'>[];
  beam?: { sequences: number[][]; scores: number[]; texts: string[]; tree: BeamTreeNode[] };
  stopReason?: string;
  error?: string;
}

export interface LabRunExport {
  prompt: string;
  promptIds: number[];
  seed: number;
  maxTokens: number;
  named?: { text: string; id: number };
  columns: LabColumnRun[];
  /** Text of every token id the run names. */
  pieces: Record<string, string>;
}

export function labJson(run: LabRunExport): string {
  return JSON.stringify({ format: 'llm-playground decoding lab', ...run }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1);
}

function cell(v: string | number | undefined | null): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? String(v) : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_HEADER = [
  'column',
  'strategy',
  'step',
  'token_id',
  'token',
  'forced',
  'chosen_rank',
  'chosen_prob',
  'entropy_logits',
  'entropy_final',
  'named_id',
  'named_rank_before',
  'named_prob_before',
  'named_rank_after',
  'named_prob_after',
];

export function labCsv(run: LabRunExport): string {
  const rows = [CSV_HEADER.join(',')];
  run.columns.forEach((c, ci) => {
    for (const s of c.steps) {
      const ins = s.inspection;
      const n = ins?.named[0];
      rows.push(
        [
          ci + 1,
          c.strategy.label,
          s.step,
          s.token,
          run.pieces[s.token] ?? '',
          s.forced ? 1 : 0,
          ins?.chosen.rank,
          ins?.chosen.prob,
          ins?.stages[0]?.entropy,
          ins?.stages.at(-1)?.entropy,
          n?.id,
          n?.before.rank,
          n?.before.prob,
          n?.after?.rank,
          n?.after?.prob,
        ]
          .map(cell)
          .join(','),
      );
    }
  });
  return rows.join('\n') + '\n';
}
