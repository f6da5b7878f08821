// linear — gpu.js kernels for y = x Wᵀ (+ b) and its backward (dX, dW, db).
// Same contract as ref.ts: x (L, IN), W (OUT, IN) PyTorch layout, b (OUT); dX = dY W, dW = dYᵀ x,
// db = Σ_t dY. createLinearKernels: one thread per output element (every mode). The reduction loops run
// to Integer constants (a real loop: argument bounds would be capped at 1,000 iterations), and index
// arithmetic stays i32 (see kernelSettings). webgpu only, for the training engine and the inference
// backend: four outputs per thread (four rows, or a 2 × 2 tile, stored through laneStrides) and R × C
// register tiles stored through storeAt (tileGemmSource: 8 × 8 on the wide layers). No workgroup memory:
// gpu.js cannot express it, so the tile is what reuses loads.
// 2-D outputs are [columns, rows] in gpu.js order: thread.x is the column (o or i), thread.y the row.
// Inputs may be Float32Arrays or device handles from `pipeline: true` kernels (indexed flat).
// Tolerance vs the float64 reference: TOLERANCE.forward / .backward.
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { L: number; IN: number; OUT: number };
}

export function linearFwd(this: This, x: number[], W: number[]): number {
  let s = 0;
  for (let i = 0; i < this.constants.IN; i++) {
    s += x[this.thread.y * this.constants.IN + i] * W[this.thread.x * this.constants.IN + i];
  }
  return s;
}

export function linearFwdBias(this: This, x: number[], W: number[], b: number[]): number {
  let s = b[this.thread.x];
  for (let i = 0; i < this.constants.IN; i++) {
    s += x[this.thread.y * this.constants.IN + i] * W[this.thread.x * this.constants.IN + i];
  }
  return s;
}

/**
 * y[t, o] = Σ_i x[t, i] WT[i, R0 + o] with WT = Wᵀ stored (IN, WOUT): the forward over a row slice
 * [R0, R0 + OUT) of W, reading the transposed weight so that the threads of a warp (adjacent o) read
 * adjacent floats (with W (OUT, IN) they read IN floats apart). Thread (x = o, y = t). x's rows are XS
 * floats apart (XS = IN for a plain (L, IN) input; larger to read the first IN columns of a wider
 * tensor in place, e.g. dt_proj on the δ-rank columns of x_proj's output).
 */
export function linearFwdT(this: { thread: { x: number; y: number }; constants: { IN: number; WOUT: number; R0: number; XS: number } }, x: number[], WT: number[]): number {
  let s = 0;
  for (let i = 0; i < this.constants.IN; i++) {
    s += x[this.thread.y * this.constants.XS + i] * WT[i * this.constants.WOUT + this.constants.R0 + this.thread.x];
  }
  return s;
}

type RowsThis = { thread: { x: number; y: number }; constants: { IN: number; WOUT: number; R0: number; XS: number; OUT: number } };

/**
 * linearFwdT for four rows per thread: thread (x = o, y = q) returns y[4q + j, o] for j = 0 … 3 as
 * `Array(4)`. Each step loads one weight (the warp's 32 columns: one 128-byte run) for four
 * multiply-adds, against one per multiply-add. webgpu only: built with laneStrides(1, 4·OUT, 0, OUT)
 * (kernels/gpujs-types.ts) the four values land as rows of (4·⌈L/4⌉, OUT) and are read through
 * laneView. Rows past L read clamped rows (WebGPU's robust buffer access) into padding rows.
 * Also dX = dY·W of a (OUT, IN) weight: W is already the "Wᵀ" of this product, so the constants are
 * IN := OUT, WOUT := IN, R0 = 0, XS := OUT, OUT := IN.
 */
export function linearFwdTRows4(this: RowsThis, x: number[], WT: number[]): number[] {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < this.constants.IN; i++) {
    const w = WT[i * this.constants.WOUT + this.constants.R0 + this.thread.x];
    s0 += x[(this.thread.y * 4) * this.constants.XS + i] * w;
    s1 += x[(this.thread.y * 4 + 1) * this.constants.XS + i] * w;
    s2 += x[(this.thread.y * 4 + 2) * this.constants.XS + i] * w;
    s3 += x[(this.thread.y * 4 + 3) * this.constants.XS + i] * w;
  }
  return [s0, s1, s2, s3];
}

