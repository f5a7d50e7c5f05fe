;; Linear layer on the CPU with WebAssembly SIMD: out = x·Wᵀ.
;; x [T, K], W [N, K] (nn.Linear layout), out [T, N]; all f32, byte pointers into
;; the imported memory. Four rows of W at a time share each load of x; each of
;; those dot products keeps two f32x4 accumulators (k mod 8 < 4 and ≥ 4), adds
;; them lane-wise, sums the lanes as (l0 + l1) + (l2 + l3), then adds the
;; k ≥ K & ~3 tail in order (the last N mod 4 rows use one accumulator). Every output is
;; computed the same way whatever T is, so prefill and decode agree bit for bit.
;; Assembled into matmul.wasm.gen.ts by `node scripts/gen-wasm.mjs`.
(module
  (memory (import "env" "memory") 1)
  (func (export "matmul")
    (param $w i32) (param $x i32) (param $out i32) (param $T i32) (param $K i32) (param $N i32)
    (local $t i32) (local $j i32) (local $kb i32) (local $kb4 i32) (local $kbEnd i32) (local $row i32)
    (local $xrow i32) (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $o i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $xv v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $xw v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $xs f32)
    (local.set $row (i32.shl (local.get $K) (i32.const 2)))                      ;; bytes per row
    (local.set $kb4 (i32.shl (i32.and (local.get $K) (i32.const -4)) (i32.const 2)))
    (local.set $kbEnd (local.get $row))
    (local.set $t (i32.const 0))
    (block $tdone
      (loop $tloop
        (br_if $tdone (i32.ge_u (local.get $t) (local.get $T)))
        (local.set $xrow (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $row))))
        (local.set $o (i32.add (local.get $out) (i32.shl (i32.mul (local.get $t) (local.get $N)) (i32.const 2))))
        (local.set $j (i32.const 0))
        ;; ---- four rows of W at a time
        (block $j4done
          (loop $j4loop
            (br_if $j4done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $N)))
            (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $row))))
            (local.set $w1 (i32.add (local.get $w0) (local.get $row)))
            (local.set $w2 (i32.add (local.get $w1) (local.get $row)))
            (local.set $w3 (i32.add (local.get $w2) (local.get $row)))
            (local.set $a0 (v128.const f32x4 0 0 0 0))
            (local.set $a1 (v128.const f32x4 0 0 0 0))
            (local.set $a2 (v128.const f32x4 0 0 0 0))
            (local.set $a3 (v128.const f32x4 0 0 0 0))
            (local.set $b0 (v128.const f32x4 0 0 0 0))
            (local.set $b1 (v128.const f32x4 0 0 0 0))
            (local.set $b2 (v128.const f32x4 0 0 0 0))
            (local.set $b3 (v128.const f32x4 0 0 0 0))
            (local.set $kb (i32.const 0))
            ;; eight floats per step into two accumulator sets (a: k mod 8 < 4, b: the rest),
            ;; so eight independent add chains hide the add latency
            (block $k8done
              (loop $k8loop
                (br_if $k8done (i32.gt_u (i32.add (local.get $kb) (i32.const 32)) (local.get $kb4)))
                (local.set $xv (v128.load align=4 (i32.add (local.get $xrow) (local.get $kb))))
                (local.set $xw (v128.load offset=16 align=4 (i32.add (local.get $xrow) (local.get $kb))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load align=4 (i32.add (local.get $w0) (local.get $kb))))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load align=4 (i32.add (local.get $w1) (local.get $kb))))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load align=4 (i32.add (local.get $w2) (local.get $kb))))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load align=4 (i32.add (local.get $w3) (local.get $kb))))))
                (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $xw) (v128.load offset=16 align=4 (i32.add (local.get $w0) (local.get $kb))))))
                (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $xw) (v128.load offset=16 align=4 (i32.add (local.get $w1) (local.get $kb))))))
                (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $xw) (v128.load offset=16 align=4 (i32.add (local.get $w2) (local.get $kb))))))
                (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $xw) (v128.load offset=16 align=4 (i32.add (local.get $w3) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 32)))
                (br $k8loop)))
            ;; at most one step of four floats is left before the scalar tail
            (if (i32.lt_u (local.get $kb) (local.get $kb4))
              (then
                (local.set $xv (v128.load align=4 (i32.add (local.get $xrow) (local.get $kb))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load align=4 (i32.add (local.get $w0) (local.get $kb))))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load align=4 (i32.add (local.get $w1) (local.get $kb))))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load align=4 (i32.add (local.get $w2) (local.get $kb))))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load align=4 (i32.add (local.get $w3) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 16)))))
            (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
            (local.set $a1 (f32x4.add (local.get $a1) (local.get $b1)))
            (local.set $a2 (f32x4.add (local.get $a2) (local.get $b2)))
            (local.set $a3 (f32x4.add (local.get $a3) (local.get $b3)))
            (local.set $s0 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                                    (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
            (local.set $s1 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a1)) (f32x4.extract_lane 1 (local.get $a1)))
                                    (f32.add (f32x4.extract_lane 2 (local.get $a1)) (f32x4.extract_lane 3 (local.get $a1)))))
            (local.set $s2 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a2)) (f32x4.extract_lane 1 (local.get $a2)))
                                    (f32.add (f32x4.extract_lane 2 (local.get $a2)) (f32x4.extract_lane 3 (local.get $a2)))))
            (local.set $s3 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a3)) (f32x4.extract_lane 1 (local.get $a3)))
                                    (f32.add (f32x4.extract_lane 2 (local.get $a3)) (f32x4.extract_lane 3 (local.get $a3)))))
            (block $tail4done
              (loop $tail4
                (br_if $tail4done (i32.ge_u (local.get $kb) (local.get $kbEnd)))
                (local.set $xs (f32.load (i32.add (local.get $xrow) (local.get $kb))))
                (local.set $s0 (f32.add (local.get $s0) (f32.mul (local.get $xs) (f32.load (i32.add (local.get $w0) (local.get $kb))))))
                (local.set $s1 (f32.add (local.get $s1) (f32.mul (local.get $xs) (f32.load (i32.add (local.get $w1) (local.get $kb))))))
                (local.set $s2 (f32.add (local.get $s2) (f32.mul (local.get $xs) (f32.load (i32.add (local.get $w2) (local.get $kb))))))
                (local.set $s3 (f32.add (local.get $s3) (f32.mul (local.get $xs) (f32.load (i32.add (local.get $w3) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 4)))
                (br $tail4)))
            (f32.store (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))) (local.get $s0))
            (f32.store offset=4 (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))) (local.get $s1))
            (f32.store offset=8 (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))) (local.get $s2))
            (f32.store offset=12 (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))) (local.get $s3))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $j4loop)))
        ;; ---- the last N mod 4 rows, one at a time, summed in the same order
        (block $j1done
          (loop $j1loop
            (br_if $j1done (i32.ge_u (local.get $j) (local.get $N)))
            (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $row))))
            (local.set $a0 (v128.const f32x4 0 0 0 0))
            (local.set $kb (i32.const 0))
            (block $k1done
              (loop $k1loop
                (br_if $k1done (i32.ge_u (local.get $kb) (local.get $kb4)))
                (local.set $a0 (f32x4.add (local.get $a0)
                  (f32x4.mul (v128.load align=4 (i32.add (local.get $xrow) (local.get $kb))) (v128.load align=4 (i32.add (local.get $w0) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 16)))
                (br $k1loop)))
            (local.set $s0 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                                    (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
            (block $tail1done
              (loop $tail1
                (br_if $tail1done (i32.ge_u (local.get $kb) (local.get $kbEnd)))
                (local.set $s0 (f32.add (local.get $s0)
                  (f32.mul (f32.load (i32.add (local.get $xrow) (local.get $kb))) (f32.load (i32.add (local.get $w0) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 4)))
                (br $tail1)))
            (f32.store (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))) (local.get $s0))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $j1loop)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tloop)))
  )
)
