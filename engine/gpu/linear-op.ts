/**
 * A linear layer y = x·Wᵀ (+ bias) prepared for both launch paths: the decode matvec (few
 * rows, optionally with a fused RMSNorm prologue and a SwiGLU or RoPE + KV-write
 * epilogue) and the prefill matmul (with the SwiGLU epilogue where asked), one dispatch of
 * each per weight part. The prefill kernel is the model's (ModelCore.prefill): subgroup
 * matrices, or the register-tiled kernel in two tile sizes (the large one where it still
 * gives enough workgroups), or the earlier 64×64 kernel.
 */
import { ROPE_STYLE } from '../ops/rope/rope.wgsl';
import { matmulWgsl, matvecRows, matvecSlots, matvecWgsl, MATMUL_TILE, type MatvecEpilogue, type MatvecPrologue } from '../ops/matmul/matmul.wgsl';
import {
  matmulSgWgsl,
  matmulTiledWgsl,
  SG_DEFAULT,
  SG_SMALL,
  sgBytes,
  sgTile,
  tiledBytes,
  tiledGroups,
  TILED_LARGE,
  TILED_SMALL,
  type MatmulEpilogue,
} from '../ops/matmul/matmul-tiled.wgsl';
import type { KernelSource } from '../wgsl/kernel-source';
import { grid2, type Dispatch } from './kernel';
import type { ModelCore } from './lifecycle';
import type { GpuWeight } from './weights';

/** Rows up to which a forward runs the matvec kernels (decode), above it the tiled matmul. */
export const MATVEC_MAX_ROWS = 4;

/** What a LinearOp is built with: the model's shared state and a dispatch factory (which owns the dispatches). */
export interface KernelBuilder {
  readonly core: ModelCore;
  dispatch(k: KernelSource, values: Record<string, number>, buffers: Record<string, GPUBuffer>): Dispatch;
}

export interface LinearSpec {
  w: GpuWeight; // [N, K]
  bias?: GPUBuffer; // [N]
  x: GPUBuffer; // [M, xRowStride]
  y: GPUBuffer; // [M, yRowStride]
  N: number;
  K: number;
  /** where the row count M comes from (M_FROM_T, M_FROM_HEAD, M_STATIC with mFixed) */
  mSel: number;
  mFixed?: number;
  xRowStride: number;
  yRowStride: number;
  yOffset?: number;
  /** y += instead of y = (the residual stream) */
  accumulate?: boolean;
  alpha?: number;
  wOffset?: number; // words
  /** MoE: row m reads expert ids[m]'s weights, expertStride words apart */
  expertStride?: number; // words
  ids?: GPUBuffer; // [M] u32
  matvecOnly?: boolean;
  /** Prefill only: no matvec is built (encode needs more than MATVEC_MAX_ROWS rows). */
  matmulOnly?: boolean;
  /** Decode matvec prologue (RMSNorm with weight `nw` and `eps`) and epilogue (SwiGLU of gate|up, or RoPE + KV write). */
  pro?: MatvecPrologue;
  nw?: GPUBuffer; // [K]
  eps?: number;
  epi?: MatvecEpilogue;
  /** x row m is row headFirst + m (the head's rows of the residual stream). */
  xHead?: boolean;
  /** RoPE epilogue: the rotated-pair layout and where q, k, v go. */
  rope?: { H: number; Kv: number; hd: number; style: number; cs: GPUBuffer; q: GPUBuffer; kc: GPUBuffer; vc: GPUBuffer };
}

/** A prefill dispatch and the tile it covers (grid: [N tiles, M tiles]). */
interface MatmulLaunch {
  d: Dispatch;
  BM: number;
  BN: number;
}

