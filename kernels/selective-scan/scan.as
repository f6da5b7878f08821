// Selective scan forward (Mamba-1 S6, diagonal A) in WebAssembly SIMD (AssemblyScript, f32x4).
// Same contract and semantics as `selectiveScan` in ./cpu.ts (equations and shapes: ./ref.ts,
// selectiveScanRef): channel range [d0, d1), optional h0, caller-owned out (L, ED) and hL (ED, N).
// The forward keeps no chunk-boundary states (callers that need them run it chunk by chunk); the
// backward (selectiveScanBackward, at the end) mirrors cpu.ts's chunked recompute.
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
import { K_20, K_LOG2E, K_ONE, exp2v, expv, kv, softplusv, siluv } from '../simd-math';

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

// ---------------------------------------------------------------------------------------------------
// Backward: the same equations and order as `selectiveScanBackward` in ./cpu.ts (selectiveScanBackwardRef
// in ./ref.ts). Chunks of T tokens run last to first; a chunk's states are recomputed forward from its
// stored start state (boundaries, (⌈L/T⌉, ED, N)) into hs, then walked in reverse with the running
// ∂loss/∂h (gh). Vectorised over N (one channel's 4 states per f32x4; N % 4 leftovers on lane 0); the
// per-(t, d) softplus and sigmoids over 4 channels at a time into per-chunk / per-token rows.
// Accumulation in float32 (cpu.ts: gh and dA in float64). dB, dC, dD, dDeltaBias are ADDED to.
// Scratch (floats, all inside `scratch`): hs (T+1)·W·N, ys T·W, dl T·W, gh W·N, dA W·N, sz W, sx W
// with W = d1 − d0 (scanBackwardScratchFloats).

/** σ(x) for 4 lanes. */
function sigmoidv(x: v128): v128 {
  return f32x4.div(kv(K_ONE), f32x4.add(kv(K_ONE), expv(f32x4.neg(x))));
}

export function scanBackwardScratchFloats(T: i32, W: i32, N: i32): i32 {
  return (T + 1) * W * N + 2 * T * W + 2 * W * N + 2 * W + 32;
}

/** x rounded up to 16 bytes */
function al(x: usize): usize {
  return (x + 15) & ~(<usize>15);
}

function lane0(v: v128): f32 {
  return f32x4.extract_lane(v, 0);
}

