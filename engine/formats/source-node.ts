/** Node-only ByteSource over a file handle (never import this from browser code). */
import { openRegularFile } from './confine-node';
import type { ByteSource } from './source';

/** A regular file as a ByteSource (FIFOs, devices and folders are refused: confine-node.ts). */
export async function fileSource(path: string): Promise<ByteSource> {
  const { fh, size } = await openRegularFile(path);
  return {
    name: path,
    size,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${path}: read of ${length} bytes at offset ${offset} is outside the file (size ${size})`);
      }
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) throw new RangeError(`${path}: file ended at ${offset + done} while reading ${length} bytes at ${offset}`);
        done += bytesRead;
      }
      return buf;
    },
    async close() {
      await fh.close();
    },
  };
}
