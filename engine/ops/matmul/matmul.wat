;; Linear layer on the CPU with WebAssembly SIMD: out = x·Wᵀ.
;; x [T, K], W [N, K] (nn.Linear layout), out [T, N] with rows ldo floats apart (ldo ≥ N: a
;; thread computing rows j0 … j0+N−1 of a wider output passes out + 4·j0 and the full width);
;; all f32, byte pointers into the imported memory.
;;
;; The outer loop walks the rows of W in order, so W is read once, front to back: at decode
;; (T = 1) the kernel is bound by memory bandwidth, and long sequential streams are what the
;; hardware prefetcher follows best (reading four neighbouring rows side by side, four short
;; interleaved streams, ran at a third of the speed). Decode reads rows j and j + N/2 together:
;; two streams, each front to back through its half of W, so that a stream stalled where its
;; prefetch stops (at a page boundary) leaves the other one running. Each row of W is otherwise
;; dotted with the rows of x, four rows of x at a time sharing each load of W (prefill), the
;; row staying in L1.
;;
;; Every dot product is summed the same way: two f32x4 accumulators (k mod 8 < 4 and ≥ 4),
;; added lane-wise, the lanes summed as (l0 + l1) + (l2 + l3), then the k ≥ K & ~3 tail in
;; order. So each output is the same whatever T is, and prefill and decode agree bit for bit.
;; Assembled into matmul.wasm.gen.ts by `node scripts/gen-wasm.mjs`.
(module
  (memory (import "env" "memory") 1)
  (func (export "matmul")
    (param $w i32) (param $x i32) (param $out i32) (param $T i32) (param $K i32) (param $N i32) (param $ldo i32)
    (local $t i32) (local $j i32) (local $half i32) (local $hb i32) (local $wrow2 i32) (local $kb i32) (local $kb4 i32) (local $row i32) (local $wrow i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32) (local $o i32) (local $ostride i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $wv v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $ww v128)
    (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32) (local $ws f32)
    (local.set $row (i32.shl (local.get $K) (i32.const 2)))                      ;; bytes per row
    (local.set $kb4 (i32.shl (i32.and (local.get $K) (i32.const -4)) (i32.const 2)))
    (local.set $ostride (i32.shl (local.get $ldo) (i32.const 2)))                ;; bytes per output row
    (local.set $j (i32.const 0))
    ;; ---- decode (T = 1): rows j and j + N/2 side by side, two sequential streams of W
    (if (i32.eq (local.get $T) (i32.const 1))
      (then
        (local.set $half (i32.shr_u (local.get $N) (i32.const 1)))
        (local.set $hb (i32.mul (local.get $half) (local.get $row)))
        (block $pdone
          (loop $ploop
            (br_if $pdone (i32.ge_u (local.get $j) (local.get $half)))
            (local.set $wrow (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $row))))
            (local.set $wrow2 (i32.add (local.get $wrow) (local.get $hb)))
            (local.set $a0 (v128.const f32x4 0 0 0 0))
            (local.set $b0 (v128.const f32x4 0 0 0 0))
            (local.set $a1 (v128.const f32x4 0 0 0 0))
            (local.set $b1 (v128.const f32x4 0 0 0 0))
            (local.set $kb (i32.const 0))
            (block $p8done
              (loop $p8loop
                (br_if $p8done (i32.gt_u (i32.add (local.get $kb) (i32.const 32)) (local.get $kb4)))
                (local.set $wv (v128.load align=4 (i32.add (local.get $x) (local.get $kb))))
                (local.set $ww (v128.load offset=16 align=4 (i32.add (local.get $x) (local.get $kb))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wv) (v128.load align=4 (i32.add (local.get $wrow) (local.get $kb))))))
                (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $ww) (v128.load offset=16 align=4 (i32.add (local.get $wrow) (local.get $kb))))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wv) (v128.load align=4 (i32.add (local.get $wrow2) (local.get $kb))))))
                (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $ww) (v128.load offset=16 align=4 (i32.add (local.get $wrow2) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 32)))
                (br $p8loop)))
            (if (i32.lt_u (local.get $kb) (local.get $kb4))
              (then
                (local.set $wv (v128.load align=4 (i32.add (local.get $x) (local.get $kb))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wv) (v128.load align=4 (i32.add (local.get $wrow) (local.get $kb))))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wv) (v128.load align=4 (i32.add (local.get $wrow2) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 16)))))
            (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
            (local.set $a1 (f32x4.add (local.get $a1) (local.get $b1)))
            (local.set $s0 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                                    (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
            (local.set $s1 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a1)) (f32x4.extract_lane 1 (local.get $a1)))
                                    (f32.add (f32x4.extract_lane 2 (local.get $a1)) (f32x4.extract_lane 3 (local.get $a1)))))
            (block $ptaildone
              (loop $ptail
                (br_if $ptaildone (i32.ge_u (local.get $kb) (local.get $row)))
                (local.set $ws (f32.load (i32.add (local.get $x) (local.get $kb))))
                (local.set $s0 (f32.add (local.get $s0) (f32.mul (local.get $ws) (f32.load (i32.add (local.get $wrow) (local.get $kb))))))
                (local.set $s1 (f32.add (local.get $s1) (f32.mul (local.get $ws) (f32.load (i32.add (local.get $wrow2) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 4)))
                (br $ptail)))
            (f32.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))) (local.get $s0))
            (f32.store (i32.add (local.get $out) (i32.shl (i32.add (local.get $j) (local.get $half)) (i32.const 2))) (local.get $s1))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $ploop)))
        ;; an odd N leaves its last row to the loop below
        (local.set $j (i32.shl (local.get $half) (i32.const 1)))))
    (block $jdone
      (loop $jloop
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $N)))
        (local.set $wrow (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $row))))
        (local.set $t (i32.const 0))
        ;; ---- four rows of x at a time
        (block $t4done
          (loop $t4loop
            (br_if $t4done (i32.gt_u (i32.add (local.get $t) (i32.const 4)) (local.get $T)))
            (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $row))))
            (local.set $x1 (i32.add (local.get $x0) (local.get $row)))
            (local.set $x2 (i32.add (local.get $x1) (local.get $row)))
            (local.set $x3 (i32.add (local.get $x2) (local.get $row)))
            (local.set $a0 (v128.const f32x4 0 0 0 0))
            (local.set $a1 (v128.const f32x4 0 0 0 0))
            (local.set $a2 (v128.const f32x4 0 0 0 0))
            (local.set $a3 (v128.const f32x4 0 0 0 0))
            (local.set $b0 (v128.const f32x4 0 0 0 0))
            (local.set $b1 (v128.const f32x4 0 0 0 0))
            (local.set $b2 (v128.const f32x4 0 0 0 0))
            (local.set $b3 (v128.const f32x4 0 0 0 0))
            (local.set $kb (i32.const 0))
            ;; eight floats per step into two accumulator sets (a: k mod 8 < 4, b: the rest)
            (block $k8done
              (loop $k8loop
                (br_if $k8done (i32.gt_u (i32.add (local.get $kb) (i32.const 32)) (local.get $kb4)))
                (local.set $wv (v128.load align=4 (i32.add (local.get $wrow) (local.get $kb))))
                (local.set $ww (v128.load offset=16 align=4 (i32.add (local.get $wrow) (local.get $kb))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load align=4 (i32.add (local.get $x0) (local.get $kb))) (local.get $wv))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load align=4 (i32.add (local.get $x1) (local.get $kb))) (local.get $wv))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load align=4 (i32.add (local.get $x2) (local.get $kb))) (local.get $wv))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load align=4 (i32.add (local.get $x3) (local.get $kb))) (local.get $wv))))
                (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (v128.load offset=16 align=4 (i32.add (local.get $x0) (local.get $kb))) (local.get $ww))))
                (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (v128.load offset=16 align=4 (i32.add (local.get $x1) (local.get $kb))) (local.get $ww))))
                (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (v128.load offset=16 align=4 (i32.add (local.get $x2) (local.get $kb))) (local.get $ww))))
                (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (v128.load offset=16 align=4 (i32.add (local.get $x3) (local.get $kb))) (local.get $ww))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 32)))
                (br $k8loop)))
            ;; at most one step of four floats is left before the scalar tail
            (if (i32.lt_u (local.get $kb) (local.get $kb4))
              (then
                (local.set $wv (v128.load align=4 (i32.add (local.get $wrow) (local.get $kb))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load align=4 (i32.add (local.get $x0) (local.get $kb))) (local.get $wv))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load align=4 (i32.add (local.get $x1) (local.get $kb))) (local.get $wv))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load align=4 (i32.add (local.get $x2) (local.get $kb))) (local.get $wv))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load align=4 (i32.add (local.get $x3) (local.get $kb))) (local.get $wv))))
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
                (br_if $tail4done (i32.ge_u (local.get $kb) (local.get $row)))
                (local.set $ws (f32.load (i32.add (local.get $wrow) (local.get $kb))))
                (local.set $s0 (f32.add (local.get $s0) (f32.mul (f32.load (i32.add (local.get $x0) (local.get $kb))) (local.get $ws))))
                (local.set $s1 (f32.add (local.get $s1) (f32.mul (f32.load (i32.add (local.get $x1) (local.get $kb))) (local.get $ws))))
                (local.set $s2 (f32.add (local.get $s2) (f32.mul (f32.load (i32.add (local.get $x2) (local.get $kb))) (local.get $ws))))
                (local.set $s3 (f32.add (local.get $s3) (f32.mul (f32.load (i32.add (local.get $x3) (local.get $kb))) (local.get $ws))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 4)))
                (br $tail4)))
            ;; out[t + i][j]
            (local.set $o (i32.add (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))) (i32.mul (local.get $t) (local.get $ostride))))
            (f32.store (local.get $o) (local.get $s0))
            (local.set $o (i32.add (local.get $o) (local.get $ostride)))
            (f32.store (local.get $o) (local.get $s1))
            (local.set $o (i32.add (local.get $o) (local.get $ostride)))
            (f32.store (local.get $o) (local.get $s2))
            (local.set $o (i32.add (local.get $o) (local.get $ostride)))
            (f32.store (local.get $o) (local.get $s3))
            (local.set $t (i32.add (local.get $t) (i32.const 4)))
            (br $t4loop)))
        ;; ---- the last T mod 4 rows of x (all of decode), one at a time, summed in the same order
        (block $t1done
          (loop $t1loop
            (br_if $t1done (i32.ge_u (local.get $t) (local.get $T)))
            (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $row))))
            (local.set $a0 (v128.const f32x4 0 0 0 0))
            (local.set $b0 (v128.const f32x4 0 0 0 0))
            (local.set $kb (i32.const 0))
            (block $k1done
              (loop $k1loop
                (br_if $k1done (i32.gt_u (i32.add (local.get $kb) (i32.const 32)) (local.get $kb4)))
                (local.set $a0 (f32x4.add (local.get $a0)
                  (f32x4.mul (v128.load align=4 (i32.add (local.get $x0) (local.get $kb))) (v128.load align=4 (i32.add (local.get $wrow) (local.get $kb))))))
                (local.set $b0 (f32x4.add (local.get $b0)
                  (f32x4.mul (v128.load offset=16 align=4 (i32.add (local.get $x0) (local.get $kb))) (v128.load offset=16 align=4 (i32.add (local.get $wrow) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 32)))
                (br $k1loop)))
            (if (i32.lt_u (local.get $kb) (local.get $kb4))
              (then
                (local.set $a0 (f32x4.add (local.get $a0)
                  (f32x4.mul (v128.load align=4 (i32.add (local.get $x0) (local.get $kb))) (v128.load align=4 (i32.add (local.get $wrow) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 16)))))
            (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
            (local.set $s0 (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                                    (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
            (block $tail1done
              (loop $tail1
                (br_if $tail1done (i32.ge_u (local.get $kb) (local.get $row)))
                (local.set $s0 (f32.add (local.get $s0)
                  (f32.mul (f32.load (i32.add (local.get $x0) (local.get $kb))) (f32.load (i32.add (local.get $wrow) (local.get $kb))))))
                (local.set $kb (i32.add (local.get $kb) (i32.const 4)))
                (br $tail1)))
            (f32.store (i32.add (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))) (i32.mul (local.get $t) (local.get $ostride)))
              (local.get $s0))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $t1loop)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jloop)))
  )
)