export function selectiveScanBackward(
  L: i32, ED: i32, N: i32, u: usize, deltaRaw: usize, A: usize, B: usize, C: usize, D: usize, z: usize, deltaBias: usize,
  dOut: usize, dhL: usize, boundaries: usize, T: i32, scratch: usize,
  dU: usize, dDeltaRaw: usize, dA: usize, dB: usize, dC: usize, dD: usize, dZ: usize, dDeltaBias: usize, dh0: usize,
  d0: i32, d1: i32,
): void {
  const W = d1 - d0;
  const WN = <usize>(W * N);
  const rowN = <usize>N << 2;
  const rowE = <usize>ED << 2;
  const N4 = N & ~3;
  // scratch layout, each part 16-byte aligned

  const hs = al(scratch);
  const ys = al(hs + <usize>(T + 1) * WN * 4);
  const dl = al(ys + <usize>(T * W) * 4);
  const gh = al(dl + <usize>(T * W) * 4);
  const dAa = al(gh + WN * 4);
  const szr = al(dAa + WN * 4);
  const sxr = al(szr + <usize>W * 4);
  const log2e = kv(K_LOG2E);
  const zero = f32x4.splat(0);
  for (let i: usize = 0; i < WN; i++) {
    store<f32>(gh + (i << 2), dhL != 0 ? load<f32>(dhL + ((<usize>(d0 * N) + i) << 2)) : 0);
    store<f32>(dAa + (i << 2), 0);
  }
  const nC = (L + T - 1) / T;
  for (let c = nC - 1; c >= 0; c--) {
    const t0 = c * T;
    const t1 = min(L, t0 + T);
    memory.copy(hs, boundaries + ((<usize>c * <usize>ED * <usize>N + <usize>(d0 * N)) << 2), WN * 4);
    // recompute: δ per (t, d), states h_t into hs[k+1], y (before the gate) into ys
    for (let t = t0; t < t1; t++) {
      const k = t - t0;
      const row = <usize>t * rowE;
      const Bt = B + <usize>t * rowN, Ct = C + <usize>t * rowN;
      const dlk = dl + <usize>(k * W) * 4;
      let d = d0;
      for (; d + 4 <= d1; d += 4) {
        const o = <usize>d << 2;
        v128.store(dlk + (<usize>(d - d0) << 2), softplusv(f32x4.add(v128.load(deltaRaw + row + o), v128.load(deltaBias + o))));
      }
      for (; d < d1; d++) {
        const o = <usize>d << 2;
        store<f32>(dlk + (<usize>(d - d0) << 2), lane0(softplusv(f32x4.splat(load<f32>(deltaRaw + row + o) + load<f32>(deltaBias + o)))));
      }
      for (d = d0; d < d1; d++) {
        const o = <usize>d << 2;
        const delta = load<f32>(dlk + (<usize>(d - d0) << 2));
        const ut = load<f32>(u + row + o);
        const dlv = f32x4.splat(delta * lane0(log2e));
        const duv = f32x4.splat(delta * ut);
        const Ad = A + <usize>d * rowN;
        const src = hs + (<usize>k * WN + <usize>(d - d0) * <usize>N) * 4;
        const dst = src + WN * 4;
        let acc = zero;
        let n = 0;
        for (; n < N4; n += 4) {
          const on = <usize>n << 2;
          const hn = f32x4.add(f32x4.mul(exp2v(f32x4.mul(dlv, v128.load(Ad + on))), v128.load(src + on)), f32x4.mul(duv, v128.load(Bt + on)));
          v128.store(dst + on, hn);
          acc = f32x4.add(acc, f32x4.mul(v128.load(Ct + on), hn));
        }
        let y = load<f32>(D + o) * ut + (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
        for (; n < N; n++) {
          const on = <usize>n << 2;
          const e = lane0(exp2v(f32x4.splat(lane0(dlv) * load<f32>(Ad + on))));
          const hn = e * load<f32>(src + on) + delta * ut * load<f32>(Bt + on);
          store<f32>(dst + on, hn);
          y += load<f32>(Ct + on) * hn;
        }
        store<f32>(ys + (<usize>(k * W + d - d0) << 2), y);
      }
    }
    // reverse walk
    for (let t = t1 - 1; t >= t0; t--) {
      const k = t - t0;
      const row = <usize>t * rowE;
      const Bt = B + <usize>t * rowN, Ct = C + <usize>t * rowN;
      const dBt = dB + <usize>t * rowN, dCt = dC + <usize>t * rowN;
      let d = d0;
      for (; d + 4 <= d1; d += 4) {
        const o = <usize>d << 2, w = <usize>(d - d0) << 2;
        v128.store(szr + w, sigmoidv(v128.load(z + row + o)));
        const x = f32x4.add(v128.load(deltaRaw + row + o), v128.load(deltaBias + o));
        v128.store(sxr + w, v128.bitselect(kv(K_ONE), sigmoidv(x), f32x4.gt(x, kv(K_20))));
      }
      for (; d < d1; d++) {
        const o = <usize>d << 2, w = <usize>(d - d0) << 2;
        store<f32>(szr + w, lane0(sigmoidv(f32x4.splat(load<f32>(z + row + o)))));
        const x = load<f32>(deltaRaw + row + o) + load<f32>(deltaBias + o);
        store<f32>(sxr + w, x > 20 ? 1 : lane0(sigmoidv(f32x4.splat(x))));
      }
      for (d = d0; d < d1; d++) {
        const o = <usize>d << 2, w = <usize>(d - d0) << 2;
        const zt = load<f32>(z + row + o);
        const sz = load<f32>(szr + w);
        const g = load<f32>(dOut + row + o);
        const dy = g * zt * sz;
        store<f32>(dZ + row + o, g * load<f32>(ys + (<usize>(k * W) << 2) + w) * sz * (1 + zt * (1 - sz)));
        const ut = load<f32>(u + row + o);
        store<f32>(dD + o, load<f32>(dD + o) + dy * ut);
        const delta = load<f32>(dl + (<usize>(k * W) << 2) + w);
        const Ad = A + <usize>d * rowN;
        const prev = hs + (<usize>k * WN + <usize>(d - d0) * <usize>N) * 4;
        const cur = prev + WN * 4;
        const ghd = gh + <usize>(d - d0) * rowN, dAd = dAa + <usize>(d - d0) * rowN;
        const dyv = f32x4.splat(dy), dlv = f32x4.splat(delta), dl2 = f32x4.splat(delta * lane0(log2e));
        const utv = f32x4.splat(ut), dut = f32x4.splat(delta * ut);
        let duv = zero, ddv = zero;
        let n = 0;
        for (; n < N4; n += 4) {
          const on = <usize>n << 2;
          const Ai = v128.load(Ad + on);
          const decay = exp2v(f32x4.mul(dl2, Ai));
          const hPrev = v128.load(prev + on);
          const Bn = v128.load(Bt + on);
          v128.store(dCt + on, f32x4.add(v128.load(dCt + on), f32x4.mul(dyv, v128.load(cur + on))));
          const gi = f32x4.add(v128.load(ghd + on), f32x4.mul(dyv, v128.load(Ct + on)));
          const dh = f32x4.mul(decay, hPrev);
          ddv = f32x4.add(ddv, f32x4.mul(gi, f32x4.add(f32x4.mul(Ai, dh), f32x4.mul(Bn, utv))));
          v128.store(dAd + on, f32x4.add(v128.load(dAd + on), f32x4.mul(f32x4.mul(gi, dlv), dh)));
          v128.store(dBt + on, f32x4.add(v128.load(dBt + on), f32x4.mul(gi, dut)));
          duv = f32x4.add(duv, f32x4.mul(gi, Bn));
          v128.store(ghd + on, f32x4.mul(gi, decay));
        }
        let du = (f32x4.extract_lane(duv, 0) + f32x4.extract_lane(duv, 1)) + (f32x4.extract_lane(duv, 2) + f32x4.extract_lane(duv, 3));
        let dDelta = (f32x4.extract_lane(ddv, 0) + f32x4.extract_lane(ddv, 1)) + (f32x4.extract_lane(ddv, 2) + f32x4.extract_lane(ddv, 3));
        for (; n < N; n++) {
          const on = <usize>n << 2;
          const Ai = load<f32>(Ad + on);
          const decay = lane0(exp2v(f32x4.splat(lane0(dl2) * Ai)));
          const hPrev = load<f32>(prev + on);
          const Bn = load<f32>(Bt + on);
          store<f32>(dCt + on, load<f32>(dCt + on) + dy * load<f32>(cur + on));
          const gi = load<f32>(ghd + on) + dy * load<f32>(Ct + on);
          dDelta += gi * (Ai * decay * hPrev + Bn * ut);
          store<f32>(dAd + on, load<f32>(dAd + on) + gi * delta * decay * hPrev);
          store<f32>(dBt + on, load<f32>(dBt + on) + gi * delta * ut);
          du += gi * Bn;
          store<f32>(ghd + on, gi * decay);
        }
        store<f32>(dU + row + o, dy * load<f32>(D + o) + du * delta);
        const dRaw = dDelta * load<f32>(sxr + w);
        store<f32>(dDeltaRaw + row + o, dRaw);
        store<f32>(dDeltaBias + o, load<f32>(dDeltaBias + o) + dRaw);
      }
    }
  }
  memory.copy(dA + (<usize>(d0 * N) << 2), dAa, WN * 4);
  memory.copy(dh0 + (<usize>(d0 * N) << 2), gh, WN * 4);
}
