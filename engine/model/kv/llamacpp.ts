/**
 * llama.cpp's KV cache beside the what-ifs: how llama.cpp sizes its cache, its log line read
 * back, and the comparison. llama.cpp (src/llama-kv-cache.cpp) prints one line per cache:
 *
 *   llama_kv_cache: size =  256.00 MiB (  4096 cells,  16 layers,  1/1 seqs), K (f16):  128.00 MiB, V (f16):  128.00 MiB
 *
 * the MiB as `%7.2f` of a float. A model with sliding-window layers (Gemma-2) has two caches
 * (llama_kv_cache_iswa), each announced by "creating non-SWA KV cache, size = N cells" or
 * "creating     SWA KV cache, size = N cells" before its line. Its cells:
 *
 *   n_ctx      = pad256(context)                            (llama_context pads the context)
 *   SWA layers = pad256(min(n_ctx, window + n_ubatch))      (the window plus the micro-batch
 *                being written, so a whole batch fits before the oldest tokens may go)
 *
 * where our what-if keeps a ring of exactly the window. Each layer holds K and V rows of
 * kvHeads · headDim values per cell (MLA: one K row of kv_lora_rank + rope dims, no V), of
 * ggml_row_size(type): f32 4 bytes a value, f16 2, q8_0 34 per 32.
 */
import type { KvSpec } from './spec';
import { kvWhatIf, type KvDtype, type WhatIfResult } from './whatif';

/** One llama_kv_cache log line (and which cache it was, when llama.cpp said). */
export interface LlamaCppKvLine {
  kind: 'single' | 'non-swa' | 'swa';
  cells: number;
  layers: number;
  totalMiB: string;
  kType: string;
  kMiB: string;
  vType: string;
  vMiB: string;
  line: string;
}

const SIZE_RE = /llama_kv_cache: size =\s*([\d.]+) MiB \(\s*(\d+) cells,\s*(\d+) layers,\s*\d+\/\d+ seqs\), K \((\w+)\):\s*([\d.]+) MiB, V \((\w+)\):\s*([\d.]+) MiB/;
const ISWA_RE = /creating\s+(non-SWA|SWA) KV cache, size = (\d+) cells/;

/** The KV-size lines of a llama.cpp log, in order, each tagged with the cache it belongs to. */
export function parseLlamaCppKvLog(lines: readonly string[]): LlamaCppKvLine[] {
  const out: LlamaCppKvLine[] = [];
  let pending: 'non-swa' | 'swa' | undefined;
  for (const line of lines) {
    const iswa = ISWA_RE.exec(line);
    if (iswa) {
      pending = iswa[1] === 'SWA' ? 'swa' : 'non-swa';
      continue;
    }
    const m = SIZE_RE.exec(line);
    if (!m) continue;
    out.push({ kind: pending ?? 'single', cells: +m[2], layers: +m[3], totalMiB: m[1], kType: m[4], kMiB: m[5], vType: m[6], vMiB: m[7], line: line.trim() });
    pending = undefined;
  }
  return out;
}

/** Bytes as llama.cpp prints them: `%.2f` of (float)bytes / 2^20, exact ties to even (glibc's printf). */
export function llamaCppMiB(bytes: number): string {
  const f = BigInt(Math.fround(bytes)); // the float cast; dividing by 2^20 is exact
  const scaled = f * 100n;
  const den = 1n << 20n;
  let q = scaled / den;
  const r = scaled % den;
  if (2n * r > den || (2n * r === den && q % 2n === 1n)) q += 1n;
  return `${q / 100n}.${String(q % 100n).padStart(2, '0')}`;
}

const pad256 = (n: number) => Math.ceil(n / 256) * 256;

/** llama.cpp's cells for a context: every layer's cache pads the context to 256; sliding layers keep the window plus the micro-batch, padded. */
export function llamaCppCells(context: number, window: number | undefined, ubatch: number): { full: number; swa?: number } {
  const full = pad256(context);
  return window === undefined ? { full } : { full, swa: pad256(Math.min(full, window + ubatch)) };
}

export interface KvLineCheck {
  line: LlamaCppKvLine;
  whatIf: { kBytes: number; vBytes: number; totalBytes: number; kMiB: string; vMiB: string; totalMiB: string };
  /** The printed K, V and total equal the what-if's bytes printed as llama.cpp prints them. */
  matches: boolean;
  /**
   * Whether the printed K MiB pins the bytes down exactly: the 0.01 MiB it rounds to spread
   * over cells · layers rows is under one byte a row, so one whole row size fits; then the
   * what-if's row size is the one llama.cpp allocated.
   */
  exact: boolean;
}

/**
 * The what-if for llama.cpp's cache of `context` (the padded n_ctx and its SWA cells, as
 * llamaCppCells says) and each of llama.cpp's log lines checked against it: the lines' layers
 * are the sliding ones (swa) or the others (non-swa), all layers otherwise.
 */
export function checkLlamaCppLines(
  spec: KvSpec,
  lines: readonly LlamaCppKvLine[],
  opts: { kvDtype: KvDtype; window?: number; swaCells?: number; context: number },
): { whatIf: WhatIfResult; checks: KvLineCheck[] } {
  // the what-if's window set to llama.cpp's SWA cells makes its sliding layers hold what llama.cpp's do
  const whatIf = kvWhatIf(spec, { context: opts.context, kvDtype: opts.kvDtype, window: opts.swaCells ?? opts.window ?? 0 });
  const checks = lines.map((line) => {
    const layers = whatIf.perLayerBytes
      .map((_, l) => l)
      .filter((l) => (line.kind === 'single' ? true : line.kind === 'swa' ? isSliding(spec, l, opts.swaCells) : !isSliding(spec, l, opts.swaCells)));
    const kBytes = layers.reduce((a, l) => a + whatIf.perLayerKBytes[l], 0);
    const totalBytes = layers.reduce((a, l) => a + whatIf.perLayerBytes[l], 0);
    const vBytes = totalBytes - kBytes;
    const w = { kBytes, vBytes, totalBytes, kMiB: llamaCppMiB(kBytes), vMiB: llamaCppMiB(vBytes), totalMiB: llamaCppMiB(totalBytes) };
    const matches = layers.length === line.layers && w.kMiB === line.kMiB && w.vMiB === line.vMiB && w.totalMiB === line.totalMiB;
    const rows = line.cells * line.layers;
    const exact = matches && (0.01 * 2 ** 20) / rows < 1 && Number.isInteger(kBytes / rows);
    return { line, whatIf: w, matches, exact };
  });
  return { whatIf, checks };
}

function isSliding(spec: KvSpec, l: number, swaCells: number | undefined): boolean {
  return swaCells !== undefined && spec.slidingWindow !== undefined && (spec.slidingLayers?.[l] ?? true);
}
