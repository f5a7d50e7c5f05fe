/**
 * What every WGSL kernel shares, host and shader side: the `KernelSource` a kernel
 * builder returns, the per-forward `Step` uniform, the kernel's static params struct `P`
 * and how its values are packed, the row-count selector and a workgroup tree reduction.
 *
 * Binding layout: every kernel binds the Step uniform as @binding(0) and its own static
 * params as @binding(1); storage buffers follow, by name (`KernelSource.bindings`).
 * Nothing here touches a device (engine/gpu/kernel.ts builds pipelines and dispatches).
 */

/** A kernel: WGSL code and the names of its bindings from @binding(2) on. */
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

/** Packs param values in field order (the layout of `paramsWgsl`); names in `floats` are written as f32 bits. */
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
