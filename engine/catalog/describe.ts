/**
 * A model's details for people: the rows of its details table and the number formats
 * they use. One source for the editor's Models tree tooltip and the playground's Model
 * tab.
 */
import { isRunnableFormat } from '../formats/ids';
import type { ModelInfo } from './inspect';

/** 1234567 → "1.23M" (B, M with two decimals; K with one). */
export function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** Bytes in binary units ("1.5 MiB"); "—" when unknown. */
export function fmtBytes(n: number | undefined): string {
  if (n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** [label, value] rows describing a model (a format listed but not run: its format and size only). */
export function modelDetailRows(i: ModelInfo): [string, string][] {
  if (!isRunnableFormat(i.format))
    return [
      ['Format', i.format],
      ['File size', fmtBytes(i.fileBytes)],
    ];
  return [
    ['Format', i.format],
    ['Architecture', i.architecture],
    ['Parameters', `${fmtCount(i.parameters)} (${i.parameters.toLocaleString('en-US')})`],
    ['Dtypes', i.dtypes.join(', ')],
    ['File size', fmtBytes(i.fileBytes)],
    ['Context length', String(i.contextLength)],
    ['Vocabulary', String(i.vocabSize)],
    ['Tokenizer', i.tokenizer ? `${i.tokenizer.kind} (${i.tokenizer.source})` : 'none'],
    ['Layers / heads / KV heads / head size', `${i.numLayers} / ${i.numHeads} / ${i.numKvHeads} / ${i.headDim}`],
    ['KV cache per token', fmtBytes(i.kvBytesPerToken)],
  ];
}
