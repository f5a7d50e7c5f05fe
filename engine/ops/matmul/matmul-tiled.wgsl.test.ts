/**
 * The prefill matmul kernels (WGSL) against the CPU reference through Dawn in Node (on a
 * machine without a GPU, SwiftShader): odd M, N, K (none a multiple of a tile), both tile
 * shapes, f32 and f16 weights, bias, α, accumulate, row strides and offsets, and the SwiGLU
 * epilogue. The subgroup-matrix kernel runs only where the device has the feature (Node's
 * Dawn with allow_unsafe_apis on hardware that has it); elsewhere its WGSL is only built.
 * Skipped where no WebGPU device opens.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16 } from '../../formats/quant';
import { openNodeGpu } from '../../gpu/gpu-node';
import { checkSubgroupMatrix, pickSgConfig, runMatmul, subgroupMatrixOf, type MatmulCase } from '../../gpu/prefill-matmul';
import { randomFill } from '../../model/random';
import { silu } from '../activations/activations';
import { matmul } from './matmul';
import { matmulSgWgsl, matmulTiledWgsl, SG_DEFAULT, SG_SMALL, sgTile, tiledGroups, TILED_LARGE, TILED_SMALL, type SgShape, type TiledShape } from './matmul-tiled.wgsl';

// Shapes named in the case titles (the engine's defaults, SG_DEFAULT and SG_SMALL, are cases of their own).
const SG_2X2_F2X4: SgShape = { SGM: 2, SGN: 2, FM: 2, FN: 4, BK: 32 };
const SG_2X2_F2X2: SgShape = { SGM: 2, SGN: 2, FM: 2, FN: 2, BK: 32 };

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

let device: GPUDevice | undefined;
let why = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
}, 60_000);
afterAll(() => device?.destroy());

const f16 = (a: Float32Array) => a.map((v) => f16ToF32(f32ToF16(v)));

/** The CPU reference of a case: y0 with the product written (or added) at its rows. */
function reference(c: MatmulCase): Float32Array {
  const { M, N, K } = c;
  const xs = c.xRowStride ?? K;
  const x = new Float32Array(M * K); // [M, K]
  for (let m = 0; m < M; m++) x.set(c.x.subarray(m * xs, m * xs + K), m * K);
  const w = c.dtype === 'f16' ? f16(c.w) : c.w; // [N, K] as the GPU reads it
  const prod = new Float32Array(M * N); // [M, N]
  matmul(prod, x, w, M, K, N);
  const O = c.epi ? N / 2 : N;
  const ys = c.yRowStride ?? O;
  const y = c.y0 ? c.y0.slice() : new Float32Array((c.yOffset ?? 0) + M * ys);
  const val = (m: number, n: number) => prod[m * N + n] * (c.alpha ?? 1) + (c.bias ? c.bias[n] : 0);
  for (let m = 0; m < M; m++)
    for (let o = 0; o < O; o++) {
      const v = c.epi ? silu(val(m, o)) * val(m, O + o) : val(m, o);
      const i = (c.yOffset ?? 0) + m * ys + o;
      y[i] = c.accumulate ? y[i] + v : v;
    }
  return y;
}

function expectClose(got: Float32Array, want: Float32Array, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  expect(worst).toBeLessThan(tol);
}

function makeCase(M: number, N: number, K: number, dtype: 'f32' | 'f16', extra: Partial<MatmulCase> = {}): MatmulCase {
  const xRowStride = extra.xRowStride ?? K;
  return {
    M,
    N,
    K,
    dtype,
    x: randomFill(M * xRowStride, M * 7 + K, 1),
    w: randomFill(N * K, N * 13 + K, 1 / Math.sqrt(K)),
    ...extra,
  };
}

describe('prefill matmul, tiled (WGSL)', () => {
  const shapes: [string, TiledShape][] = [
    ['64x64 t4x8', TILED_SMALL],
    ['128x128 t8x8', TILED_LARGE],
  ];
  it.each(shapes)('%s: odd M, N, K against the CPU reference, f32 and f16, bias, α, accumulate, strides', async (_, shape) => {
    if (!device) return console.warn(`skipped: ${why}`);
    for (const dtype of ['f32', 'f16'] as const) {
      for (const c of [
        makeCase(5, 7, 3, dtype),
        makeCase(37, 70, 100, dtype, { bias: randomFill(70, 3, 0.5), alpha: 0.5 }),
        makeCase(130, 131, 45, dtype, { xRowStride: 50, yRowStride: 140, yOffset: 9, accumulate: true, y0: randomFill(9 + 130 * 140, 4, 1) }),
      ]) {
        const got = await runMatmul(device, matmulTiledWgsl(dtype, shape), tiledGroups(c.M, c.N, shape), c);
        expectClose(got, reference(c), 1e-5);
      }
    }
  });

  it.each(shapes)('%s: the SwiGLU epilogue (gate|up → act(gate)·up), odd I', async (_, shape) => {
    if (!device) return console.warn(`skipped: ${why}`);
    for (const dtype of ['f32', 'f16'] as const) {
      const I = 75;
      const c = makeCase(66, 2 * I, 37, dtype, { bias: randomFill(2 * I, 5, 0.3), epi: { kind: 'act', act: 0 }, yRowStride: I + 2 });
      const got = await runMatmul(device, matmulTiledWgsl(dtype, shape, c.epi), tiledGroups(c.M, c.N, shape), c);
      expectClose(got, reference(c), 1e-5);
    }
  });

  it('rejects launch shapes it cannot run', () => {
    expect(() => matmulTiledWgsl('f32', { BM: 64, BN: 64, TM: 3, TN: 4, BK: 16 })).toThrow(/not supported/);
    expect(() => matmulTiledWgsl('f32', { BM: 64, BN: 64, TM: 4, TN: 4, BK: 16 }, { kind: 'act', act: 0 })).toThrow(/multiple of 8 with an epilogue/);
  });
});

