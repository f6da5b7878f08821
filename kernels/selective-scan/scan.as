// Selective scan forward (Mamba-1 S6, diagonal A) in WebAssembly SIMD (AssemblyScript, f32x4).
// Same contract and semantics as `selectiveScan` in ./cpu.ts (equations and shapes: ./ref.ts,
// selectiveScanRef): channel range [d0, d1), optional h0, caller-owned out (L, ED) and hL (ED, N).
// Not the backward, and no chunk-boundary states (the backward's cpu.ts path recomputes them).
// Tolerance vs the float64 reference: TOLERANCE.forward (1e-4 relative; measured ~1e-6, see
// test/kernels/simd.test.ts). Compiled by scripts/build-wasm.mjs to dist/kernels/selective-scan/scan.wasm
// (`.as` so that tsc ignores it); arguments are byte offsets into the imported shared memory (./wasm.ts).
//
// Vectorised over the N states: h[d, n..n+3] is one f32x4, so N = 16 is 4 vectors per channel and
// exp(δ·A) costs one vector exp per 4 states; N % 4 leftovers use the same exp on one lane.
// Per (t, d) work (softplus, the SiLU gate) is vectorised over 4 channels at a time; a channel range
// not a multiple of 4 finishes one channel at a time. Loop order is cpu.ts's (t, then d, then n): the
// running state (ED, N) stays in L1 and every row read is contiguous.
//
// exp, softplus, SiLU: ../simd-math.as (accuracy there).
import { K_LOG2E, exp2v, kv, softplusv, siluv } from '../simd-math';

/** Horizontal sums of a, b, c, d → [Σa, Σb, Σc, Σd]. */
function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7)); // a02 b02 a13 b13
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

/** h ← e^{δA}·h + δu·B for one state vector (4 states) at byte offset o; returns the new h. */
function update(h: usize, A: usize, B: v128, o: usize, dl: v128, du: v128): v128 {
  const hn = f32x4.add(f32x4.mul(exp2v(f32x4.mul(dl, v128.load(A + o))), v128.load(h + o)), f32x4.mul(du, B));
  v128.store(h + o, hn);
  return hn;
}

/**
 * One channel's states n0 … N-1 for one token: h ← e^{δA}·h + δu·B, returns Σ_n C·h as an f32x4
 * whose lane sum is the answer. dl = splat(δ·log2 e), du = splat(δ·u). N % 4 leftovers use lane 0.
 */
function channel(h: usize, A: usize, B: usize, C: usize, n0: i32, N: i32, dl: v128, du: v128): v128 {
  let acc = f32x4.splat(0);
  let n = n0;
  for (; n + 4 <= N; n += 4) {
    const o = <usize>n << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(C + o), update(h, A, v128.load(B + o), o, dl, du)));
  }
  for (; n < N; n++) {
    const o = <usize>n << 2;
    const e = exp2v(f32x4.mul(dl, v128.load32_splat(A + o)));
    const hn = f32x4.add(f32x4.mul(e, v128.load32_splat(h + o)), f32x4.mul(du, v128.load32_splat(B + o)));
    store<f32>(h + o, f32x4.extract_lane(hn, 0));
    acc = f32x4.add(acc, v128.and(f32x4.mul(v128.load32_splat(C + o), hn), i32x4(-1, 0, 0, 0)));
  }
  return acc;
}

/**
 * Forward over channels [d0, d1). hL must already hold h0 for those channels (or zeros); it is the
 * running state and ends as h_{L-1}. out (L, ED) gets channels [d0, d1) of every token.
 */
