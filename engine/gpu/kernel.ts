/**
 * Shared plumbing for the WGSL kernels: parameter structs, the per-forward
 * `Step` uniform, weight packing (f32 rows padded to 4, f16 packed two per u32
 * and rows padded to 8 halves), row splits of tensors larger than one storage
 * binding, and a tiny pipeline / bind-group / dispatch layer.
 *
 * Every kernel binds the Step uniform as @binding(0) and its own static params
 * as @binding(1); storage buffers follow, by name (see `Kernel.bindings`).
 */
import { f32ToF16 } from '../formats/quant';

export type WeightDtype = 'f32' | 'f16';
/**
 * How a kernel reads a weight: f32; f16 packed two per u32 and unpacked with
 * unpack2x16float (works everywhere); or 'f16h', the same bytes read as f16 values with
 * the `shader-f16` feature (`enable f16;`), converted to f32 before any arithmetic, so
 * both f16 reads give the same numbers.
 */
export type WeightRead = WeightDtype | 'f16h';

/** The `enable` directive a kernel reading weights as `r` needs first ('' for f32 and packed f16). */
export function enableF16(r: WeightRead): string {
  return r === 'f16h' ? 'enable f16;\n' : '';
}

/** WGSL element type of a weight array: one value (4 bytes for f32 / packed f16: two halves, 2 for f16h). */
export function weightScalarType(r: WeightRead): string {
  return r === 'f32' ? 'f32' : r === 'f16' ? 'u32' : 'f16';
}

/** Per-forward values every kernel may read (one uniform buffer, written once per forward). */
export const STEP_FIELDS = ['T', 'start', 'Tk', 'headFirst', 'headRows', 'nSplit', 'splitLen', 'pad0'] as const;
export type StepValues = Record<(typeof STEP_FIELDS)[number], number>;

export const STEP_WGSL = /* wgsl */ `
struct Step { T: u32, start: u32, Tk: u32, headFirst: u32, headRows: u32, nSplit: u32, splitLen: u32, pad0: u32 };
@group(0) @binding(0) var<uniform> s: Step;
`;

/**
 * WGSL: `let <name>` = the workgroup's max or sum of each thread's `value`, a tree over
 * `red[WG]` (the kernel declares both); every thread gets it.
 */
export function treeReduceWgsl(value: string, op: 'max' | 'sum', name: string): string {
  const step = op === 'max' ? 'red[lid] = max(red[lid], red[lid + st]);' : 'red[lid] += red[lid + st];';
  return /* wgsl */ `red[lid] = ${value};
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st = st >> 1u) {
    if (lid < st) { ${step} }
    workgroupBarrier();
  }
  let ${name} = red[0];`;
}

/** A WGSL struct `P` of u32 fields (floats are stored as bits: read with bitcast<f32>). */
export function paramsWgsl(fields: readonly string[]): string {
  const all = [...fields];
  while (all.length % 4) all.push(`_pad${all.length}`);
  return `struct P { ${all.map((f) => `${f}: u32`).join(', ')} };\n@group(0) @binding(1) var<uniform> p: P;\n`;
}

/** Packs param values in field order; names in `floats` are written as f32 bits. */
export function packParams(fields: readonly string[], values: Record<string, number>, floats: readonly string[] = []): ArrayBuffer {
  const n = Math.ceil(fields.length / 4) * 4;
  const buf = new ArrayBuffer(n * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  fields.forEach((name, i) => {
    const v = values[name];
    if (v === undefined) throw new Error(`param ${name} missing`);
    if (floats.includes(name)) f[i] = v;
    else u[i] = v >>> 0;
  });
  return buf;
}

/** M (rows) source for kernels that run over a variable number of rows. */
export const M_FROM_T = 0;
export const M_FROM_HEAD = 1;
export const M_STATIC = 2;
export const M_WGSL = /* wgsl */ `
fn rowsOf(sel: u32, fixed: u32) -> u32 {
  if (sel == 0u) { return s.T; }
  if (sel == 1u) { return s.headRows; }
  return fixed;
}
`;

/** u32 words per row of a packed weight: f32 rows padded to 4 values, f16 rows to 8 halves. */
export function rowStrideWords(cols: number, dtype: WeightDtype): number {
  return dtype === 'f32' ? Math.ceil(cols / 4) * 4 : Math.ceil(cols / 8) * 4;
}

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

/** WGSL for reading weights: element k of the row starting at u32 word `rowWord`, over `array<weightScalarType(r)>`. */
export function weightScalarWgsl(r: WeightRead, name = 'w'): string {
  if (r === 'f32') return `fn wAt(rowWord: u32, k: u32) -> f32 { return ${name}[rowWord + k]; }\n`;
  if (r === 'f16h') return `fn wAt(rowWord: u32, k: u32) -> f32 { return f32(${name}[rowWord * 2u + k]); }\n`;
  return `fn wAt(rowWord: u32, k: u32) -> f32 { let v = unpack2x16float(${name}[rowWord + (k >> 1u)]); return select(v.x, v.y, (k & 1u) == 1u); }\n`;
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

/** A compiled kernel: WGSL code and the names of its bindings from @binding(2) on. */
export interface KernelSource {
  label: string;
  code: string;
  /** Storage bindings in order, @binding(2), (3), … */
  bindings: readonly string[];
  /** Static param field names (struct P) and which of them are floats. */
  fields: readonly string[];
  floats?: readonly string[];
  /** Binding numbers of `bindings` when they are not 2, 3, … in order. */
  bindingNumbers?: readonly number[];
}

/** Pipelines by code text, shared by every dispatch of the same kernel variant. */
export class PipelineCache {
  private readonly map = new Map<string, GPUComputePipeline>();
  constructor(private readonly device: GPUDevice) {}
  get(k: KernelSource): GPUComputePipeline {
    let p = this.map.get(k.code);
    if (!p) {
      const module = this.device.createShaderModule({ code: k.code, label: k.label });
      p = this.device.createComputePipeline({ label: k.label, layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.map.set(k.code, p);
    }
    return p;
  }
}

/** One prepared dispatch: pipeline + bind group (static params and buffers fixed), grid chosen at encode time. */
export class Dispatch {
  readonly params: GPUBuffer;
  readonly bindGroup: GPUBindGroup;
  readonly pipeline: GPUComputePipeline;
  constructor(
    device: GPUDevice,
    cache: PipelineCache,
    readonly kernel: KernelSource,
    step: GPUBuffer,
    values: Record<string, number>,
    buffers: Record<string, GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number }>,
  ) {
    this.pipeline = cache.get(kernel);
    this.params = createUniform(device, packParams(kernel.fields, values, kernel.floats), `${kernel.label} params`);
    // 'auto' layouts drop bindings a shader never reads: bind the Step uniform only where it is used.
    const entries: GPUBindGroupEntry[] = /[^\w.]s\.[A-Za-z]/.test(kernel.code) ? [{ binding: 0, resource: { buffer: step } }] : [];
    entries.push({ binding: 1, resource: { buffer: this.params } });
    kernel.bindings.forEach((name, i) => {
      const b = buffers[name];
      if (!b) throw new Error(`${kernel.label}: buffer "${name}" not given`);
      entries.push({ binding: kernel.bindingNumbers?.[i] ?? i + 2, resource: 'buffer' in b ? b : { buffer: b } });
    });
    this.bindGroup = device.createBindGroup({ label: kernel.label, layout: this.pipeline.getBindGroupLayout(0), entries });
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
