/**
 * Element-wise activations, CPU reference (HF transformers ACT2FN):
 *   silu(x)     = x · sigmoid(x)                                  ("silu", "swish")
 *   gelu_new(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))      ("gelu_new", "gelu_pytorch_tanh")
 *   gelu(x)     = 0.5·x·(1 + erf(x/√2))                           ("gelu", exact)
 * and the gated MLP's product swiglu(g, u) = silu(g) · u.
 */

export type ActivationName = 'silu' | 'gelu_new' | 'gelu';

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

/**
 * erf(x) to about 1e-15 relative: Maclaurin series for |x| < 2.5, the continued
 * fraction of erfc beyond (Lentz's method).
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  if (ax > 6) return x < 0 ? -1 : 1;
  // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...)))))
  const tiny = 1e-300;
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    d = ax + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = ax + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** The scalar function for an activation name. */
export function activationFn(name: ActivationName): (x: number) => number {
  switch (name) {
    case 'silu':
      return silu;
    case 'gelu_new':
      return geluNew;
    case 'gelu':
      return gelu;
  }
}

/** x[i] = act(x[i]) in place, over the first n entries. */
export function activate(
  x: Float32Array, // [T, I]
  n: number,
  name: ActivationName,
): void {
  const f = activationFn(name);
  for (let i = 0; i < n; i++) x[i] = f(x[i]);
}

/** Gated MLP product in place: gate[i] = act(gate[i]) · up[i] over the first n entries (SwiGLU when act = silu). */
export function swiglu(
  gate: Float32Array, // [T, I]  in: gate_proj(x), out: act(gate)·up
  up: Float32Array, // [T, I]
  n: number,
  name: ActivationName = 'silu',
): void {
  const f = activationFn(name);
  for (let i = 0; i < n; i++) gate[i] = f(gate[i]) * up[i];
}
