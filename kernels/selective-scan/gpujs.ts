// Selective scan (Mamba-1, diagonal A) as gpu.js kernels: a chunked scan in which every gpu.js thread
// writes one value. Same math as ref.ts (`selectiveScanRef`, mamba_ssm's `selective_scan_ref` with
// delta_softplus, delta_bias, D, z, plus h0); tolerance TOLERANCE.forward. Not a backward
// (gpujs-backward.ts, which imports the Hillis–Steele kernels below) and not gpu.js-free: the factory
// receives the gpu.js instance (kernels/ never imports gpu.js).
//
// Default scheme 'tree' (issue 6), for one segment of LS tokens in NC = ⌈LS/T⌉ chunks of T tokens.
// Tensors per level are laid out (count, slot, ED) so that consecutive threads (x = d) touch
// consecutive floats; a summary has N+1 slots: n < N the end state from a zero start, slot N = Σδ
// (the group's decay is exp(A·Σδ), the same for every n):
//   δ        (LS, ED)                δ = softplus(deltaRaw + deltaBias), stable (gpu.js has no log1p)
//   level 0  (NC, N+1, ED)           chunk summaries from the tokens                 (1 exp per (t,d,n))
//   up ℓ     (NCℓ, N+1, ED)          combine g children sequentially (g = 4, then 8) until ≤ 64 groups
//   top      (NCtop+1, N, ED)        start state of every top group: h0 walked sequentially over the
//                                    groups before it (≤ 64 steps); slot NCtop = hL
//   down ℓ   (NCℓ-1, N, ED)          start of each child: parent's start + the earlier siblings
//                                    (≤ g−1 steps), down to the chunk starts
//   out      (NC·T, ED)              per (t, d): N states in scalar registers, replayed from the
//                                    chunk start up to t ((T+1)/2 steps on average), then
//                                    out = (Σ_n C_t[n]·h_t[n] + D·u_t)·silu(z_t); grid [ED, T, NC]
//                                    (or 1-D [LS·ED], `replay.layout '1d'`, slower on the H100);
//                                    on webgpu by default 'chunk': grid [ED, NC], a thread walks its
//                                    whole chunk once and stores all T outputs (storeAt)
//   hL       (ED, N)                 copy of the top slot NCtop
// Work ≈ L·ED·N·(1 + (T+1)/2 + ~0.3 at T = 8) exps, against L·ED·N for the sequential recurrence;
// extra memory ≈ 2·(N+1)·ED·L/T floats. Why this shape and what gpu.js forced:
// docs/decisions/selective-scan.md. Scheme 'hillis-steele' (the earlier design, kept for comparison):
// chunk summaries, ⌈log2(NC+1)⌉ Hillis–Steele passes over every chunk, replay with n outer.
// Independent windows (`window` on the device path, tree only): the segment is a batch of windows laid
// end to end; a window's first chunk gets Σδ = WINDOW_CUT (decay 0: nothing flows in from before) and
// every tree node that starts a window a zero start state — the same kernels, two predicates.
// `save` (device path, tree): also return δ, every level's summaries and the chunk starts as fresh
// buffers (GpuScanSaved) for gpujs-backward.ts runDevice's `saved`, which then skips recomputing them.
//
// Contract of `createSelectiveScanKernels(gpu, {ED, N, chunk})(args)`: the args of ref.ts, each a
// Float32Array or (webgpu, `pipeline` handles) a device handle; B and C may instead come packed as
// one (L, bcStride) tensor `BC` with B at column bOffset and C at cOffset (x_proj's output can be
// passed as is). Host inputs longer than one segment (binding limit, 128 MiB on lavapipe) are
// streamed in segments that carry the state. Device-handle inputs must fit one segment and return
// handles (immutable: the caller deletes them): out (L, ED) row-padded to ⌈L/chunk⌉·chunk rows (read
// the first L rows; exactly L·ED with replay layout '1d'), hL (ED, N).
import { flatView, type GpuHandle, type GpuJsLike, kernelSettings, laneStrides, laneView, quadLoadHelpers, scatterFloats, scatterHelpers, scatterView } from '../gpujs-types.js';
import { idiv, ifix, iint, integerHelpers } from '../gpujs-int.js';

type Thread3 = { thread: { x: number; y: number; z: number } };
type ScanConsts = { ED: number; N: number; T: number; NC: number; LS: number; BCS: number; BO: number; CO: number };
type K = Thread3 & { constants: ScanConsts };

// ---- kernel functions (gpu.js source: plain functions; indices inline, loop bounds constants) ----

/** (LS, ED): δ = softplus(raw + bias); log1p(e) by Kahan's trick log(w)·e/(w-1), w = 1 + e. */
export function deltaKernel(this: K, raw: number[], bias: number[]): number {
  const x = raw[this.thread.y * this.constants.ED + this.thread.x] + bias[this.thread.x];
  if (x > 20) return x;
  const e = Math.exp(-Math.abs(x));
  const w = 1 + e;
  let l = e;
  if (w !== 1) l = (Math.log(w) * e) / (w - 1);
  return Math.max(x, 0) + l;
}

/** (NC+1, ED): W[0] = 0, W[j] = Σ δ over chunk j-1. */
export function chunkDeltaSumKernel(this: K, delta: number[]): number {
  let s = 0;
  if (this.thread.y > 0) {
    for (let k = 0; k < this.constants.T; k++) {
      if ((this.thread.y - 1) * this.constants.T + k >= this.constants.LS) break;
      s += delta[((this.thread.y - 1) * this.constants.T + k) * this.constants.ED + this.thread.x];
    }
  }
  return s;
}

