/**
 * The MLP norm folded into gate|up on the GPU, CPU reference `normfold.ts` beside this file
 * (foldColumns, then engine/formats/quant.ts f32BitsToF16). An f16 weight goes up as its half
 * bits (packed two per u32, rows padded to 8 halves: engine/wgsl/weight-read.ts); this kernel
 * then replaces each half h in column j by f16(f32(h) × w[j]) in place, the bits the host
 * fold gives:
 *   - the product is one f32 multiply of the magnitudes (WGSL's f32 multiply is correctly
 *     rounded, as the host's is), its sign the XOR of the operands' signs. A product below
 *     f32's normal range (where a device may flush to zero) is below half of f16's smallest
 *     subnormal, so it is ±0 either way;
 *   - infinities, NaN, zeros and products that would pass 2^16 (f16 infinity; f32 overflow is
 *     only possible past there) are decided from the bits, before any float arithmetic, since
 *     WGSL lets an implementation assume no infinity or NaN is present;
 *   - the f32 → f16 rounding (to nearest even, subnormals, carry into infinity) is integer
 *     arithmetic, as f32BitsToF16 / f32ToF16 do it: WGSL leaves the rounding of its own f32 → f16
 *     conversions to the implementation.
 * NaN: a NaN half gives +NaN (the host decodes every NaN half as the positive quiet NaN); a NaN
 * w[j] gives w[j]'s sign (a NaN operand propagates); ∞ × 0 gives −NaN (x86's default NaN; the
 * sign of NaN from ∞ × 0, or from two NaN operands, is the host CPU's choice). Every NaN is
 * the quiet half 0x7e00 with that sign, as f32ToF16 makes it.
 * Padding halves (columns ≥ cols) are left as they are (zero). Works with or without
 * `shader-f16`: the weight is bound as u32 words either way. One thread per u32 word of the
 * part: grid2(⌈rows · stride / 64⌉) workgroups, `nx` the grid's x size.
 */
import { paramsWgsl, type KernelSource } from '../../wgsl/kernel-source';

export const NORMFOLD_FIELDS = ['words', 'stride', 'cols', 'nx'] as const;

/** WGSL: f16(f32(h) × w) as half bits, for half bits h and f32 bits w. */
export const FOLD_HALF_WGSL = /* wgsl */ `
fn foldHalf(h: u32, wb: u32) -> u32 {
  let ha = h & 0x7fffu;
  let wa = wb & 0x7fffffffu;
  let sign = ((h >> 15u) ^ (wb >> 31u)) << 15u; // the product's sign, as a half's
  if (ha > 0x7c00u) { return 0x7e00u; } // NaN half
  if (wa > 0x7f800000u) { return ((wb >> 16u) & 0x8000u) | 0x7e00u; } // NaN weight
  let zero = ha == 0u || wa == 0u;
  if (ha == 0x7c00u || wa == 0x7f800000u) { return select(sign | 0x7c00u, 0xfe00u, zero); } // ∞ × x, ∞ × 0
  if (zero) { return sign; }
  let eh = ha >> 10u;
  let ew = wa >> 23u;
  // a normal half ≥ 2^(eh−15) and w ≥ 2^(ew−127): past 2^16 when eh + ew ≥ 158 (and under 2^18 otherwise)
  if (eh > 0u && eh + ew >= 158u) { return sign | 0x7c00u; }
  var x: f32;
  if (eh > 0u) { x = bitcast<f32>(((eh + 112u) << 23u) | ((ha & 0x3ffu) << 13u)); }
  else { x = f32(ha) * bitcast<f32>(0x33800000u); } // subnormal half: ha · 2^-24, exact
  let a = bitcast<u32>(x * bitcast<f32>(wa)); // |product|, correctly rounded to f32
  if (a >= 0x47800000u) { return sign | 0x7c00u; } // ≥ 2^16
  if (a >= 0x38800000u) {
    // f16's normal range: drop 13 mantissa bits rounding to nearest even, rebias 127 → 15 (a carry past 65504 gives ∞)
    return sign | (((a + 0xfffu + ((a >> 13u) & 1u)) >> 13u) - 0x1c000u);
  }
  let e = a >> 23u;
  if (e < 102u) { return sign; } // under 2^-25: rounds to zero (f32 subnormals too)
  // f16 subnormal: the 24-bit significand shifted right by 126 − e (14…24) bits, rounded to nearest even
  let m = (a & 0x7fffffu) | 0x800000u;
  let shift = 126u - e;
  let r = m >> shift;
  let rem = m & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  return sign | (r + select(0u, 1u, rem > half || (rem == half && (r & 1u) == 1u))); // may carry into the smallest normal
}
`;

export function normFoldWgsl(): KernelSource {
  const code = /* wgsl */ `
${paramsWgsl(NORMFOLD_FIELDS)}
@group(0) @binding(2) var<storage, read_write> wt: array<u32>; // [rows, stride] halves, two per word
@group(0) @binding(3) var<storage, read> nw: array<u32>;       // [cols] f32 bits of the norm weight
${FOLD_HALF_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.nx * 64u + g.x;
  if (i >= p.words) { return; }
  let j = 2u * (i % p.stride); // column of the word's low half
  if (j >= p.cols) { return; }
  let v = wt[i];
  var hi = v >> 16u;
  if (j + 1u < p.cols) { hi = foldHalf(hi, nw[j + 1u]); }
  wt[i] = foldHalf(v & 0xffffu, nw[j]) | (hi << 16u);
}
`;
  return { label: 'normfold', code, bindings: ['wt', 'nw'], fields: NORMFOLD_FIELDS };
}
