/** `export`: writes a model the engine loads as GGUF, an HF safetensors folder or an ONNX folder. */
import { EXPORT_FORMAT_DTYPES, EXPORTERS } from '../export/exporters';
import { openExportSource } from '../export/source-node';
import { EXPORT_DTYPES, EXPORT_FORMATS, type ExportDtype, type ExportFormat } from '../export/types';
import { ExportExistsError, ExportPathError, writeExport } from '../export/write-node';
import { parse, type Out } from './common';
import { UsageError } from './errors';
import { Interrupted } from './interrupt';

export const EXPORT_USAGE = `  export --model <path> --format gguf|safetensors|onnx --out <path> [--dtype f32|f16|q8_0]
         [--lora <adapter folder> [--merge]] [--tokenizer <file>] [--force] [--json]
         gguf: --out is the .gguf file; safetensors and onnx: --out is a folder (config.json, model.safetensors or
         model.onnx, tokenizer);
         --lora --merge bakes the adapter into the weights; --lora alone copies it beside them (safetensors)`;

export async function cmdExport(argv: string[], out: Out): Promise<void> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    dtype: { type: 'string' },
    lora: { type: 'string' },
    merge: { type: 'boolean' },
    force: { type: 'boolean' },
    tokenizer: { type: 'string' },
  });
  const model = values.model as string | undefined;
  const format = values.format as string | undefined;
  const dest = values.out as string | undefined;
  if (!model) throw new UsageError('export needs --model <path>');
  if (!format || !(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format must be ${EXPORT_FORMATS.join(', ')}, got ${format === undefined ? 'nothing' : `"${format}"`}`);
  if (!dest) throw new UsageError('export needs --out <path>');
  const f = format as ExportFormat;
  const dtype = (values.dtype as string | undefined) ?? 'f32';
  if (!(EXPORT_DTYPES as readonly string[]).includes(dtype) || !EXPORT_FORMAT_DTYPES[f].includes(dtype as ExportDtype))
    throw new UsageError(`--dtype for ${f} must be ${EXPORT_FORMAT_DTYPES[f].join(', ')}, got "${dtype}"`);
  if (values.merge && !values.lora) throw new UsageError('--merge needs --lora <adapter folder>');
  const exporter = EXPORTERS[f];
  const src = await openExportSource(model, {
    lora: values.lora as string | undefined,
    merge: values.merge as boolean | undefined,
    tokenizer: values.tokenizer as string | undefined,
  });
  const result = exporter(src, { dtype: dtype as ExportDtype });
  // Ctrl-C stops the write between pieces; the temporaries are removed and nothing is left behind.
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  let shown = -1;
  let files: string[];
  try {
    files = await writeExport(result, dest, {
      force: values.force as boolean | undefined,
      signal: ac.signal,
      onProgress: (done, total) => {
        const pct = Math.floor((100 * done) / total);
        if (!values.json && pct !== shown && process.stderr.isTTY) process.stderr.write(`\rwriting ${pct}%`);
        shown = pct;
      },
    });
  } catch (e) {
    if (e instanceof ExportExistsError || e instanceof ExportPathError) throw new UsageError(e.message);
    if (ac.signal.aborted) throw new Interrupted(`export stopped by Ctrl-C; nothing was written to ${dest}`);
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    if (!values.json && process.stderr.isTTY && shown >= 0) process.stderr.write('\n');
  }
  if (values.json) return out(JSON.stringify({ format: f, dtype, files, bytes: result.files.reduce((n, x) => n + x.size, 0), notes: result.notes }));
  for (const file of files) out(file);
  for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
}