export function selectiveScan(
  L: i32, ED: i32, N: i32, u: usize, deltaRaw: usize, A: usize, B: usize, C: usize, D: usize, z: usize,
  deltaBias: usize, out: usize, hL: usize, d0: i32, d1: i32,
): void {
  const rowN = <usize>N << 2;
  const log2e = kv(K_LOG2E);
  for (let t = 0; t < L; t++) {
    const row = <usize>t * (<usize>ED << 2);
    const Bt = B + <usize>t * rowN;
    const Ct = C + <usize>t * rowN;
    let d = d0;
    for (; d + 4 <= d1; d += 4) {
      const o = <usize>d << 2;
      const ut = v128.load(u + row + o);
      const delta = softplusv(f32x4.add(v128.load(deltaRaw + row + o), v128.load(deltaBias + o)));
      const dl = f32x4.mul(delta, log2e);
      const du = f32x4.mul(delta, ut);
      const h = hL + <usize>d * rowN;
      const Ad = A + <usize>d * rowN;
      const l0 = v128.shuffle<f32>(dl, dl, 0, 0, 0, 0), l1 = v128.shuffle<f32>(dl, dl, 1, 1, 1, 1);
      const l2 = v128.shuffle<f32>(dl, dl, 2, 2, 2, 2), l3 = v128.shuffle<f32>(dl, dl, 3, 3, 3, 3);
      const u0 = v128.shuffle<f32>(du, du, 0, 0, 0, 0), u1 = v128.shuffle<f32>(du, du, 1, 1, 1, 1);
      const u2 = v128.shuffle<f32>(du, du, 2, 2, 2, 2), u3 = v128.shuffle<f32>(du, du, 3, 3, 3, 3);
      // The 4 channels' state vectors interleaved: 4 independent exp chains side by side for the
      // out-of-order core, and B, C loaded once for all 4.
      let y0 = f32x4.splat(0), y1 = f32x4.splat(0), y2 = f32x4.splat(0), y3 = f32x4.splat(0);
      let n = 0;
      for (; n + 4 <= N; n += 4) {
        const on = <usize>n << 2;
        const Bn = v128.load(Bt + on), Cn = v128.load(Ct + on);
        y0 = f32x4.add(y0, f32x4.mul(Cn, update(h, Ad, Bn, on, l0, u0)));
        y1 = f32x4.add(y1, f32x4.mul(Cn, update(h + rowN, Ad + rowN, Bn, on, l1, u1)));
        y2 = f32x4.add(y2, f32x4.mul(Cn, update(h + 2 * rowN, Ad + 2 * rowN, Bn, on, l2, u2)));
        y3 = f32x4.add(y3, f32x4.mul(Cn, update(h + 3 * rowN, Ad + 3 * rowN, Bn, on, l3, u3)));
      }
      if (n < N) {
        y0 = f32x4.add(y0, channel(h, Ad, Bt, Ct, n, N, l0, u0));
        y1 = f32x4.add(y1, channel(h + rowN, Ad + rowN, Bt, Ct, n, N, l1, u1));
        y2 = f32x4.add(y2, channel(h + 2 * rowN, Ad + 2 * rowN, Bt, Ct, n, N, l2, u2));
        y3 = f32x4.add(y3, channel(h + 3 * rowN, Ad + 3 * rowN, Bt, Ct, n, N, l3, u3));
      }
      const y = f32x4.add(hsum4(y0, y1, y2, y3), f32x4.mul(v128.load(D + o), ut));
      v128.store(out + row + o, f32x4.mul(y, siluv(v128.load(z + row + o))));
    }
    // Leftover channels one at a time (lane 0), with the same arithmetic.
    for (; d < d1; d++) {
      const o = <usize>d << 2;
      const ut = v128.load32_splat(u + row + o);
      const delta = softplusv(f32x4.add(v128.load32_splat(deltaRaw + row + o), v128.load32_splat(deltaBias + o)));
      const acc = channel(hL + <usize>d * rowN, A + <usize>d * rowN, Bt, Ct, 0, N, f32x4.mul(delta, log2e), f32x4.mul(delta, ut));
      const y = f32x4.add(hsum4(acc, acc, acc, acc), f32x4.mul(v128.load32_splat(D + o), ut));
      store<f32>(out + row + o, f32x4.extract_lane(f32x4.mul(y, siluv(v128.load32_splat(z + row + o))), 0));
    }
  }
}
