// Selective scan (Mamba-1, diagonal A) BACKWARD as gpu.js kernels, one output value per thread.
// Same math and outputs as ref.ts `selectiveScanBackwardRef` (gradients of Σ dOut·out + Σ dhL·hL:
// dU, dDeltaRaw, dA, dB, dC, dD, dZ, dDeltaBias, dh0); tolerance TOLERANCE.backward (1e-4).
// Not gpu.js-free (the factory receives the instance) and not streamed: one call handles one
// segment whose (⌈L/T⌉·T, ED, N) intermediates fit one storage binding (see `maxLength`); longer
// sequences must be cut by the caller (run segments last to first, passing each segment's dh0 as
// the previous one's dhL and the forward's state at the segment start as h0).
// Two entry points on one kernel set: `run(args, dOut, dhL)` takes and returns host Float32Arrays;
// `runDevice(args, dOut, dhL)` takes device handles only (webgpu `pipeline` results; B and C packed
// as x_proj's (L, R+2N) output with stride/offsets, h0 and dhL required) and returns nine fresh
// immutable gradient handles, no readback. Their (L, ·) gradients are row-padded to ⌈L/T⌉·T rows:
// the caller reads the first L rows and deletes every handle.
//
// Stages (T tokens per chunk, NC = ⌈L/T⌉ chunks; the forward stages come from gpujs.ts):
//   δ, W, S, Hillis–Steele  forward chunk-start states S (NC+1, ED, N), as the forward kernels
//   dy      (L, ED)        dOut·silu(z);  sp' (L, ED) = sigmoid(raw + bias) = softplus'
//   adjoint g_t = ∂loss/∂h_t runs backward: g_t = e^{δ_{t+1}A}·g_{t+1} + dy_t·C_t, g_{L-1} includes dhL.
//           It is linear, so the same chunked scheme runs in reverse: per (chunk, d, n) the chunk's
//           carry-out from a zero carry-in (Pre, slot NC = dhL), per-chunk Σδ (Wr), then
//           ⌈log2(NC+1)⌉ reverse Hillis–Steele passes P'[j] = P[j] + e^{A·Wr[j]}·P[j+k];
//           afterwards P[j] = ∂loss/∂(state before chunk j), so P[0] = dh0 and P[c+1] enters chunk c.
//   Hprev, G (NC·T, ED, N)  per (t, d, n) by replay inside the chunk: h_{t-1} forward from S[c],
//           g_t backward from P[c+1] (≤ T steps each) — the only O(L·ED·N) tensors kept.
//   per (t, d): y (for dZ), dZ, dU, dDeltaRaw, looping over n;  per (t, n): dB, dC, looping over d;
//   dA, dD, dDeltaBias: per-chunk partial sums, then a sum over chunks (two-stage reduction).
// Cost: the two replays are ≈ L·ED·N·T/2 exp each (T = 16: ~8× the sequential recurrence), the
// rest O(L·ED·N); memory 2·L·ED·N floats for Hprev and G.
import { type GpuHandle, type GpuJsLike, kernelSettings } from '../gpujs-types.js';
import type { SelectiveScanArgs, SelectiveScanGrads } from './ref.js';
import {
  chunkDeltaSumKernel, chunkSummaryKernel, deltaKernel, scanDeltaPassKernel, scanStatePassKernel, toFlat,
} from './gpujs.js';

type Thread3 = { thread: { x: number; y: number; z: number } };
type BwdConsts = { ED: number; N: number; T: number; NC: number; LS: number; BCS: number; BO: number; CO: number; X: number };
type K = Thread3 & { constants: BwdConsts };

// ---- kernel functions (indices inline from thread ids and Integer constants; loop bounds constants) ----

/** (L, ED) grid [ED, L]: dy = dOut·silu(z). */
export function dyKernel(this: K, dOut: number[], z: number[]): number {
  const zt = z[this.thread.y * this.constants.ED + this.thread.x];
  return (dOut[this.thread.y * this.constants.ED + this.thread.x] * zt) / (1 + Math.exp(-zt));
}

