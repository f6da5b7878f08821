// Selective scan (Mamba-1 "S6", diagonal A): float64 sequential reference, forward and backward.
// It follows mamba_ssm's `selective_scan_ref` (mamba_ssm/ops/selective_scan_interface.py) with
// delta_softplus=True, delta_bias, D and z given, one B/C group, and adds an initial state h0 so that
// a long sequence can be streamed chunk by chunk (the reference starts from zeros = h0 absent). The forward
// also runs mamba_ssm's z=None and delta_softplus=False (ScanVariant below).
// It is the ground truth the float32 CPU and gpu.js versions are tested against, not a fast path:
// the backward stores every state, O(L·ED·N) float64. Its backward agrees with central finite
// differences to TOLERANCE.finiteDifference (1e-6); float32 versions are held to 1e-4 against it.
//
// Shape letters: L tokens, ED channels (expand·d_model), N state size. Token-major, one sequence.
//   u, deltaRaw, z : (L, ED)   element (t, d) at t*ED + d
//   A              : (ED, N)   already -exp(A_log): negative, so exp(δ·A) ∈ (0, 1) is a decay
//   B, C           : (L, N)    input-dependent, shared by all channels
//   D, deltaBias   : (ED)
//   h0, hL         : (ED, N)   state before token 0 / after token L-1
//
// For each channel d and state index n (paper eq. 2a/2b with zero-order-hold Ā = exp(ΔA), B̄u ≈ ΔBu):
//   δ_t      = softplus(deltaRaw_t[d] + deltaBias[d])
//   h_t[n]   = exp(δ_t·A[d,n]) · h_{t-1}[n] + δ_t · B_t[n] · u_t[d]
//   y_t      = Σ_n C_t[n] · h_t[n] + D[d] · u_t[d]
//   out_t[d] = y_t · silu(z_t[d])

/** Arguments of every selective-scan implementation; T is Float64Array here, Float32Array elsewhere. */
export interface SelectiveScanArgs<T> {
  L: number;
  ED: number;
  N: number;
  u: T; // (L, ED)
  deltaRaw: T; // (L, ED)
  A: T; // (ED, N)
  B: T; // (L, N)
  C: T; // (L, N)
  D: T; // (ED)
  z: T; // (L, ED)
  deltaBias: T; // (ED)
  /** (ED, N); absent or null = zeros */
  h0?: T | null;
}

export interface SelectiveScanResult<T> {
  out: T; // (L, ED)
  hL: T; // (ED, N)
}

export interface SelectiveScanGrads<T> {
  dU: T; // (L, ED)
  dDeltaRaw: T; // (L, ED)
  dA: T; // (ED, N)
  dB: T; // (L, N)
  dC: T; // (L, N)
  dD: T; // (ED)
  dZ: T; // (L, ED)
  dDeltaBias: T; // (ED)
  dh0: T; // (ED, N)
}

type AnyArray = Float64Array | Float32Array;

/** Throws a RangeError naming the tensor whose length does not match its shape. */
export function checkSelectiveScanArgs(a: SelectiveScanArgs<AnyArray>): void {
  const { L, ED, N } = a;
  for (const [k, v] of [['L', L], ['ED', ED], ['N', N]] as const) {
    if (!Number.isInteger(v) || v < (k === 'L' ? 0 : 1)) throw new RangeError(`selective scan: ${k} = ${v} must be a positive integer`);
  }
  const want: Array<[string, AnyArray | null | undefined, number]> = [
    ['u', a.u, L * ED], ['deltaRaw', a.deltaRaw, L * ED], ['z', a.z, L * ED], ['A', a.A, ED * N],
    ['B', a.B, L * N], ['C', a.C, L * N], ['D', a.D, ED], ['deltaBias', a.deltaBias, ED], ['h0', a.h0, ED * N],
  ];
  for (const [name, arr, n] of want) {
    if (arr == null) {
      if (name === 'h0') continue;
      throw new RangeError(`selective scan: ${name} is missing`);
    }
    if (arr.length !== n) throw new RangeError(`selective scan: ${name} has ${arr.length} elements, expected ${n} for L=${L} ED=${ED} N=${N}`);
  }
}

/**
 * softplus(x) = log(1 + e^x), as torch.nn.functional.softplus (beta 1, threshold 20): x > 20 → x.
 * Written as max(x, 0) + log1p(e^-|x|) so that neither branch overflows and small results keep
 * their relative precision (e^-|x| ≤ 1, log1p is exact-ish near 0).
 */
