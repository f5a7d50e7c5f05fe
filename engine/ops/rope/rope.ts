/**
 * Rotary position embeddings, CPU reference, matching HF transformers'
 * ROPE_INIT_FUNCTIONS (default, linear, dynamic NTK, llama3) and
 * apply_rotary_pos_emb. Frequencies and angles are rounded to f32 the way HF
 * computes them (it builds inv_freq and position·inv_freq in float32).
 *
 * Two layouts of the rotated pairs:
 *   'half'        (HF / GPT-NeoX): dimension i rotates with i + d/2
 *   'interleaved' (llama2.c, GPT-J, GGUF llama): dimension 2i rotates with 2i + 1
 * Pair i uses inv_freq[i] in both.
 */
const f32 = Math.fround;

export interface RopeScaling {
  /** HF rope_type: default (none), linear, dynamic (NTK), llama3. */
  type: 'default' | 'linear' | 'dynamic' | 'llama3';
  factor?: number;
  /** llama3 only */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositions?: number;
}

export interface RopeParams {
  /** Rotated width (= head dim here): pairs = rotaryDim / 2. */
  rotaryDim: number;
  theta: number;
  scaling: RopeScaling;
  /** config.max_position_embeddings (dynamic NTK's default original length). */
  maxPositions: number;
}

/** inv_freq[i] = 1 / theta^(2i/d), as HF computes it in float32. [d/2] */
export function defaultInvFreq(theta: number, rotaryDim: number): Float64Array {
  const half = rotaryDim >> 1;
  const inv = new Float64Array(half); // [d/2]
  for (let i = 0; i < half; i++) inv[i] = f32(1 / f32(Math.pow(theta, f32((2 * i) / rotaryDim))));
  return inv;
}

/**
 * The inverse frequencies for a rope configuration. `seqLen` (max position + 1 of
 * the current forward) only matters for dynamic NTK, which rescales theta once the
 * sequence outgrows the original context. [d/2]
 */
export function ropeInvFreq(p: RopeParams, seqLen = 0): Float64Array {
  const d = p.rotaryDim;
  const s = p.scaling;
  switch (s.type) {
    case 'default':
      return defaultInvFreq(p.theta, d);
    case 'linear': {
      const factor = s.factor ?? 1;
      return defaultInvFreq(p.theta, d).map((v) => f32(v / factor));
    }
    case 'dynamic': {
      const factor = s.factor ?? 1;
      const orig = s.originalMaxPositions ?? p.maxPositions;
      if (seqLen <= orig) return defaultInvFreq(p.theta, d);
      // base' = base · ((factor · L / L₀) − (factor − 1))^(d / (d − 2))
      const base = p.theta * Math.pow((factor * seqLen) / orig - (factor - 1), d / (d - 2));
      return defaultInvFreq(base, d);
    }
    case 'llama3': {
      const factor = s.factor ?? 8;
      const low = s.lowFreqFactor ?? 1;
      const high = s.highFreqFactor ?? 4;
      const old = s.originalMaxPositions ?? 8192;
      const lowWavelen = old / low;
      const highWavelen = old / high;
      return defaultInvFreq(p.theta, d).map((inv) => {
        const wavelen = (2 * Math.PI) / inv;
        if (wavelen < highWavelen) return inv; // high frequency: unchanged
        if (wavelen > lowWavelen) return f32(inv / factor); // low frequency: divided by factor
        const smooth = (old / wavelen - low) / (high - low); // medium: interpolate
        return f32((1 - smooth) * (inv / factor) + smooth * inv);
      });
    }
  }
}

/** cos/sin of position · inv_freq for each position and pair. cos, sin: [T, d/2] */
export function ropeCosSin(
  cos: Float32Array, // [T, d/2]
  sin: Float32Array, // [T, d/2]
  invFreq: Float64Array, // [d/2]
  positions: ArrayLike<number>, // [T]
): void {
  const half = invFreq.length;
  for (let t = 0; t < positions.length; t++) {
    const pos = positions[t];
    for (let i = 0; i < half; i++) {
      const angle = f32(pos * invFreq[i]);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
}

/**
 * Rotates every head of x in place. x: [T, nHeads, headDim] with rotaryDim ≤ headDim
 * (dimensions past rotaryDim pass through).
 *   half:        x'[i] = x[i]·cos − x[i+h]·sin,   x'[i+h] = x[i+h]·cos + x[i]·sin
 *   interleaved: x'[2i] = x[2i]·cos − x[2i+1]·sin, x'[2i+1] = x[2i+1]·cos + x[2i]·sin
 */
export function applyRope(
  x: Float32Array, // [T, nHeads, headDim]
  cos: Float32Array, // [T, d/2]
  sin: Float32Array, // [T, d/2]
  T: number,
  nHeads: number,
  headDim: number,
  rotaryDim: number,
  style: 'half' | 'interleaved',
): void {
  const half = rotaryDim >> 1;
  for (let t = 0; t < T; t++) {
    const cs = t * half;
    for (let h = 0; h < nHeads; h++) {
      const o = (t * nHeads + h) * headDim;
      if (style === 'half') {
        for (let i = 0; i < half; i++) {
          const c = cos[cs + i];
          const s = sin[cs + i];
          const a = x[o + i];
          const b = x[o + i + half];
          x[o + i] = a * c - b * s;
          x[o + i + half] = b * c + a * s;
        }
      } else {
        for (let i = 0; i < half; i++) {
          const c = cos[cs + i];
          const s = sin[cs + i];
          const a = x[o + 2 * i];
          const b = x[o + 2 * i + 1];
          x[o + 2 * i] = a * c - b * s;
          x[o + 2 * i + 1] = b * c + a * s;
        }
      }
    }
  }
}
