// Selective scan (Mamba-1, diagonal A) BACKWARD as gpu.js kernels, one output value per thread.
// Same math and outputs as ref.ts `selectiveScanBackwardRef` (gradients of Σ dOut·out + Σ dhL·hL:
// dU, dDeltaRaw, dA, dB, dC, dD, dZ, dDeltaBias, dh0); tolerance TOLERANCE.backward (1e-4).
// Not gpu.js-free (the factory receives the instance) and not streamed: one call handles one
// segment of L ≤ `maxLength` tokens (524,280 at ED 256, N 16, chunk 8 on 2 GiB bindings; 61,680 on
// lavapipe's 128 MiB); longer sequences are cut by the caller (segments last to first, each
// segment's dh0 as the previous one's dhL, the forward's state at the segment start as h0).
// Two entry points on one kernel set: `run(args, dOut, dhL)` takes and returns host Float32Arrays;
// `runDevice(args, dOut, dhL, {profile?})` takes device handles only (webgpu `pipeline` results; B and
// C packed as x_proj's (L, R+2N) output with stride/offsets, h0 and dhL required) and returns nine
// fresh immutable gradient handles, no readback. Their (L, ·) gradients are row-padded to ⌈L/T⌉·T
// rows: the caller reads the first L rows and deletes every handle.
//
// Scheme 'tree' (default where N ≤ 32 and chunk ≤ 64; T tokens per chunk, default 8, NC = ⌈L/T⌉).
// No (L, ED, N) tensor is ever stored: every per-position state h_t and adjoint g_t = ∂loss/∂h_t is
// recomputed in registers from a chunk boundary. Tensors per level are laid out (count, slot, ED) so
// that consecutive threads (x = d) touch consecutive floats. Stages:
//   δ, dy     (L, ED)          softplus(raw + bias), dOut·silu(z), materialised once
//   forward tree (gpujs.ts kernels: leaf, up, top, down)  →  S (NC, N, ED) state entering chunk c
//   reverse tree, the mirror image: leaf = chunk c's carry-out from a zero carry-in
//             (g = e^{δA}(g + dy·C) walked from the chunk's end to its start), up = combine children
//             right to left (s = v + e^{A·Σδ}·s; Σδ read from the forward tree's slot N), top = dhL
//             walked back over the top groups right of each (slot NT = dh0), down  →  P (NC, N, ED)
//             carry entering chunk c from the right (∂loss/∂ state after chunk c, from later tokens)
//   outputs, generated for the given N and T with the N states in scalar locals, one output per thread:
//     dZ (t, d)     forward replay S[c] → h_t;  y = Σ C·h + D·u;  dZ = dOut·y·silu'(z)
//     dU (t, d)     backward replay P[c] → g_t; dU = dy·D + δ·Σ_n g_t·B_t
//     dRaw (t, d)   both replays (T exps per n over disjoint ranges); softplus' = 1 − e^{−δ}
//     dC, dB (t, n) loop over d with a one-state replay each (Σ_d dy·h_t, Σ_d g_t·δ·u); 'quad': the
//                   d loop split over up to 16 threads, their partials summed while unblocked
//     dA            per (group of K chunks, d, n): forward walk keeping T states, backward walk;
//                   partials summed over groups (row-sum stages of ≤ 64 rows)
//     dD, dΔbias    row sums of dy·u and of dRaw; dh0 = slot NT of the reverse top, transposed
//   on webgpu (layout 'quad', scattered stores) most of these are whole-chunk threads instead
//   (bwdQuadSources): dZ and dU walk a chunk once per (chunk, d); dΔraw, dA and dU come from ONE kernel
//   per (K chunks, d) that walks forward keeping e^{δA}·h_{t−1} for the chunk, then backward (2 exps per
//   (t, d, n)); dC and dB walk a d block side by side per (chunk, n, block). H100 2^20: 41.1 ms, 32.8
//   from the forward's saved tree (docs/decisions/selective-scan.md, "Fused backward")
// ≈ 29 exps per (t, d, n) (≈ 37 counting each warp's longest replay; forward ≈ 6–7.5) and ≈ 67 GiB
// moved per 2^20 tokens at ED 256, N 16, T 8 (the forward ≈ 19); on
// the H100 at 2^20: 136–161 ms against the forward's 38–42 (3.6–3.8×; the earlier design 393 ms).
// Costs, profile, the variants measured slower ('warp' layout, sub-chunk starts, T = 4/16) and why:
// docs/decisions/selective-scan.md ("gpu.js backward").
// Independent windows (`window`, tree only, as the forward's): the forward tree's kernels cut at window
// starts, and the reverse leaf of a window's first chunk is 0, so with its Σδ = WINDOW_CUT no adjoint
// crosses into the window before; the per-position kernels start from those S and P unchanged.
// `saved` (runDevice's run options): what the forward of the same inputs kept (gpujs.ts `save`): δ and
// the forward tree are taken from it instead of recomputed (H100 2^20: 125.5 → 109.4 ms).
// Scheme 'hillis-steele' (N > 32 or chunk > 64, the earlier design): Hillis–Steele passes for S and P
// and per-position replays Hprev, G of shape (NC·T, ED, N) — 2·L·ED·N floats.
import { flatView, type GpuHandle, type GpuJsLike, kernelSettings, laneStrides, laneView, quadLoadHelpers, scatterFloats, scatterHelpers, scatterView } from '../gpujs-types.js';
import type { SelectiveScanArgs, SelectiveScanGrads } from './ref.js';
import {
  chunkDeltaSumKernel, chunkSummaryKernel, deltaKernel, idiv, iint, integerHelpers, scanDeltaPassKernel, scanStatePassKernel, toFlat,
  leafSlots, nodeChunks, TREE_MAX_N, treeDownKernel, treeDownQuadKernel, treeFinalKernel, treeLeafFullKernel, treeLeafKernel, treeLeafQuadKernel, treeLevels, treeTopKernel, treeUpKernel,
  windowChunks, type GpuScanSaved,
} from './gpujs.js';

type Thread3 = { thread: { x: number; y: number; z: number } };
type BwdConsts = { ED: number; N: number; T: number; NC: number; LS: number; BCS: number; BO: number; CO: number; X: number };
type K = Thread3 & { constants: BwdConsts };

// ---- scheme 'hillis-steele' kernels (N > 32; indices inline from thread ids and Integer constants) ----

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


// ---- scheme 'tree' kernels ----
// Constants: the forward tree's (ED, N, N1 = N+1, T, LS, BCS, BO, CO, G = fan-in, CC = children,
// NT = top groups) plus NP = N+1 (row of the params tensor [A | D]), K (chunks per dA thread), and
// R, X, GR for the row sums. Loops have constant trip counts with the update predicated (no
// data-dependent `break`; loads past the end are clamped by WebGPU's robust access and ignored).
type TreeBwdConsts = {
  ED: number; N: number; N1: number; T: number; TED: number; LS: number; BCS: number; BO: number; CO: number;
  G: number; CC: number; NT: number; NP: number; K: number; R: number; X: number; GR: number; GM4: number;
  /** sub-chunks: U tokens each, V = T/U per chunk, TU = T − U; d-blocks DB of EB channels; EDH = ED/8 */
  U: number; V: number; TU: number; DB: number; EB: number; EDH: number;
  /** independent windows, as the forward tree's (gpujs.ts TreeConsts): chunks per window, chunks per node */
  WC: number; NS: number;
  /** first float of the rows rowSumKernel / rowSumFinalTKernel sum (the fused dΔraw/dA kernel's partials follow its rows) */
  M0: number;
  /** first float of dy in the buffer the dy-reading kernels get (0; with dy from the dZ kernel, the dZ rows come first) */
  YO: number;
};
type KT = Thread3 & { constants: TreeBwdConsts };

/** (ED, N+1) grid [N+1, ED]: params row per channel, [A[d, 0..N-1], D[d]] (lets dZ stay within 7 arguments). */
export function paramsKernel(this: KT, A: number[], D: number[]): number {
  if (this.thread.x < this.constants.N) return A[this.thread.y * this.constants.N + this.thread.x];
  return D[this.thread.y];
}

/**
 * Reverse leaf, grid [ED, N, NC]: chunk c's carry-out to the state before it from a zero carry-in,
 * g = e^{δ_t A}·(g + dy_t·C_t[n]) for t from the chunk's last token down to its first. Layout (NC, N, ED).
 */