type TileThis = { thread: { x: number; y: number }; constants: { IN: number; WOUT: number; R0: number; XS: number; OH: number } };

/**
 * linearFwdT for a 2 × 2 tile per thread: thread (x = o < OH, y = q) returns y[2q + r, o + j·OH] for
 * (r, j) = (0, 0), (0, 1), (1, 0), (1, 1) with OH = OUT / 2 (OUT even). Each step loads two weights
 * (two coalesced runs) and two inputs (warp-wide broadcasts) for four multiply-adds: four loads where
 * linearFwdTRows4 has five. webgpu only: built with laneStrides(1, 2·OUT, 0, OH) the four values land as
 * rows of (2·⌈L/2⌉, OUT) — lane c at row 2q + (c >> 1), column o + (c & 1)·OH, which is 2q·OUT + o + c·OH.
 * Also dX = dY·W with the constants of linearFwdTRows4.
 */
export function linearFwdT22(this: TileThis, x: number[], WT: number[]): number[] {
  let s00 = 0;
  let s01 = 0;
  let s10 = 0;
  let s11 = 0;
  for (let i = 0; i < this.constants.IN; i++) {
    const w0 = WT[i * this.constants.WOUT + this.constants.R0 + this.thread.x];
    const w1 = WT[i * this.constants.WOUT + this.constants.R0 + this.thread.x + this.constants.OH];
    const a0 = x[(this.thread.y * 2) * this.constants.XS + i];
    const a1 = x[(this.thread.y * 2 + 1) * this.constants.XS + i];
    s00 += a0 * w0;
    s01 += a0 * w1;
    s10 += a1 * w0;
    s11 += a1 * w1;
  }
  return [s00, s01, s10, s11];
}

/** dX[t, i] = Σ_o dY[t, o] W[o, i]; thread (x = i, y = t). */
export function linearBwdX(this: This, dY: number[], W: number[]): number {
  let s = 0;
  for (let o = 0; o < this.constants.OUT; o++) {
    s += dY[this.thread.y * this.constants.OUT + o] * W[o * this.constants.IN + this.thread.x];
  }
  return s;
}

/** dW[o, i] = Σ_t dY[t, o] x[t, i]; thread (x = i, y = o). */
export function linearBwdW(this: This, dY: number[], x: number[]): number {
  let s = 0;
  for (let t = 0; t < this.constants.L; t++) {
    s += dY[t * this.constants.OUT + this.thread.y] * x[t * this.constants.IN + this.thread.x];
  }
  return s;
}

interface SplitThis {
  thread: { x: number; y: number; z: number };
  /** XS: the row stride of x (IN for a plain (L, IN) input), as in linearFwdT */
  constants: { L: number; IN: number; OUT: number; TS: number; XS: number };
}

/**
 * dW split over L: P[s, o, i] = Σ_{t in [s·TS, (s+1)·TS) ∩ [0, L)} dY[t, o] x[t, i]; thread (x = i, y = o,
 * z = s). One thread looping over all of L is latency-bound on a GPU (a few thousand threads, each a
 * serial chain of L loads); splitting gives ⌈L/TS⌉× more threads, and a second kernel sums the splits.
 * No data-dependent `break`: every split reads TS rows (rows past L are clamped by WebGPU's robust
 * buffer access, or undefined in webasm) and only the update is predicated, so a thread keeps loads in
 * flight across steps. On the H100 that made in_proj's dW 3.7× faster (5.87 → 1.59 ms for 65,536 tokens:
 * 1.5 → 5.4 TFLOP/s; kernels/linear/bench-device.ts).
 */
export function linearBwdWSplit(this: SplitThis, dY: number[], x: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.TS; k++) {
    const v = dY[(this.thread.z * this.constants.TS + k) * this.constants.OUT + this.thread.y] *
      x[(this.thread.z * this.constants.TS + k) * this.constants.XS + this.thread.x];
    if (this.thread.z * this.constants.TS + k < this.constants.L) s += v;
  }
  return s;
}

interface Split22This {
  thread: { x: number; y: number; z: number };
  constants: { L: number; OUT: number; TS: number; XS: number; IH: number };
}

