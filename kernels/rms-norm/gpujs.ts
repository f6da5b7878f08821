// rms-norm — gpu.js kernels for RMSNorm / fused residual-add + RMSNorm, forward and backward.
// Same contract as ref.ts (mamba_ssm rms_norm_ref, prenorm). One thread per output element; a row
// statistic (rstd, the backward coefficient) is its own 1-D kernel over L so the (L, D) kernels read
// it instead of recomputing the row sum D times. gpu.js gives one output per kernel, so the fused
// form is three launches: add → rstd → apply (the add's output is the residual' the model keeps).
// Kernel chain (all may take/return pipeline handles):
//   forward:  [add(x, residual) →] residual' ; rstd(residual') → r (L) ; apply(residual', r, w) → y (L, D)
//   backward: coef(x, dY, w, r) → c (L) ; backwardX(x, dY, w, r, c) → dX ; backwardXAdd(…, dResOut) ;
//             backwardW(x, dY, r) → dW (D)
// Tolerance: TOLERANCE.forward / .backward.
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';
import { RMS_EPS } from './ref.js';

interface This {
  thread: { x: number; y: number };
  constants: { L: number; D: number; EPS: number };
}

export function addKernel(this: This, a: number[], b: number[]): number {
  return a[this.thread.y * this.constants.D + this.thread.x] + b[this.thread.y * this.constants.D + this.thread.x];
}

/** r[t] = 1 / sqrt(mean_i x[t, i]² + eps); thread x = t. */
export function rstdKernel(this: This, x: number[]): number {
  let ss = 0;
  for (let i = 0; i < this.constants.D; i++) {
    const v = x[this.thread.x * this.constants.D + i];
    ss += v * v;
  }
  return 1 / Math.sqrt(ss / this.constants.D + this.constants.EPS);
}

export function applyKernel(this: This, x: number[], r: number[], w: number[]): number {
  return x[this.thread.y * this.constants.D + this.thread.x] * r[this.thread.y] * w[this.thread.x];
}

/** c[t] = r³ (1/D) Σ_j dY w x. */
export function coefKernel(this: This, x: number[], dY: number[], w: number[], r: number[]): number {
  let s = 0;
  for (let j = 0; j < this.constants.D; j++) {
    s += dY[this.thread.x * this.constants.D + j] * w[j] * x[this.thread.x * this.constants.D + j];
  }
  const rt = r[this.thread.x];
  return (rt * rt * rt * s) / this.constants.D;
}

export function bwdXKernel(this: This, x: number[], dY: number[], w: number[], r: number[], c: number[]): number {
  return r[this.thread.y] * dY[this.thread.y * this.constants.D + this.thread.x] * w[this.thread.x] -
    x[this.thread.y * this.constants.D + this.thread.x] * c[this.thread.y];
}

export function bwdXAddKernel(this: This, x: number[], dY: number[], w: number[], r: number[], c: number[], dRes: number[]): number {
  return r[this.thread.y] * dY[this.thread.y * this.constants.D + this.thread.x] * w[this.thread.x] -
    x[this.thread.y * this.constants.D + this.thread.x] * c[this.thread.y] +
    dRes[this.thread.y * this.constants.D + this.thread.x];
}

/** dW[i] = Σ_t dY[t, i] x[t, i] r[t]; thread x = i. */
export function bwdWKernel(this: This, x: number[], dY: number[], r: number[]): number {
  let s = 0;
  for (let t = 0; t < this.constants.L; t++) {
    s += dY[t * this.constants.D + this.thread.x] * x[t * this.constants.D + this.thread.x] * r[t];
  }
  return s;
}

/** bwdWKernel over split y only: Σ_{t in [y·TS, (y+1)·TS) ∩ [0, L)} dY x r; thread (x = i, y = split). */
export function bwdWSplitKernel(this: This & { constants: { TS: number } }, x: number[], dY: number[], r: number[]): number {
  let s = 0;
  for (let j = 0; j < this.constants.TS; j++) {
    // no data-dependent break (rows past L are read, clamped, and masked out): see linearBwdWSplit
    const v = dY[(this.thread.y * this.constants.TS + j) * this.constants.D + this.thread.x] *
      x[(this.thread.y * this.constants.TS + j) * this.constants.D + this.thread.x] * r[this.thread.y * this.constants.TS + j];
    if (this.thread.y * this.constants.TS + j < this.constants.L) s += v;
  }
  return s;
}

/** Kernels for rows of length D, L rows. See the chain in the header. */
export function createRmsNormKernels(gpu: GpuJsLike, shape: { L: number; D: number; eps?: number }, opts: KernelOptions = {}) {
  const { L, D } = shape;
  const ints = { L, D };
  const floats = { EPS: shape.eps ?? RMS_EPS };
  const ld = kernelSettings([D, L], ints, floats, opts);
  const l = kernelSettings([L], ints, floats, opts);
  const d = kernelSettings([D], ints, floats, opts);
  return {
    add: gpu.createKernel(addKernel, ld),
    rstd: gpu.createKernel(rstdKernel, l),
    apply: gpu.createKernel(applyKernel, ld),
    coef: gpu.createKernel(coefKernel, l),
    backwardX: gpu.createKernel(bwdXKernel, ld),
    backwardXAdd: gpu.createKernel(bwdXAddKernel, ld),
    backwardW: gpu.createKernel(bwdWKernel, d),
  };
}
