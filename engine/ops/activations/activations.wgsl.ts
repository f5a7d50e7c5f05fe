/**
 * Activations as WGSL, CPU reference `activations.ts` beside this file:
 * gated (SwiGLU and friends) out[r, i] = act(gu[r, i]) · gu[r, I + i] over the fused
 * gate|up projection, or plain out[r, i] = act(u[r, i]) (GPT-2).
 * act: 0 silu, 1 gelu_new (tanh form), 2 gelu (erf, Abramowitz–Stegun 7.1.26, |err| < 1.5e-7).
 * Grid: (⌈I/256⌉, rows).
 */
import { M_WGSL, paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';
import type { ActivationName } from './activations';

export const ACT_FIELDS = ['I', 'mSel', 'mFixed', 'inStride', 'gated', 'act'] as const;
export const ACT_ID: Record<ActivationName, number> = { silu: 0, gelu_new: 1, gelu: 2 };

/** `fn actFn(x: f32) -> f32` for one activation id (ACT_ID), for kernels that fuse it. */
export function actFnWgsl(act: number): string {
  const erf = `fn erf_(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(y, -y, x < 0.0);
}
`;
  if (act === 0) return `fn actFn(x: f32) -> f32 { return x / (1.0 + exp(-x)); }\n`;
  if (act === 1)
    return `fn actFn(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -20.0, 20.0);
  return 0.5 * x * (1.0 + tanh(u));
}
`;
  return `${erf}fn actFn(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_(x * 0.7071067811865476)); }\n`;
}

export function activationWgsl(): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(ACT_FIELDS)}
${M_WGSL}
@group(0) @binding(2) var<storage, read> gu: array<f32>;         // [rows, inStride]: gate | up (or just u)
@group(0) @binding(3) var<storage, read_write> o: array<f32>;    // [rows, I]

fn erf_(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(y, -y, x < 0.0);
}

fn act(x: f32) -> f32 {
  if (p.act == 0u) { return x / (1.0 + exp(-x)); }
  if (p.act == 1u) {
    let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -20.0, 20.0);
    return 0.5 * x * (1.0 + tanh(u));
  }
  return 0.5 * x * (1.0 + erf_(x * 0.7071067811865476));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x;
  let r = g.y;
  if (i >= p.I || r >= rowsOf(p.mSel, p.mFixed)) { return; }
  let b = r * p.inStride;
  var v = act(gu[b + i]);
  if (p.gated != 0u) { v = v * gu[b + p.I + i]; }
  o[r * p.I + i] = v;
}
`;
  return { label: 'activation', code, bindings: ['gu', 'o'], fields: ACT_FIELDS };
}
