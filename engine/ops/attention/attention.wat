;; Attention over an f32 KV cache with WebAssembly SIMD: the same arithmetic as attention() in
;; attention.ts, to the bit. Causal, grouped-query (query head h reads KV head floor(h / group)),
;; optional sliding window (0: none). Query row t sits at cache slot start + t. Only query heads
;; h0 … h1−1 are computed (a thread takes a slice of the heads; the scratch is its own).
;;
;; Layouts (byte pointers into the imported memory; ctx = the cache's slots):
;;   q, out  f32 [T, nHeads, headDim]
;;   k       f32 [nKvHeads, ctx/8, headDim, 8]  tiles of eight slots, each [headDim, 8]: slot j's
;;           d-th value at kvHead·ctx·headDim + (j − j mod 8)·headDim + d·w + j mod 8, w = 8
;;           (the last tile, when ctx is not a multiple of 8: w = ctx mod 8)
;;   v       f32 [nKvHeads, headDim/16, ctx, 16]  blocks of sixteen dimensions, each [ctx, 16]
;;           (then one of eight, [ctx, 8], when headDim mod 16 ≥ 8, then the last headDim mod 8,
;;           [ctx, headDim mod 8]): the block holding dimensions d0 … d0+w−1 starts at float
;;           kvHead·ctx·headDim + ctx·d0, and slot j's values in it at j·w
;;   scores  f64 [ctx + 8]                  qs    f64x2 [headDim] (scratch: q splatted)
;; So one KV head's keys are read front to back, one tile after another, and its values one
;; block after another, each front to back. A narrow last tile is read eight lanes wide too
;; (the extra lanes are dropped): up to 28 bytes past the cache's end, its slack; and up to 8
;; scores are written past ctx (WasmAttention allocates both).
;;
;; Every sum runs in f64 in the reference's order, so the results equal its bits:
;; - q·k_j sums over d in order. A tile's eight keys go side by side, two per f64x2 accumulator:
;;   one load of row d gives four keys' d-th values, so each lane's chain is the reference's
;;   sequential sum for one key. The products of two f32 are exact in f64, so only
;;   the additions round, and they round the same way.
;; - the softmax's max and exp (the host's Math.exp, imported) run over the slots in order.
;; - out[d] = Σ_j p_j · v_j[d] in slot order, sixteen d at a time (eight f64x2 accumulators;
;;   then eight, then one), each pass reading one block of V front to back.
;; Assembled into attention.wasm.gen.ts by `node scripts/gen-wasm.mjs`.
(module
  (memory (import "env" "memory") 1)
  (import "env" "exp" (func $exp (param f64) (result f64)))
  (func (export "attention")
    (param $q i32) (param $k i32) (param $v i32) (param $out i32) (param $scores i32) (param $qs i32)
    (param $T i32) (param $start i32) (param $H i32) (param $h0 i32) (param $h1 i32) (param $Kv i32) (param $hd i32)
    (param $ctx i32) (param $scale f64) (param $window i32)
    (local $t i32) (local $h i32) (local $j i32) (local $slot i32) (local $lo i32) (local $end i32)
    (local $hdb i32) (local $w4 i32) (local $d0 i32) (local $r4 i32) (local $group i32) (local $kh i32) (local $vh i32)
    (local $qo i32) (local $oo i32) (local $db i32) (local $kp i32) (local $vp i32) (local $sp i32) (local $send i32)
    (local $A v128) (local $B v128) (local $C v128) (local $D v128) (local $qv v128) (local $p v128) (local $sc v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $s f64) (local $max f64) (local $sum f64) (local $inv f64) (local $e f64)
    (local.set $hdb (i32.shl (local.get $hd) (i32.const 2)))                               ;; bytes per head row
    (local.set $group (i32.div_u (local.get $H) (local.get $Kv)))
    (local.set $sc (f64x2.splat (local.get $scale)))
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
            ;; this head's KV head: its k block [headDim, ctx] and v block [ctx, headDim]
            (local.set $kh (i32.mul (i32.div_u (local.get $h) (local.get $group)) (i32.mul (local.get $ctx) (local.get $hdb))))
            (local.set $vh (i32.add (local.get $v) (local.get $kh)))
            (local.set $kh (i32.add (local.get $k) (local.get $kh)))
            ;; qs[d] = (q[d], q[d]) in f64
            (local.set $db (i32.const 0))
            (block $qsdone
              (loop $qsloop
                (br_if $qsdone (i32.ge_u (local.get $db) (local.get $hdb)))
                (v128.store (i32.add (local.get $qs) (i32.shl (local.get $db) (i32.const 2)))
                  (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $qo) (local.get $db))))))
                (local.set $db (i32.add (local.get $db) (i32.const 4)))
                (br $qsloop)))
            (local.set $send (i32.add (local.get $qs) (i32.shl (local.get $hdb) (i32.const 2))))
            ;; ---- scores[j … j+7] = scale · q·k_j, one tile of eight keys at a time (lanes outside [lo, end) unused)
            (local.set $j (i32.and (local.get $lo) (i32.const -8)))
            (block $j8done
              (loop $j8loop
                (br_if $j8done (i32.ge_u (local.get $j) (local.get $end)))
                (local.set $kp (i32.add (local.get $kh) (i32.mul (local.get $j) (local.get $hdb))))
                ;; bytes per row of the tile: 32, or 4 · (ctx − j) for the last, narrower tile
                (local.set $w4 (i32.const 32))
                (if (i32.lt_u (i32.sub (local.get $ctx) (local.get $j)) (i32.const 8))
                  (then (local.set $w4 (i32.shl (i32.sub (local.get $ctx) (local.get $j)) (i32.const 2)))))
                (local.set $c0 (v128.const f64x2 0 0))
                (local.set $c1 (v128.const f64x2 0 0))
                (local.set $c2 (v128.const f64x2 0 0))
                (local.set $c3 (v128.const f64x2 0 0))
                (local.set $sp (local.get $qs))
                (block $ddone
                  (loop $dloop
                    (br_if $ddone (i32.ge_u (local.get $sp) (local.get $send)))
                    (local.set $A (v128.load align=4 (local.get $kp)))
                    (local.set $B (v128.load offset=16 align=4 (local.get $kp)))
                    (local.set $qv (v128.load (local.get $sp)))
                    (local.set $c0 (f64x2.add (local.get $c0) (f64x2.mul (local.get $qv) (f64x2.promote_low_f32x4 (local.get $A)))))
                    (local.set $c1 (f64x2.add (local.get $c1) (f64x2.mul (local.get $qv)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $A) (local.get $A))))))
                    (local.set $c2 (f64x2.add (local.get $c2) (f64x2.mul (local.get $qv) (f64x2.promote_low_f32x4 (local.get $B)))))
                    (local.set $c3 (f64x2.add (local.get $c3) (f64x2.mul (local.get $qv)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $B) (local.get $B))))))
                    (local.set $kp (i32.add (local.get $kp) (local.get $w4)))
                    (local.set $sp (i32.add (local.get $sp) (i32.const 16)))
                    (br $dloop)))
                (local.set $sp (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))))
                (v128.store (local.get $sp) (f64x2.mul (local.get $c0) (local.get $sc)))
                (v128.store offset=16 (local.get $sp) (f64x2.mul (local.get $c1) (local.get $sc)))
                (v128.store offset=32 (local.get $sp) (f64x2.mul (local.get $c2) (local.get $sc)))
                (v128.store offset=48 (local.get $sp) (f64x2.mul (local.get $c3) (local.get $sc)))
                (local.set $j (i32.add (local.get $j) (i32.const 8)))
                (br $j8loop)))
            ;; ---- softmax over the visible slots; scores become the probabilities
            (local.set $max (f64.const -inf))
            (local.set $j (local.get $lo))
            (block $mdone
              (loop $mloop
                (br_if $mdone (i32.ge_u (local.get $j) (local.get $end)))
                (local.set $s (f64.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3)))))
                (if (f64.gt (local.get $s) (local.get $max)) (then (local.set $max (local.get $s))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $mloop)))
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
            ;; ---- out[d] = Σ_j p_j · v_j[d], sixteen dimensions at a time
            (local.set $send (i32.add (local.get $scores) (i32.shl (local.get $end) (i32.const 3))))
            (local.set $db (i32.const 0))
            (block $o16done
              (loop $o16loop
                (br_if $o16done (i32.gt_u (i32.add (local.get $db) (i32.const 64)) (local.get $hdb)))
                (local.set $a0 (v128.const f64x2 0 0))
                (local.set $a1 (v128.const f64x2 0 0))
                (local.set $a2 (v128.const f64x2 0 0))
                (local.set $a3 (v128.const f64x2 0 0))
                (local.set $a4 (v128.const f64x2 0 0))
                (local.set $a5 (v128.const f64x2 0 0))
                (local.set $a6 (v128.const f64x2 0 0))
                (local.set $a7 (v128.const f64x2 0 0))
                (local.set $vp (i32.add (i32.add (local.get $vh) (i32.mul (local.get $ctx) (local.get $db))) (i32.shl (local.get $lo) (i32.const 6))))
                (local.set $sp (i32.add (local.get $scores) (i32.shl (local.get $lo) (i32.const 3))))
                (block $v16done
                  (loop $v16loop
                    (br_if $v16done (i32.ge_u (local.get $sp) (local.get $send)))
                    (local.set $p (v128.load64_splat (local.get $sp)))
                    (local.set $A (v128.load align=4 (local.get $vp)))
                    (local.set $B (v128.load offset=16 align=4 (local.get $vp)))
                    (local.set $C (v128.load offset=32 align=4 (local.get $vp)))
                    (local.set $D (v128.load offset=48 align=4 (local.get $vp)))
                    (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $p) (f64x2.promote_low_f32x4 (local.get $A)))))
                    (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $p)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $A) (local.get $A))))))
                    (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $p) (f64x2.promote_low_f32x4 (local.get $B)))))
                    (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $p)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $B) (local.get $B))))))
                    (local.set $a4 (f64x2.add (local.get $a4) (f64x2.mul (local.get $p) (f64x2.promote_low_f32x4 (local.get $C)))))
                    (local.set $a5 (f64x2.add (local.get $a5) (f64x2.mul (local.get $p)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $C) (local.get $C))))))
                    (local.set $a6 (f64x2.add (local.get $a6) (f64x2.mul (local.get $p) (f64x2.promote_low_f32x4 (local.get $D)))))
                    (local.set $a7 (f64x2.add (local.get $a7) (f64x2.mul (local.get $p)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $D) (local.get $D))))))
                    (local.set $vp (i32.add (local.get $vp) (i32.const 64)))
                    (local.set $sp (i32.add (local.get $sp) (i32.const 8)))
                    (br $v16loop)))
                (local.set $sp (i32.add (local.get $oo) (local.get $db)))
                (v128.store (local.get $sp) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (f32x4.demote_f64x2_zero (local.get $a0)) (f32x4.demote_f64x2_zero (local.get $a1))))
                (v128.store offset=16 (local.get $sp) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (f32x4.demote_f64x2_zero (local.get $a2)) (f32x4.demote_f64x2_zero (local.get $a3))))
                (v128.store offset=32 (local.get $sp) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (f32x4.demote_f64x2_zero (local.get $a4)) (f32x4.demote_f64x2_zero (local.get $a5))))
                (v128.store offset=48 (local.get $sp) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (f32x4.demote_f64x2_zero (local.get $a6)) (f32x4.demote_f64x2_zero (local.get $a7))))
                (local.set $db (i32.add (local.get $db) (i32.const 64)))
                (br $o16loop)))
            ;; then eight at a time
            (if (i32.le_u (i32.add (local.get $db) (i32.const 32)) (local.get $hdb))
              (then
                (local.set $a0 (v128.const f64x2 0 0))
                (local.set $a1 (v128.const f64x2 0 0))
                (local.set $a2 (v128.const f64x2 0 0))
                (local.set $a3 (v128.const f64x2 0 0))
                (local.set $vp (i32.add (i32.add (local.get $vh) (i32.mul (local.get $ctx) (local.get $db))) (i32.shl (local.get $lo) (i32.const 5))))
                (local.set $sp (i32.add (local.get $scores) (i32.shl (local.get $lo) (i32.const 3))))
                (block $v8done
                  (loop $v8loop
                    (br_if $v8done (i32.ge_u (local.get $sp) (local.get $send)))
                    (local.set $p (v128.load64_splat (local.get $sp)))
                    (local.set $A (v128.load align=4 (local.get $vp)))
                    (local.set $B (v128.load offset=16 align=4 (local.get $vp)))
                    (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $p) (f64x2.promote_low_f32x4 (local.get $A)))))
                    (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $p)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $A) (local.get $A))))))
                    (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $p) (f64x2.promote_low_f32x4 (local.get $B)))))
                    (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $p)
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $B) (local.get $B))))))
                    (local.set $vp (i32.add (local.get $vp) (i32.const 32)))
                    (local.set $sp (i32.add (local.get $sp) (i32.const 8)))
                    (br $v8loop)))
                (local.set $sp (i32.add (local.get $oo) (local.get $db)))
                (v128.store (local.get $sp) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (f32x4.demote_f64x2_zero (local.get $a0)) (f32x4.demote_f64x2_zero (local.get $a1))))
                (v128.store offset=16 (local.get $sp) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (f32x4.demote_f64x2_zero (local.get $a2)) (f32x4.demote_f64x2_zero (local.get $a3))))
                (local.set $db (i32.add (local.get $db) (i32.const 32)))))
            ;; the last headDim mod 8 dimensions (a block of r4 bytes a row from d0 on), one at a time
            (local.set $d0 (local.get $db))
            (local.set $r4 (i32.sub (local.get $hdb) (local.get $db)))
            (block $o1done
              (loop $o1loop
                (br_if $o1done (i32.ge_u (local.get $db) (local.get $hdb)))
                (local.set $s (f64.const 0))
                (local.set $vp (i32.add (i32.add (local.get $vh) (i32.mul (local.get $ctx) (local.get $d0))) (i32.add (i32.mul (local.get $lo) (local.get $r4)) (i32.sub (local.get $db) (local.get $d0)))))
                (local.set $sp (i32.add (local.get $scores) (i32.shl (local.get $lo) (i32.const 3))))
                (block $v1done
                  (loop $v1loop
                    (br_if $v1done (i32.ge_u (local.get $sp) (local.get $send)))
                    (local.set $s (f64.add (local.get $s) (f64.mul (f64.load (local.get $sp)) (f64.promote_f32 (f32.load (local.get $vp))))))
                    (local.set $vp (i32.add (local.get $vp) (local.get $r4)))
                    (local.set $sp (i32.add (local.get $sp) (i32.const 8)))
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
