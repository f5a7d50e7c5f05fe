/**
 * Node-only: which files the engine opens. A model is a folder (or a file) the user chose;
 * its files are opened only when they are regular files, and a symlink inside the folder is
 * followed only while it stays inside the folder — or where it is the Hugging Face cache's
 * own layout, `models--org--name/snapshots/<rev>/<file>` → `../../blobs/<hash>` of the same
 * repository, which real checkpoints on disk use. FIFOs, devices and sockets are refused
 * (a FIFO would block the open; a device like /dev/zero never ends), and files are opened
 * non-blocking so that a file swapped for a FIFO after the check cannot block either.
 */
import { constants } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { FormatError } from '../errors';

function kindOf(st: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Opens `p` for reading when it is a regular file (after symlinks); else a FormatError naming what it is. */
export async function openRegularFile(p: string): Promise<{ fh: FileHandle; size: number }> {
  const fh = await open(p, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FormatError('not a regular file', { file: p, expected: 'a regular file', found: kindOf(st) });
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Reads a whole regular file of at most `maxBytes` (a FormatError naming the limit above it). */
export async function readRegularFile(p: string, maxBytes: number): Promise<Uint8Array> {
  const { fh, size } = await openRegularFile(p);
  try {
    if (size > maxBytes) throw new FormatError('file is too large', { file: p, expected: `at most ${maxBytes} bytes`, found: `${size} bytes` });
    const buf = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(buf, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === size ? buf : buf.subarray(0, done);
  } finally {
    await fh.close();
  }
}

/** `models--org--name/snapshots/<rev>`: the repository folder of a Hugging Face cache snapshot, else undefined. */
function hfCacheRepo(realRoot: string): string | undefined {
  const parts = realRoot.split(path.sep);
  const n = parts.length;
  if (n >= 3 && parts[n - 2] === 'snapshots' && parts[n - 3].startsWith('models--')) return parts.slice(0, n - 2).join(path.sep);
  return undefined;
}

/**
 * The real path of `file` inside the folder `root`, or null when it does not exist. A path
 * that leaves the folder (through `..` or a symlink) is refused with a FormatError, unless
 * it is a Hugging Face cache snapshot's link to a blob of the same repository.
 */
export async function resolveInside(root: string, file: string): Promise<string | null> {
  const p = path.join(root, file);
  const real = await realpath(p).catch(() => null);
  if (real === null) return null;
  const realRoot = await realpath(root);
  const rel = path.relative(realRoot, real);
  if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) return real;
  const repo = hfCacheRepo(realRoot);
  if (repo !== undefined && path.dirname(real) === path.join(repo, 'blobs')) return real;
  throw new FormatError('links to a file outside the model folder', {
    file: p,
    expected: `a file inside ${root} (or, in a Hugging Face cache snapshot, a blob of the same repository)`,
  });
}

/** Whether `p` (after symlinks) is a regular file; false when missing. */
export async function isRegularFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isFile() ?? false;
}
