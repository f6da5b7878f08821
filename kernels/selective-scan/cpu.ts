// Selective scan (Mamba-1, diagonal A), float32 TypeScript version: forward and a memory-bounded
// backward. Same contract as ref.ts (`selectiveScanRef`, `selectiveScanBackwardRef`; shapes there),
// Float32Array in/out; tolerance vs the float64 reference: TOLERANCE.forward / .backward (1e-4).
// Not the reference (ref.ts teaches the equation) and not parallel by itself: every function takes
// a channel range [d0, d1) so that worker threads can split the channels; channels never interact
// except through dB/dC, which each range accumulates into its own arrays (the caller sums them).
//
// Hardware-aware as in the Mamba paper §3.3.2, transposed to a CPU: one pass over L with only the
// running (ED, N) state in memory (16 KiB at ED 256, N 16: it stays in L1); token-major loops
// (t, then d, then n) read u/δ/z rows and B/C rows contiguously. Intermediate states are never
// stored per position: the forward can keep the state at chunk starts, (⌈L/chunk⌉, ED, N), and the
// backward recomputes each chunk's states from those, running the chunks in reverse.
import {
  type ScanVariant, type SelectiveScanArgs, type SelectiveScanGrads, type SelectiveScanResult, checkSelectiveScanArgs,
} from './ref.js';

/** Forward options; `gate` and `deltaSoftplus` as ScanVariant (ref.ts). */
export interface CpuScanOptions extends ScanVariant {
  /** channel range [d0, d1) to compute (default all); outputs outside it are left untouched */
  d0?: number;
  d1?: number;
  /** preallocated outputs (out (L, ED), hL (ED, N)) — lets worker ranges share one buffer */
  out?: Float32Array;
  hL?: Float32Array;
  /** if set, also return the state at the start of every chunk of this many tokens */
  chunk?: number;
}

export interface CpuScanResult extends SelectiveScanResult<Float32Array> {
  /** (⌈L/chunk⌉, ED, N): state before token c·chunk, only when options.chunk was given */
  boundaries?: Float32Array;
}

