/**
 * RoPE, shown: the rotation angle of each position and frequency pair, and the wavelength
 * (tokens per full turn, 2π / inv_freq) of each pair under the default, linear, dynamic-NTK
 * and Llama-3 scalings side by side for one model's theta and head size — the same
 * inverse frequencies the forward uses (engine/ops/rope/rope.ts).
 */
import { ropeInvFreq, type RopeScaling } from '../ops/rope/rope';

export interface RopeConfigView {
  theta: number;
  headDim: number;
  maxPositions: number;
  /** The model's own scaling. */
  scaling: RopeScaling;
}

export interface RopeScalingRow {
  label: string;
  scaling: RopeScaling;
  /** Tokens per full turn of each pair: [hd/2]. */
  wavelengths: number[];
}

/**
 * Wavelengths per pair for the model's scaling and for the default, linear, dynamic-NTK and
 * Llama-3 scalings at the same factor (the model's, else 4). `seqLen`: the length dynamic
 * NTK rescales for (a position beyond the trained context changes its base).
 */
export function ropeScalings(c: RopeConfigView, seqLen: number): RopeScalingRow[] {
  const factor = c.scaling.factor ?? 4;
  const orig = c.scaling.originalMaxPositions ?? c.maxPositions;
  const variants: [string, RopeScaling][] = [
    [`this model (${c.scaling.type})`, c.scaling],
    ['default', { type: 'default' }],
    [`linear ×${factor}`, { type: 'linear', factor }],
    [`dynamic NTK ×${factor} at ${seqLen} tokens`, { type: 'dynamic', factor, originalMaxPositions: orig }],
    [`llama3 ×${factor}`, { type: 'llama3', factor, lowFreqFactor: c.scaling.lowFreqFactor ?? 1, highFreqFactor: c.scaling.highFreqFactor ?? 4, originalMaxPositions: orig }],
  ];
  return variants.map(([label, scaling]) => {
    const inv = ropeInvFreq({ rotaryDim: c.headDim, theta: c.theta, scaling, maxPositions: c.maxPositions }, seqLen);
    return { label, scaling, wavelengths: Array.from(inv, (f) => (2 * Math.PI) / f) };
  });
}

/** Angle (radians, wrapped to [0, 2π)) of positions p0..p1 for each pair: [p1 − p0, hd/2]. */
export function ropeAngles(c: RopeConfigView, p0: number, p1: number): Float32Array {
  const inv = ropeInvFreq({ rotaryDim: c.headDim, theta: c.theta, scaling: c.scaling, maxPositions: c.maxPositions }, p1);
  const half = inv.length;
  const out = new Float32Array((p1 - p0) * half); // [P, hd/2]
  for (let p = p0; p < p1; p++) for (let i = 0; i < half; i++) out[(p - p0) * half + i] = (p * inv[i]) % (2 * Math.PI);
  return out;
}
