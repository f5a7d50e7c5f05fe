;; Rotary position embeddings in WebAssembly, in place: the arithmetic of applyRope() in
;; rope.ts, so its bits. Each pair (a, b) of a head's first rotaryDim dimensions becomes
;; (a·c − b·s, b·c + a·s) with c, s its angle's cos and sin: the products of two f32 are exact in
;; f64, the sum rounds once in f64, then to f32, as in the reference; two lanes of f64 at a time
;; (two pairs for 'half', one for 'interleaved', where b·(−s) added is the same as b·s taken away).
;; Layouts (byte pointers): x f32 [T, nHeads, headDim]; cos, sin f32 [T, rotaryDim/2].
;; interleaved = 0: pair i is (i, i + rotaryDim/2); 1: (2i, 2i + 1).
;; Assembled into rope.wasm.gen.ts by `node scripts/gen-wasm.mjs`.
(module
  (memory (import "env" "memory") 1)
  (func (export "rope")
    (param $x i32) (param $cos i32) (param $sin i32) (param $T i32) (param $H i32) (param $hd i32) (param $rd i32) (param $interleaved i32)
    (local $t i32) (local $h i32) (local $i i32) (local $half i32) (local $hb i32) (local $o i32) (local $cs i32)
    (local $A v128) (local $B v128) (local $C v128) (local $S v128)
    (local $a f64) (local $b f64) (local $c f64) (local $s f64)
    (local.set $half (i32.shr_u (local.get $rd) (i32.const 1)))
    (local.set $hb (i32.shl (local.get $half) (i32.const 2)))                     ;; bytes of half the pairs
    (local.set $t (i32.const 0))
    (block $tdone
      (loop $tloop
        (br_if $tdone (i32.ge_u (local.get $t) (local.get $T)))
        (local.set $cs (i32.mul (local.get $t) (local.get $hb)))                 ;; this row's cos/sin, bytes
        (local.set $h (i32.const 0))
        (block $hdone
          (loop $hloop
            (br_if $hdone (i32.ge_u (local.get $h) (local.get $H)))
            (local.set $o (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $t) (local.get $H)) (local.get $h)) (local.get $hd)) (i32.const 2))))
            (local.set $i (i32.const 0))
            (if (local.get $interleaved)
              (then
                ;; (a, b) at 8i, one pair a step
                (block $idone
                  (loop $iloop
                    (br_if $idone (i32.ge_u (local.get $i) (local.get $hb)))
                    (local.set $A (f64x2.promote_low_f32x4 (v128.load64_zero align=4 (i32.add (local.get $o) (i32.shl (local.get $i) (i32.const 1))))))
                    (local.set $C (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $cos) (i32.add (local.get $cs) (local.get $i)))))))
                    (local.set $S (f64x2.mul (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $sin) (i32.add (local.get $cs) (local.get $i))))))
                      (v128.const f64x2 -1 1)))
                    (v128.store64_lane align=4 0 (i32.add (local.get $o) (i32.shl (local.get $i) (i32.const 1)))
                      (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (local.get $A) (local.get $C))
                        (f64x2.mul (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $A) (local.get $A)) (local.get $S)))))
                    (local.set $i (i32.add (local.get $i) (i32.const 4)))
                    (br $iloop))))
              (else
                ;; a at i, b at i + half: two pairs a step, then the odd one
                (block $pdone
                  (loop $ploop
                    (br_if $pdone (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $hb)))
                    (local.set $A (f64x2.promote_low_f32x4 (v128.load64_zero align=4 (i32.add (local.get $o) (local.get $i)))))
                    (local.set $B (f64x2.promote_low_f32x4 (v128.load64_zero align=4 (i32.add (i32.add (local.get $o) (local.get $hb)) (local.get $i)))))
                    (local.set $C (f64x2.promote_low_f32x4 (v128.load64_zero align=4 (i32.add (local.get $cos) (i32.add (local.get $cs) (local.get $i))))))
                    (local.set $S (f64x2.promote_low_f32x4 (v128.load64_zero align=4 (i32.add (local.get $sin) (i32.add (local.get $cs) (local.get $i))))))
                    (v128.store64_lane align=4 0 (i32.add (local.get $o) (local.get $i))
                      (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.mul (local.get $A) (local.get $C)) (f64x2.mul (local.get $B) (local.get $S)))))
                    (v128.store64_lane align=4 0 (i32.add (i32.add (local.get $o) (local.get $hb)) (local.get $i))
                      (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (local.get $B) (local.get $C)) (f64x2.mul (local.get $A) (local.get $S)))))
                    (local.set $i (i32.add (local.get $i) (i32.const 8)))
                    (br $ploop)))
                (if (i32.lt_u (local.get $i) (local.get $hb))
                  (then
                    (local.set $a (f64.promote_f32 (f32.load (i32.add (local.get $o) (local.get $i)))))
                    (local.set $b (f64.promote_f32 (f32.load (i32.add (i32.add (local.get $o) (local.get $hb)) (local.get $i)))))
                    (local.set $c (f64.promote_f32 (f32.load (i32.add (local.get $cos) (i32.add (local.get $cs) (local.get $i))))))
                    (local.set $s (f64.promote_f32 (f32.load (i32.add (local.get $sin) (i32.add (local.get $cs) (local.get $i))))))
                    (f32.store (i32.add (local.get $o) (local.get $i))
                      (f32.demote_f64 (f64.sub (f64.mul (local.get $a) (local.get $c)) (f64.mul (local.get $b) (local.get $s)))))
                    (f32.store (i32.add (i32.add (local.get $o) (local.get $hb)) (local.get $i))
                      (f32.demote_f64 (f64.add (f64.mul (local.get $b) (local.get $c)) (f64.mul (local.get $a) (local.get $s)))))))))
            (local.set $h (i32.add (local.get $h) (i32.const 1)))
            (br $hloop)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tloop)))
  )
)
