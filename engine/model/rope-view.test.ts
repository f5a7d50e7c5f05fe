import { describe, expect, it } from 'vitest';
import { ropeAngles, ropeScalings } from './rope-view';

const c = { theta: 10000, headDim: 16, maxPositions: 512, scaling: { type: 'default' as const } };

describe('RoPE view', () => {
  it('default wavelengths are 2π·theta^(2i/d); the fastest pair turns every 2π tokens', () => {
    const rows = ropeScalings(c, 256);
    expect(rows.map((r) => r.label)).toEqual(['this model (default)', 'default', 'linear ×4', 'dynamic NTK ×4 at 256 tokens', 'llama3 ×4']);
    for (let i = 0; i < 8; i++) expect(rows[1].wavelengths[i] / (2 * Math.PI * Math.pow(10000, (2 * i) / 16))).toBeCloseTo(1, 5);
  });

  it('linear stretches every pair; dynamic NTK only past the trained context; llama3 only the slow pairs', () => {
    const within = ropeScalings(c, 256);
    const beyond = ropeScalings(c, 2048);
    const def = within[1].wavelengths;
    within[2].wavelengths.forEach((w, i) => expect(w / def[i]).toBeCloseTo(4, 5));
    expect(within[3].wavelengths).toEqual(def);
    expect(beyond[3].wavelengths[7]).toBeGreaterThan(def[7]);
    expect(beyond[3].wavelengths[0]).toBeCloseTo(def[0], 5); // the base changes the slow pairs most; pair 0 is always 2π
    const l3 = within[4].wavelengths;
    expect(l3[0]).toBeCloseTo(def[0], 5); // fast: unchanged
    expect(l3[7] / def[7]).toBeCloseTo(4, 5); // slow (wavelength > original context): ÷ factor in frequency
  });

  it('angles are position × inv_freq wrapped to [0, 2π)', () => {
    const a = ropeAngles(c, 0, 10); // [10, 8]
    expect(a.length).toBe(80);
    expect(a[3 * 8 + 0]).toBeCloseTo(3, 5);
    expect(a[9 * 8 + 0]).toBeCloseTo(9 - 2 * Math.PI, 5);
    expect(a[5 * 8 + 1]).toBeCloseTo(5 * Math.pow(10000, -2 / 16), 5);
  });
});