/**
 * linearBwdWSplit for a 2 × 2 tile per thread: thread (x = i < IH, y = p, z = s) returns the partials
 * P[s, 2p + r, i + j·IH] for (r, j) = (0, 0), (0, 1), (1, 0), (1, 1), IH = IN / 2 (IN and OUT even).
 * Each token loads two dY values (warp-wide broadcasts) and two x values (coalesced runs) for four
 * multiply-adds, against two loads per multiply-add in linearBwdWSplit. webgpu only: built with
 * laneStrides(1, 2·IN, OUT·IN, IH) the values land in P's (S, OUT, IN) layout — lane c at row 2p + (c >> 1),
 * column i + (c & 1)·IH, which is s·OUT·IN + 2p·IN + i + c·IH.
 */
export function linearBwdWSplit22(this: Split22This, dY: number[], x: number[]): number[] {
  let s00 = 0;
  let s01 = 0;
  let s10 = 0;
  let s11 = 0;
  for (let k = 0; k < this.constants.TS; k++) {
    const a0 = dY[(this.thread.z * this.constants.TS + k) * this.constants.OUT + this.thread.y * 2];
    const a1 = dY[(this.thread.z * this.constants.TS + k) * this.constants.OUT + this.thread.y * 2 + 1];
    const b0 = x[(this.thread.z * this.constants.TS + k) * this.constants.XS + this.thread.x];
    const b1 = x[(this.thread.z * this.constants.TS + k) * this.constants.XS + this.thread.x + this.constants.IH];
    if (this.thread.z * this.constants.TS + k < this.constants.L) {
      s00 += a0 * b0;
      s01 += a0 * b1;
      s10 += a1 * b0;
      s11 += a1 * b1;
    }
  }
  return [s00, s01, s10, s11];
}

/**
 * linearBwdWSplit22 for L a multiple of TS: no predicate (every split is full), so the compiler is free
 * to keep the loads of several steps in flight.
 */
export function linearBwdWSplit22Full(this: Split22This, dY: number[], x: number[]): number[] {
  let s00 = 0;
  let s01 = 0;
  let s10 = 0;
  let s11 = 0;
  for (let k = 0; k < this.constants.TS; k++) {
    const a0 = dY[(this.thread.z * this.constants.TS + k) * this.constants.OUT + this.thread.y * 2];
    const a1 = dY[(this.thread.z * this.constants.TS + k) * this.constants.OUT + this.thread.y * 2 + 1];
    const b0 = x[(this.thread.z * this.constants.TS + k) * this.constants.XS + this.thread.x];
    const b1 = x[(this.thread.z * this.constants.TS + k) * this.constants.XS + this.thread.x + this.constants.IH];
    s00 += a0 * b0;
    s01 += a0 * b1;
    s10 += a1 * b0;
    s11 += a1 * b1;
  }
  return [s00, s01, s10, s11];
}

/** linearBwdWSplit for L a multiple of TS: no predicate. */
export function linearBwdWSplitFull(this: SplitThis, dY: number[], x: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.TS; k++) {
    s += dY[(this.thread.z * this.constants.TS + k) * this.constants.OUT + this.thread.y] *
      x[(this.thread.z * this.constants.TS + k) * this.constants.XS + this.thread.x];
  }
  return s;
}

/** db[o] = Σ_t dY[t, o]; thread x = o. */
export function linearBwdB(this: This, dY: number[]): number {
  let s = 0;
  for (let t = 0; t < this.constants.L; t++) s += dY[t * this.constants.OUT + this.thread.x];
  return s;
}

export interface LinearShape {
  L: number;
  IN: number;
  OUT: number;
  /** forward takes b and adds it; backward gets a db kernel */
  bias: boolean;
}

/**
 * Kernels for one shape. forward(x, W[, b]) → y (L, OUT); backwardX(dY, W) → dX (L, IN);
 * backwardW(dY, x) → dW (OUT, IN); backwardB(dY) → db (OUT) when bias.
 */
export function createLinearKernels(gpu: GpuJsLike, shape: LinearShape, opts: KernelOptions = {}) {
  const { L, IN, OUT } = shape;
  const c = { L, IN, OUT };
  return {
    forward: gpu.createKernel(shape.bias ? linearFwdBias : linearFwd, kernelSettings([OUT, L], c, {}, opts)),
    backwardX: gpu.createKernel(linearBwdX, kernelSettings([IN, L], c, {}, opts)),
    backwardW: gpu.createKernel(linearBwdW, kernelSettings([IN, OUT], c, {}, opts)),
    backwardB: shape.bias ? gpu.createKernel(linearBwdB, kernelSettings([OUT], c, {}, opts)) : null,
  };
}

