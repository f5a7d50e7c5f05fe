/**
 * Reading results back to the host: pooled mappable staging buffers, a submit that
 * copies the asked-for buffers into them and awaits their maps, and the wait itself
 * (through `throttledWait` when GpuModelOptions.throttleMapWait is on: map-wait.ts).
 */
import type { ModelCore } from './lifecycle';
import { throttledWait } from './map-wait';

/** A buffer to read back: `size` bytes of `src`, handed to `then`. */
export interface ReadRequest {
  src: GPUBuffer;
  size: number;
  then: (b: ArrayBuffer) => void;
}

/** Read-backs above this size get a buffer of their own, freed after the read. */
const POOLED_MAX = 1 << 16;

export class ReadBack {
  /** Staging buffers by size, each list indexed by slot. */
  private staging = new Map<number, GPUBuffer[]>();

  constructor(private readonly core: ModelCore) {}

  /** The pooled MAP_READ buffer of `size` bytes at `slot` (created on first use). */
  buffer(size: number, slot: number): GPUBuffer {
    let list = this.staging.get(size);
    if (!list) this.staging.set(size, (list = []));
    while (list.length <= slot) list.push(this.core.device.createBuffer({ label: `staging ${size}`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    return list[slot];
  }

  /** Frees the pooled buffers. */
  free(): void {
    for (const list of this.staging.values()) for (const b of list) b.destroy();
    this.staging.clear();
  }

  /** A read-back's map, awaited as GpuModelOptions.throttleMapWait says. */
  mapped<T>(p: Promise<T>): Promise<T> {
    return this.core.throttleMapWait ? throttledWait(p) : p;
  }

  /** Copies each read's source into staging at the end of `enc`, submits it, calls `onSubmitted`, then awaits the maps and hands out the bytes. */
  async submitAndRead(enc: GPUCommandEncoder, reads: ReadRequest[], onSubmitted?: () => void): Promise<void> {
    const device = this.core.device;
    const bufs = reads.map((r, i) => {
      const size = Math.max(16, Math.ceil(r.size / 16) * 16);
      const b = r.size > POOLED_MAX ? device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : this.buffer(size, 100 + i);
      enc.copyBufferToBuffer(r.src, 0, b, 0, Math.ceil(r.size / 4) * 4);
      return b;
    });
    device.queue.submit([enc.finish()]);
    this.core.submitted();
    onSubmitted?.();
    try {
      await this.mapped(Promise.all(bufs.map((b) => b.mapAsync(GPUMapMode.READ))));
    } catch (e) {
      throw this.core.failure(e);
    }
    reads.forEach((r, i) => {
      r.then(bufs[i].getMappedRange(0, r.size).slice(0));
      bufs[i].unmap();
      if (r.size > POOLED_MAX) bufs[i].destroy();
    });
  }
}

/** Top-k read-back [k, 2] (value bits, id) → ids and values, up to the first empty slot. */
export function decodeTop(b: ArrayBuffer, k: number): { ids: number[]; values: number[] } {
  const u = new Uint32Array(b);
  const f = new Float32Array(b);
  const ids: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < k; i++) {
    if (u[2 * i + 1] === 0xffffffff) break;
    ids.push(u[2 * i + 1]);
    values.push(f[2 * i]);
  }
  return { ids, values };
}
