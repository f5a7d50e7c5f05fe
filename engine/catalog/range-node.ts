/**
 * Node-only: answers the worker's `readModelRange` requests from file handles.
 * A request names a model id and a file of that model (as inspect.ts listed it);
 * anything else, or a range outside the file, is refused. Never reads a whole
 * file into memory: each request reads its own range (at most MAX_RANGE_BYTES).
 */
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { openRegularFile, resolveInside } from '../formats/confine-node';

export const MAX_RANGE_BYTES = 16 * 1024 * 1024;

export class RangeRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RangeRefused';
  }
}

interface Handle {
  fh: FileHandle;
  size: number;
  lastUsed: number;
}

/** Reads served at once; more wait their turn, so a flood of requests holds at most this many buffers of MAX_RANGE_BYTES. */
export const MAX_CONCURRENT_READS = 4;

export class ModelRangeServer {
  private readonly handles = new Map<string, Promise<Handle>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most reads that were in flight at once (tests read it). */
  peakConcurrent = 0;

  /** `filesOf(modelId)`: the model's folder and the names of its files, or undefined for an unknown model. */
  constructor(
    private readonly filesOf: (modelId: string) => { root: string; files: string[] } | undefined,
    private readonly maxOpen = 16,
  ) {}

  async read(modelId: string, file: string, offset: number, length: number): Promise<Uint8Array> {
    const m = this.filesOf(modelId);
    if (!m) throw new RangeRefused(`unknown model ${JSON.stringify(modelId)}`);
    if (!m.files.includes(file)) throw new RangeRefused(`${JSON.stringify(file)} is not a file of model ${JSON.stringify(modelId)}`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeRefused(`bad range: offset ${offset}, length ${length}`);
    }
    if (length > MAX_RANGE_BYTES) throw new RangeRefused(`a range of ${length} bytes is over the ${MAX_RANGE_BYTES}-byte limit per request`);
    if (this.running >= MAX_CONCURRENT_READS) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    this.peakConcurrent = Math.max(this.peakConcurrent, this.running);
    try {
      return await this.readRange(m.root, file, offset, length);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async readRange(root: string, file: string, offset: number, length: number): Promise<Uint8Array> {
    const h = await this.handle(root, file);
    if (offset + length > h.size) throw new RangeRefused(`${file}: ${length} bytes at offset ${offset} lie outside the file (size ${h.size})`);
    h.lastUsed = Date.now();
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await h.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new RangeRefused(`${file}: the file ended at ${offset + done} (it changed on disk?)`);
      done += bytesRead;
    }
    return buf;
  }

  /** The open handle of a model's file: a regular file inside the model's folder (confine-node.ts), else refused. */
  private handle(root: string, file: string): Promise<Handle> {
    const p = path.join(root, file);
    let h = this.handles.get(p);
    if (!h) {
      h = (async () => {
        let real: string | null;
        try {
          real = await resolveInside(root, file);
        } catch (e) {
          throw new RangeRefused(`${file}: ${(e as Error).message}`);
        }
        if (real === null) throw new RangeRefused(`${file}: no such file`);
        const { fh, size } = await openRegularFile(real).catch((e: Error) => {
          throw new RangeRefused(`${file}: ${e.message}`);
        });
        return { fh, size, lastUsed: Date.now() };
      })();
      this.handles.set(p, h);
      h.catch(() => this.handles.delete(p));
      void this.evict();
    }
    return h;
  }

  private async evict(): Promise<void> {
    if (this.handles.size <= this.maxOpen) return;
    const all = await Promise.all([...this.handles].map(async ([p, h]) => [p, await h.catch(() => undefined)] as const));
    all.sort((a, b) => (a[1]?.lastUsed ?? 0) - (b[1]?.lastUsed ?? 0));
    for (const [p, h] of all.slice(0, all.length - this.maxOpen)) {
      this.handles.delete(p);
      await h?.fh.close().catch(() => {});
    }
  }

  /** Closes every handle (a model changed on disk or was removed; the extension stops). */
  async closeAll(): Promise<void> {
    const hs = [...this.handles.values()];
    this.handles.clear();
    for (const h of hs) await (await h.catch(() => undefined))?.fh.close().catch(() => {});
  }
}
