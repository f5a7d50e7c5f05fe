;; The gated MLP's product with SiLU in WebAssembly SIMD, in place, four lanes at a time:
;; g[i] = g[i] / (1 + exp(−g[i])) · u[i] for i < n, in f32 (swiglu() in activations.ts sums the
;; same in f64 with Math.exp: within a few f32 ulps of it, swiglu.wasm.test.ts).
;; exp is Cephes' expf as in attention.wat (within 2 ulp), its argument clamped to
;; [−87.3, ln FLT_MAX]: below, e^x is ≈ 0 next to 1; from x ≈ 88.4 on (n = 128) the power of two
;; is +inf, so silu(g) = −0 for g ≤ −88.4 (the reference's is −0 or below 1e−36 there).
;; Layout: g, u f32 [n] (byte pointers, 4-byte aligned); the last n mod 4 one lane at a time.
;; Assembled into swiglu.wasm.gen.ts by `node scripts/gen-wasm.mjs`.
(module
  (memory (import "env" "memory") 1)
  (func $exp (param $x v128) (result v128)
    (local $fx v128) (local $r v128) (local $y v128)
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))
      (v128.const f32x4 88.72284 88.72284 88.72284 88.72284)))
    ;; n = round(x / ln 2); r = x − n·ln 2 (ln 2 = 0.693359375 − 2.12194440e−4, the first part exact)
    (local.set $fx (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $fx) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.add (local.get $r) (f32x4.mul (local.get $fx) (v128.const f32x4 2.12194440e-4 2.12194440e-4 2.12194440e-4 2.12194440e-4))))
    ;; e^r ≈ 1 + r + r²·P(r)
    (local.set $y (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $y (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $y) (local.get $r)) (local.get $r)) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    ;; · 2^n: n + 127 in the exponent bits (n from −126 to 128, which gives +inf)
    (f32x4.mul (local.get $y)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $fx)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; g[i] = silu(g[i]) · u[i] for the lanes of one vector
  (func $glu (param $g v128) (param $u v128) (result v128)
    (f32x4.mul
      (f32x4.div (local.get $g) (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp (f32x4.neg (local.get $g)))))
      (local.get $u)))

  (func (export "swiglu") (param $g i32) (param $u i32) (param $n i32)
    (local $end i32) (local $end4 i32)
    (local.set $end (i32.add (local.get $g) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $g) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $g) (local.get $end4)))
        (v128.store align=4 (local.get $g) (call $glu (v128.load align=4 (local.get $g)) (v128.load align=4 (local.get $u))))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $u (i32.add (local.get $u) (i32.const 16)))
        (br $l)))
    ;; the rest, one lane each (lane 0 of a splat)
    (block $done1
      (loop $l1
        (br_if $done1 (i32.ge_u (local.get $g) (local.get $end)))
        (f32.store (local.get $g) (f32x4.extract_lane 0
          (call $glu (v128.load32_splat (local.get $g)) (v128.load32_splat (local.get $u)))))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $u (i32.add (local.get $u) (i32.const 4)))
        (br $l1))))
)
