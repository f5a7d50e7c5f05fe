/**
 * Random-access bytes of a model file, read by range so a multi-GB file is never
 * held in memory twice. Node: `fileSource` in `source-node.ts` (file handle).
 * Browser/worker: `blobSource` (Blob.slice) or `urlSource` (ranged fetch).
 */
export interface ByteSource {
  /** Display name for errors (path or file name). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; rejects when the range is outside the file. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

function checkRange(src: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new RangeError(`${src.name}: read of ${length} bytes at offset ${offset} is outside the file (size ${src.size})`);
  }
}

/** Bytes already in memory (tests, small files). */
export function memorySource(bytes: Uint8Array, name = 'memory'): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(this, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A Blob or File (browser, worker). */
export function blobSource(blob: Blob, name = (blob as Blob & { name?: string }).name ?? 'blob'): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange(this, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}