/**
 * gpu.js source of an R × C register-tiled product (webgpu only; stores through storeAt, see
 * kernels/gpujs-types.ts scatterHelpers): thread (x, y, z) computes
 *   out[z·ZO + (R·y + r)·OS + x + j·CQ] = Σ_{k < K} A[(R·y + r)·ARS + (z·ZK + k)·AKS] · B[(z·ZK + k)·BKS + BO + x + j·CQ]
 * for r < R, j < C: R + C loads per R·C multiply-adds (gpu.js's four results per thread allow 2 × 2 at
 * most: one load per multiply-add). Across a warp (adjacent x) the B loads are coalesced runs and the A
 * loads one address (a broadcast). The three products of a linear layer, with Wᵀ = WT (IN, WOUT):
 * - forward y = x·W[R0 … R0+OUT)ᵀ: A = x (ARS = XS, AKS = 1), B = WT (BKS = WOUT, BO = R0), K = IN,
 *   OS = OUT, CQ = OUT / C, grid [CQ, ⌈L/R⌉, 1], ZK = ZO = 0; rows past L land in padding rows;
 * - dX = dY·W: the same with A = dY (ARS = OUT), B = W (BKS = IN, BO = 0), K = OUT, OS = IN, CQ = IN / C;
 * - dW split partials P[s] = dY[s-th split]ᵀ·x[split]: A = dY (ARS = 1, AKS = OUT), B = x (BKS = XS,
 *   BO = 0), K = ZK = TS, OS = IN, CQ = IN / C, ZO = OUT·IN, grid [CQ, OUT/R, S] (every split full).
 */
export function tileGemmSource(R: number, C: number): string {
  const key = `${R}x${C}`;
  let src = tileSources.get(key);
  if (!src) tileSources.set(key, (src = buildTileGemm(R, C)));
  return src;
}
const tileSources = new Map<string, string>();

function buildTileGemm(R: number, C: number): string {
  if (!(Number.isInteger(R) && Number.isInteger(C) && R >= 1 && C >= 1 && R * C <= 64)) throw new RangeError(`tileGemmSource: tile ${R} × ${C} outside 1 … 64 values`);
  const c = 'this.constants';
  const rs = Array.from({ length: R }, (_, r) => r), cs = Array.from({ length: C }, (_, j) => j);
  const kk = `(this.thread.z * ${c}.ZK + k)`;
  return [
    `function tileGemm${R}x${C}(A, B) {`,
    ...rs.flatMap((r) => cs.map((j) => `  let s${r}_${j} = 0;`)),
    `  for (let k = 0; k < ${c}.K; k++) {`,
    ...cs.map((j) => `    const b${j} = B[${kk} * ${c}.BKS + ${c}.BO + this.thread.x + ${j} * ${c}.CQ];`),
    ...rs.map((r) => `    const a${r} = A[(this.thread.y * ${R} + ${r}) * ${c}.ARS + ${kk} * ${c}.AKS];`),
    ...rs.flatMap((r) => cs.map((j) => `    s${r}_${j} += a${r} * b${j};`)),
    '  }',
    ...rs.flatMap((r) => cs.map((j) => `  storeAt(this.thread.z * ${c}.ZO + (this.thread.y * ${R} + ${r}) * ${c}.OS + this.thread.x + ${j} * ${c}.CQ, s${r}_${j});`)),
    '  return 0;',
    '}',
  ].join('\n');
}

/** Integer constants of tileGemmSource. */
export interface TileGemmConstants { K: number; ARS: number; AKS: number; BKS: number; BO: number; OS: number; CQ: number; ZK: number; ZO: number }

/**
 * The square register tile (8 or 4) for a tileGemmSource product whose thread columns span `width`: the
 * largest that divides it with at least 4 threads across, else 0 (use a four-value kernel). On the H100
 * 8 × 8 tiles ran in_proj's forward at 17 TFLOP/s, against 11 for 2 × 2 (docs/benchmarks.md).
 */
export function registerTile(width: number): number {
  return width % 8 === 0 && width >= 32 ? 8 : width % 4 === 0 && width >= 16 ? 4 : 0;
}
