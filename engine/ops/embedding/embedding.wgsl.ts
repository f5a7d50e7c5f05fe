/**
 * Embedding gather as WGSL, CPU reference `embedding.ts` beside this file:
 * x[t, :] = table[ids[t], :] (or += for learned positions). The table may be f32 or
 * f16 (packed two per u32, or read as f16 with `shader-f16`: WeightRead), and may be split by rows over several buffers (tables
 * larger than one storage binding): each part is dispatched with its first row and
 * row count and writes only the tokens whose id falls inside it.
 * Grid: (⌈D/64⌉, T).
 */
import { paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';
import { enableF16, weightScalarType, weightScalarWgsl, type WeightRead } from '../../wgsl/weight-read';

export const EMBED_FIELDS = ['D', 'rowStride', 'rowStart', 'rowCount', 'add'] as const;

export function embeddingWgsl(dtype: WeightRead): KernelSource {
  const code = /* wgsl */ `${enableF16(dtype)}
${STEP_WGSL}
${paramsWgsl(EMBED_FIELDS)}
@group(0) @binding(2) var<storage, read> ids: array<u32>;                          // [T]
@group(0) @binding(3) var<storage, read> table: array<${weightScalarType(dtype)}>; // [rowCount, rowStride u32 words]
@group(0) @binding(4) var<storage, read_write> x: array<f32>;                      // [T, D]
${weightScalarWgsl(dtype, 'table')}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let d = g.x;
  let t = g.y;
  if (d >= p.D || t >= s.T) { return; }
  let id = ids[t];
  if (id < p.rowStart || id >= p.rowStart + p.rowCount) { return; }
  let v = wAt((id - p.rowStart) * p.rowStride, d);
  let o = t * p.D + d;
  if (p.add != 0u) { x[o] = x[o] + v; } else { x[o] = v; }
}
`;
  return { label: `embedding-${dtype}`, code, bindings: ['ids', 'table', 'x'], fields: EMBED_FIELDS };
}
