/**
 * matmul benchmark: the WebAssembly SIMD kernel (matmul.wat) and the row-blocked,
 * unrolled TypeScript kernel against the plain triple loop (the peer, measured in
 * the same run), at decode (T = 1) and prefill shapes. Prints GFLOP/s and ratios.
 */
import { matmul } from './matmul';
import { WasmMatmul } from './matmul.wasm';

function rand(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.random() - 0.5);
}

function naive(out: Float32Array, x: Float32Array, w: Float32Array, T: number, K: number, N: number): void {
  for (let t = 0; t < T; t++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[t * K + k] * w[j * K + k];
      out[t * N + j] = s;
    }
}

function time(f: () => void, minMs = 400): number {
  for (let i = 0; i < 2; i++) f();
  let best = Infinity;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

for (const [T, K, N] of [
  [1, 2048, 2048],
  [1, 4096, 1024],
  [16, 1024, 1024],
  [64, 512, 2048],
  [128, 1024, 1024],
]) {
  const x = rand(T * K);
  const w = rand(N * K);
  const out = new Float32Array(T * N);
  const mm = WasmMatmul.create(N * K, K, N)!;
  const ww = mm.adopt(w);
  const simd = time(() => mm.matmul(out, x, ww, T, K, N));
  const fast = time(() => matmul(out, x, w, T, K, N));
  const slow = time(() => naive(out, x, w, T, K, N));
  const gf = (ms: number) => ((2 * T * K * N) / ms / 1e6).toFixed(2);
  console.log(
    `T=${T} K=${K} N=${N}: wasm SIMD ${gf(simd)} GFLOP/s (×${(slow / simd).toFixed(2)} naive), ` +
      `TS ${gf(fast)} GFLOP/s (×${(slow / fast).toFixed(2)}), naive ${gf(slow)} GFLOP/s`,
  );
}