export function softplus(x: number): number {
  if (x > 20) return x;
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** d softplus / dx = sigmoid(x) (1 above the threshold, as torch's backward). */
export function softplusGrad(x: number): number {
  if (x > 20) return 1;
  return 1 / (1 + Math.exp(-x));
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function silu(x: number): number {
  return x * sigmoid(x);
}

/**
 * Forward variants, as mamba_ssm's selective_scan_fn arguments: `gate: false` is z=None (out = y, z not
 * read), `deltaSoftplus: false` is delta_softplus=False (δ = deltaRaw + deltaBias). Both default true, the
 * model's scan; the backward functions take the defaults only.
 */
export interface ScanVariant {
  gate?: boolean;
  deltaSoftplus?: boolean;
}

/** Forward, sequential over t. Returns out (L, ED) and the final state hL (ED, N). */
export function selectiveScanRef(a: SelectiveScanArgs<Float64Array>, v: ScanVariant = {}): SelectiveScanResult<Float64Array> {
  checkSelectiveScanArgs(a);
  const dt = v.deltaSoftplus === false ? (x: number) => x : softplus, gate = v.gate !== false;
  const { L, ED, N, u, deltaRaw, A, B, C, D, z, deltaBias } = a;
  const h = a.h0 ? Float64Array.from(a.h0) : new Float64Array(ED * N); // (ED, N) running state
  const out = new Float64Array(L * ED); // (L, ED)
  for (let t = 0; t < L; t++) {
    for (let d = 0; d < ED; d++) {
      const ut = u[t * ED + d];
      const delta = dt(deltaRaw[t * ED + d] + deltaBias[d]);
      let y = D[d] * ut;
      for (let n = 0; n < N; n++) {
        const i = d * N + n;
        h[i] = Math.exp(delta * A[i]) * h[i] + delta * B[t * N + n] * ut;
        y += C[t * N + n] * h[i];
      }
      out[t * ED + d] = gate ? y * silu(z[t * ED + d]) : y;
    }
  }
  return { out, hL: h };
}

/**
 * Backward: gradients of Σ dOut·out + Σ dhL·hL with respect to every input. It recomputes the states
 * forward (all of them, (L+1, ED, N)), then runs the recurrence in reverse. With g = ∂loss/∂h_t
 * (total, including the path through h_{t+1}), for each (t, d, n) from t = L-1 down to 0:
 *   g        += dy_t · C_t[n]                       (dy_t = dOut_t · silu(z_t), the y_t path)
 *   dδ_t     += g · (A · e^{δA} · h_{t-1} + B_t[n] · u_t)
 *   dA[d,n]  += g · δ_t · e^{δA} · h_{t-1}
 *   dB_t[n]  += g · δ_t · u_t;   du_t += g · δ_t · B_t[n];   dC_t[n] += dy_t · h_t
 *   g         = g · e^{δA}                          (into h_{t-1}; after t = 0 it is dh0)
 * then dDeltaRaw = dδ · softplus'(raw + bias), dDeltaBias = Σ_t dDeltaRaw, dz = dOut · y · silu'(z).
 */
export function selectiveScanBackwardRef(
  a: SelectiveScanArgs<Float64Array>, dOut: Float64Array, dhL?: Float64Array | null,
): SelectiveScanGrads<Float64Array> {
  checkSelectiveScanArgs(a);
  const { L, ED, N, u, deltaRaw, A, B, C, D, z, deltaBias } = a;
  if (dOut.length !== L * ED) throw new RangeError(`selective scan backward: dOut has ${dOut.length} elements, expected ${L * ED}`);
  if (dhL && dhL.length !== ED * N) throw new RangeError(`selective scan backward: dhL has ${dhL.length} elements, expected ${ED * N}`);
  const delta = new Float64Array(L * ED);
  for (let t = 0; t < L; t++) for (let d = 0; d < ED; d++) delta[t * ED + d] = softplus(deltaRaw[t * ED + d] + deltaBias[d]);
  // hs[t+1] = h_t; hs[0] = h0.  (L+1, ED, N)
  const hs = new Float64Array((L + 1) * ED * N);
  if (a.h0) hs.set(a.h0);
  const y = new Float64Array(L * ED);
  for (let t = 0; t < L; t++) {
    for (let d = 0; d < ED; d++) {
      const dl = delta[t * ED + d];
      let yt = D[d] * u[t * ED + d];
      for (let n = 0; n < N; n++) {
        const i = d * N + n;
        const h = Math.exp(dl * A[i]) * hs[t * ED * N + i] + dl * B[t * N + n] * u[t * ED + d];
        hs[(t + 1) * ED * N + i] = h;
        yt += C[t * N + n] * h;
      }
      y[t * ED + d] = yt;
    }
  }
  const g: SelectiveScanGrads<Float64Array> = {
    dU: new Float64Array(L * ED), dDeltaRaw: new Float64Array(L * ED), dA: new Float64Array(ED * N),
    dB: new Float64Array(L * N), dC: new Float64Array(L * N), dD: new Float64Array(ED),
    dZ: new Float64Array(L * ED), dDeltaBias: new Float64Array(ED), dh0: new Float64Array(ED * N),
  };
  const gh = dhL ? Float64Array.from(dhL) : new Float64Array(ED * N); // ∂loss/∂h_t, (ED, N)
  for (let t = L - 1; t >= 0; t--) {
    for (let d = 0; d < ED; d++) {
      const td = t * ED + d;
      const zt = z[td];
      const sz = sigmoid(zt);
      const dy = dOut[td] * zt * sz;
      g.dZ[td] = dOut[td] * y[td] * sz * (1 + zt * (1 - sz));
      g.dD[d] += dy * u[td];
      let du = dy * D[d];
      let dDelta = 0;
      const dl = delta[td];
      for (let n = 0; n < N; n++) {
        const i = d * N + n;
        const hPrev = hs[t * ED * N + i];
        const decay = Math.exp(dl * A[i]);
        g.dC[t * N + n] += dy * hs[(t + 1) * ED * N + i];
        const gi = gh[i] + dy * C[t * N + n];
        dDelta += gi * (A[i] * decay * hPrev + B[t * N + n] * u[td]);
        g.dA[i] += gi * dl * decay * hPrev;
        g.dB[t * N + n] += gi * dl * u[td];
        du += gi * dl * B[t * N + n];
        gh[i] = gi * decay;
      }
      g.dU[td] = du;
      const dRaw = dDelta * softplusGrad(deltaRaw[td] + deltaBias[d]);
      g.dDeltaRaw[td] = dRaw;
      g.dDeltaBias[d] += dRaw;
    }
  }
  g.dh0.set(gh);
  return g;
}
