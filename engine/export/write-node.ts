/**
 * Node-only: writes an export (types.ts) to disk without ever leaving a partial file.
 * Each file is written to a temporary name in the target folder, then every one is moved
 * into place at the end; a failure or an abort removes the temporaries (and the output folder
 * when the export created it). An existing file is
 * replaced only with `force` (checked before writing and again when moving: without force a
 * file is linked into place, which fails if the name was taken meanwhile).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ExportResult } from './types';

export interface WriteExportOptions {
  /** Replace existing files. */
  force?: boolean;
  signal?: AbortSignal;
  /** Bytes written so far, of `total`, after each piece. */
  onProgress?: (written: number, total: number) => void;
}

/** The output path exists (and `force` was not given). */
export class ExportExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} already exists (pass --force to overwrite it)`);
    this.name = 'ExportExistsError';
  }
}

/** The output path is the wrong kind: a file where the export writes a folder, or a folder where it writes a file. */
export class ExportPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportPathError';
  }
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** Where each file of the export goes: `out` itself for a one-file export, `out/<name>` for a folder. */
export function exportPaths(result: ExportResult, out: string): string[] {
  return result.target === 'file' ? [out] : result.files.map((f) => path.join(out, f.name));
}

/** Writes the export at `out` (a file path, or a folder created when missing); returns the paths written. */
export async function writeExport(result: ExportResult, out: string, opts: WriteExportOptions = {}): Promise<string[]> {
  const st = await stat(out).catch(() => null);
  if (result.target === 'folder' && st && !st.isDirectory()) throw new ExportPathError(`${out} is a file: this format is written as a folder of files (give a folder path)`);
  if (result.target === 'file' && st?.isDirectory()) throw new ExportPathError(`${out} is a folder: this format is written as one file (give a file path)`);
  const finals = exportPaths(result, out);
  if (!opts.force) for (const f of finals) if (await exists(f)) throw new ExportExistsError(f);
  const createdFolder = result.target === 'folder' && !(await exists(out));
  if (createdFolder) await mkdir(out, { recursive: true });
  const total = result.files.reduce((n, f) => n + f.size, 0);
  const temps: string[] = [];
  let written = 0;
  try {
    for (let i = 0; i < result.files.length; i++) {
      opts.signal?.throwIfAborted();
      const temp = path.join(path.dirname(finals[i]), `.${path.basename(finals[i])}.${randomBytes(4).toString('hex')}.partial`);
      temps.push(temp);
      const fh = await open(temp, 'wx');
      try {
        for (const part of result.files[i].parts()) {
          opts.signal?.throwIfAborted();
          await fh.write(part);
          written += part.length;
          opts.onProgress?.(written, total);
        }
      } finally {
        await fh.close();
      }
    }
    opts.signal?.throwIfAborted();
    const linked: string[] = [];
    for (let i = 0; i < finals.length; i++) {
      if (opts.force) await rename(temps[i], finals[i]);
      else {
        try {
          await link(temps[i], finals[i]);
        } catch (e) {
          // a name taken since the check: take back the files of this export already in place
          for (const f of linked) await rm(f, { force: true });
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ExportExistsError(finals[i]);
          throw e;
        }
        linked.push(finals[i]);
        await unlink(temps[i]);
      }
    }
    return finals;
  } catch (e) {
    // a folder this export made is taken back too (rmdir: only while it is empty)
    if (createdFolder) {
      for (const t of temps) await rm(t, { force: true });
      await rmdir(out).catch(() => {});
    }
    throw e;
  } finally {
    for (const t of temps) await rm(t, { force: true });
  }
}