/** (L, ED) grid [ED, L]: softplus'(raw + bias) = sigmoid, 1 above torch's threshold 20. */
export function softplusGradKernel(this: K, raw: number[], bias: number[]): number {
  const x = raw[this.thread.y * this.constants.ED + this.thread.x] + bias[this.thread.x];
  if (x > 20) return 1;
  return 1 / (1 + Math.exp(-x));
}

/** (NC+1, ED) grid [ED, NC+1]: Wr[j] = Σδ over chunk j, Wr[NC] = 0 (the dhL slot). */
export function chunkDeltaSumRevKernel(this: K, delta: number[]): number {
  let s = 0;
  if (this.thread.y < this.constants.NC) {
    for (let k = 0; k < this.constants.T; k++) {
      if (this.thread.y * this.constants.T + k >= this.constants.LS) break;
      s += delta[(this.thread.y * this.constants.T + k) * this.constants.ED + this.thread.x];
    }
  }
  return s;
}

/** (NC+1, ED, N) grid [N, ED, NC+1]: Pre[j] = gradient chunk j sends to the state before it from a zero carry-in; Pre[NC] = dhL. */
export function adjointSummaryKernel(this: K, delta: number[], dy: number[], A: number[], BC: number[], dhL: number[]): number {
  if (this.thread.z === this.constants.NC) return dhL[this.thread.y * this.constants.N + this.thread.x];
  const a = A[this.thread.y * this.constants.N + this.thread.x];
  let g = 0;
  for (let j = 0; j < this.constants.T; j++) {
    if (this.thread.z * this.constants.T + this.constants.T - 1 - j < this.constants.LS) {
      const dl = delta[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.y];
      g = Math.exp(dl * a) * (g
        + dy[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.y]
          * BC[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + this.thread.x]);
    }
  }
  return g;
}

/** Reverse Hillis–Steele pass, offset k: P'[j] = P[j] + exp(A·Wr[j])·P[j+k] for j + k ≤ NC. */
export function adjointPassKernel(this: K, P: number[], W: number[], A: number[], k: number): number {
  const p = P[(this.thread.z * this.constants.ED + this.thread.y) * this.constants.N + this.thread.x];
  if (this.thread.z + k > this.constants.NC) return p;
  return p + Math.exp(A[this.thread.y * this.constants.N + this.thread.x] * W[this.thread.z * this.constants.ED + this.thread.y])
    * P[((this.thread.z + k) * this.constants.ED + this.thread.y) * this.constants.N + this.thread.x];
}

/** The same pass on the window sums: Wr'[j] = Wr[j] + Wr[j+k] for j + k ≤ NC. */
export function revDeltaPassKernel(this: K, W: number[], k: number): number {
  const w = W[this.thread.y * this.constants.ED + this.thread.x];
  if (this.thread.y + k > this.constants.NC) return w;
  return w + W[(this.thread.y + k) * this.constants.ED + this.thread.x];
}

/**
 * (NC·T, ED, N) grid [ED·N, T, NC] (x = d·N + n, y = position k in chunk z): h_{t-1}[d, n], t = z·T + k,
 * replayed from the chunk-start state S[z]. d = ⌊(x + ½)/N⌋ keeps the f32 division off integers.
 */
export function statePrevKernel(this: K, delta: number[], u: number[], A: number[], BC: number[], S: number[]): number {
  const d = Math.floor((this.thread.x + 0.5) / this.constants.N);
  const n = this.thread.x - d * this.constants.N;
  let h = S[this.thread.z * this.constants.ED * this.constants.N + this.thread.x];
  const a = A[this.thread.x];
  for (let k = 0; k < this.constants.T; k++) {
    if (k >= this.thread.y) break;
    const dl = delta[(this.thread.z * this.constants.T + k) * this.constants.ED + d];
    h = Math.exp(dl * a) * h
      + dl * BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + n]
        * u[(this.thread.z * this.constants.T + k) * this.constants.ED + d];
  }
  return h;
}