/** softplus(x) with torch's threshold 20, stable for large |x| (see ref.ts). */
function softplus(x: number): number {
  return x > 20 ? x : Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

function range(a: { ED: number }, o: { d0?: number; d1?: number }): [number, number] {
  const d0 = o.d0 ?? 0;
  const d1 = o.d1 ?? a.ED;
  if (!(Number.isInteger(d0) && Number.isInteger(d1) && 0 <= d0 && d0 <= d1 && d1 <= a.ED)) {
    throw new RangeError(`selective scan: channel range [${d0}, ${d1}) is not inside [0, ${a.ED})`);
  }
  return [d0, d1];
}

/** Forward: out (L, ED) and hL (ED, N); with options.chunk also the chunk-start states. */
export function selectiveScan(a: SelectiveScanArgs<Float32Array>, o: CpuScanOptions = {}): CpuScanResult {
  checkSelectiveScanArgs(a);
  const { L, ED, N, u, deltaRaw, A, B, C, D, z, deltaBias } = a;
  const [d0, d1] = range(a, o);
  const out = o.out ?? new Float32Array(L * ED); // (L, ED)
  const hL = o.hL ?? new Float32Array(ED * N); // (ED, N), doubles as the running state
  if (out.length !== L * ED || hL.length !== ED * N) throw new RangeError('selective scan: out/hL buffers have the wrong size');
  const h = hL;
  if (a.h0) h.set(a.h0.subarray(d0 * N, d1 * N), d0 * N);
  else h.fill(0, d0 * N, d1 * N);
  const chunk = o.chunk ?? 0;
  if (chunk && !(Number.isInteger(chunk) && chunk > 0)) throw new RangeError(`selective scan: chunk = ${chunk} must be a positive integer`);
  const boundaries = chunk ? new Float32Array(Math.ceil(L / chunk) * ED * N) : undefined; // (⌈L/chunk⌉, ED, N)
  const sp = o.deltaSoftplus !== false, gate = o.gate !== false;
  for (let t = 0; t < L; t++) {
    if (boundaries && t % chunk === 0) boundaries.set(h.subarray(d0 * N, d1 * N), (t / chunk) * ED * N + d0 * N);
    const row = t * ED;
    const bc = t * N;
    for (let d = d0; d < d1; d++) {
      const ut = u[row + d];
      const delta = sp ? softplus(deltaRaw[row + d] + deltaBias[d]) : deltaRaw[row + d] + deltaBias[d];
      const du = delta * ut;
      let y = D[d] * ut;
      const base = d * N;
      for (let n = 0; n < N; n++) {
        const hn = Math.exp(delta * A[base + n]) * h[base + n] + du * B[bc + n];
        h[base + n] = hn;
        y += C[bc + n] * hn;
      }
      const zt = z[row + d];
      out[row + d] = gate ? (y * zt) / (1 + Math.exp(-zt)) : y;
    }
  }
  return boundaries ? { out, hL, boundaries } : { out, hL };
}

export interface CpuBackwardOptions {
  d0?: number;
  d1?: number;
  /** tokens per recomputed chunk (default 64): memory O(L/chunk·ED·N + chunk·ED·N) */
  chunk?: number;
  /** chunk-start states from `selectiveScan(a, {chunk})` with the same chunk; recomputed if absent */
  boundaries?: Float32Array;
  /** preallocated gradients (all zero-filled by the caller if shared between channel ranges) */
  grads?: SelectiveScanGrads<Float32Array>;
}

export function allocGrads(L: number, ED: number, N: number): SelectiveScanGrads<Float32Array> {
  return {
    dU: new Float32Array(L * ED), dDeltaRaw: new Float32Array(L * ED), dA: new Float32Array(ED * N),
    dB: new Float32Array(L * N), dC: new Float32Array(L * N), dD: new Float32Array(ED),
    dZ: new Float32Array(L * ED), dDeltaBias: new Float32Array(ED), dh0: new Float32Array(ED * N),
  };
}

/**
 * Backward (same equations as selectiveScanBackwardRef). Chunks run last to first; inside a chunk the
 * states are recomputed forward from the stored chunk-start state into a (chunk, ED, N) buffer, then
 * walked in reverse with the running ∂loss/∂h. dB and dC are ADDED to (partial sums over [d0, d1)).
 */
export function selectiveScanBackward(
  a: SelectiveScanArgs<Float32Array>, dOut: Float32Array, dhL?: Float32Array | null, o: CpuBackwardOptions = {},
): SelectiveScanGrads<Float32Array> {
  checkSelectiveScanArgs(a);
  const { L, ED, N, u, deltaRaw, A, B, C, D, z, deltaBias } = a;
  const [d0, d1] = range(a, o);
  if (dOut.length !== L * ED) throw new RangeError(`selective scan backward: dOut has ${dOut.length} elements, expected ${L * ED}`);
  if (dhL && dhL.length !== ED * N) throw new RangeError(`selective scan backward: dhL has ${dhL.length} elements, expected ${ED * N}`);
  const T = o.chunk ?? 64;
  const nC = Math.ceil(L / T);
  const boundaries = o.boundaries ?? selectiveScan(a, { d0, d1, chunk: T }).boundaries!;
  if (boundaries.length !== nC * ED * N) throw new RangeError(`selective scan backward: boundaries has ${boundaries.length} elements, expected ${nC * ED * N} for chunk ${T}`);
  const g = o.grads ?? allocGrads(L, ED, N);
  const W = d1 - d0;
  const hs = new Float32Array((T + 1) * W * N); // states h_{t0-1..t0+T-1} of the chunk, channels d0..d1
  const ys = new Float32Array(T * W); // y (before the gate) of the chunk
  const dl = new Float32Array(T * W); // δ of the chunk
  const gh = new Float64Array(W * N); // ∂loss/∂h, running backwards
  const dA = new Float64Array(W * N);
  if (dhL) for (let i = 0; i < W * N; i++) gh[i] = dhL[d0 * N + i];
  for (let c = nC - 1; c >= 0; c--) {
    const t0 = c * T;
    const t1 = Math.min(L, t0 + T);
    hs.set(boundaries.subarray(c * ED * N + d0 * N, c * ED * N + d1 * N), 0);
    for (let t = t0; t < t1; t++) {
      const k = t - t0;
      for (let d = d0; d < d1; d++) {
        const td = t * ED + d;
        const delta = softplus(deltaRaw[td] + deltaBias[d]);
        dl[k * W + d - d0] = delta;
        const du = delta * u[td];
        let y = D[d] * u[td];
        const src = k * W * N + (d - d0) * N;
        const dst = src + W * N;
        for (let n = 0; n < N; n++) {
          const hn = Math.exp(delta * A[d * N + n]) * hs[src + n] + du * B[t * N + n];
          hs[dst + n] = hn;
          y += C[t * N + n] * hn;
        }
        ys[k * W + d - d0] = y;
      }
    }
    for (let t = t1 - 1; t >= t0; t--) {
      const k = t - t0;
      for (let d = d0; d < d1; d++) {
        const td = t * ED + d;
        const zt = z[td];
        const sz = 1 / (1 + Math.exp(-zt));
        const dy = dOut[td] * zt * sz;
        g.dZ[td] = dOut[td] * ys[k * W + d - d0] * sz * (1 + zt * (1 - sz));
        const ut = u[td];
        g.dD[d] += dy * ut;
        const delta = dl[k * W + d - d0];
        let du = dy * D[d];
        let dDelta = 0;
        const prev = k * W * N + (d - d0) * N;
        const cur = prev + W * N;
        const gb = (d - d0) * N;
        for (let n = 0; n < N; n++) {
          const Ai = A[d * N + n];
          const decay = Math.exp(delta * Ai);
          const hPrev = hs[prev + n];
          const Bn = B[t * N + n];
          g.dC[t * N + n] += dy * hs[cur + n];
          const gi = gh[gb + n] + dy * C[t * N + n];
          dDelta += gi * (Ai * decay * hPrev + Bn * ut);
          dA[gb + n] += gi * delta * decay * hPrev;
          g.dB[t * N + n] += gi * delta * ut;
          du += gi * delta * Bn;
          gh[gb + n] = gi * decay;
        }
        g.dU[td] = du;
        const x = deltaRaw[td] + deltaBias[d];
        const dRaw = x > 20 ? dDelta : dDelta / (1 + Math.exp(-x));
        g.dDeltaRaw[td] = dRaw;
        g.dDeltaBias[d] += dRaw;
      }
    }
  }
  for (let i = 0; i < W * N; i++) {
    g.dA[d0 * N + i] = dA[i];
    g.dh0[d0 * N + i] = gh[i];
  }
  return g;
}
