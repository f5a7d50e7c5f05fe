;; Attention over an f32 KV cache with WebAssembly SIMD: the same arithmetic as attention() in
;; attention.ts, to the bit. Causal, grouped-query (query head h reads KV head floor(h / group)),
;; optional sliding window (0: none). Query row t sits at cache slot start + t. Only query heads
;; h0 … h1−1 are computed (a thread takes a slice of the heads; the scratch is its own).
;;
;; Layouts (byte pointers into the imported memory):
;;   q, out  f32 [T, nHeads, headDim]       k, v  f32 [ctx, nKvHeads, headDim]
;;   scores  f64 [ctx]                      qs    f64x2 [headDim] (scratch: q splatted)
;;
;; Every sum runs in f64 in the reference's order, so the results equal its bits:
;; - q·k_j sums over d in order; four keys go side by side, one per f64 lane (two f64x2
;;   accumulators), each lane's chain the reference's sequential sum. The products of two f32
;;   are exact in f64, so only the additions round, and they round the same way.
;; - the softmax's exp is the host's Math.exp (imported), summed in slot order.
;; - out[d] = Σ_j p_j · v_j[d] in slot order, eight d at a time (four f64x2 accumulators).
;; Assembled into attention.wasm.gen.ts by `node scripts/gen-wasm.mjs`.
(module
  (memory (import "env" "memory") 1)
  (import "env" "exp" (func $exp (param f64) (result f64)))
  (func (export "attention")
    (param $q i32) (param $k i32) (param $v i32) (param $out i32) (param $scores i32) (param $qs i32)
    (param $T i32) (param $start i32) (param $H i32) (param $h0 i32) (param $h1 i32) (param $Kv i32) (param $hd i32)
    (param $scale f64) (param $window i32)
    (local $t i32) (local $h i32) (local $j i32) (local $slot i32) (local $lo i32) (local $end i32)
    (local $hdb i32) (local $hd4b i32) (local $kvStride i32) (local $group i32) (local $kvoff i32)
    (local $qo i32) (local $oo i32) (local $db i32) (local $k0 i32) (local $k1 i32) (local $k2 i32) (local $k3 i32)
    (local $vp i32) (local $sp i32)
    (local $A v128) (local $B v128) (local $C v128) (local $D v128) (local $qv v128)
    (local $c01 v128) (local $c23 v128) (local $p v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $s f64) (local $max f64) (local $sum f64) (local $inv f64) (local $e f64)
    (local.set $hdb (i32.shl (local.get $hd) (i32.const 2)))                               ;; bytes per head row
    (local.set $hd4b (i32.shl (i32.and (local.get $hd) (i32.const -4)) (i32.const 2)))
    (local.set $kvStride (i32.mul (local.get $Kv) (local.get $hdb)))                       ;; bytes per cache slot
    (local.set $group (i32.div_u (local.get $H) (local.get $Kv)))
    (local.set $t (i32.const 0))
    (block $tdone
      (loop $tloop
        (br_if $tdone (i32.ge_u (local.get $t) (local.get $T)))
        (local.set $slot (i32.add (local.get $start) (local.get $t)))
        (local.set $end (i32.add (local.get $slot) (i32.const 1)))                         ;; keys [lo, end)
        (local.set $lo (i32.const 0))
        (if (i32.and (i32.ne (local.get $window) (i32.const 0))
                     (i32.gt_s (i32.sub (local.get $end) (local.get $window)) (i32.const 0)))
          (then (local.set $lo (i32.sub (local.get $end) (local.get $window)))))
        (local.set $h (local.get $h0))
        (block $hdone
          (loop $hloop
            (br_if $hdone (i32.ge_u (local.get $h) (local.get $h1)))
            (local.set $qo (i32.add (local.get $q) (i32.mul (i32.add (i32.mul (local.get $t) (local.get $H)) (local.get $h)) (local.get $hdb))))
            (local.set $oo (i32.add (local.get $out) (i32.sub (local.get $qo) (local.get $q))))
            (local.set $kvoff (i32.mul (i32.div_u (local.get $h) (local.get $group)) (local.get $hdb)))
            ;; qs[d] = (q[d], q[d]) in f64
            (local.set $db (i32.const 0))
            (block $qsdone
              (loop $qsloop
                (br_if $qsdone (i32.ge_u (local.get $db) (local.get $hdb)))
                (v128.store (i32.add (local.get $qs) (i32.shl (local.get $db) (i32.const 2)))
                  (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $qo) (local.get $db))))))
                (local.set $db (i32.add (local.get $db) (i32.const 4)))
                (br $qsloop)))
            ;; ---- scores[j] = scale · q·k_j, four keys at a time
            (local.set $max (f64.const -inf))
            (local.set $j (local.get $lo))
            (block $j4done
              (loop $j4loop
                (br_if $j4done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $end)))
                (local.set $k0 (i32.add (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $kvStride))) (local.get $kvoff)))
                (local.set $k1 (i32.add (local.get $k0) (local.get $kvStride)))
                (local.set $k2 (i32.add (local.get $k1) (local.get $kvStride)))
                (local.set $k3 (i32.add (local.get $k2) (local.get $kvStride)))
                (local.set $c01 (v128.const f64x2 0 0))
                (local.set $c23 (v128.const f64x2 0 0))
                (local.set $db (i32.const 0))
                (block $d4done
                  (loop $d4loop
                    (br_if $d4done (i32.ge_u (local.get $db) (local.get $hd4b)))
                    (local.set $A (v128.load align=4 (i32.add (local.get $k0) (local.get $db))))
                    (local.set $B (v128.load align=4 (i32.add (local.get $k1) (local.get $db))))
                    (local.set $C (v128.load align=4 (i32.add (local.get $k2) (local.get $db))))
                    (local.set $D (v128.load align=4 (i32.add (local.get $k3) (local.get $db))))
                    (local.set $sp (i32.add (local.get $qs) (i32.shl (local.get $db) (i32.const 2))))
                    ;; interleave the keys' dimensions (one unpack each: [A0 B0 A1 B1], [A2 B2 A3 B3],
                    ;; the same for C, D), then d, d+1, d+2, d+3 in order: lane 0 takes key j,
                    ;; lane 1 key j+1 (j+2 and j+3 in c23). The shuffles are the patterns V8 emits as
                    ;; single unpack / pshufd instructions.
                    (local.set $p (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $A) (local.get $B)))
                    (local.set $A (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $A) (local.get $B)))
                    (local.set $B (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $C) (local.get $D)))
                    (local.set $C (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $C) (local.get $D)))
                    ;; now p = [A0 B0 A1 B1], A = [A2 B2 A3 B3], B = [C0 D0 C1 D1], C = [C2 D2 C3 D3]
                    (local.set $qv (v128.load (local.get $sp)))
                    (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $qv) (f64x2.promote_low_f32x4 (local.get $p)))))
                    (local.set $c23 (f64x2.add (local.get $c23) (f64x2.mul (local.get $qv) (f64x2.promote_low_f32x4 (local.get $B)))))
                    (local.set $qv (v128.load offset=16 (local.get $sp)))
                    (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $qv)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $p) (local.get $p))))))
                    (local.set $c23 (f64x2.add (local.get $c23) (f64x2.mul (local.get $qv)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $B) (local.get $B))))))
                    (local.set $qv (v128.load offset=32 (local.get $sp)))
                    (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $qv) (f64x2.promote_low_f32x4 (local.get $A)))))
                    (local.set $c23 (f64x2.add (local.get $c23) (f64x2.mul (local.get $qv) (f64x2.promote_low_f32x4 (local.get $C)))))
                    (local.set $qv (v128.load offset=48 (local.get $sp)))
                    (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $qv)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $A) (local.get $A))))))
                    (local.set $c23 (f64x2.add (local.get $c23) (f64x2.mul (local.get $qv)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $C) (local.get $C))))))
                    (local.set $db (i32.add (local.get $db) (i32.const 16)))
                    (br $d4loop)))
                ;; the last headDim mod 4 dimensions, one at a time
                (block $d1done
                  (loop $d1loop
                    (br_if $d1done (i32.ge_u (local.get $db) (local.get $hdb)))
                    (local.set $qv (v128.load (i32.add (local.get $qs) (i32.shl (local.get $db) (i32.const 2)))))
                    (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $qv)
                      (f64x2.replace_lane 1 (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $k0) (local.get $db)))))
                                            (f64.promote_f32 (f32.load (i32.add (local.get $k1) (local.get $db))))))))
                    (local.set $c23 (f64x2.add (local.get $c23) (f64x2.mul (local.get $qv)
                      (f64x2.replace_lane 1 (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $k2) (local.get $db)))))
                                            (f64.promote_f32 (f32.load (i32.add (local.get $k3) (local.get $db))))))))
                    (local.set $db (i32.add (local.get $db) (i32.const 4)))
                    (br $d1loop)))
                (local.set $sp (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))))
                (local.set $s (f64.mul (f64x2.extract_lane 0 (local.get $c01)) (local.get $scale)))
                (f64.store (local.get $sp) (local.get $s))
                (if (f64.gt (local.get $s) (local.get $max)) (then (local.set $max (local.get $s))))
                (local.set $s (f64.mul (f64x2.extract_lane 1 (local.get $c01)) (local.get $scale)))
                (f64.store offset=8 (local.get $sp) (local.get $s))
                (if (f64.gt (local.get $s) (local.get $max)) (then (local.set $max (local.get $s))))
                (local.set $s (f64.mul (f64x2.extract_lane 0 (local.get $c23)) (local.get $scale)))
                (f64.store offset=16 (local.get $sp) (local.get $s))
                (if (f64.gt (local.get $s) (local.get $max)) (then (local.set $max (local.get $s))))
                (local.set $s (f64.mul (f64x2.extract_lane 1 (local.get $c23)) (local.get $scale)))
                (f64.store offset=24 (local.get $sp) (local.get $s))
                (if (f64.gt (local.get $s) (local.get $max)) (then (local.set $max (local.get $s))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $j4loop)))
            ;; ---- the last keys, one at a time
            (block $j1done
              (loop $j1loop
                (br_if $j1done (i32.ge_u (local.get $j) (local.get $end)))
                (local.set $k0 (i32.add (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $kvStride))) (local.get $kvoff)))
                (local.set $s (f64.const 0))
                (local.set $db (i32.const 0))
                (block $ddone
                  (loop $dloop
                    (br_if $ddone (i32.ge_u (local.get $db) (local.get $hdb)))
                    (local.set $s (f64.add (local.get $s)
                      (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $qo) (local.get $db))))
                               (f64.promote_f32 (f32.load (i32.add (local.get $k0) (local.get $db)))))))
                    (local.set $db (i32.add (local.get $db) (i32.const 4)))
                    (br $dloop)))
                (local.set $s (f64.mul (local.get $s) (local.get $scale)))
                (f64.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))) (local.get $s))
                (if (f64.gt (local.get $s) (local.get $max)) (then (local.set $max (local.get $s))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $j1loop)))
            ;; ---- softmax over the visible slots; scores become the probabilities
            (local.set $sum (f64.const 0))
            (local.set $j (local.get $lo))
            (block $edone
              (loop $eloop
                (br_if $edone (i32.ge_u (local.get $j) (local.get $end)))
                (local.set $sp (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))))
                (local.set $e (call $exp (f64.sub (f64.load (local.get $sp)) (local.get $max))))
                (f64.store (local.get $sp) (local.get $e))
                (local.set $sum (f64.add (local.get $sum) (local.get $e)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $eloop)))
            (local.set $inv (f64.div (f64.const 1) (local.get $sum)))
            (local.set $j (local.get $lo))
            (block $pdone
              (loop $ploop
                (br_if $pdone (i32.ge_u (local.get $j) (local.get $end)))
                (local.set $sp (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))))
                (f64.store (local.get $sp) (f64.mul (f64.load (local.get $sp)) (local.get $inv)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $ploop)))
            ;; ---- out[d] = Σ_j p_j · v_j[d], eight dimensions at a time
            (local.set $db (i32.const 0))
            (block $o8done
              (loop $o8loop
                (br_if $o8done (i32.gt_u (i32.add (local.get $db) (i32.const 32)) (local.get $hdb)))
                (local.set $a0 (v128.const f64x2 0 0))
                (local.set $a1 (v128.const f64x2 0 0))
                (local.set $a2 (v128.const f64x2 0 0))
                (local.set $a3 (v128.const f64x2 0 0))
                (local.set $j (local.get $lo))
                (block $v8done
                  (loop $v8loop
                    (br_if $v8done (i32.ge_u (local.get $j) (local.get $end)))
                    (local.set $vp (i32.add (i32.add (i32.add (local.get $v) (i32.mul (local.get $j) (local.get $kvStride))) (local.get $kvoff)) (local.get $db)))
                    (local.set $p (v128.load64_splat (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3)))))
                    (local.set $A (v128.load align=4 (local.get $vp)))
                    (local.set $B (v128.load offset=16 align=4 (local.get $vp)))
                    (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $p) (f64x2.promote_low_f32x4 (local.get $A)))))
                    (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $p)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $A) (local.get $A))))))
                    (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $p) (f64x2.promote_low_f32x4 (local.get $B)))))
                    (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $p)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $B) (local.get $B))))))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $v8loop)))
                (local.set $sp (i32.add (local.get $oo) (local.get $db)))
                (f32.store (local.get $sp) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $a0))))
                (f32.store offset=4 (local.get $sp) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $a0))))
                (f32.store offset=8 (local.get $sp) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $a1))))
                (f32.store offset=12 (local.get $sp) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $a1))))
                (f32.store offset=16 (local.get $sp) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $a2))))
                (f32.store offset=20 (local.get $sp) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $a2))))
                (f32.store offset=24 (local.get $sp) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $a3))))
                (f32.store offset=28 (local.get $sp) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $a3))))
                (local.set $db (i32.add (local.get $db) (i32.const 32)))
                (br $o8loop)))
            ;; the last headDim mod 8 dimensions, one at a time
            (block $o1done
              (loop $o1loop
                (br_if $o1done (i32.ge_u (local.get $db) (local.get $hdb)))
                (local.set $s (f64.const 0))
                (local.set $j (local.get $lo))
                (block $v1done
                  (loop $v1loop
                    (br_if $v1done (i32.ge_u (local.get $j) (local.get $end)))
                    (local.set $s (f64.add (local.get $s)
                      (f64.mul (f64.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))))
                               (f64.promote_f32 (f32.load (i32.add (i32.add (i32.add (local.get $v) (i32.mul (local.get $j) (local.get $kvStride))) (local.get $kvoff)) (local.get $db)))))))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $v1loop)))
                (f32.store (i32.add (local.get $oo) (local.get $db)) (f32.demote_f64 (local.get $s)))
                (local.set $db (i32.add (local.get $db) (i32.const 4)))
                (br $o1loop)))
            (local.set $h (i32.add (local.get $h) (i32.const 1)))
            (br $hloop)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tloop)))
  )
)
