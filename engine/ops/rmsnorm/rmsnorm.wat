;; RMSNorm in WebAssembly, with the residual add before it fused in: for each row of x
;; [rows, dim], when r ≠ 0 first x += r (in place, f32 adds), then
;; out = x / sqrt(mean(x²) + eps) · w. The same arithmetic as rmsnorm() in rmsnorm.ts, so its
;; bits: the sum of squares in f64 in order (the products of two f32 are exact in f64), the scale
;; 1 / sqrt(ss / dim + eps) in f64, then (x · scale) · w in f64, two lanes at a time, rounded
;; to f32. An f32 add equals the reference's f64 add rounded to f32.
;; Layouts (byte pointers): x, r, out f32 [rows, dim]; w f32 [dim]. out may be x.
;; Assembled into rmsnorm.wasm.gen.ts by `node scripts/gen-wasm.mjs`.
(module
  (memory (import "env" "memory") 1)
  (func (export "rmsnorm")
    (param $x i32) (param $r i32) (param $w i32) (param $out i32) (param $rows i32) (param $dim i32) (param $eps f64)
    (local $row i32) (local $i i32) (local $n i32) (local $n4 i32) (local $a f64) (local $ss f64) (local $sc v128) (local $X v128) (local $W v128)
    (local.set $n (i32.shl (local.get $dim) (i32.const 2)))                 ;; bytes a row
    (local.set $n4 (i32.and (local.get $n) (i32.const -16)))                ;; of them in whole f32x4
    (local.set $row (i32.const 0))
    (block $rdone
      (loop $rloop
        (br_if $rdone (i32.ge_u (local.get $row) (local.get $rows)))
        ;; x += r
        (if (i32.ne (local.get $r) (i32.const 0))
          (then
            (local.set $i (i32.const 0))
            (block $adone
              (loop $aloop
                (br_if $adone (i32.ge_u (local.get $i) (local.get $n4)))
                (v128.store align=4 (i32.add (local.get $x) (local.get $i))
                  (f32x4.add (v128.load align=4 (i32.add (local.get $x) (local.get $i))) (v128.load align=4 (i32.add (local.get $r) (local.get $i)))))
                (local.set $i (i32.add (local.get $i) (i32.const 16)))
                (br $aloop)))
            (block $a1done
              (loop $a1loop
                (br_if $a1done (i32.ge_u (local.get $i) (local.get $n)))
                (f32.store (i32.add (local.get $x) (local.get $i))
                  (f32.add (f32.load (i32.add (local.get $x) (local.get $i))) (f32.load (i32.add (local.get $r) (local.get $i)))))
                (local.set $i (i32.add (local.get $i) (i32.const 4)))
                (br $a1loop)))
            (local.set $r (i32.add (local.get $r) (local.get $n)))))
        ;; ss = Σ x², in order
        (local.set $ss (f64.const 0))
        (local.set $i (i32.const 0))
        (block $sdone
          (loop $sloop
            (br_if $sdone (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $a (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $i)))))
            (local.set $ss (f64.add (local.get $ss) (f64.mul (local.get $a) (local.get $a))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $sloop)))
        (local.set $sc (f64x2.splat (f64.div (f64.const 1)
          (f64.sqrt (f64.add (f64.div (local.get $ss) (f64.convert_i32_u (local.get $dim))) (local.get $eps))))))
        ;; out = (x · scale) · w, four at a time (two f64x2 each), then one at a time
        (local.set $i (i32.const 0))
        (block $odone
          (loop $oloop
            (br_if $odone (i32.ge_u (local.get $i) (local.get $n4)))
            (local.set $X (v128.load align=4 (i32.add (local.get $x) (local.get $i))))
            (local.set $W (v128.load align=4 (i32.add (local.get $w) (local.get $i))))
            (v128.store align=4 (i32.add (local.get $out) (local.get $i))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.mul (f64x2.promote_low_f32x4 (local.get $X)) (local.get $sc))
                  (f64x2.promote_low_f32x4 (local.get $W))))
                (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.mul
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $X) (local.get $X))) (local.get $sc))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $W) (local.get $W)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $oloop)))
        (block $o1done
          (loop $o1loop
            (br_if $o1done (i32.ge_u (local.get $i) (local.get $n)))
            (f32.store (i32.add (local.get $out) (local.get $i))
              (f32.demote_f64 (f64.mul (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $i)))) (f64x2.extract_lane 0 (local.get $sc)))
                (f64.promote_f32 (f32.load (i32.add (local.get $w) (local.get $i)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $o1loop)))
        (local.set $x (i32.add (local.get $x) (local.get $n)))
        (local.set $out (i32.add (local.get $out) (local.get $n)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rloop)))
  )
)