/** (NC·T, ED, N) grid [ED·N, T, NC]: g_t[d, n] replayed backward from P[z+1] (what enters chunk z from later tokens). */
export function adjointStateKernel(this: K, delta: number[], dy: number[], A: number[], BC: number[], P: number[]): number {
  const d = Math.floor((this.thread.x + 0.5) / this.constants.N);
  const n = this.thread.x - d * this.constants.N;
  let g = P[(this.thread.z + 1) * this.constants.ED * this.constants.N + this.thread.x];
  const a = A[this.thread.x];
  for (let j = 0; j < this.constants.T; j++) {
    if (this.constants.T - 1 - j < this.thread.y) break;
    if (this.thread.z * this.constants.T + this.constants.T - 1 - j < this.constants.LS) {
      g += dy[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + d]
        * BC[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + n];
      if (this.constants.T - 1 - j > this.thread.y) {
        g *= Math.exp(delta[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + d] * a);
      }
    }
  }
  return g;
}

/** (NC·T, ED) grid [ED, T, NC]: y_t = Σ_n C_t[n]·h_t[n] + D·u_t, h_t recomputed from h_{t-1}. */
export function yKernel(this: K, Hprev: number[], delta: number[], A: number[], BC: number[], u: number[], D: number[]): number {
  const dl = delta[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  const ut = u[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  let y = D[this.thread.x] * ut;
  for (let n = 0; n < this.constants.N; n++) {
    const h = Math.exp(dl * A[this.thread.x * this.constants.N + n])
      * Hprev[((this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x) * this.constants.N + n]
      + dl * BC[(this.thread.z * this.constants.T + this.thread.y) * this.constants.BCS + this.constants.BO + n] * ut;
    y += BC[(this.thread.z * this.constants.T + this.thread.y) * this.constants.BCS + this.constants.CO + n] * h;
  }
  return y;
}

/** (NC·T, ED) grid [ED, T, NC]: dZ = dOut·y·silu'(z), silu'(z) = σ(z)·(1 + z·(1 - σ(z))). */
export function dZKernel(this: K, dOut: number[], z: number[], y: number[]): number {
  const zt = z[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  const sz = 1 / (1 + Math.exp(-zt));
  return dOut[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x]
    * y[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x] * sz * (1 + zt * (1 - sz));
}

/** (NC·T, ED) grid [ED, T, NC]: dU = dy·D + δ·Σ_n g_t[n]·B_t[n]. */
export function dUKernel(this: K, G: number[], delta: number[], BC: number[], dy: number[], D: number[]): number {
  let s = 0;
  for (let n = 0; n < this.constants.N; n++) {
    s += G[((this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x) * this.constants.N + n]
      * BC[(this.thread.z * this.constants.T + this.thread.y) * this.constants.BCS + this.constants.BO + n];
  }
  return dy[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x] * D[this.thread.x]
    + delta[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x] * s;
}

/** (NC·T, ED) grid [ED, T, NC]: dDeltaRaw = softplus'·Σ_n g_t[n]·(A·e^{δA}·h_{t-1}[n] + B_t[n]·u_t). */
export function dDeltaRawKernel(this: K, G: number[], Hprev: number[], delta: number[], A: number[], BC: number[], u: number[], spg: number[]): number {
  const dl = delta[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  const ut = u[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  let s = 0;
  for (let n = 0; n < this.constants.N; n++) {
    const a = A[this.thread.x * this.constants.N + n];
    s += G[((this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x) * this.constants.N + n]
      * (a * Math.exp(dl * a) * Hprev[((this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x) * this.constants.N + n]
        + BC[(this.thread.z * this.constants.T + this.thread.y) * this.constants.BCS + this.constants.BO + n] * ut);
  }
  return s * spg[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
}

/** (NC·T, N) grid [N, T, NC]: dB_t[n] = Σ_d g_t[d, n]·δ_t[d]·u_t[d]. */
export function dBKernel(this: K, G: number[], delta: number[], u: number[]): number {
  let s = 0;
  for (let d = 0; d < this.constants.ED; d++) {
    s += G[((this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + d) * this.constants.N + this.thread.x]
      * delta[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + d]
      * u[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + d];
  }
  return s;
}

/** (NC·T, N) grid [N, T, NC]: dC_t[n] = Σ_d dy_t[d]·h_t[d, n]. */
export function dCKernel(this: K, dy: number[], Hprev: number[], delta: number[], A: number[], BC: number[], u: number[]): number {
  const b = BC[(this.thread.z * this.constants.T + this.thread.y) * this.constants.BCS + this.constants.BO + this.thread.x];
  let s = 0;
  for (let d = 0; d < this.constants.ED; d++) {
    const dl = delta[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + d];
    s += dy[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + d]
      * (Math.exp(dl * A[d * this.constants.N + this.thread.x])
        * Hprev[((this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + d) * this.constants.N + this.thread.x]
        + dl * b * u[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + d]);
  }
  return s;
}

/** (NC, ED, N) grid [ED·N, NC]: chunk y's part of dA[d, n] = Σ_t g_t·δ_t·e^{δA}·h_{t-1}. */
export function dAPartialKernel(this: K, G: number[], delta: number[], A: number[], Hprev: number[]): number {
  const d = Math.floor((this.thread.x + 0.5) / this.constants.N);
  const a = A[this.thread.x];
  let s = 0;
  for (let k = 0; k < this.constants.T; k++) {
    if (this.thread.y * this.constants.T + k >= this.constants.LS) break;
    const dl = delta[(this.thread.y * this.constants.T + k) * this.constants.ED + d];
    s += G[(this.thread.y * this.constants.T + k) * this.constants.ED * this.constants.N + this.thread.x] * dl * Math.exp(dl * a)
      * Hprev[(this.thread.y * this.constants.T + k) * this.constants.ED * this.constants.N + this.thread.x];
  }
  return s;
}

/** (NC, ED) grid [ED, NC]: chunk y's part of dD[d] = Σ_t dy_t·u_t. */
export function dDPartialKernel(this: K, dy: number[], u: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.T; k++) {
    if (this.thread.y * this.constants.T + k >= this.constants.LS) break;
    s += dy[(this.thread.y * this.constants.T + k) * this.constants.ED + this.thread.x] * u[(this.thread.y * this.constants.T + k) * this.constants.ED + this.thread.x];
  }
  return s;
}

/** (NC, ED) grid [ED, NC]: chunk y's row sum of an (L, ED) tensor (dDeltaBias from dDeltaRaw). */
export function chunkRowSumKernel(this: K, M: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.T; k++) {
    if (this.thread.y * this.constants.T + k >= this.constants.LS) break;
    s += M[(this.thread.y * this.constants.T + k) * this.constants.ED + this.thread.x];
  }
  return s;
}

/** (X) grid [X]: Σ over the NC chunk partials of an (NC, X) tensor. */
export function sumChunksKernel(this: K, P: number[]): number {
  let s = 0;
  for (let c = 0; c < this.constants.NC; c++) s += P[c * this.constants.X + this.thread.x];
  return s;
}

/** (ED, N) grid [N, ED]: dh0 = P[0]. */
export function firstSlotKernel(this: K, P: number[]): number {
  return P[this.thread.y * this.constants.N + this.thread.x];
}

// ---- host-side driver ----

export interface GpuScanBackwardOptions {
  ED: number;
  N: number;
  /** tokens per chunk (default 16) */
  chunk?: number;
  /** largest storage binding in bytes (default 128 MiB, lavapipe's limit) */
  maxBindingBytes?: number;
}

/** A gpu.js device handle (webgpu `pipeline` result): what `runDevice` takes and returns. */
export type ScanHandle = GpuHandle;

/**
 * Inputs of `runDevice`, every tensor a device handle. B and C come packed as one (L, bcStride)
 * tensor `BC` with B at columns [bOffset, bOffset+N) and C at [cOffset, cOffset+N) — x_proj's output
 * (L, R+2N) as is: bcStride R+2N, bOffset R, cOffset R+N (the forward's GpuScanArgs convention).
 */
export interface GpuScanBackwardDeviceArgs {
  L: number;
  ED: number;
  N: number;
  /** (L, ED) */ u: ScanHandle; deltaRaw: ScanHandle; z: ScanHandle;
  /** (L, bcStride) */ BC: ScanHandle;
  bcStride: number;
  bOffset: number;
  cOffset: number;
  /** (ED, N), already −exp(A_log) */ A: ScanHandle;
  /** (ED) */ D: ScanHandle; deltaBias: ScanHandle;
  /** (ED, N) state before token 0 (pass zeros for none) */ h0: ScanHandle;
}

/**
 * Gradients as device handles, each its own immutable buffer (the caller deletes every one).
 * dU, dDeltaRaw, dZ are (⌈L/T⌉·T, ED) and dB, dC (⌈L/T⌉·T, N): row-padded to whole chunks; only
 * the first L rows are meaningful (the padding rows hold unspecified values).
 */
export interface GpuScanGradHandles {
  dU: ScanHandle; dDeltaRaw: ScanHandle; dZ: ScanHandle;
  dB: ScanHandle; dC: ScanHandle;
  dA: ScanHandle; dD: ScanHandle; dDeltaBias: ScanHandle; dh0: ScanHandle;
}

const isHandle = (x: unknown): boolean => !!x && !ArrayBuffer.isView(x) && typeof (x as { toArray?: unknown }).toArray === 'function';
const handleSize = (x: unknown): number | null => {
  const o = (x as { output?: number[] }).output;
  return Array.isArray(o) ? o.reduce((p, v) => p * v, 1) : null;
};

type Tensor = unknown; // Float32Array (host path) or a device handle
interface Inputs { u: Tensor; raw: Tensor; z: Tensor; BC: Tensor; A: Tensor; D: Tensor; bias: Tensor; h0: Tensor; dOut: Tensor; dhL: Tensor }

export function createSelectiveScanBackwardKernels(gpu: GpuJsLike, opts: GpuScanBackwardOptions) {
  const { ED, N } = opts;
  const T = opts.chunk ?? 16;
  if (!(Number.isInteger(T) && T > 0)) throw new RangeError(`selective scan backward: chunk = ${T} must be a positive integer`);
  const maxBindingBytes = opts.maxBindingBytes ?? 128 * 2 ** 20;
  /** Longest L one call accepts: the (⌈L/T⌉·T, ED, N) replays must fit a binding, NC+1 ≤ 65,535 grid rows. */
  const maxLength = Math.max(0, Math.min(Math.floor(maxBindingBytes / 4 / (ED * N * T)), Math.floor(maxBindingBytes / 4 / (2 * N * T)), 65534) * T);
  const cache = new Map<string, any>();
  const kinds = (xs: unknown[]) => xs.map((x) => (isHandle(x) ? 'h' : ArrayBuffer.isView(x) ? 'a' : 'n')).join('');

  /**
   * Builds (once per shape, role, argument kinds and immutability) and calls a kernel; every output
   * stays on the device. `keep`: a fresh output buffer per call (results handed to the caller).
   */
  function call(role: string, fn: Function, output: number[], c: BwdConsts, args: unknown[], argumentTypes?: Record<string, string>, keep = false) {
    const key = `${role}|${output.join('x')}|${JSON.stringify(c)}|${kinds(args)}|${keep}`;
    let k = cache.get(key);
    if (!k) {
      k = gpu.createKernel(fn, { ...kernelSettings(output, c as unknown as Record<string, number>), pipeline: true, immutable: keep, ...(argumentTypes ? { argumentTypes } : {}) });
      cache.set(key, k);
    }
    return k(...args);
  }

  /**
   * All stages for one sequence of L ≥ 1 tokens. Intermediates live in kernel-owned buffers reused by
   * the next call (calls are queued); `keep` makes the nine gradients fresh immutable buffers.
   */
  async function stages(L: number, a: Inputs, bc: { BCS: number; BO: number; CO: number }, keep: boolean) {
    const NC = Math.ceil(L / T);
    const c: BwdConsts = { ED, N, T, NC, LS: L, ...bc, X: 0 };
    const pass = (P: string): Record<string, string> => (P === 'S' ? { S: 'Array', W: 'Array', A: 'Array', k: 'Integer' } : P === 'P' ? { P: 'Array', W: 'Array', A: 'Array', k: 'Integer' } : { W: 'Array', k: 'Integer' });
    // forward chunk-start states, as gpujs.ts: S[c] = state before chunk c
    const delta = await call('delta', deltaKernel, [ED, L], c, [a.raw, a.bias]); // (L, ED)
    let W = await call('wsum', chunkDeltaSumKernel, [ED, NC + 1], c, [delta]);
    let S = await call('summary', chunkSummaryKernel, [N, ED, NC + 1], c, [delta, a.u, a.A, a.BC, a.h0]); // (NC+1, ED, N)
    for (let k = 1, p = 0; k < NC + 1; k *= 2, p++) {
      // ping-pong instances: a kernel must not read the buffer it writes
      S = await call(`spass${p % 2}`, scanStatePassKernel, [N, ED, NC + 1], c, [S, W, a.A, k], pass('S'));
      if (2 * k < NC + 1) W = await call(`wpass${p % 2}`, scanDeltaPassKernel, [ED, NC + 1], c, [W, k], pass('W'));
    }
    // adjoint chunk carries, reverse scan: P[j] = ∂loss/∂(state before chunk j)
    const dy = await call('dy', dyKernel, [ED, L], c, [a.dOut, a.z]); // (L, ED)
    const spg = await call('spg', softplusGradKernel, [ED, L], c, [a.raw, a.bias]); // (L, ED)
    let Wr = await call('wrsum', chunkDeltaSumRevKernel, [ED, NC + 1], c, [delta]);
    let P = await call('adjsum', adjointSummaryKernel, [N, ED, NC + 1], c, [delta, dy, a.A, a.BC, a.dhL]); // (NC+1, ED, N)
    for (let k = 1, p = 0; k < NC + 1; k *= 2, p++) {
      P = await call(`ppass${p % 2}`, adjointPassKernel, [N, ED, NC + 1], c, [P, Wr, a.A, k], pass('P'));
      if (2 * k < NC + 1) Wr = await call(`rpass${p % 2}`, revDeltaPassKernel, [ED, NC + 1], c, [Wr, k], pass('W'));
    }
    // per-position states and adjoints by replay inside each chunk
    const Hprev = await call('hprev', statePrevKernel, [ED * N, T, NC], c, [delta, a.u, a.A, a.BC, S]); // (NC·T, ED, N)
    const G = await call('adj', adjointStateKernel, [ED * N, T, NC], c, [delta, dy, a.A, a.BC, P]); // (NC·T, ED, N)
    // outputs
    const y = await call('y', yKernel, [ED, T, NC], c, [Hprev, delta, a.A, a.BC, a.u, a.D]); // (NC·T, ED)
    const dZ = await call('dZ', dZKernel, [ED, T, NC], c, [a.dOut, a.z, y], undefined, keep);
    const dU = await call('dU', dUKernel, [ED, T, NC], c, [G, delta, a.BC, dy, a.D], undefined, keep);
    const dRaw = await call('dRaw', dDeltaRawKernel, [ED, T, NC], c, [G, Hprev, delta, a.A, a.BC, a.u, spg], undefined, keep); // (NC·T, ED)
    const dB = await call('dB', dBKernel, [N, T, NC], c, [G, delta, a.u], undefined, keep);
    const dC = await call('dC', dCKernel, [N, T, NC], c, [dy, Hprev, delta, a.A, a.BC, a.u], undefined, keep);
    const dAp = await call('dAp', dAPartialKernel, [ED * N, NC], c, [G, delta, a.A, Hprev]);
    const dDp = await call('dDp', dDPartialKernel, [ED, NC], c, [dy, a.u]);
    const dBp = await call('dBiasp', chunkRowSumKernel, [ED, NC], c, [dRaw]);
    const dA = await call('dA', sumChunksKernel, [ED * N], { ...c, X: ED * N }, [dAp], undefined, keep);
    const dD = await call('dD', sumChunksKernel, [ED], { ...c, X: ED }, [dDp], undefined, keep);
    const dDeltaBias = await call('dBias', sumChunksKernel, [ED], { ...c, X: ED }, [dBp], undefined, keep);
    const dh0 = await call('dh0', firstSlotKernel, [N, ED], c, [P], undefined, keep);
    return { dU, dDeltaRaw: dRaw, dZ, dB, dC, dA, dD, dDeltaBias, dh0 };
  }

  async function runNow(a: SelectiveScanArgs<Float32Array>, dOut: Float32Array, dhL?: Float32Array | null): Promise<SelectiveScanGrads<Float32Array>> {
    const { L } = a;
    if (a.ED !== ED || a.N !== N) throw new RangeError(`selective scan backward: kernels built for ED=${ED} N=${N}, called with ED=${a.ED} N=${a.N}`);
    const sizes: Array<[string, Float32Array | null | undefined, number]> = [
      ['u', a.u, L * ED], ['deltaRaw', a.deltaRaw, L * ED], ['z', a.z, L * ED], ['A', a.A, ED * N], ['D', a.D, ED],
      ['deltaBias', a.deltaBias, ED], ['h0', a.h0, ED * N], ['B', a.B, L * N], ['C', a.C, L * N], ['dOut', dOut, L * ED], ['dhL', dhL, ED * N],
    ];
    for (const [name, x, n] of sizes) {
      if (x != null && x.length !== n) throw new RangeError(`selective scan backward: ${name} has ${x.length} elements, expected ${n} for L=${L} ED=${ED} N=${N}`);
    }
    if (L > maxLength) throw new RangeError(`selective scan backward: L=${L} exceeds one call (${maxLength} tokens at ED=${ED} N=${N} chunk=${T}); run it in segments, last first, carrying dh0 → dhL`);
    const h0 = a.h0 ?? new Float32Array(ED * N);
    const gL = dhL ?? new Float32Array(ED * N);
    if (L === 0) {
      return {
        dU: new Float32Array(0), dDeltaRaw: new Float32Array(0), dA: new Float32Array(ED * N), dB: new Float32Array(0),
        dC: new Float32Array(0), dD: new Float32Array(ED), dZ: new Float32Array(0), dDeltaBias: new Float32Array(ED), dh0: Float32Array.from(gL),
      };
    }
    const BC = new Float32Array(L * 2 * N); // (L, 2N): B then C per token, as the forward packs them
    for (let t = 0; t < L; t++) {
      BC.set(a.B.subarray(t * N, t * N + N), t * 2 * N);
      BC.set(a.C.subarray(t * N, t * N + N), t * 2 * N + N);
    }
    const r = await stages(L, { u: a.u, raw: a.deltaRaw, z: a.z, BC, A: a.A, D: a.D, bias: a.deltaBias, h0, dOut, dhL: gL }, { BCS: 2 * N, BO: 0, CO: N }, false);
    return {
      dU: await toFlat(r.dU, L * ED), dDeltaRaw: await toFlat(r.dDeltaRaw, L * ED), dA: await toFlat(r.dA, ED * N),
      dB: await toFlat(r.dB, L * N), dC: await toFlat(r.dC, L * N), dD: await toFlat(r.dD, ED), dZ: await toFlat(r.dZ, L * ED),
      dDeltaBias: await toFlat(r.dDeltaBias, ED), dh0: await toFlat(r.dh0, ED * N),
    };
  }

  async function runDeviceNow(a: GpuScanBackwardDeviceArgs, dOut: ScanHandle, dhL: ScanHandle): Promise<GpuScanGradHandles> {
    const { L } = a;
    if (a.ED !== ED || a.N !== N) throw new RangeError(`selective scan backward: kernels built for ED=${ED} N=${N}, called with ED=${a.ED} N=${a.N}`);
    if (!(Number.isInteger(L) && L >= 1)) throw new RangeError(`selective scan backward: device path needs L ≥ 1 (got ${L})`);
    if (L > maxLength) throw new RangeError(`selective scan backward: L=${L} exceeds one call (${maxLength} tokens at ED=${ED} N=${N} chunk=${T}); run it in segments, last first, carrying dh0 → dhL`);
    const { bcStride, bOffset, cOffset } = a;
    if (![bcStride, bOffset, cOffset].every((v) => Number.isInteger(v) && v >= 0) || bOffset + N > bcStride || cOffset + N > bcStride) {
      throw new RangeError(`selective scan backward: BC layout stride=${bcStride} bOffset=${bOffset} cOffset=${cOffset} does not hold N=${N} columns each`);
    }
    const need: Array<[string, unknown, number]> = [
      ['u', a.u, L * ED], ['deltaRaw', a.deltaRaw, L * ED], ['z', a.z, L * ED], ['BC', a.BC, L * bcStride], ['A', a.A, ED * N],
      ['D', a.D, ED], ['deltaBias', a.deltaBias, ED], ['h0', a.h0, ED * N], ['dOut', dOut, L * ED], ['dhL', dhL, ED * N],
    ];
    for (const [name, x, n] of need) {
      if (!isHandle(x)) throw new RangeError(`selective scan backward: runDevice needs ${name} as a device handle (pipeline result)`);
      const size = handleSize(x);
      if (size !== null && size < n) throw new RangeError(`selective scan backward: ${name} holds ${size} values, expected ≥ ${n} for L=${L} ED=${ED} N=${N}`);
    }
    return (await stages(L, { u: a.u, raw: a.deltaRaw, z: a.z, BC: a.BC, A: a.A, D: a.D, bias: a.deltaBias, h0: a.h0, dOut, dhL }, { BCS: bcStride, BO: bOffset, CO: cOffset }, true)) as GpuScanGradHandles;
  }

  // every kernel owns one output buffer reused by the next call: calls are queued, never overlapped
  let queue: Promise<unknown> = Promise.resolve();
  function enqueue<R>(f: () => Promise<R>): Promise<R> {
    const next = queue.then(f);
    queue = next.catch(() => undefined);
    return next;
  }
  /** Gradients of Σ dOut·out + Σ dhL·hL for host (Float32Array) inputs of one sequence, L ≤ maxLength. */
  function run(a: SelectiveScanArgs<Float32Array>, dOut: Float32Array, dhL?: Float32Array | null): Promise<SelectiveScanGrads<Float32Array>> {
    return enqueue(() => runNow(a, dOut, dhL));
  }
  /**
   * The same on device handles (webgpu `pipeline` mode), no host round trip: dOut (L, ED), dhL (ED, N)
   * handles; returns fresh immutable gradient handles (GpuScanGradHandles: the caller deletes each;
   * dU, dDeltaRaw, dZ, dB, dC row-padded to ⌈L/chunk⌉·chunk rows). Resolves once the work is
   * submitted; later calls are ordered after it on the device queue. 1 ≤ L ≤ maxLength.
   */
  function runDevice(a: GpuScanBackwardDeviceArgs, dOut: ScanHandle, dhL: ScanHandle): Promise<GpuScanGradHandles> {
    return enqueue(() => runDeviceNow(a, dOut, dhL));
  }

  return { run, runDevice, chunk: T, maxLength };
}
