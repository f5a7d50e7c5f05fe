/**
 * What a forward feeds its kernels besides the tokens: the Step uniform (rows, cache
 * slots, and the decode-attention split the kernels run with), the positions and RoPE's
 * cos|sin rows; and the decode-attention launch policy that chooses the split and kernel.
 */
import { ATTN_DECODE_SPLIT_MAX, ATTN_GQA_MAX_GROUP, ATTN_GQA_SPLIT_MAX, ATTN_SPLIT_MAX } from '../ops/attention/attention-decode.wgsl';
import { ropeCosSin, ropeInvFreq, type RopeParams } from '../ops/rope/rope';
import { packParams, STEP_FIELDS, type StepValues } from '../wgsl/kernel-source';
import type { ModelCore } from './lifecycle';

export class StepInputs {
  readonly ropeParams?: RopeParams;
  /** [hd/2] inverse frequencies when they do not depend on the position (not dynamic NTK scaling) */
  private readonly staticInvFreq?: Float64Array;
  private gqaOk?: boolean;

  constructor(private readonly core: ModelCore) {
    const c = core.config;
    if (c.positions === 'rope') {
      if (!c.rope) throw new RangeError('rotary positions without rope settings');
      this.ropeParams = { rotaryDim: c.headDim, theta: c.rope.theta, scaling: c.rope.scaling, maxPositions: c.maxPositions };
      if (c.rope.scaling.type !== 'dynamic') this.staticInvFreq = ropeInvFreq(this.ropeParams);
    }
  }

  /** The decode attention kernel is the vectorised one (head width a multiple of 4). */
  get vecAttn(): boolean {
    return this.core.config.headDim % 4 === 0;
  }

  /** The grouped-query decode kernel (attnDecodeGqa) can run this model: 2–4 query heads per KV head, vec4 heads ≤ 128 wide. */
  get gqaAttn(): boolean {
    const c = this.core.config;
    const G = c.numHeads / c.numKvHeads;
    return (this.gqaOk ??=
      this.vecAttn &&
      (this.core.tuning.gqaDecode ?? 'split') !== 'off' &&
      Number.isInteger(G) &&
      G >= 2 &&
      G <= ATTN_GQA_MAX_GROUP &&
      c.headDim <= 128 &&
      256 % (c.headDim / 4) === 0);
  }

  /**
   * Split-K for decode attention: one split up to `singleSplitKeys` keys (no combine
   * pass), else about `splitWorkgroups` workgroups of at least 64 keys each; `gqa`: the
   * grouped-query kernel runs it (split contexts by default, grid (Kv, T, nSplit), about
   * `gqaSplitWorkgroups` workgroups of 64–256 keys).
   */
  splitKeys(Tk: number, T: number): { nSplit: number; splitLen: number; gqa: boolean } {
    const c = this.core.config;
    const tuning = this.core.tuning;
    const H = c.numHeads;
    const max = this.vecAttn ? ATTN_DECODE_SPLIT_MAX : ATTN_SPLIT_MAX;
    const single = Math.min(max, tuning.singleSplitKeys ?? 256);
    const gqa = this.gqaAttn;
    if (Tk <= single) {
      const always = gqa && tuning.gqaDecode === 'always' && Tk <= ATTN_GQA_SPLIT_MAX;
      return { nSplit: 1, splitLen: always ? ATTN_GQA_SPLIT_MAX : single, gqa: always };
    }
    // workgroups per split: one per head, or one per KV head (gqa)
    const [perSplit, target, most] = gqa ? [c.numKvHeads * T, tuning.gqaSplitWorkgroups ?? 128, ATTN_GQA_SPLIT_MAX] : [H * T, tuning.splitWorkgroups ?? 512, max];
    const n = Math.max(1, Math.min(Math.ceil(Tk / 64), Math.ceil(target / perSplit)));
    const splitLen = Math.min(most, Math.ceil(Tk / n));
    return { nSplit: Math.ceil(Tk / splitLen), splitLen, gqa };
  }

  /** The Step uniform of a forward of T rows from cache slot `start`, logits for the last `headRows`. */
  stepRecord(T: number, start: number, headRows: number): ArrayBuffer {
    const Tk = start + T;
    const { nSplit, splitLen } = this.splitKeys(Tk, T);
    const v: StepValues = { T, start, Tk, headFirst: T - headRows, headRows, nSplit, splitLen, pad0: 0 };
    return packParams(STEP_FIELDS, v);
  }

  /** RoPE's cos | sin rows for positions `pos` (the rotation all tokens of one forward share). */
  cosSin(pos: number[]): Float32Array<ArrayBuffer> {
    const hd = this.core.config.headDim;
    const half = hd >> 1;
    const T = pos.length;
    const inv = this.staticInvFreq ?? ropeInvFreq(this.ropeParams!, Math.max(...pos) + 1); // [hd/2]
    const cos = new Float32Array(T * half); // [T, hd/2]
    const sin = new Float32Array(T * half); // [T, hd/2]
    ropeCosSin(cos, sin, inv, pos);
    const cs = new Float32Array(T * hd); // [T, hd]: cos | sin
    for (let t = 0; t < T; t++) {
      cs.set(cos.subarray(t * half, t * half + half), t * hd);
      cs.set(sin.subarray(t * half, t * half + half), t * hd + half);
    }
    return cs;
  }
}