/** A linear layer prepared twice: matvec (few rows) and matmul (prefill), per weight part. */
export class LinearOp {
  private readonly mv: { d: Dispatch; groups: number }[] = [];
  /** Per weight part: its rows and the prefill launches (the tiled kernel's large tile first). */
  private readonly mm: { N: number; launches: MatmulLaunch[]; largeMin: number }[] = [];
  constructor(g: KernelBuilder, spec: LinearSpec) {
    const core = g.core;
    if (spec.epi && spec.w.parts.length > 1) throw new RangeError('LinearOp: a matvec epilogue needs the weight in one binding');
    if (spec.epi?.kind === 'rope' && !spec.matvecOnly) throw new RangeError("LinearOp: the RoPE epilogue is the matvec's alone");
    if (spec.epi && !spec.matvecOnly && core.prefill === 'tile64') throw new RangeError('LinearOp: the 64×64 prefill kernel has no epilogue');
    const shape = core.matvecShape(spec.K, spec.w.dtype, spec.N, spec.epi);
    for (const part of spec.w.parts) {
      const N = spec.w.parts.length > 1 ? part.rows : spec.N;
      const groups = Math.ceil(matvecSlots(N, spec.epi) / matvecRows(spec.K, spec.w.dtype, shape));
      const [gx] = grid2(groups);
      const values = {
        mSel: spec.mSel,
        mFixed: spec.mFixed ?? 0,
        N,
        K: spec.K,
        rowStride: spec.w.rowStride,
        wOffset: spec.wOffset ?? 0,
        xOffset: 0,
        xRowStride: spec.xRowStride,
        yOffset: (spec.yOffset ?? 0) + part.rowStart,
        yRowStride: spec.yRowStride,
        hasBias: spec.bias ? 1 : 0,
        accumulate: spec.accumulate ? 1 : 0,
        alpha: spec.alpha ?? 1,
        expertStride: spec.expertStride ?? 0,
        nGroupsX: gx,
        eps: spec.eps ?? 0,
        xHead: spec.xHead ? 1 : 0,
        half: spec.epi?.kind === 'act' ? spec.N / 2 : spec.rope ? (spec.rope.style === ROPE_STYLE.interleaved ? 1 : spec.rope.hd / 2) : 0,
        H: spec.rope?.H ?? 0,
        Kv: spec.rope?.Kv ?? 0,
        hd: spec.rope?.hd ?? 0,
        ropeStyle: spec.rope?.style ?? 0,
      };
      const r = spec.rope;
      const bufs = {
        x: spec.x,
        w: part.buffer,
        b: spec.bias ?? core.dummy,
        y: spec.y,
        ids: spec.ids ?? core.dummyU32,
        nw: spec.nw ?? core.dummy,
        ...(r ? { cs: r.cs, q: r.q, kc: r.kc, vc: r.vc } : {}),
      };
      if (!spec.matmulOnly) {
        const k = matvecWgsl(core.read(spec.w.dtype), core.subgroups, spec.K, { pro: spec.pro, epi: spec.epi, subgroupMaxSize: core.subgroupMaxSize, shape });
        const d = g.dispatch(k, values, bufs);
        d.note = `[${N}, ${spec.K}]`;
        this.mv.push({ d, groups });
      }
      if (!spec.matvecOnly) {
        const epi: MatmulEpilogue | undefined = spec.epi?.kind === 'act' ? spec.epi : undefined;
        const launch = (k: KernelSource, tile: { BM: number; BN: number }): MatmulLaunch => {
          const d = g.dispatch(k, values, bufs);
          d.note = `[${N}, ${spec.K}]`;
          return { d, ...tile };
        };
        const t = core.tuning;
        // the tiled kernels read 16-byte weight vectors: rows (and expert offsets) 4-word aligned
        const aligned = spec.w.rowStride % 4 === 0 && (spec.wOffset ?? 0) % 4 === 0;
        let launches: MatmulLaunch[];
        // the large tile while it still gives this many workgroups (the subgroup-matrix tiles fill the H200 with fewer)
        let largeMin = t.tiledLargeMinGroups ?? 256;
        // tiles that fit the device's workgroup memory (WebGPU guarantees 16 KiB; most GPUs give 32 or more)
        const room = core.device.limits.maxComputeWorkgroupStorageSize;
        const sgm = core.sgMatrix;
        const sgShapes = sgm ? [t.sgShape ?? SG_DEFAULT, t.sgSmall ?? SG_SMALL].filter((s) => sgBytes(sgm.config, s, epi, sgm.dialect.emulate) <= room) : [];
        const tiles = [t.tiledLarge ?? TILED_LARGE, t.tiledSmall ?? TILED_SMALL].filter((s) => tiledBytes(s) <= room);
        if (core.prefill === 'sgmatrix' && sgm && spec.w.dtype === 'f16' && aligned && sgShapes.length > 0) {
          launches = sgShapes.map((s) => launch(matmulSgWgsl(sgm.config, sgm.sgSize, s, epi, sgm.dialect), sgTile(sgm.config, s)));
          largeMin = t.sgLargeMinGroups ?? 96;
        } else if (core.prefill !== 'tile64' && aligned && tiles.length > 0) {
          launches = tiles.map((s) => launch(matmulTiledWgsl(spec.w.dtype, s, epi), s));
        } else {
          if (epi) throw new RangeError('LinearOp: the 64×64 prefill kernel has no epilogue');
          launches = [launch(matmulWgsl(core.read(spec.w.dtype)), { BM: MATMUL_TILE, BN: MATMUL_TILE })];
        }
        this.mm.push({ N, launches, largeMin });
      }
    }
  }
  /** Encodes y for M rows: the matvec up to MATVEC_MAX_ROWS rows (or when there is no matmul), else the matmul. */
  encode(pass: GPUComputePassEncoder, M: number): void {
    if (M <= MATVEC_MAX_ROWS || this.mm.length === 0) {
      if (this.mv.length === 0) throw new RangeError(`LinearOp: ${M} rows, but only the prefill matmul was built`);
      for (const { d, groups } of this.mv) {
        const [gx, gy] = grid2(groups);
        d.encode(pass, gx, gy, M);
      }
    } else {
      for (const { N, launches, largeMin } of this.mm) {
        // the first launch that still gives enough workgroups (the large tile), else the last
        const l = launches.find((l, i) => i === launches.length - 1 || tiledGroups(M, N, l).reduce((a, b) => a * b) >= largeMin)!;
        const [gx, gy] = tiledGroups(M, N, l);
        l.d.encode(pass, gx, gy);
      }
    }
  }
}