describe('prefill matmul, subgroup matrices (WGSL)', () => {
  it('builds WGSL for a 16×16×16 and an 8×8×8 configuration', () => {
    for (const cfg of [
      { M: 16, N: 16, K: 16 },
      { M: 8, N: 8, K: 8 },
    ]) {
      const k = matmulSgWgsl(cfg, 32, SG_2X2_F2X4, { kind: 'act', act: 0 });
      expect(k.code).toContain(`subgroup_matrix_left<f16, ${cfg.K}, ${cfg.M}>`);
      expect(k.code).toContain('@workgroup_size(128)');
    }
  });

  it.each([
    ['16×16×16, 2×2 subgroups of 2×2 fragments', { M: 16, N: 16, K: 16 }, SG_2X2_F2X2],
    ['8×8×8, 2×2 subgroups of 2×4 fragments, K steps of 16', { M: 8, N: 8, K: 8 }, { ...SG_2X2_F2X4, BK: 16 }],
    // the defaults' subgroup layouts with 8×8×8 fragments: with 16×16×16 their tiles need more workgroup memory than SwiftShader has
    // (the default's K steps of 32 need more than SwiftShader's 32 KiB with the emulation's f32 tiles)
    ['8×8×8, the default: 4×2 subgroups of 4×4 fragments, K steps of 16', { M: 8, N: 8, K: 8 }, { ...SG_DEFAULT, BK: 16 }],
    ['8×8×8, the default small: 2×4 subgroups of 2×2 fragments, K steps of 64', { M: 8, N: 8, K: 8 }, SG_SMALL],
  ])(
    'emulated (%s): tiling, staging and epilogues against the CPU reference',
    async (_, cfg, shape) => {
      if (!device) return console.warn(`skipped: ${why}`);
      const dialect = { syntax: 'layout', index: 'li', emulate: true } as const;
      for (const c of [
        makeCase(37, 70, 100, 'f16', { bias: randomFill(70, 3, 0.5), alpha: 0.5, yRowStride: 75, yOffset: 3, accumulate: true, y0: randomFill(3 + 37 * 75, 4, 1) }),
        makeCase(45, 2 * 41, 24, 'f16', { bias: randomFill(82, 5, 0.3), epi: { kind: 'act', act: 0 } }),
      ]) {
        c.x = f16(c.x); // the kernel rounds x to f16
        const got = await runMatmul(device, matmulSgWgsl(cfg, 32, shape, c.epi, dialect), tiledGroups(c.M, c.N, sgTile(cfg, shape)), c);
        expectClose(got, reference(c), 1e-5);
      }
    },
    300_000,
  );

  it('picks the f16 → f32 configuration, 16×16×16 first', () => {
    const f = (componentType: string, resultComponentType: string, M: number, N: number, K: number) => ({ componentType, resultComponentType, M, N, K });
    expect(pickSgConfig([f('f16', 'f16', 16, 16, 16), f('f16', 'f32', 16, 8, 16), f('f16', 'f32', 16, 16, 16)])).toEqual({ M: 16, N: 16, K: 16 });
    expect(pickSgConfig([f('f32', 'f32', 8, 8, 8), f('f16', 'f32', 8, 8, 8)])).toEqual({ M: 8, N: 8, K: 8 });
    expect(pickSgConfig([f('i8', 'i32', 16, 16, 32), f('f16', 'f16', 16, 16, 16)])).toBeUndefined();
  });

  it('the device check fails cleanly, and records nothing, where the kernel cannot run', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    if (device.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName)) return console.warn('skipped: this device has subgroup matrices');
    const r = await checkSubgroupMatrix(device, [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }], 32);
    expect(r.ok).toBe(false);
    expect(r.why).toBeTruthy();
    expect(subgroupMatrixOf(device)).toBeUndefined();
    expect((await checkSubgroupMatrix(device, [], 32)).why).toMatch(/no f16/);
  });

  it('matches the CPU reference where the device has subgroup matrices', async () => {
    if (!device) return console.warn(`skipped: ${why}`);
    const sg = subgroupMatrixOf(device);
    if (!sg) return console.warn('skipped: no checked subgroup-matrix configuration on this device');
    for (const c of [
      makeCase(130, 131, 200, 'f16', { bias: randomFill(131, 3, 0.5), alpha: 0.5 }),
      makeCase(66, 150, 37, 'f16', { bias: randomFill(150, 5, 0.3), epi: { kind: 'act', act: 0 } }),
    ]) {
      c.x = f16(c.x); // the kernel rounds x to f16
      const got = await runMatmul(device, matmulSgWgsl(sg.config, sg.sgSize, SG_DEFAULT, c.epi, sg.dialect), tiledGroups(c.M, c.N, sgTile(sg.config, SG_DEFAULT)), c);
      expectClose(got, reference(c), 1e-4);
    }
  });
});