export function revLeafKernel(this: KT, delta: number[], dy: number[], A: number[], BC: number[]): number {
  if (this.constants.WC > 0 && this.thread.z % this.constants.WC === 0) return 0; // a window's first chunk: its start state is not an input
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  let g = 0;
  for (let j = 0; j < this.constants.T; j++) {
    const dl = delta[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.x];
    const dk = dy[this.constants.YO + (this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.x];
    const c = BC[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + this.thread.y];
    if (this.thread.z * this.constants.T + this.constants.T - 1 - j < this.constants.LS) g = Math.exp(dl * a) * (g + dk * c);
  }
  return g;
}

/** revLeafKernel for LS a multiple of T: no predicate. */
export function revLeafFullKernel(this: KT, delta: number[], dy: number[], A: number[], BC: number[]): number {
  if (this.constants.WC > 0 && this.thread.z % this.constants.WC === 0) return 0; // as revLeafKernel
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  let g = 0;
  for (let j = 0; j < this.constants.T; j++) {
    const dl = delta[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.x];
    g = Math.exp(dl * a) * (g
      + dy[this.constants.YO + (this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.x]
        * BC[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + this.thread.y]);
  }
  return g;
}

/**
 * revLeafKernel with four states per thread (N a multiple of 4): grid [ED, N/4, NC], returning
 * `Array(4)` for n = 4y … 4y+3; δ and dy loaded once for the four. Stored with laneStrides(1, 4·ED,
 * N·ED, ED) into revLeafKernel's (NC, N, ED). Tokens past LS are skipped.
 */
export function revLeafQuadKernel(this: KT, delta: number[], dy: number[], A: number[], BC: number[]): number[] {
  if (this.constants.WC > 0 && this.thread.z % this.constants.WC === 0) return [0, 0, 0, 0]; // as revLeafKernel
  const a0 = A[this.thread.x * this.constants.N + this.thread.y * 4];
  const a1 = A[this.thread.x * this.constants.N + this.thread.y * 4 + 1];
  const a2 = A[this.thread.x * this.constants.N + this.thread.y * 4 + 2];
  const a3 = A[this.thread.x * this.constants.N + this.thread.y * 4 + 3];
  let g0 = 0;
  let g1 = 0;
  let g2 = 0;
  let g3 = 0;
  for (let j = 0; j < this.constants.T; j++) {
    const dl = delta[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.x];
    const dk = dy[this.constants.YO + (this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.x];
    const c0 = BC[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + this.thread.y * 4];
    const c1 = BC[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + this.thread.y * 4 + 1];
    const c2 = BC[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + this.thread.y * 4 + 2];
    const c3 = BC[(this.thread.z * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + this.thread.y * 4 + 3];
    if (this.thread.z * this.constants.T + this.constants.T - 1 - j < this.constants.LS) {
      g0 = Math.exp(dl * a0) * (g0 + dk * c0);
      g1 = Math.exp(dl * a1) * (g1 + dk * c1);
      g2 = Math.exp(dl * a2) * (g2 + dk * c2);
      g3 = Math.exp(dl * a3) * (g3 + dk * c3);
    }
  }
  return [g0, g1, g2, g3];
}

/**
 * revLeafKernel with a whole chunk per thread (webgpu, storeAt): grid [ED, NC], thread (d, c) walks
 * chunk c backward once for all N states and stores them into revLeafKernel's (NC, N, ED); δ and dy
 * (from float YO) loaded once per (t, d). Tokens past LS are skipped unless `full`. `quadC`: C_t read as
 * N/4 quads of 16 bytes (loadBC4; constants BCS4, CO4); `prefetch`: token t−1's δ, dy (and quads) loaded
 * while t is computed (as the forward's whole-chunk kernels, ChunkWalkVariant; the chunk's last step loads
 * the row before it, or before the inputs where robust access clamps: never used).
 */
export function revLeafChunkKernelSource(N: number, full: boolean, v: { quadC?: boolean; prefetch?: boolean } = {}): string {
  if (v.quadC && N % 4 !== 0) throw new RangeError(`selective scan backward: 16-byte loads of C need N a multiple of 4, got ${N}`);
  const c = 'this.constants';
  const ns = Array.from({ length: N }, (_, n) => n);
  const d = 'this.thread.x';
  const rowOf = (j: string) => `(this.thread.y * ${c}.T + ${c}.T - 1 - ${j})`;
  const row = rowOf('j');
  const loads = (r: string): string[][] => [
    ['dl', `delta[${r} * ${c}.ED + ${d}]`], ['dk', `dy[${c}.YO + ${r} * ${c}.ED + ${d}]`],
    ...(v.quadC ? Array.from({ length: N / 4 }, (_, q) => [`cq${q}`, `loadBC4(${r} * ${c}.BCS4 + ${c}.CO4 + ${q})`]) : []),
  ];
  const Cn = (n: number) => (v.quadC ? `cq${n >> 2}[${n & 3}]` : `BC[${row} * ${c}.BCS + ${c}.CO + ${n}]`);
  const step = ns.map((n) => `g${n} = Math.exp(dl * a${n}) * (g${n} + dk * ${Cn(n)});`);
  return [
    'function revLeafChunkKernel(delta, dy, A, BC) {',
    ...ns.map((n) => `  let g${n} = 0;`),
    ...ns.map((n) => `  const a${n} = A[${d} * ${c}.N + ${n}];`),
    ...(v.prefetch ? loads(rowOf('0')).map(([x, e]) => `  let ${x}N = ${e};`) : []),
    `  for (let j = 0; j < ${c}.T; j++) {`,
    ...(v.prefetch
      ? [...loads(row).map(([x]) => `    const ${x} = ${x}N;`), ...loads(rowOf('(j + 1)')).map(([x, e]) => `    ${x}N = ${e};`)]
      : loads(row).map(([x, e]) => `    const ${x} = ${e};`)),
    ...(full ? step.map((l) => `    ${l}`) : [`    if (${row} < ${c}.LS) {`, ...step.map((l) => `      ${l}`), '    }']),
    '  }',
    `  if (${c}.WC > 0 && this.thread.y % ${c}.WC === 0) {`, // as revLeafKernel: a window's first chunk
    ...ns.map((n) => `    g${n} = 0;`),
    '  }',
    ...ns.map((n) => `  storeAt((this.thread.y * ${c}.N + ${n}) * ${c}.ED + ${d}, g${n});`),
    '  return 0;',
    '}',
  ].join('\n');
}

/**
 * dZ and dy from the forward's saved pre-gate output y (webgpu, storeAt), grid [ED, T, NC]: per (t, d)
 * dZ = dOut·y·silu'(z) at row t, dy = dOut·silu(z) at YO + row t; y read from float YF of its buffer.
 * Element-wise: no walk through the chunk (bwdDZYChunkKernel recomputes y with 16 exps per (t, d)).
 */
export const DZ_FROM_Y_SOURCE = [
  'function bwdDZFromYKernel(y, z, dOut) {',
  '  const zt = z[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];',
  '  const ot = dOut[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];',
  '  const sg = 1 / (1 + Math.exp(-zt));',
  '  storeAt((this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x,',
  '    ot * y[this.constants.YF + (this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x] * sg * (1 + zt * (1 - sg)));',
  '  storeAt(this.constants.YO + (this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x, ot * zt * sg);',
  '  return 0;',
  '}',
].join('\n');

/**
 * Reverse up one level, grid [ED, N, count]: a group's carry-out from a zero carry-in, combining its
 * children right to left, s = v_i + e^{A·W_i}·s (v from the reverse level below, W = Σδ from the
 * forward tree's slot N of the same level). Layout (count, N, ED).
 */
export function revUpKernel(this: KT, Rc: number[], Sc: number[], A: number[]): number {
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  let s = 0;
  for (let i = 0; i < this.constants.G; i++) {
    const w = Sc[((this.thread.z * this.constants.G + this.constants.G - 1 - i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Rc[((this.thread.z * this.constants.G + this.constants.G - 1 - i) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
    if (this.thread.z * this.constants.G + this.constants.G - 1 - i < this.constants.CC) s = v + Math.exp(a * w) * s;
  }
  return s;
}

/**
 * Reverse top, grid [ED, N, NT+1]: slot j < NT = the carry entering top group j from the right, dhL
 * walked back through groups NT−1 … j+1; slot NT = dhL walked through every group = dh0.
 * Layout (NT+1, N, ED).
 */
export function revTopKernel(this: KT, Rt: number[], St: number[], A: number[], dhL: number[]): number {
  let s = dhL[this.thread.x * this.constants.N + this.thread.y];
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  for (let i = 0; i < this.constants.NT; i++) {
    const w = St[((this.constants.NT - 1 - i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Rt[((this.constants.NT - 1 - i) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
    if (this.constants.NT - 1 - i > this.thread.z || this.thread.z === this.constants.NT) s = v + Math.exp(a * w) * s;
  }
  return s;
}

/**
 * Reverse down one level, grid [ED, N, CC] (z = child c, parent p = ⌊c/G⌋): the carry entering child c
 * from the right = the parent's, walked back through the siblings after c. Layout (CC, N, ED); at
 * level 0, P[c] = what enters chunk c from later tokens (dhL included).
 */
export function revDownKernel(this: KT, Rp: number[], Rc: number[], Sc: number[], A: number[]): number {
  let s = Rp[(idiv(this.thread.z, this.constants.G) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  for (let i = 0; i < this.constants.G; i++) {
    const w = Sc[((idiv(this.thread.z, this.constants.G) * this.constants.G + this.constants.G - 1 - i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Rc[((idiv(this.thread.z, this.constants.G) * this.constants.G + this.constants.G - 1 - i) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
    if (idiv(this.thread.z, this.constants.G) * this.constants.G + this.constants.G - 1 - i > this.thread.z
      && idiv(this.thread.z, this.constants.G) * this.constants.G + this.constants.G - 1 - i < this.constants.CC) s = v + Math.exp(a * w) * s;
  }
  return s;
}

/**
 * revDownKernel with four children per thread (the mirror of gpujs.ts treeDownQuadKernel): grid
 * [ED, N, counts[l]·G/4] (z = quarter q of parent ⌊4q/G⌋), returning `Array(4)`, the carries entering
 * children 4q … 4q+3 — the parent's carry walked back through its later children (G − 4 predicated
 * steps), then through the thread's own from the last, each summary loaded once per thread. Stored
 * with laneStrides(1, ED, 4·N·ED, N·ED) into (4·threads, N, ED); children past CC are skipped in the
 * walk and their rows never read.
 */
export function revDownQuadKernel(this: KT, Rp: number[], Rc: number[], Sc: number[], A: number[]): number[] {
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  const p = idiv(this.thread.z * 4, this.constants.G); // the parent (small: exact in a local)
  let s = Rp[(iint(p) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  for (let i = 0; i < this.constants.GM4; i++) {
    const c = iint(p) * this.constants.G + this.constants.G - 1 - i; // a child: small, exact in a local, but
    // every local is f32 and c·N1·ED passes 2^24: indices take it back through iint
    const w = Sc[(iint(c) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Rc[(iint(c) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
    if (c > this.thread.z * 4 + 3 && c < this.constants.CC) s = v + Math.exp(a * w) * s;
  }
  const r3 = s;
  const w3 = Sc[((this.thread.z * 4 + 3) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
  const v3 = Rc[((this.thread.z * 4 + 3) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  if (this.thread.z * 4 + 3 < this.constants.CC) s = v3 + Math.exp(a * w3) * s;
  const r2 = s;
  const w2 = Sc[((this.thread.z * 4 + 2) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
  const v2 = Rc[((this.thread.z * 4 + 2) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  if (this.thread.z * 4 + 2 < this.constants.CC) s = v2 + Math.exp(a * w2) * s;
  const r1 = s;
  const w1 = Sc[((this.thread.z * 4 + 1) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
  const v1 = Rc[((this.thread.z * 4 + 1) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  if (this.thread.z * 4 + 1 < this.constants.CC) s = v1 + Math.exp(a * w1) * s;
  return [s, r1, r2, r3];
}

/** Row sums, grid [X, ⌈R/GR⌉]: out[r, x] = Σ_{i<GR} M[M0 + (r·GR + i)·X + x] over rows < R. */
export function rowSumKernel(this: KT, M: number[]): number {
  let s = 0;
  for (let i = 0; i < this.constants.GR; i++) {
    const v = M[this.constants.M0 + (this.thread.y * this.constants.GR + i) * this.constants.X + this.thread.x];
    if (this.thread.y * this.constants.GR + i < this.constants.R) s += v;
  }
  return s;
}

/** First stage of Σ_t P·Q, grid [X, ⌈R/GR⌉]: out[r, x] = Σ_i P[YO + (r·GR + i)·X + x]·Q[r·GR + i, x] (dD = Σ_t dy·u). */
export function rowDotKernel(this: KT, P: number[], Q: number[]): number {
  let s = 0;
  for (let i = 0; i < this.constants.GR; i++) {
    const v = P[this.constants.YO + (this.thread.y * this.constants.GR + i) * this.constants.X + this.thread.x] * Q[(this.thread.y * this.constants.GR + i) * this.constants.X + this.thread.x];
    if (this.thread.y * this.constants.GR + i < this.constants.R) s += v;
  }
  return s;
}

/** Last stage, grid [X]: Σ of the R ≤ GR rows from float M0. */
export function rowSumFinalKernel(this: KT, M: number[]): number {
  let s = 0;
  for (let i = 0; i < this.constants.GR; i++) {
    const v = M[this.constants.M0 + i * this.constants.X + this.thread.x];
    if (i < this.constants.R) s += v;
  }
  return s;
}

/** Last stage of dA, grid [ED·N] (x = d·N + n): Σ of the R ≤ GR rows of (R, N, ED) partials from M0, transposed to (ED, N). */
export function rowSumFinalTKernel(this: KT, M: number[]): number {
  let s = 0;
  for (let i = 0; i < this.constants.GR; i++) {
    const v = M[this.constants.M0 + (i * this.constants.N + this.thread.x - idiv(this.thread.x, this.constants.N) * this.constants.N) * this.constants.ED + idiv(this.thread.x, this.constants.N)];
    if (i < this.constants.R) s += v;
  }
  return s;
}

/**
 * Forward tree, last level down fused with the sub-chunk walk, grid [ED, N, NC·V] (z = c·V + v): the
 * state entering sub-chunk v (tokens c·T + v·U …) of chunk c = the parent's start walked through the
 * siblings before chunk c (leaf summaries), then through tokens c·T … c·T + v·U − 1. With no tree
 * level (NC ≤ 64) the parent is the top (G = 1: no siblings). Layout (NC·V, N, ED).
 */
export function downSubKernel(this: KT, Sp: number[], Sc: number[], delta: number[], u: number[], A: number[], BC: number[]): number {
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  let s = Sp[(idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  for (let i = 0; i < this.constants.G; i++) {
    const w = Sc[((idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.G + i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Sc[((idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.G + i) * this.constants.N1 + this.thread.y) * this.constants.ED + this.thread.x];
    if (idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.G + i < idiv(this.thread.z, this.constants.V)) s = Math.exp(a * w) * s + v;
  }
  for (let k = 0; k < this.constants.TU; k++) {
    if (k < (this.thread.z - idiv(this.thread.z, this.constants.V) * this.constants.V) * this.constants.U) {
      const dl = delta[(idiv(this.thread.z, this.constants.V) * this.constants.T + k) * this.constants.ED + this.thread.x];
      s = Math.exp(dl * a) * s + dl * u[(idiv(this.thread.z, this.constants.V) * this.constants.T + k) * this.constants.ED + this.thread.x]
        * BC[(idiv(this.thread.z, this.constants.V) * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.y];
    }
  }
  return s;
}

/**
 * Reverse tree, last level down fused with the sub-chunk walk, grid [ED, N, NC·V]: the carry entering
 * sub-chunk v of chunk c from the right = the parent's carry walked back through the siblings after c,
 * then through tokens from the chunk's end down to c·T + (v+1)·U. Layout (NC·V, N, ED).
 */
export function revDownSubKernel(this: KT, Rp: number[], Rc: number[], Sc: number[], delta: number[], dy: number[], A: number[], BC: number[]): number {
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  let s = Rp[(idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  for (let i = 0; i < this.constants.G; i++) {
    const w = Sc[((idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.G + this.constants.G - 1 - i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Rc[((idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.G + this.constants.G - 1 - i) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
    if (idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.G + this.constants.G - 1 - i > idiv(this.thread.z, this.constants.V)
      && idiv(idiv(this.thread.z, this.constants.V), this.constants.G) * this.constants.G + this.constants.G - 1 - i < this.constants.CC) s = v + Math.exp(a * w) * s;
  }
  for (let j = 0; j < this.constants.TU; j++) {
    if (this.constants.T - 1 - j >= (this.thread.z - idiv(this.thread.z, this.constants.V) * this.constants.V + 1) * this.constants.U
      && idiv(this.thread.z, this.constants.V) * this.constants.T + this.constants.T - 1 - j < this.constants.LS) {
      const dl = delta[(idiv(this.thread.z, this.constants.V) * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.x];
      s = Math.exp(dl * a) * (s + dy[(idiv(this.thread.z, this.constants.V) * this.constants.T + this.constants.T - 1 - j) * this.constants.ED + this.thread.x]
        * BC[(idiv(this.thread.z, this.constants.V) * this.constants.T + this.constants.T - 1 - j) * this.constants.BCS + this.constants.CO + this.thread.y]);
    }
  }
  return s;
}

/** (NCs·U, N) grid [N, U, NCs]: Σ over the DB d-block partials (layout (t, DB, N)) of dB or dC. */
export function blockSumKernel(this: KT, M: number[]): number {
  let s = 0;
  for (let b = 0; b < this.constants.DB; b++) {
    s += M[((this.thread.z * this.constants.T + this.thread.y) * this.constants.DB + b) * this.constants.N + this.thread.x];
  }
  return s;
}

/** Largest chunk the scalar-register kernels are generated for (beyond: scheme 'hillis-steele'). */
export const BWD_TREE_MAX_T = 64;

/**
 * Grid layouts of the per-position kernels over NCs sub-chunks of U tokens (both write the (NCs·U, W)
 * row-major layout):
 * '3d': (t, d) kernels [ED, U, NCs] (x = d, y = position k, z = sub-chunk: no division; a warp of 8×4
 * threads spans 4 positions and runs the longest of their replays); (t, n) kernels [N, U, NCs] looping
 * over every d.
 * 'warp' (needs 8 | ED; warps uniform in k when 32 | ED): (t, d) kernels [8, U·ED/8, NCs] with
 * d = (y mod ED/8)·8 + x, k = ⌊y / (ED/8)⌋, so a warp is 32 channels of one position; (t, n) kernels
 * [N, U·DB, NCs] with k = ⌊y / DB⌋, d-block b = y mod DB looping over d = j·DB + b (a warp is 8 n × 4
 * blocks of one position, its 4 d's adjacent), then a sum over the DB partials.
 */
export type BwdLayout = '3d' | 'warp' | 'quad';
/** d-blocks of the 'warp' layout's (t, n) kernels (a multiple of 4: 4 rows of a warp share k). */
export const BWD_DBLOCKS = 8;

function layoutExprs(layout: BwdLayout, W: 'ED' | 'N') {
  const c = 'this.constants';
  if (layout === '3d') return { col: 'this.thread.x', pos: 'this.thread.y', chunk: 'this.thread.z', blk: '0' };
  const H = W === 'ED' ? `${c}.EDH` : `${c}.DB`;
  const pos = `idiv(this.thread.y, ${H})`;
  const rest = `(this.thread.y - ${pos} * ${H})`;
  return W === 'ED'
    ? { col: `(${rest} * 8 + this.thread.x)`, pos, chunk: 'this.thread.z', blk: '0' }
    : { col: 'this.thread.x', pos, chunk: 'this.thread.z', blk: rest };
}
function layoutOf(layout: BwdLayout, W: 'ED' | 'N') {
  const e = layoutExprs(layout, W);
  const t0 = `${e.chunk} * this.constants.T`;
  return { ...e, t0, t: `(${t0} + ${e.pos})` };
}

/** Grid of a per-position kernel over NCs sub-chunks of U tokens, W columns (ED, or N with `blocks` d-blocks). */
export function bwdGrid(layout: BwdLayout, W: number, U: number, NCs: number, blocks = 1): number[] {
  if (layout === '3d') return [W, U, NCs];
  return blocks > 1 ? [W, U * blocks, NCs] : [8, (U * W) / 8, NCs];
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * gpu.js sources of the tree scheme's per-position kernels, generated for N states (scalar locals:
 * gpu.js local arrays hold ≤ 4 values), replay chunks of T tokens (the sub-chunk U of the driver: the
 * constants passed in say T = U), a grid layout and whether the segment is a whole number of chunks
 * (`full`: no token predicate in the backward replays). Follows selectiveScanBackwardRef:
 * h_t = e^{δA}h_{t-1} + δ·B_t·u_t forward from S[c]; g_t = dy_t·C_t + e^{δ_{t+1}A}·g_{t+1} backward from
 * P[c]; per-(t, d): dZ, dU, dRaw, δ, dy; per-(t, n): dC, dB (partials per d-block in 'warp'); per
 * (group of K chunks, d, n): dA. `hoist`: the replays of dZ, dU, dRaw load B_k / C_k before the
 * predicate instead of inside it.
 */
export function bwdTreeSources(N: number, T: number, layout: BwdLayout, full: boolean, hoist = false) {
  if (!(Number.isInteger(N) && N >= 1 && N <= TREE_MAX_N)) throw new RangeError(`selective scan backward: tree kernels generated for 1 ≤ N ≤ ${TREE_MAX_N}, got ${N}`);
  if (!(Number.isInteger(T) && T >= 1 && T <= BWD_TREE_MAX_T)) throw new RangeError(`selective scan backward: tree kernels generated for 1 ≤ T ≤ ${BWD_TREE_MAX_T}, got ${T}`);
  const c = 'this.constants';
  const ns = range(N), ks = range(T);
  const E = layoutOf(layout, 'ED');
  const d = E.col;
  const row = (k: string) => `(${E.t0} + ${k}) * ${c}.ED + ${d}`; // (t0 + k, d)
  const at = `${E.t} * ${c}.ED + ${d}`; // (t, d)
  const bc = (k: string, off: 'BO' | 'CO', n: string | number) => `BC[(${E.t0} + ${k}) * ${c}.BCS + ${c}.${off} + ${n}]`;
  const bct = (off: 'BO' | 'CO', n: string | number) => `BC[${E.t} * ${c}.BCS + ${c}.${off} + ${n}]`;
  const live = (k: string) => (full ? '' : ` && ${E.t0} + ${k} < ${c}.LS`);
  const flat = at;
  const loadStates = (v: string, arr: string) => ns.map((n) => `  let ${v}${n} = ${arr}[(${E.chunk} * ${c}.N + ${n}) * ${c}.ED + ${d}];`);
  const loadA = ns.map((n) => `  const a${n} = PD[${d} * ${c}.NP + ${n}];`);
  /** forward replay over k (< or ≤ p): h_n = e^{δA}·h_n + δ·u·B_k[n] */
  const fwdLoop = (cmp: '<' | '<=') => [
    `  for (let k = 0; k < ${c}.T; k++) {`,
    `    const dl = delta[${row('k')}];`,
    `    const du = dl * u[${row('k')}];`,
    ...(hoist ? ns.map((n) => `    const b${n} = ${bc('k', 'BO', n)};`) : []),
    `    if (k ${cmp} p) {`,
    ...ns.map((n) => `      h${n} = Math.exp(dl * a${n}) * h${n} + du * ${hoist ? `b${n}` : bc('k', 'BO', n)};`),
    '    }',
    '  }',
  ];
  /** backward replay over k > p from the chunk's end: g_n = e^{δA}·(g_n + dy·C_k[n]) */
  const bwdLoop = [
    `  for (let j = 0; j < ${c}.T; j++) {`,
    `    const dl = delta[${row(`${c}.T - 1 - j`)}];`,
    `    const dk = dy[${row(`${c}.T - 1 - j`)}];`,
    ...(hoist ? ns.map((n) => `    const c${n} = ${bc(`${c}.T - 1 - j`, 'CO', n)};`) : []),
    `    if (${c}.T - 1 - j > p${live(`${c}.T - 1 - j`)}) {`,
    ...ns.map((n) => `      g${n} = Math.exp(dl * a${n}) * (g${n} + dk * ${hoist ? `c${n}` : bc(`${c}.T - 1 - j`, 'CO', n)});`),
    '    }',
    '  }',
  ];
  const delta = [
    'function bwdDeltaKernel(raw, bias) {',
    `  const x = raw[${flat}] + bias[${d}];`,
    '  if (x > 20) return x;',
    '  const e = Math.exp(-Math.abs(x));',
    '  const w = 1 + e;',
    '  let l = e;',
    '  if (w !== 1) l = (Math.log(w) * e) / (w - 1);',
    '  return Math.max(x, 0) + l;',
    '}',
  ].join('\n');
  const dy = [
    'function bwdDyKernel(dOut, z) {',
    `  const zt = z[${flat}];`,
    `  return (dOut[${flat}] * zt) / (1 + Math.exp(-zt));`,
    '}',
  ].join('\n');
  const dZ = [
    'function bwdDZKernel(delta, u, PD, BC, z, dOut, S) {',
    `  const p = ${E.pos};`,
    ...loadStates('h', 'S'), ...loadA, ...fwdLoop('<='),
    `  let y = PD[${d} * ${c}.NP + ${c}.N] * u[${at}];`,
    ...ns.map((n) => `  y += ${bct('CO', n)} * h${n};`),
    `  const zt = z[${at}];`,
    '  const sz = 1 / (1 + Math.exp(-zt));',
    `  return dOut[${at}] * y * sz * (1 + zt * (1 - sz));`,
    '}',
  ].join('\n');
  const dU = [
    'function bwdDUKernel(delta, dy, PD, BC, P) {',
    `  const p = ${E.pos};`,
    ...loadStates('g', 'P'), ...loadA, ...bwdLoop,
    `  const dyt = dy[${at}];`,
    '  let s = 0;',
    ...ns.map((n) => `  s += (g${n} + dyt * ${bct('CO', n)}) * ${bct('BO', n)};`),
    `  return dyt * PD[${d} * ${c}.NP + ${c}.N] + delta[${at}] * s;`,
    '}',
  ].join('\n');
  const dRaw = [
    'function bwdDRawKernel(delta, u, PD, BC, dy, S, P) {',
    `  const p = ${E.pos};`,
    ...loadStates('h', 'S'), ...loadStates('g', 'P'), ...loadA, ...fwdLoop('<'), ...bwdLoop,
    `  const dlt = delta[${at}];`,
    `  const ut = u[${at}];`,
    `  const dyt = dy[${at}];`,
    '  let s = 0;',
    ...ns.map((n) => `  s += (g${n} + dyt * ${bct('CO', n)}) * (a${n} * Math.exp(dlt * a${n}) * h${n} + ${bct('BO', n)} * ut);`),
    // softplus'(x) = σ(x) = 1 − e^{−softplus(x)}; a series below 0.01 keeps its relative precision
    '  let sp = 1 - Math.exp(-dlt);',
    '  if (dlt < 0.01) sp = dlt * (1 - dlt * (0.5 - dlt / 6));',
    '  return s * sp;',
    '}',
  ].join('\n');
  // per-(t, n) kernels: x = n, loop over d (every d, or d-block b's d = j·DB + b) with one state;
  // B or C of the chunk preloaded
  const F = layoutOf(layout, 'N');
  const nn = F.col;
  const blocks = layout === 'warp';
  const dv = blocks ? `(j * ${c}.DB + ${F.blk})` : 'd';
  const loopD = blocks ? `  for (let j = 0; j < ${c}.EB; j++) {` : `  for (let d = 0; d < ${c}.ED; d++) {`;
  const guard = (body: string[]) => body;
  const rowD = (k: number | string) => `(${F.t0} + ${k}) * ${c}.ED + ${dv}`;
  const atD = `${F.t} * ${c}.ED + ${dv}`;
  const liveN = (k: number) => (full ? '' : ` && ${F.t0} + ${k} < ${c}.LS`);
  const dC = [
    'function bwdDCKernel(dy, delta, u, A, BC, S) {',
    `  const p = ${F.pos};`,
    ...ks.map((k) => `  const b${k} = BC[(${F.t0} + ${k}) * ${c}.BCS + ${c}.BO + ${nn}];`),
    '  let s = 0;',
    loopD,
    ...guard([
      `    const a = A[${dv} * ${c}.N + ${nn}];`,
      `    let h = S[(${F.chunk} * ${c}.N + ${nn}) * ${c}.ED + ${dv}];`,
      ...ks.map((k) => `    const dl${k} = delta[${rowD(k)}];\n    const u${k} = u[${rowD(k)}];\n    if (${k} <= p) h = Math.exp(dl${k} * a) * h + dl${k} * u${k} * b${k};`),
      `    s += dy[${atD}] * h;`,
    ]),
    '  }',
    '  return s;',
    '}',
  ].join('\n');
  const dB = [
    'function bwdDBKernel(delta, u, dy, A, BC, P) {',
    `  const p = ${F.pos};`,
    ...ks.map((k) => `  const c${k} = BC[(${F.t0} + ${k}) * ${c}.BCS + ${c}.CO + ${nn}];`),
    `  const ct = BC[${F.t} * ${c}.BCS + ${c}.CO + ${nn}];`,
    '  let s = 0;',
    loopD,
    ...guard([
      `    const a = A[${dv} * ${c}.N + ${nn}];`,
      `    let g = P[(${F.chunk} * ${c}.N + ${nn}) * ${c}.ED + ${dv}];`,
      ...ks.slice().reverse().map((k) => `    const dl${k} = delta[${rowD(k)}];\n    const y${k} = dy[${rowD(k)}];\n    if (${k} > p${liveN(k)}) g = Math.exp(dl${k} * a) * (g + y${k} * c${k});`),
      `    s += (g + dy[${atD}] * ct) * delta[${atD}] * u[${atD}];`,
    ]),
    '  }',
    '  return s;',
    '}',
  ].join('\n');
  // dA: grid [ED, N, ⌈NC/K⌉]; chunk (z·K + q); forward walk keeps δ_k, e^{δ_k A}, h_{k-1} in scalars
  const ch = `(this.thread.z * ${c}.K + q)`;
  const rowA = (k: number) => `(${ch} * ${c}.T + ${k}) * ${c}.ED + this.thread.x`;
  const dA = [
    'function bwdDAKernel(delta, u, dy, A, BC, S, P) {',
    `  const a = A[this.thread.x * ${c}.N + this.thread.y];`,
    '  let s = 0;',
    `  for (let q = 0; q < ${c}.K; q++) {`,
    `    let h = S[(${ch} * ${c}.N + this.thread.y) * ${c}.ED + this.thread.x];`,
    ...ks.flatMap((k) => [
      `    const l${k} = delta[${rowA(k)}];`,
      `    const e${k} = Math.exp(l${k} * a);`,
      `    const p${k} = h;`,
      `    h = e${k} * h + l${k} * u[${rowA(k)}] * BC[(${ch} * ${c}.T + ${k}) * ${c}.BCS + ${c}.BO + this.thread.y];`,
    ]),
    `    let g = P[(${ch} * ${c}.N + this.thread.y) * ${c}.ED + this.thread.x];`,
    ...ks.slice().reverse().map((k) => [
      `    if (${ch} * ${c}.T + ${k} < ${c}.LS) {`,
      `      g += dy[${rowA(k)}] * BC[(${ch} * ${c}.T + ${k}) * ${c}.BCS + ${c}.CO + this.thread.y];`,
      `      s += g * l${k} * e${k} * p${k};`,
      `      g = e${k} * g;`,
      '    }',
    ].join('\n')),
    '  }',
    '  return s;',
    '}',
  ].join('\n');
  return { delta, dy, dZ, dU, dRaw, dC, dB, dA };
}

/**
 * The dA partials (bwdTreeSources' dA) with four states per thread, N a multiple of 4: grid
 * [ED, N/4, ⌈NC/K⌉], thread (d, m, z) sums for n = 4m … 4m+3 over chunks z·K … z·K+K−1, returning
 * `Array(4)`; δ, u and dy are loaded once for the four states (the one-state kernel loads them in each
 * of N threads). Stored with laneStrides(1, 4·ED, N·ED, ED) into (⌈NC/K⌉, N, ED), the layout of the
 * one-state kernel's output.
 */
export function bwdDAQuadSource(T: number, full: boolean): string {
  if (!(Number.isInteger(T) && T >= 1 && T <= BWD_TREE_MAX_T)) throw new RangeError(`selective scan backward: tree kernels generated for 1 ≤ T ≤ ${BWD_TREE_MAX_T}, got ${T}`);
  const c = 'this.constants';
  const ks = range(T), js = [0, 1, 2, 3];
  const ch = `(this.thread.z * ${c}.K + q)`;
  const n = (j: number) => `this.thread.y * 4 + ${j}`;
  const rowA = (k: number) => `(${ch} * ${c}.T + ${k}) * ${c}.ED + this.thread.x`;
  const bc = (k: number, off: 'BO' | 'CO', j: number) => `BC[(${ch} * ${c}.T + ${k}) * ${c}.BCS + ${c}.${off} + ${n(j)}]`;
  return [
    'function bwdDAQuadKernel(delta, u, dy, A, BC, S, P) {',
    ...js.map((j) => `  const a${j} = A[this.thread.x * ${c}.N + ${n(j)}];`),
    ...js.map((j) => `  let s${j} = 0;`),
    `  for (let q = 0; q < ${c}.K; q++) {`,
    ...js.map((j) => `    let h${j} = S[(${ch} * ${c}.N + ${n(j)}) * ${c}.ED + this.thread.x];`),
    ...ks.flatMap((k) => [
      `    const l${k} = delta[${rowA(k)}];`,
      `    const w${k} = l${k} * u[${rowA(k)}];`,
      ...js.flatMap((j) => [
        `    const e${k}_${j} = Math.exp(l${k} * a${j});`,
        `    const p${k}_${j} = h${j};`,
        `    h${j} = e${k}_${j} * h${j} + w${k} * ${bc(k, 'BO', j)};`,
      ]),
    ]),
    ...js.map((j) => `    let g${j} = P[(${ch} * ${c}.N + ${n(j)}) * ${c}.ED + this.thread.x];`),
    ...ks.slice().reverse().map((k) => [
      full ? '    {' : `    if (${ch} * ${c}.T + ${k} < ${c}.LS) {`,
      `      const y${k} = dy[${rowA(k)}];`,
      ...js.flatMap((j) => [
        `      g${j} += y${k} * ${bc(k, 'CO', j)};`,
        `      s${j} += g${j} * l${k} * e${k}_${j} * p${k}_${j};`,
        `      g${j} = e${k}_${j} * g${j};`,
      ]),
      '    }',
    ].join('\n')),
    '  }',
    '  return [s0, s1, s2, s3];',
    '}',
  ].join('\n');
}

/**
 * gpu.js sources of the 'quad' layout's per-position kernels (T a multiple of 4, no sub-chunks): each
 * thread computes four consecutive positions 4q … 4q+3 of chunk z (q = thread y) and returns them as
 * `Array(4)`, so one replay serves four outputs (at T = 8 the replays cost 1.5 forward / 1.5 backward
 * steps per token instead of 4.5 / 3.5). Grids: (t, d) kernels [ED, T/4, NC], (t, n) kernels
 * [N, T/4, NC]; results stored as (NC·T, W) rows through laneStrides (gpujs-types.ts), except the
 * d-split dC/dB partials, blocked (NC·T/4, DS·W, 4) and summed by unblockSumKernel. Same
 * recurrences as bwdTreeSources: forward walks h from S[c] through the 4q tokens before the thread's
 * own (predicated, a loop of T − 4 = TQ steps), backward walks g from P[c] through the tokens after
 * them; dΔraw keeps the four positions' (a·e^{δA}·h_{t−1} + B·u) terms (4N scalars) from its forward
 * walk for its backward walk. `full`: no token predicate (L a multiple of T).
 */
export function bwdQuadSources(N: number, T: number, full: boolean, rawPositions: 2 | 4 = 2, dSplit = 1, hoistIdx = false, hold = T, inner = 1, innerB = inner, quadBC = false) {
  if (quadBC && N % 4 !== 0) throw new RangeError(`selective scan backward: 16-byte loads of B and C need N a multiple of 4, got ${N}`);
  if (!(Number.isInteger(N) && N >= 1 && N <= TREE_MAX_N)) throw new RangeError(`selective scan backward: tree kernels generated for 1 ≤ N ≤ ${TREE_MAX_N}, got ${N}`);
  if (!(Number.isInteger(dSplit) && dSplit >= 1)) throw new RangeError(`selective scan backward: dC/dB d-split must be a positive integer, got ${dSplit}`);
  if (!(rawPositions === 2 || rawPositions === 4)) throw new RangeError(`selective scan backward: dΔraw positions per thread must be 2 or 4, got ${rawPositions}`);
  if (!(Number.isInteger(T) && T >= 4 && T % 4 === 0 && T <= BWD_TREE_MAX_T)) throw new RangeError(`selective scan backward: layout 'quad' needs a chunk that is a multiple of 4 (≤ ${BWD_TREE_MAX_T}), got ${T}`);
  const c = 'this.constants';
  const ns = range(N), js = [0, 1, 2, 3];
  const t0 = `this.thread.z * ${c}.T`;
  const rowq = (j: number) => `(${t0} + this.thread.y * 4 + ${j})`; // own position j (absolute token)
  const rowk = (k: string) => `(${t0} + ${k})`;
  const d = 'this.thread.x';
  const at = (r: string, W = `${c}.ED`, col = d) => `${r} * ${W} + ${col}`;
  const bc = (r: string, off: 'BO' | 'CO', n: string | number) => `BC[${r} * ${c}.BCS + ${c}.${off} + ${n}]`;
  // with quadBC (the fused dΔraw/dA kernel): a row's B or C as N/4 quads `${v}0 …` (loadBC4), read by bcq
  const quadDecl = (v: string, r: string, off: 'BO' | 'CO', pad: string) => (quadBC
    ? range(N / 4).map((j) => `${pad}const ${v}${j} = loadBC4(${r} * ${c}.BCS4 + ${c}.${off}4 + ${j});`)
    : []);
  const bcq = (v: string, r: string, off: 'BO' | 'CO', n: number) => (quadBC ? `${v}${n >> 2}[${n & 3}]` : bc(r, off, n));
  const liveRow = (r: string) => (full ? '' : ` && ${r} < ${c}.LS`);
  const ifLive = (r: string, body: string[]) => (full ? body : [`  if (${r} < ${c}.LS) {`, ...body.map((x) => `  ${x}`), '  }']);
  const loadStates = (v: string, arr: string) => ns.map((n) => `  let ${v}${n} = ${arr}[(this.thread.z * ${c}.N + ${n}) * ${c}.ED + ${d}];`);
  const loadA = ns.map((n) => `  const a${n} = PD[${d} * ${c}.NP + ${n}];`);
  /** h through the tokens before the thread's own (q4 = its first position): a loop of TQ = T − 4 or TR = T − P */
  const fwdSilent = (bound: 'TQ' | 'TR') => [
    `  for (let k = 0; k < ${c}.${bound}; k++) {`,
    `    const dl = delta[${at(rowk('k'))}];`,
    `    const du = dl * u[${at(rowk('k'))}];`,
    '    if (k < q4) {',
    ...ns.map((n) => `      h${n} = Math.exp(dl * a${n}) * h${n} + du * ${bc(rowk('k'), 'BO', n)};`),
    '    }',
    '  }',
  ];
  /** g through the tokens after the thread's own P: k = T−1 … q4+P (real tokens only) */
  const rk = `${c}.T - 1 - i`;
  const bwdSilent = (bound: 'TQ' | 'TR', positions: number) => [
    `  for (let i = 0; i < ${c}.${bound}; i++) {`,
    `    const dl = delta[${at(rowk(rk))}];`,
    `    const dk = dy[${at(rowk(rk))}];`,
    `    if (${rk} >= q4 + ${positions}${liveRow(rowk(rk))}) {`,
    ...ns.map((n) => `      g${n} = Math.exp(dl * a${n}) * (g${n} + dk * ${bc(rowk(rk), 'CO', n)});`),
    '    }',
    '  }',
  ];
  const dZ = [
    'function bwdDZQuadKernel(delta, u, PD, BC, z, dOut, S) {',
    '  const q4 = this.thread.y * 4;',
    ...loadStates('h', 'S'), ...loadA,
    `  const dd = PD[${d} * ${c}.NP + ${c}.N];`,
    ...fwdSilent('TQ'),
    ...js.flatMap((j) => [
      `  const dl${j} = delta[${at(rowq(j))}];`,
      `  const u${j} = u[${at(rowq(j))}];`,
      ...ns.map((n) => `  h${n} = Math.exp(dl${j} * a${n}) * h${n} + dl${j} * u${j} * ${bc(rowq(j), 'BO', n)};`),
      `  let y${j} = dd * u${j};`,
      ...ns.map((n) => `  y${j} += ${bc(rowq(j), 'CO', n)} * h${n};`),
      `  const z${j} = z[${at(rowq(j))}];`,
      `  const s${j} = 1 / (1 + Math.exp(-z${j}));`,
      `  const r${j} = dOut[${at(rowq(j))}] * y${j} * s${j} * (1 + z${j} * (1 - s${j}));`,
    ]),
    '  return [r0, r1, r2, r3];',
    '}',
  ].join('\n');
  const dU = [
    'function bwdDUQuadKernel(delta, dy, PD, BC, P) {',
    '  const q4 = this.thread.y * 4;',
    ...loadStates('g', 'P'), ...loadA,
    `  const dd = PD[${d} * ${c}.NP + ${c}.N];`,
    ...bwdSilent('TQ', 4),
    ...[3, 2, 1, 0].flatMap((j) => [
      `  const y${j} = dy[${at(rowq(j))}];`,
      `  let s${j} = 0;`,
      ...ns.map((n) => `  s${j} += (g${n} + y${j} * ${bc(rowq(j), 'CO', n)}) * ${bc(rowq(j), 'BO', n)};`),
      `  const dl${j} = delta[${at(rowq(j))}];`,
      `  const r${j} = y${j} * dd + dl${j} * s${j};`,
      ...(j > 0 ? ifLive(rowq(j), ns.map((n) => `  g${n} = Math.exp(dl${j} * a${n}) * (g${n} + y${j} * ${bc(rowq(j), 'CO', n)});`)) : []),
    ]),
    '  return [r0, r1, r2, r3];',
    '}',
  ].join('\n');
  // dΔraw: P = rawPositions per thread (its forward walk keeps P·N terms for the backward walk)
  const P = rawPositions;
  const rowp = (j: number) => `(${t0} + this.thread.y * ${P} + ${j})`;
  const pj = range(P);
  const dRaw = [
    'function bwdDRawQuadKernel(delta, u, PD, BC, dy, S, P) {',
    `  const q4 = this.thread.y * ${P};`,
    ...loadStates('h', 'S'), ...loadA,
    ...fwdSilent('TR'),
    // the positions' terms a·e^{δA}·h_{t−1} + B_t·u_t, then h moves on to h_t
    ...pj.flatMap((j) => [
      `  const dl${j} = delta[${at(rowp(j))}];`,
      `  const u${j} = u[${at(rowp(j))}];`,
      ...ns.flatMap((n) => [
        `  const e${j}_${n} = Math.exp(dl${j} * a${n});`,
        `  const H${j}_${n} = a${n} * e${j}_${n} * h${n} + ${bc(rowp(j), 'BO', n)} * u${j};`,
        ...(j < P - 1 ? [`  h${n} = e${j}_${n} * h${n} + dl${j} * u${j} * ${bc(rowp(j), 'BO', n)};`] : []),
      ]),
    ]),
    ...loadStates('g', 'P'),
    ...bwdSilent('TR', P),
    ...pj.slice().reverse().flatMap((j) => [
      `  const y${j} = dy[${at(rowp(j))}];`,
      `  let s${j} = 0;`,
      ...ns.map((n) => `  s${j} += (g${n} + y${j} * ${bc(rowp(j), 'CO', n)}) * H${j}_${n};`),
      `  let sp${j} = 1 - Math.exp(-dl${j});`,
      `  if (dl${j} < 0.01) sp${j} = dl${j} * (1 - dl${j} * (0.5 - dl${j} / 6));`,
      `  const r${j} = s${j} * sp${j};`,
      ...(j > 0 ? ifLive(rowp(j), ns.map((n) => `  g${n} = e${j}_${n} * (g${n} + y${j} * ${bc(rowp(j), 'CO', n)});`)) : []),
    ]),
    `  return [${pj.map((j) => `r${j}`).join(', ')}];`,
    '}',
  ].join('\n');
  // (t, n) kernels: x = n, loop over every d with one state; B or C of the chunk's rows preloaded.
  // dSplit > 1: x = g·N + n, thread g sums d in [g·DD, (g+1)·DD) (DD = ED/dSplit): dSplit× the threads
  // and shorter loops; the partials (blocked (NC·T/4, dSplit·N, 4)) are summed by unblockSumKernel
  const split = dSplit > 1;
  // the d-block g = ⌊x/N⌋: inline at every use, or once into a local read back through iint (hoistIdx)
  const gx = hoistIdx ? 'iint(gq)' : `idiv(this.thread.x, ${c}.N)`;
  const gLocal = split && hoistIdx ? [`  const gq = idiv(this.thread.x, ${c}.N);`] : [];
  const nn = split ? `(this.thread.x - ${gx} * ${c}.N)` : 'this.thread.x';
  const dLoop = split ? `  for (let i = 0; i < ${c}.DD; i++) {` : `  for (let d = 0; d < ${c}.ED; d++) {`;
  const dd = split ? `(${gx} * ${c}.DD + i)` : 'd';
  const ks = range(T - 4);
  const rowD = (r: string) => at(r, `${c}.ED`, dd);
  const dC = [
    'function bwdDCQuadKernel(dy, delta, u, A, BC, S) {',
    '  const q4 = this.thread.y * 4;',
    ...gLocal,
    ...ks.map((k) => `  const b${k} = ${bc(rowk(String(k)), 'BO', nn)};`),
    ...js.map((j) => `  const bq${j} = ${bc(rowq(j), 'BO', nn)};`),
    ...js.map((j) => `  let s${j} = 0;`),
    dLoop,
    `    const a = A[${dd} * ${c}.N + ${nn}];`,
    `    let h = S[(this.thread.z * ${c}.N + ${nn}) * ${c}.ED + ${dd}];`,
    ...ks.map((k) => `    const dl${k} = delta[${rowD(rowk(String(k)))}];\n    const u${k} = u[${rowD(rowk(String(k)))}];\n    if (${k} < q4) h = Math.exp(dl${k} * a) * h + dl${k} * u${k} * b${k};`),
    ...js.flatMap((j) => [
      `    const dq${j} = delta[${rowD(rowq(j))}];`,
      `    h = Math.exp(dq${j} * a) * h + dq${j} * u[${rowD(rowq(j))}] * bq${j};`,
      `    s${j} += dy[${rowD(rowq(j))}] * h;`,
    ]),
    '  }',
    '  return [s0, s1, s2, s3];',
    '}',
  ].join('\n');
  const kr = range(T - 4).map((i) => T - 1 - i); // rows after the first quarter, last first
  const dB = [
    'function bwdDBQuadKernel(delta, u, dy, A, BC, P) {',
    '  const q4 = this.thread.y * 4;',
    ...gLocal,
    ...kr.map((k) => `  const c${k} = ${bc(rowk(String(k)), 'CO', nn)};`),
    ...js.map((j) => `  const cq${j} = ${bc(rowq(j), 'CO', nn)};`),
    ...js.map((j) => `  let s${j} = 0;`),
    dLoop,
    `    const a = A[${dd} * ${c}.N + ${nn}];`,
    `    let g = P[(this.thread.z * ${c}.N + ${nn}) * ${c}.ED + ${dd}];`,
    ...kr.map((k) => `    const dl${k} = delta[${rowD(rowk(String(k)))}];\n    const y${k} = dy[${rowD(rowk(String(k)))}];\n    if (${k} >= q4 + 4${liveRow(rowk(String(k)))}) g = Math.exp(dl${k} * a) * (g + y${k} * c${k});`),
    ...[3, 2, 1, 0].flatMap((j) => [
      `    const dq${j} = delta[${rowD(rowq(j))}];`,
      `    const yq${j} = dy[${rowD(rowq(j))}];`,
      `    s${j} += (g + yq${j} * cq${j}) * dq${j} * u[${rowD(rowq(j))}];`,
      ...(j > 0 ? [full ? `    g = Math.exp(dq${j} * a) * (g + yq${j} * cq${j});` : `    if (${rowq(j)} < ${c}.LS) g = Math.exp(dq${j} * a) * (g + yq${j} * cq${j});`] : []),
    ]),
    '  }',
    '  return [s0, s1, s2, s3];',
    '}',
  ].join('\n');
  // whole-chunk threads (webgpu, storeAt): grid [ED, NC], one thread per (chunk, d) walks all T tokens
  // once — forward for dZ, backward for dU — and stores every position's gradient (one step per token,
  // against (T/4 + 1)/2 for four positions per thread)
  const rowc = (k: string) => `(this.thread.y * ${c}.T + ${k})`;
  const chunkStates = (v: string, arr: string) => ns.map((n) => `  let ${v}${n} = ${arr}[(this.thread.y * ${c}.N + ${n}) * ${c}.ED + ${d}];`);
  // dZc: dZ = dOut·y·silu'(z); dZYc also dy = dOut·silu(z) from YO (it reads z and dOut anyway: the
  // separate dy kernel's 3 floats of traffic per (t, d) become one store)
  const dZcSource = (withDy: boolean) => [
    `function ${withDy ? 'bwdDZYChunkKernel' : 'bwdDZChunkKernel'}(delta, u, PD, BC, z, dOut, S) {`,
    ...chunkStates('h', 'S'), ...loadA,
    `  const dd = PD[${d} * ${c}.NP + ${c}.N];`,
    `  for (let k = 0; k < ${c}.T; k++) {`,
    `    const dl = delta[${at(rowc('k'))}];`,
    `    const ut = u[${at(rowc('k'))}];`,
    ...ns.map((n) => `    h${n} = Math.exp(dl * a${n}) * h${n} + dl * ut * ${bc(rowc('k'), 'BO', n)};`),
    '    let y = dd * ut;',
    ...ns.map((n) => `    y += ${bc(rowc('k'), 'CO', n)} * h${n};`),
    `    const zt = z[${at(rowc('k'))}];`,
    '    const sg = 1 / (1 + Math.exp(-zt));',
    ...(withDy ? [
      `    const ot = dOut[${at(rowc('k'))}];`,
      `    storeAt(${at(rowc('k'))}, ot * y * sg * (1 + zt * (1 - sg)));`,
      `    storeAt(${c}.YO + ${at(rowc('k'))}, ot * zt * sg);`,
    ] : [`    storeAt(${at(rowc('k'))}, dOut[${at(rowc('k'))}] * y * sg * (1 + zt * (1 - sg)));`]),
    '  }',
    '  return 0;',
    '}',
  ].join('\n');
  const dZc = dZcSource(false), dZYc = dZcSource(true);
  const rb = rowc(`${c}.T - 1 - i`);
  const dUc = [
    'function bwdDUChunkKernel(delta, dy, PD, BC, P) {',
    ...chunkStates('g', 'P'), ...loadA,
    `  const dd = PD[${d} * ${c}.NP + ${c}.N];`,
    `  for (let i = 0; i < ${c}.T; i++) {`,
    `    const yv = dy[${at(rb)}];`,
    '    let s = 0;',
    ...ns.map((n) => `    s += (g${n} + yv * ${bc(rb, 'CO', n)}) * ${bc(rb, 'BO', n)};`),
    `    const dl = delta[${at(rb)}];`,
    `    storeAt(${at(rb)}, yv * dd + dl * s);`,
    ...(full ? [] : [`    if (${rb} < ${c}.LS) {`]),
    ...ns.map((n) => `    ${full ? '' : '  '}g${n} = Math.exp(dl * a${n}) * (g${n} + yv * ${bc(rb, 'CO', n)});`),
    ...(full ? [] : ['    }']),
    '  }',
    '  return 0;',
    '}',
  ].join('\n');
  // dΔraw and dA fused, whole chunks (webgpu, storeAt): grid [ED, ⌈NC/K⌉], thread (d, y) walks chunks
  // y·K … y·K + K − 1. Per chunk, in blocks of H held positions from the last: a forward walk from S[c]
  // (silent through the blocks before, then keeping x = e^{δA}·h_{t−1} for the H positions: H·N
  // scalars), then the backward walk over them from the carry g (P[c], then where the later block left
  // it): dΔraw_t = softplus'·Σ_n ḡ_n·(a_n·x_n + B_n·u), dA_n += ḡ_n·δ·x_n, g_n = e^{δa_n}·ḡ_n. dΔraw goes
  // to rows c·T + k; withDU, dU = dy·D + δ·Σ_n ḡ_n·B_n (dUc's output) to the same rows from UOFF; the
  // (⌈NC/K⌉, N, ED) dA partials after them, at AOFF; then R = ⌈NC/K⌉ rows of dD partials (Σ dy·u) and R of
  // dΔbias partials (Σ dΔraw) at DOFF, so that neither sum reads an (L, ED) tensor again. ≈ (1 + (T/H − 1)/2) + 1 exps
  // per (t, d, n), where the separate kernels spend ≈ 5 (dΔraw at 2 positions) + 2 (dA) + 1 (dU)
  if (!(Number.isInteger(hold) && hold >= 1 && T % hold === 0)) throw new RangeError(`selective scan backward: dΔraw/dA held positions ${hold} must divide the chunk ${T}`);
  const H = hold;
  const chA = `(this.thread.y * ${c}.K + q)`;
  const rowA = (k: string | number) => `(${chA} * ${c}.T + ${k})`;
  const blocks = range(T / H).reverse();
  const rawASource = (withDU: boolean) => [
    'function bwdDRawAChunkKernel(delta, u, PD, BC, dy, S, P) {',
    ...loadA,
    ...(withDU ? [`  const dd = PD[${d} * ${c}.NP + ${c}.N];`] : []),
    ...ns.map((n) => `  let s${n} = 0;`),
    ...ns.map((n) => `  let g${n} = 0;`),
    ...ns.map((n) => `  let h${n} = 0;`),
    '  let sdd = 0;', // Σ dy·u (dD) and Σ dΔraw (dΔbias) over the thread's real rows
    '  let sdb = 0;',
    `  for (let q = 0; q < ${c}.K; q++) {`,
    `    if (${chA} < ${c}.NC) {`,
    ...ns.map((n) => `      g${n} = P[(${chA} * ${c}.N + ${n}) * ${c}.ED + ${d}];`),
    ...blocks.flatMap((b) => {
      const ks = range(H).map((j) => b * H + j);
      return [
        ...ns.map((n) => `      h${n} = S[(${chA} * ${c}.N + ${n}) * ${c}.ED + ${d}];`),
        ...(b > 0 ? [
          `      for (let k = 0; k < ${b * H}; k++) {`,
          `        const dl = delta[${at(rowA('k'))}];`,
          `        const du = dl * u[${at(rowA('k'))}];`,
          ...quadDecl('bs', rowA('k'), 'BO', '        '),
          ...ns.map((n) => `        h${n} = Math.exp(dl * a${n}) * h${n} + du * ${bcq('bs', rowA('k'), 'BO', n)};`),
          '      }',
        ] : []),
        ...ks.flatMap((k, j) => [
          `      const dl${k} = delta[${at(rowA(k))}];`,
          `      const u${k} = u[${at(rowA(k))}];`,
          ...(j < H - 1 ? quadDecl(`bf${k}_`, rowA(k), 'BO', '      ') : []),
          ...ns.flatMap((n) => [
            `      const x${k}_${n} = Math.exp(dl${k} * a${n}) * h${n};`,
            ...(j < H - 1 ? [`      h${n} = x${k}_${n} + dl${k} * u${k} * ${bcq(`bf${k}_`, rowA(k), 'BO', n)};`] : []),
          ]),
        ]),
        ...ks.slice().reverse().flatMap((k) => {
          // w = Σ_n ḡ_n·B_n: dΔraw's B·u term, and dU = dy·D + δ·w (withDU)
          const step = [
            `        const y${k} = dy[${c}.YO + ${at(rowA(k))}];`,
            ...quadDecl(`cb${k}_`, rowA(k), 'CO', '        '), ...quadDecl(`bb${k}_`, rowA(k), 'BO', '        '),
            ...ns.flatMap((n) => [
              `        g${n} += y${k} * ${bcq(`cb${k}_`, rowA(k), 'CO', n)};`,
              `        r${k} += g${n} * a${n} * x${k}_${n};`,
              `        w${k} += g${n} * ${bcq(`bb${k}_`, rowA(k), 'BO', n)};`,
              `        s${n} += g${n} * dl${k} * x${k}_${n};`,
              ...(k > 0 ? [`        g${n} = Math.exp(dl${k} * a${n}) * g${n};`] : []),
            ]),
            `        r${k} += w${k} * u${k};`,
            `        sdd += y${k} * u${k};`,
            ...(withDU ? [`        v${k} = y${k} * dd + dl${k} * w${k};`] : []),
          ];
          return [
            `      let r${k} = 0;`,
            `      let w${k} = 0;`,
            ...(withDU ? [`      let v${k} = 0;`] : []),
            ...(full ? step.map((x) => x.slice(2)) : [`      if (${rowA(k)} < ${c}.LS) {`, ...step, '      }']),
            `      let sp${k} = 1 - Math.exp(-dl${k});`,
            `      if (dl${k} < 0.01) sp${k} = dl${k} * (1 - dl${k} * (0.5 - dl${k} / 6));`,
            `      storeAt(${at(rowA(k))}, r${k} * sp${k});`,
            `      sdb += r${k} * sp${k};`, // r is 0 on rows past LS
            ...(withDU ? [`      storeAt(${c}.UOFF + ${at(rowA(k))}, v${k});`] : []),
          ];
        }),
      ];
    }),
    '    }',
    '  }',
    ...ns.map((n) => `  storeAt(${c}.AOFF + (this.thread.y * ${c}.N + ${n}) * ${c}.ED + ${d}, s${n});`),
    `  storeAt(${c}.DOFF + this.thread.y * ${c}.ED + ${d}, sdd);`,
    `  storeAt(${c}.DOFF + (${c}.R + this.thread.y) * ${c}.ED + ${d}, sdb);`,
    '  return 0;',
    '}',
  ].join('\n');
  const dRawA = rawASource(false), dRawAU = rawASource(true);
  // dC and dB, whole chunks (webgpu, storeAt): grid [DS·N, NC], thread (g·N + n, c) sums over its d
  // block of DD channels, `inner` of them walked side by side through the chunk (their states in
  // registers; forward for dC, backward for dB), the DD/inner groups (DQ) in a loop: T partials, stored
  // in unblockSumKernel's blocked (NC·T/4, DS·N, 4) layout (DS = 1: straight into (NC·T, N) rows).
  // On the H100 at 2^20 with DD = 16: inner 16 (no loop) 4.85 + 4.85 ms; inner 8 or 4 (a loop of 2 or 4)
  // dB 4.1–4.3 but dC 21–22; one channel at a time (a loop of 16) 20 + 13–19 ms; the four-position
  // kernels above 6.3 + 6.2 (docs/decisions/selective-scan.md)
  for (const w of [inner, innerB]) if (!(Number.isInteger(w) && w >= 1)) throw new RangeError(`selective scan backward: dC/dB channels per walk ${w} must be a positive integer`);
  const rowC = (k: number) => `(this.thread.y * ${c}.T + ${k})`;
  const tks = range(T);
  const partIdx = (k: number) => (split
    ? `((this.thread.y * ${T / 4} + ${k >> 2}) * ${c}.N * ${dSplit} + this.thread.x) * 4 + ${k & 3}`
    : `${rowC(k)} * ${c}.N + this.thread.x`);
  /** channel j of the w walked side by side in group i of the thread's d block */
  const dq = (w: number, j: number) => (split ? `(${gx} * ${c}.DD + i * ${w} + ${j})` : `(i * ${w} + ${j})`);
  const rowQ = (w: number, k: number, j: number) => at(rowC(k), `${c}.ED`, dq(w, j));
  /** the two kernels' frame: B (dC) or C (dB) of the chunk's rows preloaded as `pre`k, T sums, the loop over the DQ = DD/w groups of w channels, each channel's a and carried state `st`j from `arr`, the walk, the stores */
  const chunkSums = (header: string, w: number, col: 'BO' | 'CO', pre: string, arr: string, st: string, walk: string[]) => [
    header,
    ...gLocal,
    ...tks.map((k) => `  const ${pre}${k} = ${bc(rowC(k), col, nn)};`),
    ...tks.map((k) => `  let s${k} = 0;`),
    `  for (let i = 0; i < ${c}.DQ; i++) {`,
    ...range(w).flatMap((j) => [
      `    const a${j} = A[${dq(w, j)} * ${c}.N + ${nn}];`,
      `    let ${st}${j} = ${arr}[(this.thread.y * ${c}.N + ${nn}) * ${c}.ED + ${dq(w, j)}];`,
    ]),
    ...walk,
    '  }',
    ...tks.map((k) => `  storeAt(${partIdx(k)}, s${k});`),
    '  return 0;',
    '}',
  ].join('\n');
  const dCc = chunkSums('function bwdDCChunkKernel(dy, delta, u, A, BC, S) {', inner, 'BO', 'b', 'S', 'h', tks.flatMap((k) => range(inner).flatMap((j) => [
    `    const l${k}_${j} = delta[${rowQ(inner, k, j)}];`,
    `    h${j} = Math.exp(l${k}_${j} * a${j}) * h${j} + l${k}_${j} * u[${rowQ(inner, k, j)}] * b${k};`,
    `    s${k} += dy[${c}.YO + ${rowQ(inner, k, j)}] * h${j};`,
  ])));
  const dBc = chunkSums('function bwdDBChunkKernel(delta, u, dy, A, BC, P) {', innerB, 'CO', 'c', 'P', 'g', tks.slice().reverse().flatMap((k) => {
    const body = range(innerB).flatMap((j) => [
      `    const l${k}_${j} = delta[${rowQ(innerB, k, j)}];`,
      `    g${j} += dy[${c}.YO + ${rowQ(innerB, k, j)}] * c${k};`,
      `    s${k} += g${j} * l${k}_${j} * u[${rowQ(innerB, k, j)}];`,
      ...(k > 0 ? [`    g${j} = Math.exp(l${k}_${j} * a${j}) * g${j};`] : []),
    ]);
    return full ? body : [`    if (${rowC(k)} < ${c}.LS) {`, ...body.map((x) => `  ${x}`), '    }'];
  }));
  return { dZ, dU, dRaw, dC, dB, dA: N % 4 === 0 ? bwdDAQuadSource(T, full) : undefined, dZc, dZYc, dUc, dRawA, dRawAU, dCc, dBc };
}

/**
 * (L, W) rows from DS blocked partials of a four-positions-per-thread kernel whose x = g·W + w (the
 * d-split dC/dB of bwdQuadSources): out(t, w) = Σ_g Q[((⌊t/4⌋)·DS·W + g·W + w)·4 + t mod 4], grid
 * [W, T, NC] (t = z·T + y), constants W, TP = T/4, P = 4, DS.
 */
export function unblockSumKernel(this: Thread3 & { constants: { W: number; TP: number; P: number; DS: number } }, Q: number[]): number {
  let s = 0;
  for (let g = 0; g < this.constants.DS; g++) {
    s += Q[((this.thread.z * this.constants.TP + idiv(this.thread.y, this.constants.P)) * this.constants.W * this.constants.DS + g * this.constants.W + this.thread.x) * this.constants.P
      + this.thread.y - idiv(this.thread.y, this.constants.P) * this.constants.P];
  }
  return s;
}

// ---- host-side driver ----

export type BwdScheme = 'tree' | 'hillis-steele';

export interface GpuScanBackwardOptions {
  ED: number;
  N: number;
  /** tokens per chunk (default 8 for 'tree', as the forward; 16 for 'hillis-steele') */
  chunk?: number;
  /** largest storage binding in bytes (default 128 MiB, lavapipe's limit) */
  maxBindingBytes?: number;
  /** 'tree' (default where N ≤ 32 and chunk ≤ 64) or the earlier 'hillis-steele' (any N) */
  scheme?: BwdScheme;
  /**
   * tree: grid layout of the per-position kernels (default '3d'; 'warp' needs 8 | ED), replay
   * sub-chunk U (default = chunk: none; must divide chunk), (sub-)chunks per dA thread (default 16),
   * `hoist` B/C loads ahead of the replay predicate (default false); 'quad': positions per dΔraw thread
   * (`rawPositions`, default 2) and the split of dC/dB's sum over d into `dSplit` partial threads
   * (default the largest of 16, 8, 4, 2, 1 that divides ED; must divide ED), their d-block index
   * computed once into a local (`hoistIdx`, default true) or inline at every load; dZ and dU as
   * whole-chunk threads storing through storeAt (`chunkRows`, default true) or four positions per thread.
   * The defaults were fastest on the H100 (docs/decisions/selective-scan.md); the others are kept,
   * tested, for benchmarks.
   */
  tune?: {
    layout?: BwdLayout; sub?: number; dAChunks?: number; hoist?: boolean; rawPositions?: 2 | 4; dSplit?: number; hoistIdx?: boolean;
    /** 'quad' on webgpu: dZ and dU as whole-chunk threads (default true) */
    chunkRows?: boolean;
    /** 'quad' on webgpu: dC and dB as whole-chunk threads over their d block (default true) */
    chunkSums?: boolean;
    /** 'quad' on webgpu: dΔraw and dA in one whole-chunk kernel (default true), `rawHold` positions kept per walk (default: the largest divisor of the chunk with rawHold·N ≤ 128), `rawAChunks` chunks per thread (default ⌊NC·ED/2^17⌋ within 2 … 16) */
    rawA?: boolean; rawHold?: number; rawAChunks?: number;
    /** with rawA: dU from the same kernel (its rows after dΔraw's, then copied out; default true) */
    rawDU?: boolean;
    /** 'quad' on webgpu with chunkSums: channels dC/dB walk side by side (default: all DD = ED/dSplit of the thread's block where DD ≤ 32, else the largest divisor ≤ 16) */
    sumsInner?: number;
    /** the same for dB alone (default: sumsInner) */
    sumsInnerB?: number;
    /** webgpu: the reverse tree's leaf as whole-chunk threads (default true) */
    revLeafChunk?: boolean;
    /**
     * webgpu, whole-chunk reverse leaf and fused dΔraw/dA kernel: B and C read as 16-byte quads where N and
     * the packed layout allow it (`quadLoads`, default true); the reverse leaf loads the next token ahead
     * (`prefetch`, default true) — as the forward's whole-chunk kernels
     */
    quadLoads?: boolean; prefetch?: boolean;
    /** with chunkRows, rawA, rawDU and chunkSums: dy = dOut·silu(z) stored by the dZ kernel after its rows instead of a kernel of its own (default true) */
    dyFromDZ?: boolean;
  };
}

/** Options of one call: `profile` is awaited after each stage with its name (a profiler syncs there). */
export interface GpuScanBackwardRunOptions {
  profile?: (stage: string) => Promise<void>;
  /**
   * scheme 'tree', layout '3d', no sub-chunks: what the forward of the same inputs saved (its `run`
   * with `save`): δ and the forward tree are then not recomputed. The caller still owns (deletes) them.
   */
  saved?: GpuScanSaved;
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
  /**
   * scheme 'tree': the L rows are independent windows of `window` tokens (as the forward's
   * GpuScanArgs.window; h0 and dhL zeros, dh0 then meaningless); a multiple of the chunk dividing L
   */
  window?: number;
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
interface Inputs { u: Tensor; raw: Tensor; z: Tensor; BC: Tensor; A: Tensor; D: Tensor; bias: Tensor; h0: Tensor; dOut: Tensor; dhL: Tensor; window?: number; saved?: GpuScanSaved }

/** Rows per thread of the row-sum stages (dA over chunk groups, dD and dΔbias over tokens). */
const SUM_ROWS = 64;

/**
 * Longest L one tree-scheme call accepts (chunks of T tokens, sub-chunks of U, DB d-blocks): the
 * (⌈L/T⌉·T, ED) tensors, the (NC, N+1, ED) tree leaf, the (NC·T/U, N, ED) sub-chunk states and carries
 * and the (⌈L/T⌉·T·DB, N) d-block partials each fit one binding; NC·T/U ≤ 65,535 (grid z of the
 * per-position kernels; NC ≤ 65,535 for the tree's); flat indices t·ED + d stay below 2^31 (i32).
 */
export function treeBackwardMaxLength(ED: number, N: number, T: number, maxBindingBytes: number, U = T, DB = 1, KA = 0, rowSets = 1): number {
  const maxElems = Math.floor(maxBindingBytes / 4);
  const V = T / U;
  const fused = KA > 0 ? rowSets * T * ED + ((N + 2) * ED) / KA : T * ED; // the fused dΔraw/dA(/dU) output: rowSets (T, ED) row blocks per chunk, then dA, dD and dΔbias partials
  const chunks = Math.floor(Math.min(maxElems / fused, maxElems / ((N + 1) * ED), maxElems / (V * N * ED), maxElems / (T * DB * N), 65535 / V, (2 ** 31 - 1) / fused));
  return Math.max(0, chunks * T);
}

export function createSelectiveScanBackwardKernels(gpu: GpuJsLike, opts: GpuScanBackwardOptions) {
  const { ED, N } = opts;
  const treeFits = (T: number) => N <= TREE_MAX_N && T <= BWD_TREE_MAX_T;
  const scheme: BwdScheme = opts.scheme ?? (treeFits(opts.chunk ?? 8) ? 'tree' : 'hillis-steele');
  const T = opts.chunk ?? (scheme === 'tree' ? 8 : 16);
  if (!(Number.isInteger(T) && T > 0)) throw new RangeError(`selective scan backward: chunk = ${T} must be a positive integer`);
  if (scheme === 'tree' && !treeFits(T)) throw new RangeError(`selective scan backward: scheme 'tree' needs N ≤ ${TREE_MAX_N} and chunk ≤ ${BWD_TREE_MAX_T} (got N=${N}, chunk=${T}); use 'hillis-steele'`);
  const U = opts.tune?.sub ?? T;
  if (!(Number.isInteger(U) && U >= 1 && T % U === 0)) throw new RangeError(`selective scan backward: sub-chunk ${U} must divide chunk ${T}`);
  // 'quad' on webgpu where it applies (chunk a multiple of 4, no sub-chunks): fastest on the H100
  const layout: BwdLayout = opts.tune?.layout ?? (scheme === 'tree' && T % 4 === 0 && U === T && (gpu.mode ?? 'webgpu') === 'webgpu' ? 'quad' : '3d');
  if (layout === 'warp' && ED % 8 !== 0) throw new RangeError(`selective scan backward: layout 'warp' needs ED a multiple of 8 (got ${ED})`);
  const quad = layout === 'quad';
  const gridLayout = quad ? '3d' : layout; // of the kernels 'quad' shares with '3d' (δ, dy, dA)
  const rawP = opts.tune?.rawPositions ?? 2;
  // dC/dB's sum over d in up to 16 partial threads where ED allows, the d-block index computed once:
  // at 2^20 on the H100 dC 16.4 → 6.3 ms against 8 threads with the index inline (neither change
  // alone gained; docs/decisions/selective-scan.md)
  const DS = quad ? opts.tune?.dSplit ?? [16, 8, 4, 2, 1].find((g) => ED % g === 0)! : 1;
  if (!(Number.isInteger(DS) && DS >= 1 && ED % DS === 0)) throw new RangeError(`selective scan backward: dSplit = ${DS} must be a positive integer dividing ED = ${ED}`);
  if (quad && (U !== T || T % 4 !== 0 || scheme !== 'tree')) throw new RangeError(`selective scan backward: layout 'quad' needs scheme 'tree', a chunk that is a multiple of 4 and no sub-chunks (chunk ${T}, sub ${U})`);
  // whole-chunk kernels (scatter-stores.ts: webgpu only)
  const scatter = quad && (gpu.mode ?? 'webgpu') === 'webgpu';
  const rawA = scatter && (opts.tune?.rawA ?? true);
  const rawDU = rawA && (opts.tune?.rawDU ?? true);
  const chunkRowsOn = quad && (opts.tune?.chunkRows ?? true);
  const chunkSumsOn = scatter && (opts.tune?.chunkSums ?? true);
  // dy from the dZ kernel: then every dy reader (reverse leaf, the fused kernel, dC, dB, dD) takes it at YO
  const dyFromDZ = scatter && chunkRowsOn && rawDU && chunkSumsOn && (opts.tune?.dyFromDZ ?? true);
  const hold = opts.tune?.rawHold ?? range(T).map((i) => T - i).find((h) => T % h === 0 && h * N <= 128) ?? 1;
  // chunks per thread of the fused dΔraw/dA kernel: fewer partials to sum, while ≥ 2^17 / ED·… threads
  // remain (H100, 2^20 in segments of 2^18: K 16 → 7.34 ms, 4 → 7.73, 1 → 8.06); never below 2, which
  // maxLength assumes (its partials then stay within the tree leaf's size)
  const KAmin = opts.tune?.rawAChunks ?? 2;
  const rawAChunks = (NC: number) => opts.tune?.rawAChunks ?? Math.min(16, Math.max(2, Math.floor((NC * ED) / 2 ** 17)));
  if (!(Number.isInteger(KAmin) && KAmin >= 1)) throw new RangeError(`selective scan backward: rawAChunks = ${KAmin} must be a positive integer`);
  const DDs = ED / DS;
  const sumsInner = opts.tune?.sumsInner ?? (DDs <= 32 ? DDs : [16, 8, 4, 2, 1].find((q) => DDs % q === 0)!);
  // dB's own (default the same): at 2^20 on the H100 with DD = 16, 8 side by side (a loop of 2) took dB
  // from 4.78 to 4.13 ms with dy from its own kernel, but 4.39 → 4.52 with dy from dZ (the default)
  const sumsInnerB = opts.tune?.sumsInnerB ?? sumsInner;
  for (const [name, w] of [['sumsInner', sumsInner], ['sumsInnerB', sumsInnerB]] as const) {
    if (!(Number.isInteger(w) && w >= 1 && DDs % w === 0)) throw new RangeError(`selective scan backward: ${name} = ${w} must divide the ${DDs} channels of a d block (ED ${ED} / dSplit ${DS})`);
  }
  const revLeafSrc = new Map<string, string>(); // revLeafChunkKernelSource per (full chunks, quads), generated once
  const quadSrc = new Map<string, ReturnType<typeof bwdQuadSources>>();
  const quadSources = (full: boolean, q: boolean) => {
    let s = quadSrc.get(`${full}|${q}`);
    if (!s) quadSrc.set(`${full}|${q}`, (s = bwdQuadSources(N, T, full, rawP, DS, opts.tune?.hoistIdx ?? true, quad ? hold : T, sumsInner, sumsInnerB, q)));
    return s;
  };
  // B and C as 16-byte quads in the reverse leaf and the fused dΔraw/dA kernel; the reverse leaf's next token loaded ahead
  const quadLoadsOn = scatter && N % 4 === 0 && (opts.tune?.quadLoads ?? true);
  const prefetchOn = scatter && (opts.tune?.prefetch ?? true);
  const DB = layout === 'warp' ? BWD_DBLOCKS : 1;
  const DAK = opts.tune?.dAChunks ?? 16;
  if (!(Number.isInteger(DAK) && DAK >= 1)) throw new RangeError(`selective scan backward: dAChunks = ${DAK} must be a positive integer`);
  const maxBindingBytes = opts.maxBindingBytes ?? 128 * 2 ** 20;
  /**
   * Longest L one call accepts. 'hillis-steele': the (⌈L/T⌉·T, ED, N) replays must fit a binding,
   * NC+1 ≤ 65,535 grid rows. 'tree': treeBackwardMaxLength (no (L, ED, N) tensor).
   */
  const maxLength = scheme === 'tree'
    ? treeBackwardMaxLength(ED, N, T, maxBindingBytes, U, Math.max(DB, DS), rawA ? KAmin : 0, rawDU ? 2 : 1)
    : Math.max(0, Math.min(Math.floor(maxBindingBytes / 4 / (ED * N * T)), Math.floor(maxBindingBytes / 4 / (2 * N * T)), 65534) * T);
  const cache = new Map<string, any>();
  const kinds = (xs: unknown[]) => xs.map((x) => (isHandle(x) ? 'h' : ArrayBuffer.isView(x) ? 'a' : 'n')).join('');
  const sources = new Map<boolean, ReturnType<typeof bwdTreeSources>>();
  const treeSources = (full: boolean) => {
    let s = sources.get(full);
    if (!s) sources.set(full, (s = bwdTreeSources(N, U, gridLayout, full, opts.tune?.hoist ?? false)));
    return s;
  };

  /**
   * Builds (once per shape, role, argument kinds and immutability) and calls a kernel; every output
   * stays on the device. `keep`: a fresh output buffer per call (results handed to the caller).
   * `fn` is a function or gpu.js source text; `extra` adds settings (argumentTypes, functions).
   */
  function call(role: string, fn: Function | string, output: number[], c: Record<string, number>, args: unknown[], extra: Record<string, unknown> = {}, keep = false) {
    const key = `${role}|${output.join('x')}|${JSON.stringify(c)}|${kinds(args)}|${keep}`;
    let k = cache.get(key);
    if (!k) {
      k = gpu.createKernel(fn as Function, { ...kernelSettings(output, c), pipeline: true, immutable: keep, ...extra });
      cache.set(key, k);
    }
    return k(...args);
  }
  const noProfile = async () => {};

  /** Tree scheme, one sequence of L ≥ 1 tokens (see the header). */
  async function treeStages(L: number, a: Inputs, bc: { BCS: number; BO: number; CO: number }, keep: boolean, profile: (stage: string) => Promise<void>) {
    const NC = Math.ceil(L / T);
    const V = T / U, NCs = NC * V; // sub-chunks of U tokens: what the per-position kernels replay from
    const src = treeSources(L % U === 0);
    const { counts, fanIn } = treeLevels(NC);
    const top = counts.length - 1;
    const WC = windowChunks(a.window, L, T, 'tree');
    if (WC > 0 && V > 1) throw new RangeError('selective scan backward: independent windows need sub-chunk = chunk');
    const ns = nodeChunks(fanIn);
    const base: TreeBwdConsts = {
      ED, N, N1: N + 1, T, TED: T * ED, LS: L, ...bc, G: 0, CC: 0, GM4: 0, NT: counts[top], NP: N + 1, K: DAK, R: 0, X: 0, GR: SUM_ROWS,
      U, V, TU: T - U, DB, EB: Math.floor(ED / DB), EDH: Math.floor(ED / 8), WC, NS: ns[top], M0: 0, YO: 0,
    };
    // slots per node of level l: level 0 as the leaf that wrote it (leafSlots), saved or below
    const NL = a.saved?.NL ?? leafSlots(N, quad), n1 = (l: number) => (l === 0 ? NL : N + 1);
    const level = (l: number) => ({ ...base, N1: n1(l - 1), G: fanIn[l - 1], CC: counts[l - 1], NS: ns[l - 1] });
    const sub = { ...base, T: U, TED: U * ED }; // constants of the per-position kernels: chunk = sub-chunk
    const fns = { functions: integerHelpers };
    const lay = layout === 'warp' ? fns : {};
    const gED = bwdGrid(gridLayout, ED, U, NCs), gN = bwdGrid(gridLayout, N, U, NCs, DB);
    const PD = await call('params', paramsKernel, [N + 1, ED], base, [a.A, a.D]); // (ED, N+1)
    const sv = a.saved;
    if (sv && (sv.T !== T || sv.NC !== NC || sv.WC !== WC || sv.sums.length !== counts.length || V > 1 || layout === 'warp')) {
      throw new RangeError(`selective scan backward: the forward's saved tree (chunk ${sv.T}, ${sv.NC} chunks) does not fit this call (chunk ${T}, ${NC} chunks, layout ${layout}, sub-chunk ${U})`);
    }
    const delta = sv ? sv.delta : await call('delta', src.delta, gED, sub, [a.raw, a.bias], lay); // (NC·T, ED)
    // dyFromDZ: dy comes with dZ, after the forward tree
    let dy = dyFromDZ ? null : await call('dy', src.dy, gED, sub, [a.dOut, a.z], lay); // (NC·T, ED)
    await profile(dyFromDZ ? 'delta' : 'delta, dy');
    // forward tree (gpujs.ts kernels) down to the level above the chunks; its last step (to the chunks,
    // or to the sub-chunks) comes below — or all of it as the forward saved it
    let sums: unknown[];
    let S: unknown;
    /** a kernel returning Array(P), its values stored with laneStrides(...strides), seen as `count` floats */
    const lanes = async (role: string, fn: Function | string, grid: number[], c: Record<string, number>, strides: [number, number, number, number],
      args: unknown[], count: number, P = 4, extra: Record<string, unknown> = {}, keepIt = false) =>
      laneView(await call(role, fn, grid, { ...c, ...laneStrides(...strides) }, args, { returnType: `Array(${P})`, ...extra }, keepIt) as GpuHandle, count);
    // a down step with four children per thread: their starts (or carries) stored as rows
    const quadDown = (role: string, fn: Function, l: number, args: unknown[]) => {
      const q = counts[l] * fanIn[l - 1] / 4;
      return lanes(role, fn, [ED, N, q], { ...level(l), GM4: fanIn[l - 1] - 4 }, [1, ED, 4 * N * ED, N * ED], args, 4 * q * N * ED, 4, fns); // (4·q ≥ counts[l-1], N, ED)
    };
    if (sv) {
      sums = sv.sums;
      S = sv.starts;
    } else {
      if (NL === N + 4) {
        sums = [await lanes('leafq', treeLeafQuadKernel, [ED, N / 4 + 1, NC], base, [1, 4 * ED, NL * ED, ED], [delta, a.u, a.A, a.BC], NC * NL * ED)]; // (NC, N+4, ED)
      } else {
        sums = [await call('leaf', L % T === 0 ? treeLeafFullKernel : treeLeafKernel, [ED, N + 1, NC], base, [delta, a.u, a.A, a.BC])]; // (NC, N+1, ED)
      }
      for (let l = 1; l <= top; l++) sums.push(await call(`up${l}`, treeUpKernel, [ED, N + 1, counts[l]], level(l), [sums[l - 1], a.A]));
      S = await call('top', treeTopKernel, [ED, N, counts[top] + 1], { ...base, N1: n1(top) }, [sums[top], a.A, a.h0]); // (NT+1, N, ED)
      for (let l = top; l >= (V > 1 ? 2 : 1); l--) {
        S = quad
          ? await quadDown(`downq${l}`, treeDownQuadKernel, l, [S, sums[l - 1], a.A])
          : await call(`down${l}`, treeDownKernel, [ED, N, counts[l - 1]], level(l), [S, sums[l - 1], a.A], fns);
      }
      // S (NC·V, N, ED): state entering each sub-chunk (V = 1: each chunk)
      if (V > 1) S = await call('downSub', downSubKernel, [ED, N, NCs], top >= 1 ? level(1) : { ...base, N1: NL, G: 1, CC: NC }, [S, sums[0], delta, a.u, a.A, a.BC], fns);
    }
    await profile('forward tree');
    const q4 = quadLoadsOn && bc.BCS % 4 === 0 && bc.BO % 4 === 0 && bc.CO % 4 === 0;
    const qc: Record<string, number> = q4 ? { BCS4: bc.BCS / 4, BO4: bc.BO / 4, CO4: bc.CO / 4 } : {};
    const q4Fns = { functions: q4 ? [...scatterHelpers, ...quadLoadHelpers] : scatterHelpers };
    const qs = quad ? quadSources(L % T === 0, q4) : null;
    // dyFromDZ: one buffer holds dZ's rows, then dy's (from YO); dZ is handed out as a view of its rows
    let dZ: unknown = null;
    let YO = 0;
    if (dyFromDZ) {
      const rows = NC * T * ED;
      dZ = scatterView(await (sv?.y
        ? call('dZy', DZ_FROM_Y_SOURCE, [ED, T, NC], { ...base, YO: rows, YF: sv.yOffset ?? 0, ...scatterFloats(2 * rows) }, [sv.y, a.z, a.dOut], { functions: scatterHelpers }, keep)
        : call('dZYc', qs!.dZYc, [ED, NC], { ...base, YO: rows, ...scatterFloats(2 * rows) }, [delta, a.u, PD, a.BC, a.z, a.dOut, S], { functions: scatterHelpers }, keep)) as GpuHandle, rows);
      dy = flatView(dZ as GpuHandle, 2 * rows); // a second reference, deleted once dD is summed
      YO = rows;
      await profile('dZ');
    }
    const yb = { ...base, YO }; // constants of the dy readers
    // reverse tree: P = carry entering each sub-chunk from the right; slot NT of its top = dh0
    const rs: unknown[] = [];
    if (scatter && (opts.tune?.revLeafChunk ?? true)) {
      const key = `${L % T === 0}|${q4}`;
      let fn = revLeafSrc.get(key);
      if (fn === undefined) revLeafSrc.set(key, (fn = revLeafChunkKernelSource(N, L % T === 0, { quadC: q4, prefetch: prefetchOn })));
      rs.push(scatterView(await call(`rleafc${q4 ? '4' : ''}${prefetchOn ? 'p' : ''}`, fn, [ED, NC], { ...yb, ...qc, ...scatterFloats(NC * N * ED) }, [delta, dy, a.A, a.BC], q4Fns) as GpuHandle, NC * N * ED)); // (NC, N, ED)
    } else if (quad && N % 4 === 0) {
      rs.push(await lanes('rleafq', revLeafQuadKernel, [ED, N / 4, NC], yb, [1, 4 * ED, N * ED, ED], [delta, dy, a.A, a.BC], NC * N * ED)); // (NC, N, ED)
    } else {
      rs.push(await call('rleaf', L % T === 0 ? revLeafFullKernel : revLeafKernel, [ED, N, NC], yb, [delta, dy, a.A, a.BC])); // (NC, N, ED)
    }
    for (let l = 1; l <= top; l++) rs.push(await call(`rup${l}`, revUpKernel, [ED, N, counts[l]], level(l), [rs[l - 1], sums[l - 1], a.A]));
    const rtop = await call('rtop', revTopKernel, [ED, N, counts[top] + 1], { ...base, N1: n1(top) }, [rs[top], sums[top], a.A, a.dhL]); // (NT+1, N, ED)
    let P = rtop;
    for (let l = top; l >= (V > 1 ? 2 : 1); l--) {
      P = quad
        ? await quadDown(`rdownq${l}`, revDownQuadKernel, l, [P, rs[l - 1], sums[l - 1], a.A])
        : await call(`rdown${l}`, revDownKernel, [ED, N, counts[l - 1]], level(l), [P, rs[l - 1], sums[l - 1], a.A], fns);
    }
    if (V > 1) P = await call('rdownSub', revDownSubKernel, [ED, N, NCs], top >= 1 ? level(1) : { ...base, N1: NL, G: 1, CC: NC }, [P, rs[0], sums[0], delta, dy, a.A, a.BC], fns); // (NC·V, N, ED)
    const dh0 = await call('dh0', treeFinalKernel, [N, ED], base, [rtop], {}, keep); // (ED, N)
    await profile('reverse tree');
    // per-position gradients, replayed from S and P in registers over sub-chunks of U tokens
    // layout 'quad': four positions per thread (bwdQuadSources), stored as rows
    // (NC·T, W) rows from a kernel of P positions per thread; with splits > 1 (dC, dB over d) its x is
    // split·W wide and the blocked partials are summed into rows
    const viaQuad = async (name: string, fn: string, W: number, args: unknown[], P = 4, splits = 1) => {
      if (splits === 1) {
        // stored straight into rows: thread (w, q, c) writes rows c·T + P·q + j (lane-strides.ts)
        return lanes(`${name}q`, fn, [W, T / P, NC], { ...base, TQ: T - 4, TR: T - P }, [1, P * W, T * W, W], args, NC * T * W, P, {}, keep);
      }
      const blocked = await call(`${name}q`, fn, [splits * W, T / P, NC], { ...base, TQ: T - 4, TR: T - P, DD: ED / splits }, args, { returnType: `Array(${P})`, ...fns }) as GpuHandle;
      const view = flatView(blocked, NC * T * W * splits);
      blocked.delete();
      const r = await call(`${name}u`, unblockSumKernel, [W, T, NC], { W, TP: T / P, P, DS: splits }, [view], fns, keep);
      view.delete();
      return r;
    };
    // (NC·T, ED) rows from a whole-chunk kernel: thread (d, c) stores rows c·T … c·T + T − 1 (scatter-stores.ts)
    const viaChunk = async (name: string, fn: string, args: unknown[]) =>
      scatterView(await call(`${name}c`, fn, [ED, NC], { ...base, ...scatterFloats(NC * T * ED) }, args, { functions: scatterHelpers }, keep) as GpuHandle, NC * T * ED);
    const chunkRows = qs && chunkRowsOn;
    if (!dyFromDZ) {
      dZ = qs ? await (chunkRows ? viaChunk('dZ', qs.dZc, [delta, a.u, PD, a.BC, a.z, a.dOut, S]) : viaQuad('dZ', qs.dZ, ED, [delta, a.u, PD, a.BC, a.z, a.dOut, S]))
        : await call('dZ', src.dZ, gED, sub, [delta, a.u, PD, a.BC, a.z, a.dOut, S], lay, keep);
      await profile('dZ');
    }
    let dU: unknown = null; // rawDU: from the fused dΔraw/dA kernel below
    if (!(qs && rawA && rawDU)) {
      dU = qs ? await (chunkRows ? viaChunk('dU', qs.dUc, [delta, dy, PD, a.BC, P]) : viaQuad('dU', qs.dU, ED, [delta, dy, PD, a.BC, P]))
        : await call('dU', src.dU, gED, sub, [delta, dy, PD, a.BC, P], lay, keep);
      await profile('dU');
    }
    // dΔraw and dA: one whole-chunk kernel (rawA), its dA partials after the dΔraw rows; or separately
    let dRaw: unknown;
    let M: unknown;
    let R = Math.ceil(NCs / DAK); // dA partial rows: groups of DAK sub-chunks, or (rawA) of K chunks
    let M0 = 0;
    let fusedView: GpuHandle | null = null;
    let DOFF = 0, RF = 0; // rawA: where the fused kernel's RF rows of dD partials start (then RF of dΔbias)
    if (qs && rawA) {
      const KA = rawAChunks(NC);
      R = RF = Math.ceil(NC / KA);
      const rows = NC * T * ED;
      M0 = rawDU ? 2 * rows : rows;
      DOFF = M0 + R * N * ED;
      const fused = await call(`dRawAc${q4 ? '4' : ''}`, rawDU ? qs.dRawAU : qs.dRawA, [ED, R], { ...yb, ...qc, K: KA, NC, R, UOFF: rows, AOFF: M0, DOFF, ...scatterFloats(DOFF + 2 * R * ED) },
        [delta, a.u, PD, a.BC, dy, S, P], q4Fns, keep) as GpuHandle;
      dRaw = scatterView(fused, rows); // seen as its (NC·T, ED) rows, as the callers expect
      M = flatView(dRaw as GpuHandle, DOFF + 2 * R * ED); // a second reference, deleted once dA, dD and dΔbias are summed
      fusedView = M as GpuHandle;
      // dU's rows into a buffer of their own (a copy: gpu.js binds whole buffers)
      if (rawDU) dU = await call('dUcopy', rowSumKernel, [ED, NC * T], { ...base, GR: 1, R: NC * T, X: ED, M0: rows }, [M], {}, keep);
    } else {
      dRaw = qs ? await viaQuad('dRaw', qs.dRaw, ED, [delta, a.u, PD, a.BC, dy, S, P], rawP)
        : await call('dRaw', src.dRaw, gED, sub, [delta, a.u, PD, a.BC, dy, S, P], lay, keep);
    }
    await profile('dDeltaRaw');
    // dC, dB: (NCs·U, N); with d-blocks, (NCs·U, DB, N) partials then a sum over the blocks
    const chunkSums = chunkSumsOn;
    /** whole-chunk dC/dB: grid [DS·N, NC], partials blocked for unblockSumKernel (DS > 1) or rows */
    const viaChunkSum = async (name: string, fn: string, args: unknown[]) => {
      const count = NC * T * N * DS;
      const part = scatterView(await call(`${name}c`, fn, [DS * N, NC], { ...yb, DD: ED / DS, DQ: ED / DS / (name === 'dB' ? sumsInnerB : sumsInner), ...scatterFloats(count) }, args, { functions: [...scatterHelpers, ...integerHelpers] }, keep && DS === 1) as GpuHandle, count);
      if (DS === 1) return part;
      const r = await call(`${name}u`, unblockSumKernel, [N, T, NC], { W: N, TP: T / 4, P: 4, DS }, [part], fns, keep);
      part.delete();
      return r;
    };
    const perN = async (name: string, fn: string, quadFn: string | undefined, chunkFn: string | undefined, args: unknown[]) => {
      if (chunkSums && chunkFn) return viaChunkSum(name, chunkFn, args);
      if (quadFn) return viaQuad(name, quadFn, N, args, 4, DS);
      if (DB === 1) return call(name, fn, gN, sub, args, lay, keep);
      const part = await call(`${name}p`, fn, gN, sub, args, lay);
      return call(name, blockSumKernel, [N, U, NCs], sub, [part], {}, keep);
    };
    const dC = await perN('dC', src.dC, qs?.dC, qs?.dCc, [dy, delta, a.u, a.A, a.BC, S]);
    await profile('dC');
    const dB = await perN('dB', src.dB, qs?.dB, qs?.dBc, [delta, a.u, dy, a.A, a.BC, P]);
    await profile('dB');
    // dA: per (group of K sub-chunks, d, n) partials, then row sums down to ≤ SUM_ROWS rows, transposed to (ED, N)
    if (!(qs && rawA)) {
      if (qs?.dA) {
        // four states per thread (bwdDAQuadSource), stored in the one-state kernel's (R, N, ED) layout
        M = await lanes('dAq', qs.dA, [ED, N / 4, R], sub, [1, 4 * ED, N * ED, ED], [delta, a.u, dy, a.A, a.BC, S, P], R * N * ED);
      } else {
        M = await call('dAp', src.dA, [ED, N, R], sub, [delta, a.u, dy, a.A, a.BC, S, P]); // (R, N, ED)
      }
    }
    for (let s = 0; R > SUM_ROWS; s++) {
      M = await call(`dAs${s}`, rowSumKernel, [ED * N, Math.ceil(R / SUM_ROWS)], { ...base, R, X: ED * N, M0 }, [M]);
      R = Math.ceil(R / SUM_ROWS);
      M0 = 0;
    }
    const dA = await call('dA', rowSumFinalTKernel, [ED * N], { ...base, R, X: ED * N, M0 }, [M], fns, keep); // (ED, N)
    await profile('dA');
    // dD = Σ_t dy·u and dΔbias = Σ_t dRaw over the L real rows: from `rows` rows of partials `first` (from
    // float m0), or (rawA) from the fused kernel's RF rows of each at DOFF
    const colSum = async (name: string, first: unknown, rows: number, m0 = 0) => {
      let m = first;
      for (let s = 0; rows > SUM_ROWS; s++) {
        m = await call(`${name}s${s}`, rowSumKernel, [ED, Math.ceil(rows / SUM_ROWS)], { ...base, R: rows, X: ED, M0: m0 }, [m]);
        rows = Math.ceil(rows / SUM_ROWS);
        m0 = 0;
      }
      return call(name, rowSumFinalKernel, [ED], { ...base, R: rows, X: ED, M0: m0 }, [m], {}, keep);
    };
    let dD: unknown, dDeltaBias: unknown;
    if (fusedView) {
      dD = await colSum('dD', fusedView, RF, DOFF);
      dDeltaBias = await colSum('dBias', fusedView, RF, DOFF + RF * ED);
      fusedView.delete();
    } else {
      dD = await colSum('dD', await call('dDp', rowDotKernel, [ED, Math.ceil(L / SUM_ROWS)], { ...yb, R: L, X: ED }, [dy, a.u]), Math.ceil(L / SUM_ROWS));
      dDeltaBias = await colSum('dBias', await call('dBiasp', rowSumKernel, [ED, Math.ceil(L / SUM_ROWS)], { ...base, R: L, X: ED }, [dRaw]), Math.ceil(L / SUM_ROWS));
    }
    if (dyFromDZ) (dy as GpuHandle).delete();
    await profile('dD, dDeltaBias');
    return { dU, dDeltaRaw: dRaw, dZ, dB, dC, dA, dD, dDeltaBias, dh0 };
  }

  /** Scheme 'hillis-steele': every stage for one sequence of L ≥ 1 tokens. */
  async function hsStages(L: number, a: Inputs, bc: { BCS: number; BO: number; CO: number }, keep: boolean, profile: (stage: string) => Promise<void>) {
    windowChunks(a.window, L, T, 'hillis-steele'); // throws for real windows
    const NC = Math.ceil(L / T);
    const c: BwdConsts = { ED, N, T, NC, LS: L, ...bc, X: 0 };
    const pass = (P: string): { argumentTypes: Record<string, string> } => ({
      argumentTypes: P === 'S' ? { S: 'Array', W: 'Array', A: 'Array', k: 'Integer' } : P === 'P' ? { P: 'Array', W: 'Array', A: 'Array', k: 'Integer' } : { W: 'Array', k: 'Integer' },
    });
    // forward chunk-start states, as gpujs.ts: S[c] = state before chunk c
    const delta = await call('delta', deltaKernel, [ED, L], c, [a.raw, a.bias]); // (L, ED)
    let W = await call('wsum', chunkDeltaSumKernel, [ED, NC + 1], c, [delta]);
    let S = await call('summary', chunkSummaryKernel, [N, ED, NC + 1], c, [delta, a.u, a.A, a.BC, a.h0]); // (NC+1, ED, N)
    for (let k = 1, p = 0; k < NC + 1; k *= 2, p++) {
      // ping-pong instances: a kernel must not read the buffer it writes
      S = await call(`spass${p % 2}`, scanStatePassKernel, [N, ED, NC + 1], c, [S, W, a.A, k], pass('S'));
      if (2 * k < NC + 1) W = await call(`wpass${p % 2}`, scanDeltaPassKernel, [ED, NC + 1], c, [W, k], pass('W'));
    }
    await profile('forward scan');
    // adjoint chunk carries, reverse scan: P[j] = ∂loss/∂(state before chunk j)
    const dy = await call('dy', dyKernel, [ED, L], c, [a.dOut, a.z]); // (L, ED)
    const spg = await call('spg', softplusGradKernel, [ED, L], c, [a.raw, a.bias]); // (L, ED)
    let Wr = await call('wrsum', chunkDeltaSumRevKernel, [ED, NC + 1], c, [delta]);
    let P = await call('adjsum', adjointSummaryKernel, [N, ED, NC + 1], c, [delta, dy, a.A, a.BC, a.dhL]); // (NC+1, ED, N)
    for (let k = 1, p = 0; k < NC + 1; k *= 2, p++) {
      P = await call(`ppass${p % 2}`, adjointPassKernel, [N, ED, NC + 1], c, [P, Wr, a.A, k], pass('P'));
      if (2 * k < NC + 1) Wr = await call(`rpass${p % 2}`, revDeltaPassKernel, [ED, NC + 1], c, [Wr, k], pass('W'));
    }
    await profile('adjoint scan');
    // per-position states and adjoints by replay inside each chunk
    const Hprev = await call('hprev', statePrevKernel, [ED * N, T, NC], c, [delta, a.u, a.A, a.BC, S]); // (NC·T, ED, N)
    const G = await call('adj', adjointStateKernel, [ED * N, T, NC], c, [delta, dy, a.A, a.BC, P]); // (NC·T, ED, N)
    await profile('replays');
    // outputs
    const y = await call('y', yKernel, [ED, T, NC], c, [Hprev, delta, a.A, a.BC, a.u, a.D]); // (NC·T, ED)
    const dZ = await call('dZ', dZKernel, [ED, T, NC], c, [a.dOut, a.z, y], {}, keep);
    const dU = await call('dU', dUKernel, [ED, T, NC], c, [G, delta, a.BC, dy, a.D], {}, keep);
    const dRaw = await call('dRaw', dDeltaRawKernel, [ED, T, NC], c, [G, Hprev, delta, a.A, a.BC, a.u, spg], {}, keep); // (NC·T, ED)
    const dB = await call('dB', dBKernel, [N, T, NC], c, [G, delta, a.u], {}, keep);
    const dC = await call('dC', dCKernel, [N, T, NC], c, [dy, Hprev, delta, a.A, a.BC, a.u], {}, keep);
    const dAp = await call('dAp', dAPartialKernel, [ED * N, NC], c, [G, delta, a.A, Hprev]);
    const dDp = await call('dDp', dDPartialKernel, [ED, NC], c, [dy, a.u]);
    const dBp = await call('dBiasp', chunkRowSumKernel, [ED, NC], c, [dRaw]);
    const dA = await call('dA', sumChunksKernel, [ED * N], { ...c, X: ED * N }, [dAp], {}, keep);
    const dD = await call('dD', sumChunksKernel, [ED], { ...c, X: ED }, [dDp], {}, keep);
    const dDeltaBias = await call('dBias', sumChunksKernel, [ED], { ...c, X: ED }, [dBp], {}, keep);
    const dh0 = await call('dh0', firstSlotKernel, [N, ED], c, [P], {}, keep);
    await profile('outputs');
    return { dU, dDeltaRaw: dRaw, dZ, dB, dC, dA, dD, dDeltaBias, dh0 };
  }

  const stages = (L: number, a: Inputs, bc: { BCS: number; BO: number; CO: number }, keep: boolean, profile: (stage: string) => Promise<void> = noProfile) =>
    (scheme === 'tree' ? treeStages(L, a, bc, keep, profile) : hsStages(L, a, bc, keep, profile));

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

  async function runDeviceNow(a: GpuScanBackwardDeviceArgs, dOut: ScanHandle, dhL: ScanHandle, runOpts: GpuScanBackwardRunOptions): Promise<GpuScanGradHandles> {
    const { L } = a;
    if (a.ED !== ED || a.N !== N) throw new RangeError(`selective scan backward: kernels built for ED=${ED} N=${N}, called with ED=${a.ED} N=${a.N}`);
    // the forward's gate: false / deltaSoftplus: false (its args passed on as they are) have no backward here
    const v = a as { gate?: boolean; deltaSoftplus?: boolean };
    if (v.gate === false || v.deltaSoftplus === false) throw new RangeError('selective scan backward: computes the gated scan with softplus only (got `gate: false` or `deltaSoftplus: false`)');
    if (!(Number.isInteger(L) && L >= 1)) throw new RangeError(`selective scan backward: device path needs L ≥ 1 (got ${L})`);
    if (L > maxLength) throw new RangeError(`selective scan backward: L=${L} exceeds one call (${maxLength} tokens at ED=${ED} N=${N} chunk=${T}); run it in segments, last first, carrying dh0 → dhL`);
    const { bcStride, bOffset, cOffset } = a;
    if (![bcStride, bOffset, cOffset].every((v) => Number.isInteger(v) && v >= 0) || bOffset + N > bcStride || cOffset + N > bcStride) {
      throw new RangeError(`selective scan backward: BC layout stride=${bcStride} bOffset=${bOffset} cOffset=${cOffset} does not hold N=${N} columns each`);
    }
    if (Math.ceil(L / T) * T * bcStride >= 2 ** 31) throw new RangeError(`selective scan backward: L=${L} rows of stride ${bcStride} exceed 2^31 elements (i32 indices); use shorter segments`);
    const need: Array<[string, unknown, number]> = [
      ['u', a.u, L * ED], ['deltaRaw', a.deltaRaw, L * ED], ['z', a.z, L * ED], ['BC', a.BC, L * bcStride], ['A', a.A, ED * N],
      ['D', a.D, ED], ['deltaBias', a.deltaBias, ED], ['h0', a.h0, ED * N], ['dOut', dOut, L * ED], ['dhL', dhL, ED * N],
    ];
    for (const [name, x, n] of need) {
      if (!isHandle(x)) throw new RangeError(`selective scan backward: runDevice needs ${name} as a device handle (pipeline result)`);
      const size = handleSize(x);
      if (size !== null && size < n) throw new RangeError(`selective scan backward: ${name} holds ${size} values, expected ≥ ${n} for L=${L} ED=${ED} N=${N}`);
    }
    if (runOpts.saved && scheme !== 'tree') throw new RangeError('selective scan backward: `saved` needs scheme \'tree\'');
    return (await stages(L, { u: a.u, raw: a.deltaRaw, z: a.z, BC: a.BC, A: a.A, D: a.D, bias: a.deltaBias, h0: a.h0, dOut, dhL, window: a.window, saved: runOpts.saved }, { BCS: bcStride, BO: bOffset, CO: cOffset }, true, runOpts.profile)) as GpuScanGradHandles;
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
   * `runOpts.profile` is awaited after each stage (benchmarks).
   */
  function runDevice(a: GpuScanBackwardDeviceArgs, dOut: ScanHandle, dhL: ScanHandle, runOpts: GpuScanBackwardRunOptions = {}): Promise<GpuScanGradHandles> {
    return enqueue(() => runDeviceNow(a, dOut, dhL, runOpts));
  }

  return { run, runDevice, chunk: T, maxLength, scheme, layout, sub: U };
}