/** (NC+1, ED, N): S[0] = h0, S[j] = end state of chunk j-1 started from zero. */
export function chunkSummaryKernel(this: K, delta: number[], u: number[], A: number[], BC: number[], h0: number[]): number {
  if (this.thread.z === 0) return h0[this.thread.y * this.constants.N + this.thread.x];
  const a = A[this.thread.y * this.constants.N + this.thread.x];
  let h = 0;
  for (let k = 0; k < this.constants.T; k++) {
    if ((this.thread.z - 1) * this.constants.T + k >= this.constants.LS) break;
    const dl = delta[((this.thread.z - 1) * this.constants.T + k) * this.constants.ED + this.thread.y];
    h = Math.exp(dl * a) * h
      + dl * BC[((this.thread.z - 1) * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.x]
        * u[((this.thread.z - 1) * this.constants.T + k) * this.constants.ED + this.thread.y];
  }
  return h;
}

/** One Hillis–Steele pass on the states, offset k: S'[j] = S[j] + exp(A·W[j])·S[j-k] for j ≥ k. */
export function scanStatePassKernel(this: K, S: number[], W: number[], A: number[], k: number): number {
  const s = S[(this.thread.z * this.constants.ED + this.thread.y) * this.constants.N + this.thread.x];
  if (this.thread.z < k) return s;
  return s + Math.exp(A[this.thread.y * this.constants.N + this.thread.x] * W[this.thread.z * this.constants.ED + this.thread.y])
    * S[((this.thread.z - k) * this.constants.ED + this.thread.y) * this.constants.N + this.thread.x];
}

/** The same pass on the window sums: W'[j] = W[j] + W[j-k] for j ≥ k. */
export function scanDeltaPassKernel(this: K, W: number[], k: number): number {
  const w = W[this.thread.y * this.constants.ED + this.thread.x];
  if (this.thread.y < k) return w;
  return w + W[(this.thread.y - k) * this.constants.ED + this.thread.x];
}

/**
 * (LS, ED) as a (NC, T, ED) grid (thread.z = chunk c, thread.y = position k in it, so t = c·T + k
 * needs no division): replay chunk c from its start state S[c] up to t for each n, then
 * out = (Σ_n C_t[n]·h_t[n] + D·u_t)·silu(z_t). Rows t ≥ LS of the last chunk compute padding.
 */
export function chunkReplayOutputKernel(
  this: K, delta: number[], u: number[], A: number[], BC: number[], D: number[], z: number[], S: number[],
): number {
  let y = 0;
  for (let n = 0; n < this.constants.N; n++) {
    let h = S[(this.thread.z * this.constants.ED + this.thread.x) * this.constants.N + n];
    const a = A[this.thread.x * this.constants.N + n];
    for (let k = 0; k < this.constants.T; k++) {
      if (k > this.thread.y) break;
      const dl = delta[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
      h = Math.exp(dl * a) * h
        + dl * BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + n]
          * u[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
    }
    y += BC[(this.thread.z * this.constants.T + this.thread.y) * this.constants.BCS + this.constants.CO + n] * h;
  }
  y += D[this.thread.x] * u[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  const zt = z[(this.thread.z * this.constants.T + this.thread.y) * this.constants.ED + this.thread.x];
  return (y * zt) / (1 + Math.exp(-zt));
}

/** (ED, N): hL = S[NC]. */
export function finalStateKernel(this: K, S: number[]): number {
  return S[(this.constants.NC * this.constants.ED + this.thread.y) * this.constants.N + this.thread.x];
}

/**
 * Naive baseline for the benchmark: one thread per (d, n) runs the whole recurrence over LS tokens
 * sequentially and returns only the final state (one output per thread rules out writing y here).
 */
export function naiveFinalStateKernel(this: K, raw: number[], bias: number[], u: number[], A: number[], BC: number[], h0: number[]): number {
  let h = h0[this.thread.y * this.constants.N + this.thread.x];
  const a = A[this.thread.y * this.constants.N + this.thread.x];
  for (let t = 0; t < this.constants.LS; t++) {
    const x = raw[t * this.constants.ED + this.thread.y] + bias[this.thread.y];
    let dl = x;
    if (x <= 20) {
      const e = Math.exp(-Math.abs(x));
      const w = 1 + e;
      let l = e;
      if (w !== 1) l = (Math.log(w) * e) / (w - 1);
      dl = Math.max(x, 0) + l;
    }
    h = Math.exp(dl * a) * h + dl * BC[t * this.constants.BCS + this.constants.BO + this.thread.x] * u[t * this.constants.ED + this.thread.y];
  }
  return h;
}

// ---- 'tree' scheme kernels (issue 6) ----
// Integer helpers (exact integer division inside index expressions): kernels/gpujs-int.ts; the tree
// kernels below call idiv inline (or hold a small quotient in a local, read back through iint) and are built with `functions: integerHelpers`.
export { idiv, ifix, iint, integerHelpers };

type TreeConsts = {
  ED: number; N: number; N1: number; T: number; TED: number; LS: number; BCS: number; BO: number; CO: number;
  /** fan-in of this level, number of children (the level below), number of top groups; GM4 = G − 4 (four children per thread) */
  G: number; CC: number; NT: number; GM4: number;
  /**
   * independent windows (a batch laid end to end): WC = chunks per window (0: one sequence), NS =
   * chunks per node of the level a top/down kernel writes. A window's first chunk gets Σδ = WINDOW_CUT
   * (its decay e^{A·Σδ} is 0: nothing flows into the window from before) and every node that starts a
   * window gets a zero start state.
   */
  WC: number; NS: number;
};

/** Σδ of a window's first chunk: e^{A·Σδ} underflows to 0 for every A < 0 (A = −exp(A_log)). */
export const WINDOW_CUT = 1e30;
type KT = Thread3 & { constants: TreeConsts };

// Loops below have constant trip counts and no data-dependent `break`: loads are issued
// unconditionally (an index past the end is clamped by WebGPU's robust buffer access and the value
// is then ignored) and only the update is predicated. On the H100 the first version, with `break`,
// was bound by memory latency: one dependent load chain per thread, no loads in flight across steps.

/**
 * Level 0, grid [ED, N+1, NC] (x = d, y = slot, z = chunk c): slot n < N = chunk c's end state from a
 * zero start; slot N = Σδ over the chunk. Layout (NC, N+1, ED). For LS not a multiple of T
 * (the last chunk is partial): tokens past LS are skipped.
 */
export function treeLeafKernel(this: KT, delta: number[], u: number[], A: number[], BC: number[]): number {
  let s = 0;
  if (this.thread.y === this.constants.N) {
    if (this.constants.WC > 0 && this.thread.z % this.constants.WC === 0) return 1e30; // WINDOW_CUT
    for (let k = 0; k < this.constants.T; k++) {
      const dl = delta[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
      if (this.thread.z * this.constants.T + k < this.constants.LS) s += dl;
    }
    return s;
  }
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  for (let k = 0; k < this.constants.T; k++) {
    const dl = delta[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
    const b = BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.y];
    const uk = u[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
    if (this.thread.z * this.constants.T + k < this.constants.LS) s = Math.exp(dl * a) * s + dl * b * uk;
  }
  return s;
}

/** treeLeafKernel for LS a multiple of T: no predicate at all (the loop unrolls into straight code). */
export function treeLeafFullKernel(this: KT, delta: number[], u: number[], A: number[], BC: number[]): number {
  let s = 0;
  if (this.thread.y === this.constants.N) {
    if (this.constants.WC > 0 && this.thread.z % this.constants.WC === 0) return 1e30; // WINDOW_CUT
    for (let k = 0; k < this.constants.T; k++) s += delta[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
    return s;
  }
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  for (let k = 0; k < this.constants.T; k++) {
    const dl = delta[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
    s = Math.exp(dl * a) * s
      + dl * BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.y]
        * u[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
  }
  return s;
}

/**
 * Level 0 with four state slots per thread (N a multiple of 4): grid [ED, N/4 + 1, NC], returning
 * `Array(4)`. Thread y < N/4 walks chunk z for slots 4y … 4y+3, loading δ_k and u_k once for all four
 * (treeLeafKernel's N + 1 threads per (chunk, d) each load them); thread y = N/4 sums Σδ into all four
 * lanes. Stored with laneStrides(1, 4·ED, (N+4)·ED, ED) into (NC, N+4, ED): slot N = Σδ as in
 * treeLeafKernel's layout, slots N+1 … N+3 copies of it, so its readers take N1 = N + 4
 * (leafSlots). Tokens past LS are skipped.
 */
export function treeLeafQuadKernel(this: KT, delta: number[], u: number[], A: number[], BC: number[]): number[] {
  if (this.thread.y * 4 === this.constants.N) {
    if (this.constants.WC > 0 && this.thread.z % this.constants.WC === 0) return [1e30, 1e30, 1e30, 1e30]; // WINDOW_CUT
    let w = 0;
    for (let k = 0; k < this.constants.T; k++) {
      const dl = delta[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
      if (this.thread.z * this.constants.T + k < this.constants.LS) w += dl;
    }
    return [w, w, w, w];
  }
  const a0 = A[this.thread.x * this.constants.N + this.thread.y * 4];
  const a1 = A[this.thread.x * this.constants.N + this.thread.y * 4 + 1];
  const a2 = A[this.thread.x * this.constants.N + this.thread.y * 4 + 2];
  const a3 = A[this.thread.x * this.constants.N + this.thread.y * 4 + 3];
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = 0; k < this.constants.T; k++) {
    const dl = delta[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
    const du = dl * u[(this.thread.z * this.constants.T + k) * this.constants.ED + this.thread.x];
    const b0 = BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.y * 4];
    const b1 = BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.y * 4 + 1];
    const b2 = BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.y * 4 + 2];
    const b3 = BC[(this.thread.z * this.constants.T + k) * this.constants.BCS + this.constants.BO + this.thread.y * 4 + 3];
    if (this.thread.z * this.constants.T + k < this.constants.LS) {
      s0 = Math.exp(dl * a0) * s0 + du * b0;
      s1 = Math.exp(dl * a1) * s1 + du * b1;
      s2 = Math.exp(dl * a2) * s2 + du * b2;
      s3 = Math.exp(dl * a3) * s3 + du * b3;
    }
  }
  return [s0, s1, s2, s3];
}

/**
 * Slots per chunk of the level-0 summaries: N + 4 where treeLeafQuadKernel writes them (four positions
 * per thread and N a multiple of 4), else N + 1 (treeLeafKernel). Every kernel reading level 0 takes
 * this as its N1.
 */
export function leafSlots(N: number, quad: boolean): number {
  return quad && N % 4 === 0 ? N + 4 : N + 1;
}

/**
 * Up one level, grid [ED, N+1, count] (z = group j): combine children jG … jG+G−1 (of CC) in order,
 * s = exp(A·W_child)·s + S_child; slot N sums the children's Σδ. Layout (count, N+1, ED).
 */
export function treeUpKernel(this: KT, Sc: number[], A: number[]): number {
  let s = 0;
  if (this.thread.y === this.constants.N) {
    for (let i = 0; i < this.constants.G; i++) {
      const w = Sc[((this.thread.z * this.constants.G + i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
      if (this.thread.z * this.constants.G + i < this.constants.CC) s += w;
    }
    return s;
  }
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  for (let i = 0; i < this.constants.G; i++) {
    const w = Sc[((this.thread.z * this.constants.G + i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Sc[((this.thread.z * this.constants.G + i) * this.constants.N1 + this.thread.y) * this.constants.ED + this.thread.x];
    if (this.thread.z * this.constants.G + i < this.constants.CC) s = Math.exp(a * w) * s + v;
  }
  return s;
}

/**
 * Top, grid [ED, N, NT+1]: the state entering top group j = h0 walked through groups 0 … j−1
 * (NT ≤ 64 of them: a short sequential walk beats log2 launches). Slot NT is hL. Layout (NT+1, N, ED).
 */
export function treeTopKernel(this: KT, St: number[], A: number[], h0: number[]): number {
  if (this.constants.WC > 0 && (this.thread.z * this.constants.NS) % this.constants.WC === 0) return 0; // a window starts here
  let s = h0[this.thread.x * this.constants.N + this.thread.y];
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  for (let i = 0; i < this.constants.NT; i++) {
    const w = St[(i * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = St[(i * this.constants.N1 + this.thread.y) * this.constants.ED + this.thread.x];
    if (i < this.thread.z) s = Math.exp(a * w) * s + v;
  }
  return s;
}

/**
 * Down one level, grid [ED, N, CC] (z = child c, parent p = ⌊c/G⌋): the state entering child c =
 * parent's start walked through siblings pG … c−1. Layout (CC, N, ED); at level 0 the chunk starts.
 */
export function treeDownKernel(this: KT, Sp: number[], Sc: number[], A: number[]): number {
  if (this.constants.WC > 0 && (this.thread.z * this.constants.NS) % this.constants.WC === 0) return 0; // a window starts here
  let s = Sp[(idiv(this.thread.z, this.constants.G) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  for (let i = 0; i < this.constants.G; i++) {
    const w = Sc[((idiv(this.thread.z, this.constants.G) * this.constants.G + i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Sc[((idiv(this.thread.z, this.constants.G) * this.constants.G + i) * this.constants.N1 + this.thread.y) * this.constants.ED + this.thread.x];
    if (idiv(this.thread.z, this.constants.G) * this.constants.G + i < this.thread.z) s = Math.exp(a * w) * s + v;
  }
  return s;
}

/**
 * treeDownKernel with four children per thread: grid [ED, N, counts[l]·G/4] (z = quarter q of parent
 * p = ⌊4q/G⌋; fan-in G a multiple of 4), returning `Array(4)`, the starts of children 4q … 4q+3 — the
 * parent's start walked through its earlier children (a loop of G − 4 predicated steps), then through
 * the thread's own in turn, each sibling summary loaded once per thread (treeDownKernel gives every
 * child its own walk: (G−1)/2 sibling loads and exps per child on average, and integer divisions in
 * every load). Stored with laneStrides(1, ED, 4·N·ED, N·ED) into (4·threads, N, ED): rows of children
 * past CC are written but never read. A window's first child starts from 0.
 */
export function treeDownQuadKernel(this: KT, Sp: number[], Sc: number[], A: number[]): number[] {
  const a = A[this.thread.x * this.constants.N + this.thread.y];
  const p = idiv(this.thread.z * 4, this.constants.G); // the parent (small: exact in a local)
  let s = Sp[(iint(p) * this.constants.N + this.thread.y) * this.constants.ED + this.thread.x];
  for (let i = 0; i < this.constants.GM4; i++) {
    const w = Sc[((iint(p) * this.constants.G + i) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x];
    const v = Sc[((iint(p) * this.constants.G + i) * this.constants.N1 + this.thread.y) * this.constants.ED + this.thread.x];
    if (iint(p) * this.constants.G + i < this.thread.z * 4) s = Math.exp(a * w) * s + v;
  }
  if (this.constants.WC > 0 && (this.thread.z * 4 * this.constants.NS) % this.constants.WC === 0) s = 0;
  const r0 = s;
  s = Math.exp(a * Sc[((this.thread.z * 4) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x]) * s
    + Sc[((this.thread.z * 4) * this.constants.N1 + this.thread.y) * this.constants.ED + this.thread.x];
  if (this.constants.WC > 0 && ((this.thread.z * 4 + 1) * this.constants.NS) % this.constants.WC === 0) s = 0;
  const r1 = s;
  s = Math.exp(a * Sc[((this.thread.z * 4 + 1) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x]) * s
    + Sc[((this.thread.z * 4 + 1) * this.constants.N1 + this.thread.y) * this.constants.ED + this.thread.x];
  if (this.constants.WC > 0 && ((this.thread.z * 4 + 2) * this.constants.NS) % this.constants.WC === 0) s = 0;
  const r2 = s;
  s = Math.exp(a * Sc[((this.thread.z * 4 + 2) * this.constants.N1 + this.constants.N) * this.constants.ED + this.thread.x]) * s
    + Sc[((this.thread.z * 4 + 2) * this.constants.N1 + this.thread.y) * this.constants.ED + this.thread.x];
  if (this.constants.WC > 0 && ((this.thread.z * 4 + 3) * this.constants.NS) % this.constants.WC === 0) s = 0;
  return [r0, r1, r2, s];
}

/** (ED, N), grid [N, ED]: hL = top slot NT, back to the caller's (ED, N) layout. */
export function treeFinalKernel(this: KT, St: number[]): number {
  return St[(this.constants.NT * this.constants.N + this.thread.x) * this.constants.ED + this.thread.y];
}

/** Largest N the scalar-register replay is generated for (beyond it: scheme 'hillis-steele'). */
export const TREE_MAX_N = 32;

/**
 * Output-kernel layouts: '1d' grid [LS·ED], x = t·ED + d (a warp's 32 threads share t when 32 | ED:
 * no divergence; t, d, chunk from the integer helpers); '3d' grid [ED, T, NC], x = d, y = position
 * k, z = chunk (no division at all, but a warp spans 4 positions, so it runs the longest of their
 * replays). `hoistB`: B rows loaded for every step, used only where the step applies.
 */
export type ReplayLayout = '1d' | '3d' | 'quad' | 'chunk';

/**
 * gpu.js source of the output kernel for N states. The N states live in scalar locals h0 … h{N−1}
 * (gpu.js local arrays hold at most 4 values), so per replay step δ_k and u_k are loaded once for
 * all n; the loop runs T steps with the update predicated on k ≤ position (loads unconditional).
 * Generated because gpu.js kernels are parsed from source text; the body is the recurrence of
 * selectiveScanRef from the chunk start S[c] (layout (NC, N, ED)), then
 * out = (Σ_n C_t[n]·h_t[n] + D·u_t)·silu(z_t).
 */
export function treeReplayKernelSource(N: number, layout: ReplayLayout = '3d', hoistB = false): string {
  if (!(Number.isInteger(N) && N >= 1 && N <= TREE_MAX_N)) throw new RangeError(`selective scan: scalar replay generated for 1 ≤ N ≤ ${TREE_MAX_N}, got ${N}`);
  const c = 'this.constants';
  let t: string, d: string, t0: string, chunk: string, pos: string, flat: string;
  if (layout === '1d') {
    const x = 'this.thread.x';
    t = `idiv(${x}, ${c}.ED)`;
    d = `(${x} - idiv(${x}, ${c}.ED) * ${c}.ED)`;
    chunk = `idiv(${x}, ${c}.TED)`;
    t0 = `${chunk} * ${c}.T`;
    pos = `${t} - ${t0}`;
    flat = x;
  } else {
    t = `(this.thread.z * ${c}.T + this.thread.y)`;
    d = 'this.thread.x';
    chunk = 'this.thread.z';
    t0 = `this.thread.z * ${c}.T`;
    pos = 'this.thread.y';
    flat = `${t} * ${c}.ED + this.thread.x`;
  }
  const ns = Array.from({ length: N }, (_, n) => n);
  const upd = (n: number, b: string) => `h${n} = Math.exp(dl * a${n}) * h${n} + du * ${b};`;
  return [
    'function treeReplayKernel(delta, u, A, BC, D, z, S) {',
    `  const p = ${pos};`, // position in the chunk: small, exact as f32
    ...ns.map((n) => `  let h${n} = S[(${chunk} * ${c}.N + ${n}) * ${c}.ED + ${d}];`),
    ...ns.map((n) => `  const a${n} = A[${d} * ${c}.N + ${n}];`),
    `  for (let k = 0; k < ${c}.T; k++) {`,
    `    const dl = delta[(${t0} + k) * ${c}.ED + ${d}];`,
    `    const du = dl * u[(${t0} + k) * ${c}.ED + ${d}];`,
    ...(hoistB ? ns.map((n) => `    const b${n} = BC[(${t0} + k) * ${c}.BCS + ${c}.BO + ${n}];`) : []),
    '    if (k <= p) {',
    ...ns.map((n) => `      ${upd(n, hoistB ? `b${n}` : `BC[(${t0} + k) * ${c}.BCS + ${c}.BO + ${n}]`)}`),
    '    }',
    '  }',
    `  let y = D[${d}] * u[${flat}];`,
    ...ns.map((n) => `  y += BC[${t} * ${c}.BCS + ${c}.CO + ${n}] * h${n};`),
    `  const zt = z[${flat}];`,
    '  return (y * zt) / (1 + Math.exp(-zt));',
    '}',
  ].join('\n');
}

/**
 * gpu.js source of the 'quad' output kernel: grid [ED, T/4, NC] (x = d, y = quarter q, z = chunk c),
 * returning `Array(4)`: the outputs of positions 4q … 4q+3 of chunk c. The thread walks its chunk
 * from the start S[c] through the 4q tokens before its own (update predicated on k < 4q), then its four
 * tokens in straight code, each followed by out = (Σ_n C_t[n]·h_t[n] + D·u_t)·silu(z_t). Replay per
 * token: (T/4 + 1)/2 steps (1.5 at T = 8), against (T+1)/2 = 4.5 for one output per thread. The
 * four values are stored as rows of (NC·T, ED) through laneStrides(1, 4·ED, T·ED, ED) (gpu.js alone
 * would write them blocked, (NC·T/4, ED, 4), and an unblock pass moved 2 GiB per 2^20 tokens).
 */
export function treeReplayQuadKernelSource(N: number): string {
  if (!(Number.isInteger(N) && N >= 1 && N <= TREE_MAX_N)) throw new RangeError(`selective scan: scalar replay generated for 1 ≤ N ≤ ${TREE_MAX_N}, got ${N}`);
  const c = 'this.constants';
  const row0 = `this.thread.z * ${c}.T`; // the chunk's first token
  const ns = Array.from({ length: N }, (_, n) => n);
  const d = 'this.thread.x';
  const lines = [
    'function treeReplayQuadKernel(delta, u, A, BC, D, z, S) {',
    '  const q4 = this.thread.y * 4;', // first own position in the chunk: small, exact as f32
    ...ns.map((n) => `  let h${n} = S[(this.thread.z * ${c}.N + ${n}) * ${c}.ED + ${d}];`),
    ...ns.map((n) => `  const a${n} = A[${d} * ${c}.N + ${n}];`),
    `  const dd = D[${d}];`,
    `  for (let k = 0; k < ${c}.TQ; k++) {`, // TQ = T − 4: the tokens before the last quarter
    `    const dl = delta[(${row0} + k) * ${c}.ED + ${d}];`,
    `    const du = dl * u[(${row0} + k) * ${c}.ED + ${d}];`,
    '    if (k < q4) {',
    ...ns.map((n) => `      h${n} = Math.exp(dl * a${n}) * h${n} + du * BC[(${row0} + k) * ${c}.BCS + ${c}.BO + ${n}];`),
    '    }',
    '  }',
  ];
  for (let j = 0; j < 4; j++) {
    const row = `(${row0} + this.thread.y * 4 + ${j})`;
    lines.push(
      `  const dl${j} = delta[${row} * ${c}.ED + ${d}];`,
      `  const u${j} = u[${row} * ${c}.ED + ${d}];`,
      `  const du${j} = dl${j} * u${j};`,
      ...ns.map((n) => `  h${n} = Math.exp(dl${j} * a${n}) * h${n} + du${j} * BC[${row} * ${c}.BCS + ${c}.BO + ${n}];`),
      `  let y${j} = dd * u${j};`,
      ...ns.map((n) => `  y${j} += BC[${row} * ${c}.BCS + ${c}.CO + ${n}] * h${n};`),
      `  const z${j} = z[${row} * ${c}.ED + ${d}];`,
      `  y${j} = (y${j} * z${j}) / (1 + Math.exp(-z${j}));`,
    );
  }
  lines.push('  return [y0, y1, y2, y3];', '}');
  return lines.join('\n');
}

/**
 * Variants of the whole-chunk kernels (treeReplayChunkKernelSource, treeLeafChunkKernelSource):
 * - fromRaw: δ = softplus(deltaRaw + bias) computed in the kernel (arguments raw … bias instead of delta);
 * - saveY (output only): y before the gate also stored, at YOFF + row·ED + d, for the backward's dZ;
 * - quadBC: B_t and C_t loaded as N/4 quads of 16 bytes (loadBC4; constants BCS4, BO4, CO4; N % 4 = 0)
 *   instead of 2N single floats;
 * - prefetch: token k+1's inputs (raw or δ, u, z, and the quads) loaded into registers while token k is
 *   computed, so that each thread has two tokens' loads in flight instead of one; each quad is reloaded in
 *   place right after its last use in step k (one set of quad registers, not two);
 * - channels: two channels per thread (see the field).
 * On the H100 at 2^20, chunk 64: output 3.80 → 3.60 ms with quads, → 2.69 with both; the leaf 2.03 → 1.70
 * (docs/decisions/selective-scan.md, "Loads in flight"); quads in place: the plain scan's leaf 1.46 → 1.40 at
 * chunk 256; two channels: its output 2.14 → 2.01, the leaf 1.40 → 1.66 ("One segment, and what the whole-chunk
 * kernels wait on").
 */
export interface ChunkWalkVariant {
  fromRaw?: boolean; saveY?: boolean; quadBC?: boolean; prefetch?: boolean;
  /** with fromRaw: δ = deltaRaw + bias, no softplus (mamba_ssm's delta_softplus=False) */
  linearDelta?: boolean;
  /** output only: no z, the output is y = C·h + D·u itself (mamba_ssm's z=None) */
  ungated?: boolean;
  /**
   * channels per thread, 1 (default) or 2: channels d and d + CH (constant CH = ED / 2, grid [ED / 2, NC]),
   * so that each load of B_t and C_t serves two channels
   */
  channels?: number;
}

/** The per-token lines shared by the whole-chunk kernels: loads of token `row` (or ahead) and δ. */
function walkParts(N: number, v: ChunkWalkVariant, withZ: boolean, withC: boolean) {
  if (!(Number.isInteger(N) && N >= 1 && N <= TREE_MAX_N)) throw new RangeError(`selective scan: whole-chunk kernel generated for 1 ≤ N ≤ ${TREE_MAX_N}, got ${N}`);
  if (v.quadBC && N % 4 !== 0) throw new RangeError(`selective scan: 16-byte loads of B and C need N a multiple of 4, got ${N}`);
  const P = v.channels ?? 1;
  if (P !== 1 && P !== 2) throw new RangeError(`selective scan: whole-chunk kernels walk 1 or 2 channels per thread, got ${P}`);
  const c = 'this.constants';
  const d = 'this.thread.x';
  const js = Array.from({ length: P }, (_, j) => j);
  /** register suffix of the thread's channel j; channel j is d + j·CH */
  const sf = (j: number) => (j === 0 ? '' : `_${j}`);
  const dj = (j: number) => (j === 0 ? d : `(${d} + ${j} * ${c}.CH)`);
  const at = (r: string, j = 0) => `${r} * ${c}.ED + ${dj(j)}`;
  const row = `(this.thread.y * ${c}.T + k)`;
  const next = `(this.thread.y * ${c}.T + k + 1)`;
  const first = `(this.thread.y * ${c}.T)`;
  const quad = (r: string, o: string, j: number) => `loadBC4(${r} * ${c}.BCS4 + ${c}.${o} + ${j})`;
  // [register, load expression of token r]: the per-channel scalars, then B's (and C's) quads
  const scalars = (r: string): string[][] => js.flatMap((j) => [v.fromRaw ? 'raw' : 'delta', 'u', ...(withZ ? ['z'] : [])].map((x) => [`${x}K${sf(j)}`, `${x}[${at(r, j)}]`]));
  const quads = (r: string): string[][] => [
    ...(v.quadBC ? Array.from({ length: N / 4 }, (_, j) => [`bq${j}`, quad(r, 'BO4', j)]) : []),
    ...(v.quadBC && withC ? Array.from({ length: N / 4 }, (_, j) => [`cq${j}`, quad(r, 'CO4', j)]) : []),
  ];
  const pre: string[] = [], body: string[] = [];
  // prefetch with quads: each quad register holds token k's quad until its last use in step k and is then
  // loaded with token k+1's (one set of quad registers, not two)
  const inPlace = !!(v.prefetch && v.quadBC);
  if (v.prefetch) {
    // registers <x>N hold token k's values at the top of step k: loaded before the loop, then token k+1
    // loaded while k is computed (the chunk's last step loads the next chunk's first row, or past the
    // inputs where robust access clamps; never used)
    pre.push(...[...scalars(first), ...quads(first)].map(([x, e]) => `  let ${x}N = ${e};`));
    body.push(...scalars(row).map(([x]) => `    const ${x} = ${x}N;`), ...scalars(next).map(([x, e]) => `    ${x}N = ${e};`));
  } else {
    body.push(...[...scalars(row), ...quads(row)].map(([x, e]) => `    const ${x} = ${e};`));
  }
  if (v.linearDelta && !v.fromRaw) throw new RangeError('selective scan: linearDelta applies to kernels that take deltaRaw (fromRaw)');
  for (const j of js) {
    const dl = `dl${sf(j)}`;
    body.push(...(!v.fromRaw ? [`    const ${dl} = deltaK${sf(j)};`] : v.linearDelta ? [`    const ${dl} = rawK${sf(j)} + bb${sf(j)};`] : softplusLines(dl, `rawK${sf(j)} + bb${sf(j)}`, '    ')));
  }
  const q = inPlace ? 'N' : '';
  const B = (n: number) => (v.quadBC ? `bq${n >> 2}${q}[${n & 3}]` : `BC[${row} * ${c}.BCS + ${c}.BO + ${n}]`);
  const C = (n: number) => (v.quadBC ? `cq${n >> 2}${q}[${n & 3}]` : `BC[${row} * ${c}.BCS + ${c}.CO + ${n}]`);
  /** after the last use of state n's quad in a step: that quad's next-token load (in place) */
  const nextB = (n: number) => (inPlace && n % 4 === 3 ? [`bq${n >> 2}N = ${quad(next, 'BO4', n >> 2)};`] : []);
  const nextC = (n: number) => (inPlace && withC && n % 4 === 3 ? [`cq${n >> 2}N = ${quad(next, 'CO4', n >> 2)};`] : []);
  const aLines = js.flatMap((j) => Array.from({ length: N }, (_, n) => `  const a${n}${sf(j)} = A[${dj(j)} * ${c}.N + ${n}];`));
  /** the state update of state n, channel j */
  const update = (n: number, j: number) => `h${n}${sf(j)} = Math.exp(dl${sf(j)} * a${n}${sf(j)}) * h${n}${sf(j)} + du${sf(j)} * ${B(n)};`;
  return { c, d, js, sf, dj, at, row, pre, body, B, C, nextB, nextC, update, aLines, args: v.fromRaw ? 'raw' : 'delta' };
}

/**
 * gpu.js source of the 'chunk' output kernel: grid [ED / channels, NC] (x = d, y = chunk c), one thread per
 * (chunk, channel) — or per (chunk, channels d and d + CH) — walking all T tokens of its chunk from the start
 * S[c] and storing each output (Σ_n C_t[n]·h_t[n] + D·u_t)·silu(z_t) at row c·T + k through storeAt (webgpu
 * only; see kernels/gpujs-types.ts scatterHelpers): one step per token, where a thread of four outputs
 * ('quad') walks (T/4 + 1)/2 per token (1.5 at T = 8), and δ, u, B, C, z loaded once per token. Rows past LS
 * (a partial last chunk) read past the inputs (robust access) into padding rows of the (NC·T, ED) result.
 */
export function treeReplayChunkKernelSource(N: number, v: ChunkWalkVariant = {}): string {
  if (v.ungated && v.saveY) throw new RangeError('selective scan: saveY stores y before the gate; an ungated output is y already');
  const p = walkParts(N, v, !v.ungated, true);
  const ns = Array.from({ length: N }, (_, n) => n);
  const { js, sf } = p;
  return [
    `function treeReplayChunkKernel(${p.args}, u, A, BC, D, ${v.ungated ? '' : 'z, '}S${v.fromRaw ? ', bias' : ''}) {`,
    ...js.flatMap((j) => ns.map((n) => `  let h${n}${sf(j)} = S[(this.thread.y * ${p.c}.N + ${n}) * ${p.c}.ED + ${p.dj(j)}];`)),
    ...p.aLines,
    ...js.map((j) => `  const dd${sf(j)} = D[${p.dj(j)}];`),
    ...(v.fromRaw ? js.map((j) => `  const bb${sf(j)} = bias[${p.dj(j)}];`) : []),
    ...p.pre,
    `  for (let k = 0; k < ${p.c}.T; k++) {`,
    ...p.body,
    ...js.map((j) => `    const du${sf(j)} = dl${sf(j)} * uK${sf(j)};`),
    ...ns.flatMap((n) => [...js.map((j) => p.update(n, j)), ...p.nextB(n)].map((l) => `    ${l}`)),
    ...js.map((j) => `    let y${sf(j)} = dd${sf(j)} * uK${sf(j)};`),
    ...ns.flatMap((n) => [...js.map((j) => `y${sf(j)} += ${p.C(n)} * h${n}${sf(j)};`), ...p.nextC(n)].map((l) => `    ${l}`)),
    ...js.flatMap((j) => [
      `    storeAt(${p.at(p.row, j)}, ${v.ungated ? `y${sf(j)}` : `(y${sf(j)} * zK${sf(j)}) / (1 + Math.exp(-zK${sf(j)}))`});`,
      ...(v.saveY ? [`    storeAt(${p.c}.YOFF + ${p.at(p.row, j)}, y${sf(j)});`] : []), // the pre-gate output, for the backward's dZ
    ]),
    '  }',
    '  return 0;',
    '}',
  ].join('\n');
}

/**
 * Lines computing `v` = softplus(x) as deltaKernel does (stable, torch's threshold 20), for kernels that
 * take deltaRaw and fuse δ in instead of reading it.
 */
function softplusLines(v: string, x: string, pad: string): string[] {
  return [
    `const ${v}x = ${x};`,
    `let ${v} = ${v}x;`,
    `if (${v}x <= 20) {`,
    `  const ${v}e = Math.exp(-Math.abs(${v}x));`,
    `  const ${v}w = 1 + ${v}e;`,
    `  let ${v}l = ${v}e;`,
    `  if (${v}w !== 1) ${v}l = (Math.log(${v}w) * ${v}e) / (${v}w - 1);`,
    `  ${v} = Math.max(${v}x, 0) + ${v}l;`,
    '}',
  ].map((l) => pad + l);
}

/**
 * Level 0 with a whole chunk per thread (webgpu, storeAt): grid [ED, NC], thread (d, c) walks chunk c
 * once for all N states and Σδ, and stores them into the (NC, NL, ED) layout of the leaf it replaces
 * (NL = leafSlots: slots N … NL−1 all hold Σδ, WINDOW_CUT for a window's first chunk). δ loaded once
 * per (t, d) instead of once per four states; `fromRaw`: δ = softplus(deltaRaw + bias) computed here
 * (the forward then needs no δ kernel: arguments raw, u, A, BC, bias). Tokens past LS are skipped
 * unless `full`. Variants: ChunkWalkVariant (saveY does not apply).
 */
export function treeLeafChunkKernelSource(N: number, NL: number, full: boolean, v: ChunkWalkVariant = {}): string {
  const p = walkParts(N, v, false, false);
  const ns = Array.from({ length: N }, (_, n) => n);
  const { js, sf } = p;
  const step = [...ns.flatMap((n) => [...js.map((j) => p.update(n, j)), ...p.nextB(n)]), ...js.map((j) => `w${sf(j)} += dl${sf(j)};`)];
  return [
    `function treeLeafChunkKernel(${p.args}, u, A, BC${v.fromRaw ? ', bias' : ''}) {`,
    ...js.flatMap((j) => ns.map((n) => `  let h${n}${sf(j)} = 0;`)),
    ...p.aLines,
    ...js.map((j) => `  let w${sf(j)} = 0;`),
    ...(v.fromRaw ? js.map((j) => `  const bb${sf(j)} = bias[${p.dj(j)}];`) : []),
    ...p.pre,
    `  for (let k = 0; k < ${p.c}.T; k++) {`,
    ...p.body,
    ...js.map((j) => `    const du${sf(j)} = dl${sf(j)} * uK${sf(j)};`),
    ...(full ? step.map((l) => `    ${l}`) : [`    if (${p.row} < ${p.c}.LS) {`, ...step.map((l) => `      ${l}`), '    }']),
    '  }',
    ...js.map((j) => `  if (${p.c}.WC > 0 && this.thread.y % ${p.c}.WC === 0) w${sf(j)} = 1e30; // WINDOW_CUT`),
    ...js.flatMap((j) => [
      ...ns.map((n) => `  storeAt((this.thread.y * ${NL} + ${n}) * ${p.c}.ED + ${p.dj(j)}, h${n}${sf(j)});`),
      ...Array.from({ length: NL - N }, (_, i) => `  storeAt((this.thread.y * ${NL} + ${N + i}) * ${p.c}.ED + ${p.dj(j)}, w${sf(j)});`),
    ]),
    '  return 0;',
    '}',
  ].join('\n');
}

// ---- host-side driver ----

/** Float32Array or a device handle (anything gpu.js accepts as an argument). */
export type GpuTensor = Float32Array | { toArray(): unknown; delete(): void };

export interface GpuScanArgs {
  L: number;
  ED: number;
  N: number;
  u: GpuTensor; deltaRaw: GpuTensor; A: GpuTensor; D: GpuTensor; deltaBias: GpuTensor;
  /** (L, ED) gate: out = y·silu(z); not read with `gate: false` */
  z?: GpuTensor;
  /**
   * false: out = y itself, no gate and no z (mamba_ssm's z=None); default true. With `deltaSoftplus: false`,
   * δ = deltaRaw + deltaBias, no softplus (delta_softplus=False); default true. Either needs device inputs and
   * the whole-chunk kernels (scheme 'tree', layout 'chunk', leaf 'chunk') and no `save`: the backward assumes both.
   */
  gate?: boolean;
  deltaSoftplus?: boolean;
  /** separate (L, N) B and C … */
  B?: GpuTensor;
  C?: GpuTensor;
  /** … or packed: (L, bcStride) with B at columns [bOffset, bOffset+N) and C at [cOffset, cOffset+N) */
  BC?: GpuTensor;
  bcStride?: number;
  bOffset?: number;
  cOffset?: number;
  h0?: GpuTensor | null;
  /**
   * device path, scheme 'tree' only: the L rows are independent windows of `window` tokens each (a
   * batch laid end to end; window a multiple of the chunk): every window starts from a zero state
   * (h0 must be zeros) and nothing flows from one into the next. hL is then the last window's final state.
   */
  window?: number;
}

export type ScanScheme = 'tree' | 'hillis-steele';

export interface GpuScanOptions {
  ED: number;
  N: number;
  /** tokens per chunk (default 8 for 'tree', 16 for 'hillis-steele'; see docs/decisions/selective-scan.md) */
  chunk?: number;
  /** largest storage binding in bytes (adapter's maxStorageBufferBindingSize; default 128 MiB) */
  maxBindingBytes?: number;
  /** cap on tokens per segment (tests use it to force streaming) */
  maxSegment?: number;
  /** 'tree' (default; N ≤ 32) or the earlier 'hillis-steele' design (any N) */
  scheme?: ScanScheme;
  /**
   * tree output kernel: grid layout (default 'chunk' on webgpu where the chunk is a multiple of 4, else
   * '3d'; 'chunk' and 'quad' apply to device inputs, host inputs use '3d') and whether B rows are loaded ahead
   * (benchmarks compare them)
   */
  replay?: {
    layout?: ReplayLayout; hoistB?: boolean;
    /**
     * layout 'chunk' on device inputs: the level-0 leaf as four states per thread ('quad') or a whole
     * chunk per thread ('chunk', storeAt; default); `fuseDelta` (with leaf 'chunk', not with `save`;
     * default true): the leaf and the output kernel compute δ = softplus(raw + bias) themselves, no δ kernel
     */
    leaf?: 'quad' | 'chunk'; fuseDelta?: boolean;
    /**
     * layout 'chunk' with the whole-chunk leaf (defaults true): `quadLoads`, B_t and C_t read as quads of 16
     * bytes (loadBC4, src/backend/gpujs/quad-loads.ts) where N and the packed layout's stride and offsets are
     * multiples of 4; `prefetch`, the next token's inputs loaded while a token is computed; `channels`, 1 or
     * 2 channels per thread in the leaf and in the output kernel (2 needs an even ED; default 1, and 2 for the
     * output of the plain scan, `gate: false` with `deltaSoftplus: false`: measured fastest on the H100,
     * docs/decisions/selective-scan.md) (ChunkWalkVariant)
     */
    quadLoads?: boolean; prefetch?: boolean; channels?: { leaf?: number; out?: number };
  };
}

export interface GpuScanRunOptions {
  /** one-thread-per-(d, n) baseline, hL only (benchmark) */
  naive?: boolean;
  /** called after each stage's kernel call with the stage name (a profiler syncs the device there) */
  profile?: (stage: string) => Promise<void>;
  /**
   * device path, scheme 'tree': also return the tree the forward built (`saved`), as fresh handles,
   * for the backward of the same inputs (gpujs-backward.ts runDevice's `saved`), which then skips
   * recomputing δ and the forward tree — as mamba_ssm's forward saves its chunk states for its backward
   */
  save?: boolean;
}

/** What a tree forward saves for its backward (device handles; the backward's caller deletes them). */
export interface GpuScanSaved {
  /** chunk length, chunks, window chunks: the backward checks they match its own */
  T: number; NC: number; WC: number;
  /** (L, ED) δ = softplus(deltaRaw + deltaBias) */
  delta: GpuTensor;
  /** per tree level ℓ: (count_ℓ, N+1, ED) summaries, slot N = Σδ; level 0 has NL slots (leafSlots) */
  sums: GpuTensor[];
  NL: number;
  /** (NC, N, ED) state entering each chunk */
  starts: GpuTensor;
  /**
   * where the output kernel is the whole-chunk one: the (NC·T, ED) scan output before the gate, y = C·h + D·u,
   * from float `yOffset` of this buffer (its rows follow the gated output's); the backward's dZ then needs no walk
   */
  y?: GpuTensor;
  yOffset?: number;
}

export interface GpuScanResult {
  /** (L, ED): Float32Array for host inputs, a device handle for handle inputs */
  out: GpuTensor;
  /** (ED, N) */
  hL: GpuTensor;
  /** with `save` */
  saved?: GpuScanSaved;
}

const isHandle = (x: unknown): boolean => !!x && !ArrayBuffer.isView(x) && typeof (x as { toArray?: unknown }).toArray === 'function';

/** A gpu.js result (flat, nested 2-D/3-D, or a handle) as one flat Float32Array of n values. */
export async function toFlat(r: unknown, n: number): Promise<Float32Array> {
  let v: unknown = await r;
  if (isHandle(v)) v = await (v as { toArray(): unknown }).toArray();
  const flat = new Float32Array(n);
  let off = 0;
  const walk = (x: unknown): void => {
    if (off >= n) return;
    if (ArrayBuffer.isView(x)) {
      const a = x as Float32Array;
      const m = Math.min(a.length, n - off);
      flat.set(m === a.length ? a : a.subarray(0, m), off);
      off += m;
    } else for (const y of x as unknown[]) walk(y);
  };
  walk(v);
  if (off !== n) throw new Error(`selective scan: kernel returned ${off} values, expected ${n}`);
  return flat;
}

/**
 * Largest segment (multiple of chunk) whose buffers fit one binding and whose grids fit gpu.js.
 * `deltaKernel` false: for a tree forward that runs no δ kernel (the whole-chunk kernels with δ fused, no
 * `save`), whose grid would cap the segment at 524,280 tokens.
 */
export function segmentLength(ED: number, N: number, T: number, bcStride: number, maxBindingBytes: number, cap = Infinity, scheme: ScanScheme = 'tree', deltaKernel = true): number {
  const maxElems = Math.floor(maxBindingBytes / 4);
  let chunks = scheme === 'tree'
    // δ (LS, ED) and BC, level 0 (NC, N+1, ED), grid z = NC ≤ 65,535, δ grid y = LS ≤ 524,280 (where the
    // δ kernel runs), flat indices t·ED + d < 2^31 (i32), idiv quotients < 2^22
    ? Math.floor(Math.min(maxElems / (T * Math.max(ED, bcStride)), maxElems / ((N + 1) * ED), 65535, deltaKernel ? 524280 / T : Infinity, (2 ** 31 - 1) / (T * Math.max(ED, bcStride)), 2 ** 22 / T))
    : Math.floor(Math.min(maxElems / (T * Math.max(ED, bcStride)), maxElems / (ED * N) - 1, 65534, 2 ** 31 / (T * ED * N), 524280 / T));
  chunks = Math.min(chunks, Math.max(1, Math.floor(cap / T)));
  if (chunks < 1) throw new RangeError(`selective scan: ED=${ED}, N=${N}, chunk=${T} do not fit a ${maxBindingBytes}-byte binding`);
  return chunks * T;
}

/** Group counts of the tree's levels above the chunks: fan-in 4, then 8, until ≤ TREE_TOP groups. */
export function treeLevels(NC: number): { counts: number[]; fanIn: number[] } {
  const counts = [NC], fanIn: number[] = [];
  while (counts[counts.length - 1] > TREE_TOP) {
    const g = fanIn.length === 0 ? 4 : 8;
    fanIn.push(g);
    counts.push(Math.ceil(counts[counts.length - 1] / g));
  }
  return { counts, fanIn };
}
const TREE_TOP = 64;

/** WC (chunks per window, 0 for none) for a call's `window`, checked. */
export function windowChunks(window: number | undefined, L: number, T: number, scheme: ScanScheme): number {
  if (window === undefined || window >= L) return 0;
  if (scheme !== 'tree') throw new RangeError(`selective scan: independent windows need scheme 'tree' (got ${scheme})`);
  if (!(Number.isInteger(window) && window > 0 && window % T === 0 && L % window === 0)) {
    throw new RangeError(`selective scan: window = ${window} must be a positive multiple of the chunk (${T}) that divides L = ${L}`);
  }
  return window / T;
}

/** Chunks per node of each tree level (level 0: 1), from treeLevels' fan-ins. */
export function nodeChunks(fanIn: number[]): number[] {
  const ns = [1];
  for (const g of fanIn) ns.push(ns[ns.length - 1] * g);
  return ns;
}

export function createSelectiveScanKernels(gpu: GpuJsLike, opts: GpuScanOptions) {
  const { ED, N } = opts;
  const scheme: ScanScheme = opts.scheme ?? (N <= TREE_MAX_N ? 'tree' : 'hillis-steele');
  if (scheme === 'tree' && N > TREE_MAX_N) throw new RangeError(`selective scan: scheme 'tree' supports N ≤ ${TREE_MAX_N} (got ${N}); use 'hillis-steele'`);
  const T = opts.chunk ?? (scheme === 'tree' ? 8 : 16);
  if (!(Number.isInteger(T) && T > 0)) throw new RangeError(`selective scan: chunk = ${T} must be a positive integer`);
  const maxBindingBytes = opts.maxBindingBytes ?? 128 * 2 ** 20;
  const cache = new Map<string, any>();
  // gpu.js locks argument types and sizes at the first call: typed array, nested array (webasm
  // results) and device handle each need their own kernel instance
  const kinds = (...xs: unknown[]) => xs.map((x) => (isHandle(x) ? 'h' : ArrayBuffer.isView(x) ? 'a' : 'n')).join('');

  /** A kernel built once per (function, segment shape, argument kinds, role). */
  function kernel(name: string, fn: Function | string, output: number[], c: Record<string, number>, argKinds: string, extra: Record<string, unknown> = {}) {
    const key = `${name}|${output.join('x')}|${JSON.stringify(c)}|${argKinds}|${JSON.stringify(extra)}`;
    let k = cache.get(key);
    if (!k) {
      k = gpu.createKernel(fn as Function, { ...kernelSettings(output, c), ...extra }); // gpu.js also takes source text
      cache.set(key, k);
    }
    return k;
  }
  // 'chunk' (the quad tree, a whole chunk per output thread; device inputs on webgpu, chunk a multiple of
  // 4) where it applies, else '3d': fastest on the H100 (docs/decisions/selective-scan.md)
  const replayLayout = opts.replay?.layout ?? (T % 4 === 0 && (gpu.mode ?? 'webgpu') === 'webgpu' ? 'chunk' : '3d');
  // 'chunk': the quad tree (four states / children per thread), a whole chunk per output thread
  const chunkOut = scheme === 'tree' && replayLayout === 'chunk';
  const quad = scheme === 'tree' && (replayLayout === 'quad' || chunkOut);
  if (quad && T % 4 !== 0) throw new RangeError(`selective scan: replay layout '${replayLayout}' needs a chunk that is a multiple of 4, got ${T}`);
  const replaySource = scheme === 'tree' ? treeReplayKernelSource(N, quad ? '3d' : replayLayout, opts.replay?.hoistB ?? false) : '';
  const quadSource = quad && !chunkOut ? treeReplayQuadKernelSource(N) : '';
  // the leaf as whole-chunk threads, δ fused into it and the output: at 2^20 on the H100 the leaf 3.47 →
  // 2.75 ms at chunk 8 and 2.62 → 1.90 at 32; δ fused (no δ kernel, 1.25 ms; the output +0.4) took chunk 64
  // from 7.41 to 6.29 ms (docs/decisions/selective-scan.md)
  const leafChunk = chunkOut && (opts.replay?.leaf ?? 'chunk') === 'chunk';
  const fuseDelta = leafChunk && (opts.replay?.fuseDelta ?? true);
  /**
   * whether the whole-chunk kernels compute δ themselves, so that no δ kernel runs: by default, always for a
   * linear δ, never when the forward saves δ for a backward (decides the kernels and the segment cap alike)
   */
  const fusesDelta = (linear: boolean, save: boolean) => leafChunk && (fuseDelta || linear) && !save;
  const quadLoads = leafChunk && N % 4 === 0 && (opts.replay?.quadLoads ?? true);
  const prefetch = leafChunk && (opts.replay?.prefetch ?? true);
  for (const [k, P] of Object.entries(opts.replay?.channels ?? {})) {
    if (!(P === 1 || (P === 2 && ED % 2 === 0))) throw new RangeError(`selective scan: replay.channels.${k} is 1, or 2 with an even ED; got ${P} (ED=${ED})`);
  }
  /** channels per thread of the whole-chunk leaf and output kernels for a call's variant (see replay.channels) */
  const channelsOf = (plain: boolean) => ({
    leaf: leafChunk ? opts.replay?.channels?.leaf ?? 1 : 1,
    out: leafChunk ? opts.replay?.channels?.out ?? (plain && ED % 2 === 0 ? 2 : 1) : 1,
  });
  // the whole-chunk kernels' sources per variant: generated once, not on every segment call
  const chunkSources = new Map<string, string>();
  const memo = (key: string, make: () => string) => {
    let src = chunkSources.get(key);
    if (src === undefined) chunkSources.set(key, (src = make()));
    return src;
  };
  const outChunkSource = (v: ChunkWalkVariant) => memo(`out|${JSON.stringify(v)}`, () => treeReplayChunkKernelSource(N, v));
  const leafChunkSource = (NL: number, full: boolean, v: ChunkWalkVariant) => memo(`leaf|${NL}|${full}|${JSON.stringify(v)}`, () => treeLeafChunkKernelSource(N, NL, full, v));

  type Seg = { u: GpuTensor; raw: GpuTensor; z: GpuTensor; BC: GpuTensor; A: GpuTensor; D: GpuTensor; bias: GpuTensor; h0: GpuTensor; gate?: boolean; softplus?: boolean };
  const noProfile = async () => {};

  /** One segment, tree scheme (see the header). */
  async function treeSegment(LS: number, s: Seg, bc: { BCS: number; BO: number; CO: number }, keep: boolean, profile: (stage: string) => Promise<void>, WC = 0, save = false) {
    const NC = Math.ceil(LS / T);
    const { counts, fanIn } = treeLevels(NC);
    const top = counts.length - 1;
    const ns = nodeChunks(fanIn); // chunks per node of each level
    const base = { ED, N, N1: N + 1, T, TED: T * ED, LS, ...bc, G: 0, CC: 0, GM4: 0, NT: counts[top], WC, NS: ns[top] };
    const pipe = { pipeline: true };
    // saved tensors get fresh buffers (immutable); otherwise each kernel reuses its own
    const kept = save ? { pipeline: true, immutable: true } : pipe;
    const fns = { ...pipe, functions: integerHelpers };
    // B_t and C_t as 16-byte quads in the whole-chunk kernels, where the packed layout allows it
    const q = quadLoads && bc.BCS % 4 === 0 && bc.BO % 4 === 0 && bc.CO % 4 === 0;
    // mamba_ssm's z=None and delta_softplus=False (the issue's plain scan: u, Δ, B, C in, y out)
    const ungated = s.gate === false, linearDelta = s.softplus === false;
    const lin = linearDelta ? { linearDelta } : {};
    const P = channelsOf(ungated && linearDelta);
    const pc = (n: number) => (n > 1 ? { channels: n } : {});
    const walk: ChunkWalkVariant = { quadBC: q, prefetch, ...lin, ...(ungated ? { ungated } : {}), ...pc(P.out) };
    const vs = `${ungated ? 'u' : ''}${linearDelta ? 'l' : ''}`;
    const chunkFns = q ? [...scatterHelpers, ...quadLoadHelpers] : scatterHelpers;
    // the whole-chunk kernels' constants: quads, and the second channel's offset
    const qc = (n: number): Record<string, number> => ({ ...(q ? { BCS4: bc.BCS / 4, BO4: bc.BO / 4, CO4: bc.CO / 4 } : {}), ...(n > 1 ? { CH: ED / n } : {}) });
    const qs = (n: number) => `${q ? '4' : ''}${prefetch ? 'p' : ''}${n > 1 ? `c${n}` : ''}`;
    // δ fused into the leaf and the output (not when the backward takes δ from `save`)
    const fused = fusesDelta(linearDelta, save) && keep;
    let delta: unknown = null;
    if (!fused) {
      const kd = kernel('delta', deltaKernel, [ED, LS], base, kinds(s.raw, s.bias), kept);
      delta = await kd(s.raw, s.bias); // (LS, ED)
      await profile('delta');
    }
    const sums: unknown[] = [];
    const NL = leafSlots(N, quad), n1 = (l: number) => (l === 0 ? NL : N + 1); // slots per node of level l
    if (leafChunk && keep) {
      // a whole chunk per thread, stored into the same (NC, NL, ED) layout (storeAt)
      const kl = kernel((fused ? 'leafcr' : 'leafc') + qs(P.leaf) + (linearDelta ? 'l' : ''), leafChunkSource(NL, LS % T === 0, { quadBC: q, prefetch, fromRaw: fused, ...lin, ...pc(P.leaf) }), [ED / P.leaf, NC], { ...base, ...qc(P.leaf), ...scatterFloats(NC * NL * ED) },
        fused ? kinds(s.raw, s.u, s.A, s.BC, s.bias) : kinds(s.u, s.A, s.BC), { ...kept, functions: chunkFns });
      sums.push(scatterView(await (fused ? kl(s.raw, s.u, s.A, s.BC, s.bias) : kl(delta, s.u, s.A, s.BC)) as GpuHandle, NC * NL * ED)); // (NC, NL, ED)
    } else if (NL === N + 4) {
      const kl = kernel('leafq', treeLeafQuadKernel, [ED, N / 4 + 1, NC], { ...base, ...laneStrides(1, 4 * ED, NL * ED, ED) }, kinds(s.u, s.A, s.BC), { ...kept, returnType: 'Array(4)' });
      sums.push(laneView(await kl(delta, s.u, s.A, s.BC) as GpuHandle, NC * NL * ED)); // (NC, N+4, ED)
    } else {
      const kl = kernel('leaf', LS % T === 0 ? treeLeafFullKernel : treeLeafKernel, [ED, N + 1, NC], base, kinds(s.u, s.A, s.BC), kept);
      sums.push(await kl(delta, s.u, s.A, s.BC)); // (NC, N+1, ED)
    }
    await profile('leaf');
    for (let l = 1; l <= top; l++) {
      const ku = kernel(`up${l}`, treeUpKernel, [ED, N + 1, counts[l]], { ...base, N1: n1(l - 1), G: fanIn[l - 1], CC: counts[l - 1] }, kinds(s.A), kept);
      sums.push(await ku(sums[l - 1], s.A)); // (counts[l], N+1, ED)
      await profile('up');
    }
    const kt = kernel('top', treeTopKernel, [ED, N, counts[top] + 1], { ...base, N1: n1(top) }, kinds(s.A, s.h0), top === 0 ? kept : pipe);
    const topStarts = await kt(sums[top], s.A, s.h0); // (NT+1, N, ED)
    await profile('top');
    let starts = topStarts;
    for (let l = top; l >= 1; l--) {
      const c = { ...base, N1: n1(l - 1), G: fanIn[l - 1], CC: counts[l - 1], NS: ns[l - 1] };
      if (quad) {
        // four children per thread, their starts stored as rows (lane-strides.ts)
        const q = counts[l] * fanIn[l - 1] / 4;
        const kdq = kernel(`downq${l}`, treeDownQuadKernel, [ED, N, q], { ...c, GM4: fanIn[l - 1] - 4, ...laneStrides(1, ED, 4 * N * ED, N * ED) }, kinds(s.A),
          { ...(l === 1 ? kept : pipe), returnType: 'Array(4)', functions: integerHelpers });
        starts = laneView(await kdq(starts, sums[l - 1], s.A) as GpuHandle, 4 * q * N * ED); // (4·q ≥ counts[l-1], N, ED)
      } else {
        const kdn = kernel(`down${l}`, treeDownKernel, [ED, N, counts[l - 1]], c, kinds(s.A),
          l === 1 ? { ...kept, functions: integerHelpers } : fns); // the chunk starts are saved
        starts = await kdn(starts, sums[l - 1], s.A); // (counts[l-1], N, ED)
      }
      await profile('down');
    }
    let out: unknown;
    let savedY: unknown = null;
    if (chunkOut && keep && save) {
      // the gated output's rows, then y before the gate (the backward's dZ reads it instead of walking the chunk)
      const rows = NC * T * ED;
      const kc = kernel('outcs' + qs(P.out), outChunkSource({ ...walk, saveY: true }), [ED / P.out, NC], { ...base, ...qc(P.out), YOFF: rows, ...scatterFloats(2 * rows) }, kinds(s.u, s.A, s.BC, s.D, s.z), { pipeline: true, immutable: true, functions: chunkFns });
      out = scatterView(await kc(delta, s.u, s.A, s.BC, s.D, s.z, starts) as GpuHandle, rows); // (NC·T, ED)
      savedY = flatView(out as GpuHandle, 2 * rows); // a second reference to the buffer, the caller's with the saved tree
      await profile('out');
    } else if (chunkOut && keep) {
      // T outputs per thread, stored into (NC·T, ED) rows through storeAt (scatter-stores.ts)
      const gz = ungated ? [] : [s.z]; // no z argument where ungated
      const kc = kernel((fused ? 'outcr' : 'outc') + qs(P.out) + vs, outChunkSource({ ...walk, fromRaw: fused }), [ED / P.out, NC], { ...base, ...qc(P.out), ...scatterFloats(NC * T * ED) },
        fused ? kinds(s.raw, s.u, s.A, s.BC, s.D, ...gz, s.bias) : kinds(s.u, s.A, s.BC, s.D, ...gz), { pipeline: true, immutable: true, functions: chunkFns });
      out = scatterView(await (fused ? kc(s.raw, s.u, s.A, s.BC, s.D, ...gz, starts, s.bias) : kc(delta, s.u, s.A, s.BC, s.D, ...gz, starts)) as GpuHandle, NC * T * ED); // (NC·T, ED)
      await profile('out');
    } else if (quad && keep) {
      // four outputs per thread, stored straight into (NC·T, ED) rows: thread (d, q, c) writes rows
      // c·T + 4q + j (lane-strides.ts)
      const rows = laneStrides(1, 4 * ED, T * ED, ED);
      const kq = kernel('outq', quadSource, [ED, T / 4, NC], { ...base, TQ: T - 4, ...rows }, kinds(s.u, s.A, s.BC, s.D, s.z), { pipeline: true, immutable: true, returnType: 'Array(4)' });
      out = laneView(await kq(delta, s.u, s.A, s.BC, s.D, s.z, starts) as GpuHandle, NC * T * ED); // (NC·T, ED)
      await profile('out');
    } else {
      const ko = kernel('out', replaySource, replayLayout === '1d' ? [LS * ED] : [ED, T, NC], base, kinds(s.u, s.A, s.BC, s.D, s.z), { pipeline: keep, immutable: keep, functions: integerHelpers });
      out = await ko(delta, s.u, s.A, s.BC, s.D, s.z, starts); // (LS·ED)
      await profile('out');
    }
    const kf = kernel('final', treeFinalKernel, [N, ED], base, 'h', { ...pipe, immutable: keep });
    const hL = await kf(topStarts); // (ED, N)
    await profile('final');
    if (!save) return { out, hL };
    return { out, hL, saved: { T, NC, WC, NL, delta, sums, starts, ...(savedY ? { y: savedY, yOffset: NC * T * ED } : {}) } as GpuScanSaved };
  }

  /** One segment, hillis-steele scheme: all inputs for tokens [0, LS) of it, h0 given. */
  async function hsSegment(LS: number, s: Seg, bc: { BCS: number; BO: number; CO: number }, keep: boolean, profile: (stage: string) => Promise<void>) {
    const NC = Math.ceil(LS / T);
    const c: ScanConsts = { ED, N, T, NC, LS, ...bc };
    const pipe = { pipeline: true };
    const kd = kernel('delta', deltaKernel, [ED, LS], c, kinds(s.raw, s.bias), pipe);
    const delta = await kd(s.raw, s.bias);
    await profile('delta');
    const kw = kernel('wsum', chunkDeltaSumKernel, [ED, NC + 1], c, 'h', pipe);
    let W = await kw(delta);
    await profile('wsum');
    const ks = kernel('summary', chunkSummaryKernel, [N, ED, NC + 1], c, kinds(s.u, s.A, s.BC, s.h0), pipe);
    let S = await ks(delta, s.u, s.A, s.BC, s.h0);
    await profile('summary');
    let pass = 0;
    for (let k = 1; k < NC + 1; k *= 2, pass++) {
      // ping-pong: a kernel must not read the buffer it writes, and each reuses one output buffer
      const kp = kernel(`spass${pass % 2}`, scanStatePassKernel, [N, ED, NC + 1], c, kinds(s.A), { ...pipe, argumentTypes: { S: 'Array', W: 'Array', A: 'Array', k: 'Integer' } });
      const kq = kernel(`wpass${pass % 2}`, scanDeltaPassKernel, [ED, NC + 1], c, 'h', { ...pipe, argumentTypes: { W: 'Array', k: 'Integer' } });
      S = await kp(S, W, s.A, k);
      if (2 * k < NC + 1) W = await kq(W, k);
      await profile('pass');
    }
    const ko = kernel('out', chunkReplayOutputKernel, [ED, T, NC], c, kinds(s.u, s.A, s.BC, s.D, s.z), { pipeline: keep, immutable: keep });
    const out = await ko(delta, s.u, s.A, s.BC, s.D, s.z, S);
    await profile('out');
    const kf = kernel('final', finalStateKernel, [N, ED], c, 'h', { ...pipe, immutable: keep });
    const hL = await kf(S);
    await profile('final');
    return { out, hL };
  }

  async function segment(LS: number, s: Seg, bc: { BCS: number; BO: number; CO: number }, keep: boolean, runOpts: GpuScanRunOptions, WC = 0): Promise<{ out: unknown; hL: unknown; saved?: GpuScanSaved }> {
    const profile = runOpts.profile ?? noProfile;
    if (runOpts.naive) {
      const c: ScanConsts = { ED, N, T, NC: Math.ceil(LS / T), LS, ...bc };
      const kn = kernel('naive', naiveFinalStateKernel, [N, ED], c, kinds(s.raw, s.bias, s.u, s.A, s.BC, s.h0), { pipeline: true, immutable: keep });
      const hL = await kn(s.raw, s.bias, s.u, s.A, s.BC, s.h0);
      await profile('naive');
      return { hL, out: null };
    }
    if (runOpts.save && !(keep && scheme === 'tree')) throw new RangeError(`selective scan: \`save\` needs device inputs and scheme 'tree'`);
    return scheme === 'tree' ? treeSegment(LS, s, bc, keep, profile, WC, runOpts.save ?? false) : hsSegment(LS, s, bc, keep, profile);
  }

  /**
   * Runs the scan. Host (Float32Array) inputs: any L, streamed in segments, returns Float32Arrays.
   * Handle inputs: one segment (L ≤ segmentLength(bcStride)), returns immutable handles: out (padded
   * to ⌈L/chunk⌉·chunk rows, exactly L with replay layout '1d'), hL (ED, N).
   * `naive: true` runs the one-thread-per-(d, n) baseline (hL only); `profile` is called after
   * every stage.
   */
  // The intermediate buffers belong to the kernels and are reused by every call: two calls in
  // flight at once would overwrite each other's. Calls are queued.
  let queue: Promise<unknown> = Promise.resolve();
  function run(a: GpuScanArgs, runOpts: GpuScanRunOptions = {}): Promise<GpuScanResult> {
    const next = queue.then(() => runNow(a, runOpts));
    queue = next.catch(() => undefined);
    return next;
  }

  async function runNow(a: GpuScanArgs, runOpts: GpuScanRunOptions): Promise<GpuScanResult> {
    const { L } = a;
    if (a.ED !== ED || a.N !== N) throw new RangeError(`selective scan: kernels built for ED=${ED} N=${N}, called with ED=${a.ED} N=${a.N}`);
    const sizes: Array<[string, GpuTensor | null | undefined, number]> = [
      ['u', a.u, L * ED], ['deltaRaw', a.deltaRaw, L * ED], ['z', a.z, L * ED], ['A', a.A, ED * N], ['D', a.D, ED],
      ['deltaBias', a.deltaBias, ED], ['h0', a.h0, ED * N], ['B', a.B, L * N], ['C', a.C, L * N],
      ['BC', a.BC, L * (a.bcStride ?? 2 * N)],
    ];
    for (const [name, x, n] of sizes) {
      if (x instanceof Float32Array && x.length !== n) throw new RangeError(`selective scan: ${name} has ${x.length} elements, expected ${n} for L=${L} ED=${ED} N=${N}`);
    }
    let BC = a.BC;
    let bcs = { BCS: a.bcStride ?? 2 * N, BO: a.bOffset ?? 0, CO: a.cOffset ?? N };
    if (!BC) {
      if (!(a.B instanceof Float32Array && a.C instanceof Float32Array)) throw new RangeError('selective scan: pass B and C as Float32Arrays, or packed as BC (device handles must be packed)');
      const packed = new Float32Array(L * 2 * N); // (L, 2N): B then C per token
      for (let t = 0; t < L; t++) {
        packed.set(a.B.subarray(t * N, t * N + N), t * 2 * N);
        packed.set(a.C.subarray(t * N, t * N + N), t * 2 * N + N);
      }
      BC = packed;
      bcs = { BCS: 2 * N, BO: 0, CO: N };
    }
    if (bcs.BO + N > bcs.BCS || bcs.CO + N > bcs.BCS) throw new RangeError(`selective scan: BC layout stride=${bcs.BCS} bOffset=${bcs.BO} cOffset=${bcs.CO} does not hold N=${N} columns each`);
    const h0 = a.h0 ?? new Float32Array(ED * N);
    if (!a.z && a.gate !== false) throw new RangeError('selective scan: z is missing; pass it, or `gate: false` for an output without the gate');
    const device = [a.u, a.deltaRaw, a.z, BC].some(isHandle);
    // the variants run only in the whole-chunk kernels (leafChunk implies scheme 'tree' and layout 'chunk')
    if ((a.gate === false || a.deltaSoftplus === false) && !(device && leafChunk && !runOpts.save && !runOpts.naive)) {
      throw new RangeError("selective scan: `gate: false` and `deltaSoftplus: false` need device inputs, scheme 'tree' with layout and leaf 'chunk' (a chunk that is a multiple of 4, webgpu), and no `save` or `naive`");
    }
    const LSmax = segmentLength(ED, N, T, bcs.BCS, maxBindingBytes, opts.maxSegment, scheme);
    if (device) {
      // no δ kernel where the whole-chunk kernels compute δ themselves (not with `save`): a longer segment
      const LSdev = segmentLength(ED, N, T, bcs.BCS, maxBindingBytes, opts.maxSegment, scheme, !fusesDelta(a.deltaSoftplus === false, runOpts.save ?? false));
      if (L > LSdev) throw new RangeError(`selective scan: L=${L} exceeds one segment (${LSdev} tokens) for device inputs; stream it in calls carrying hL`);
      if (L < 1) throw new RangeError('selective scan: device inputs need L ≥ 1');
      const WC = windowChunks(a.window, L, T, scheme);
      const r = await segment(L, { u: a.u, raw: a.deltaRaw, z: a.z as GpuTensor, BC, A: a.A, D: a.D, bias: a.deltaBias, h0, gate: a.gate, softplus: a.deltaSoftplus }, bcs, true, runOpts, WC);
      return { out: r.out as GpuTensor, hL: r.hL as GpuTensor, ...(r.saved ? { saved: r.saved } : {}) };
    }
    if (a.window !== undefined || runOpts.save) throw new RangeError('selective scan: `window` and `save` need device inputs');
    const host = [a.u, a.deltaRaw, a.z, BC] as Float32Array[];
    const out = new Float32Array(L * ED);
    let h: GpuTensor = h0;
    for (let t0 = 0; t0 < L || t0 === 0; t0 += LSmax) {
      const LS = Math.min(LSmax, L - t0);
      if (LS === 0) break;
      const [u, raw, z, bc] = host.map((x, i) => x.subarray(t0 * (i === 3 ? bcs.BCS : ED), (t0 + LS) * (i === 3 ? bcs.BCS : ED)));
      const r = await segment(LS, { u, raw, z, BC: bc, A: a.A, D: a.D, bias: a.deltaBias, h0: h }, bcs, false, runOpts);
      if (r.out) out.set(await toFlat(r.out, LS * ED), t0 * ED);
      h = r.hL as GpuTensor;
    }
    const hL = L === 0 ? Float32Array.from(h0 as Float32Array) : await toFlat(h, ED * N);
    return { out, hL };
  }

  /** Kernel launches of one device-path call of L tokens (for callers that drain the queue every few dozen). */
  function launches(L: number): number {
    const NC = Math.ceil(L / T);
    return scheme === 'tree' ? 5 + 2 * (treeLevels(NC).counts.length - 1) + (quad ? 1 : 0) : 5 + 2 * Math.ceil(Math.log2(NC + 1));
  }

  return {
    run, chunk: T, scheme, launches,
    /**
     * Longest L of one call with device inputs (host inputs are streamed in segments of the default).
     * `forwardOnly`: for calls without `save` (inference, benchmarks), which may be longer where the
     * whole-chunk kernels compute δ themselves; a forward that saves for a backward takes the default.
     */
    segmentLength: (bcStride = 2 * N, forwardOnly = false) => segmentLength(ED, N, T, bcStride, maxBindingBytes, opts.maxSegment, scheme, !(forwardOnly && fusesDelta(false, false))),
  };
}
