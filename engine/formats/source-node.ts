/** Node-only ByteSource over a file handle (never import this from browser code). */
import { openRegularFile } from './confine-node';
import type { ByteSource } from './source';

/**
 * A regular file as a ByteSource (FIFOs, devices and folders are refused: confine-node.ts).
 * `name`: how errors and the UI name it (default: `path`), e.g. the path in the model's
 * folder when `path` is where its symlink leads (a Hugging Face cache blob).
 */
export async function fileSource(path: string, name = path): Promise<ByteSource> {
  const { fh, size } = await openRegularFile(path);
  return {
    name,
    size,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${name}: read of ${length} bytes at offset ${offset} is outside the file (size ${size})`);
      }
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) throw new RangeError(`${name}: file ended at ${offset + done} while reading ${length} bytes at ${offset}`);
        done += bytesRead;
      }
      return buf;
    },
    async close() {
      await fh.close();
    },
  };
}
