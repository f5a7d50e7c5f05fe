/**
 * The device side of the WGSL kernels (engine/ops/<op>/<op>.wgsl.ts, built on engine/wgsl/):
 * weight packing for upload (f32 rows padded to 4, f16 packed two per u32 and rows padded
 * to 8 halves), buffer creation, and a tiny pipeline / bind-group / dispatch layer.
 *
 * Every kernel binds the Step uniform as @binding(0) and its own static params as
 * @binding(1); storage buffers follow, by name (see `KernelSource.bindings`).
 */
import { f32ToF16 } from '../formats/quant';
import { packParams, type KernelSource } from '../wgsl/kernel-source';
import { rowStrideWords, type WeightDtype } from '../wgsl/weight-read';

/** Rows [r0, r1) of a row-major [rows, cols] f32 tensor, packed for the GPU. */
export function packRows(data: Float32Array, cols: number, r0: number, r1: number, dtype: WeightDtype): Uint32Array {
  const stride = rowStrideWords(cols, dtype);
  const out = new Uint32Array((r1 - r0) * stride);
  if (dtype === 'f32') {
    const f = new Float32Array(out.buffer);
    for (let r = r0; r < r1; r++) f.set(data.subarray(r * cols, r * cols + cols), (r - r0) * stride);
  } else {
    for (let r = r0; r < r1; r++) {
      const o = (r - r0) * stride;
      const b = r * cols;
      for (let c = 0; c < cols; c += 2) {
        const lo = f32ToF16(data[b + c]);
        const hi = c + 1 < cols ? f32ToF16(data[b + c + 1]) : 0;
        out[o + (c >> 1)] = lo | (hi << 16);
      }
    }
  }
  return out;
}

/** Creates a GPU buffer holding `data` (STORAGE | COPY_DST | COPY_SRC). */
export function createStorage(device: GPUDevice, data: ArrayBufferView | number, label?: string, extraUsage = 0): GPUBuffer {
  const bytes = typeof data === 'number' ? data : data.byteLength;
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const buf = device.createBuffer({
    label,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extraUsage,
    mappedAtCreation: typeof data !== 'number',
  });
  if (typeof data !== 'number') {
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buf.unmap();
  }
  return buf;
}

