/**
 * The GPU model's memory accounts. WebGPU cannot report how much VRAM a page uses, so the
 * model counts every buffer it creates: `accountedDevice` wraps the device so that each
 * `createBuffer` is recorded (size, kind) and each `destroy` released. Kinds: the weights
 * (created while uploading), the KV cache (labelled `…_cache`), and scratch (activations,
 * read-back staging, uniforms, captures: everything else).
 */

export type BufferKind = 'weights' | 'kv-cache' | 'scratch';

export interface GpuMemoryReport {
  /** Bytes of live buffers by kind. */
  weights: number;
  kvCache: number;
  scratch: number;
  /** Live buffers. */
  buffers: number;
  /** Buffers created since the model was built (destroyed ones included). */
  created: number;
}

export class BufferLedger {
  private readonly live = new Map<GPUBuffer, { size: number; kind: BufferKind }>();
  /** The kind given to buffers created now (the model sets 'weights' while it uploads). */
  kind: BufferKind = 'scratch';
  created = 0;

  record(b: GPUBuffer, size: number, label: string | undefined): void {
    this.created++;
    this.live.set(b, { size, kind: label?.endsWith('_cache') ? 'kv-cache' : this.kind });
  }

  release(b: GPUBuffer): void {
    this.live.delete(b);
  }

  report(): GpuMemoryReport {
    const r: GpuMemoryReport = { weights: 0, kvCache: 0, scratch: 0, buffers: this.live.size, created: this.created };
    for (const { size, kind } of this.live.values()) {
      if (kind === 'weights') r.weights += size;
      else if (kind === 'kv-cache') r.kvCache += size;
      else r.scratch += size;
    }
    return r;
  }
}

/** `device` with createBuffer recorded in `ledger` (and each buffer's destroy released from it). */
export function accountedDevice(device: GPUDevice, ledger: BufferLedger): GPUDevice {
  const createBuffer = (d: GPUBufferDescriptor): GPUBuffer => {
    const b = device.createBuffer(d);
    ledger.record(b, d.size, d.label);
    const destroy = b.destroy.bind(b);
    Object.defineProperty(b, 'destroy', {
      configurable: true,
      value: () => {
        ledger.release(b);
        destroy();
      },
    });
    return b;
  };
  const bound = new Map<PropertyKey, unknown>(); // methods bound once: decode steps call them every step
  return new Proxy(device, {
    get(target, prop) {
      if (prop === 'createBuffer') return createBuffer;
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      let f = bound.get(prop);
      if (!f) bound.set(prop, (f = v.bind(target)));
      return f;
    },
  });
}