export function createUniform(device: GPUDevice, data: ArrayBuffer, label?: string): GPUBuffer {
  const buf = device.createBuffer({ label, size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
}

/** Pipelines by code text, shared by every dispatch of the same kernel variant. */
export class PipelineCache {
  private static readonly perDevice = new WeakMap<GPUDevice, PipelineCache>();
  /**
   * The device's one cache: a pipeline belongs to the device, not to a model, so a second
   * model on the same device (another context length, the next model the user picks)
   * reuses what the first compiled instead of compiling every kernel again.
   */
  static of(device: GPUDevice): PipelineCache {
    let c = PipelineCache.perDevice.get(device);
    if (!c) PipelineCache.perDevice.set(device, (c = new PipelineCache(device)));
    return c;
  }
  private readonly map = new Map<string, GPUComputePipeline>();
  private readonly compiling = new Map<string, Promise<GPUComputePipeline>>();
  private waiting: Dispatch[] = [];
  /**
   * While set, a dispatch whose pipeline is not compiled yet starts compiling it
   * (createComputePipelineAsync) and waits to be bound until `settle()`: a model builds its
   * dispatches before it uploads its weights, so the kernels compile during the upload.
   */
  deferring = false;
  constructor(private readonly device: GPUDevice) {}
  private module(k: KernelSource) {
    return this.device.createShaderModule({ code: k.code, label: k.label });
  }
  get(k: KernelSource): GPUComputePipeline {
    let p = this.map.get(k.code);
    if (!p) {
      p = this.device.createComputePipeline({ label: k.label, layout: 'auto', compute: { module: this.module(k), entryPoint: 'main' } });
      this.map.set(k.code, p);
    }
    return p;
  }
  /** The pipeline, compiled with createComputePipelineAsync when it is not in the cache yet. */
  getAsync(k: KernelSource): Promise<GPUComputePipeline> {
    const p = this.map.get(k.code);
    if (p) return Promise.resolve(p);
    const c = this.device.createComputePipelineAsync({ label: k.label, layout: 'auto', compute: { module: this.module(k), entryPoint: 'main' } });
    return c.then((x) => (this.map.set(k.code, x), x));
  }
  /** The pipeline when compiled; otherwise undefined, with its compile started and `d` bound by settle(). */
  request(k: KernelSource, d: Dispatch): GPUComputePipeline | undefined {
    const p = this.map.get(k.code);
    if (p) return p;
    if (!this.compiling.has(k.code)) {
      const c = this.device.createComputePipelineAsync({ label: k.label, layout: 'auto', compute: { module: this.module(k), entryPoint: 'main' } });
      this.compiling.set(
        k.code,
        c.then((x) => (this.map.set(k.code, x), x)),
      );
    }
    this.waiting.push(d);
    return undefined;
  }
  /** Waits for the compiles started while deferring and binds the dispatches that wait on them. */
  async settle(): Promise<void> {
    try {
      await Promise.all(this.compiling.values());
      for (const d of this.waiting) d.bind(this.map.get(d.kernel.code)!);
    } finally {
      this.compiling.clear();
      this.waiting = [];
    }
  }
  /** Forgets the dispatches waiting to be bound (their model failed to load) and waits for the compiles in flight to end. */
  async abandon(): Promise<void> {
    this.waiting = [];
    await Promise.allSettled(this.compiling.values());
    this.compiling.clear();
  }
}

/** One prepared dispatch: pipeline + bind group (static params and buffers fixed), grid chosen at encode time. */
export class Dispatch {
  readonly params: GPUBuffer;
  /** Set when the pipeline is compiled (at once, or by PipelineCache.settle while it defers). */
  bindGroup!: GPUBindGroup;
  pipeline!: GPUComputePipeline;
  private readonly entries: GPUBindGroupEntry[];
  constructor(
    private readonly device: GPUDevice,
    cache: PipelineCache,
    readonly kernel: KernelSource,
    step: GPUBuffer,
    values: Record<string, number>,
    buffers: Record<string, GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number }>,
  ) {
    this.params = createUniform(device, packParams(kernel.fields, values, kernel.floats), `${kernel.label} params`);
    // 'auto' layouts drop bindings a shader never reads: bind the Step uniform only where it is used.
    const entries: GPUBindGroupEntry[] = /[^\w.]s\.[A-Za-z]/.test(kernel.code) ? [{ binding: 0, resource: { buffer: step } }] : [];
    entries.push({ binding: 1, resource: { buffer: this.params } });
    kernel.bindings.forEach((name, i) => {
      const b = buffers[name];
      if (!b) throw new Error(`${kernel.label}: buffer "${name}" not given`);
      entries.push({ binding: kernel.bindingNumbers?.[i] ?? i + 2, resource: 'buffer' in b ? b : { buffer: b } });
    });
    this.entries = entries;
    const p = cache.deferring ? cache.request(kernel, this) : cache.get(kernel);
    if (p) this.bind(p);
  }
  /** Binds the buffers to the compiled pipeline. */
  bind(p: GPUComputePipeline): void {
    this.pipeline = p;
    this.bindGroup = this.device.createBindGroup({ label: this.kernel.label, layout: p.getBindGroupLayout(0), entries: this.entries });
  }
  /** What this dispatch computes when its kernel's label does not say (profiles print it). */
  note = '';
  /** Dispatches encoded so far, all models (benchmarks report dispatches per step). */
  static encoded = 0;
  /** When set, every encoded dispatch is also recorded here (the benchmark's per-kernel profile). */
  static trace?: { d: Dispatch; grid: [number, number, number] }[];
  encode(pass: GPUComputePassEncoder, x: number, y = 1, z = 1): void {
    if (x === 0 || y === 0 || z === 0) return;
    Dispatch.encoded++;
    Dispatch.trace?.push({ d: this, grid: [x, y, z] });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
  }
  destroy(): void {
    this.params.destroy();
  }
}

/** Splits a flat workgroup count over x and y (each ≤ 65535). */
export function grid2(n: number): [number, number] {
  if (n <= 65535) return [n, 1];
  const y = Math.ceil(n / 32768);
  return [32768, y];
}
