// Small gpu.js kernels the backend needs that kernels/ does not provide: an upload copy (a
// Float32Array becomes a device-resident handle), a linear over a row slice of W (the fused
// in_proj / x_proj projections are used a slice at a time), and packing B and C side by side
// for the selective scan's device path; and the training engine's glue (src/train/grad-gpu.ts):
// element-wise sums, gradient accumulation (a kernel cannot read its own output, so an accumulator
// is replaced by a fresh buffer acc' = acc + …), and packing column blocks side by side. Same conventions as kernels/: index arithmetic inline from
// this.thread.* and Integer constants (i32 in WGSL), loop bounds constants.
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../../../kernels/gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { IN: number; R0: number; N: number };
}

export function copyKernel(this: This, x: number[]): number {
  return x[this.thread.x];
}

/** Zeros, made on the device (no host array to upload): fresh gradient accumulators and carries. */
export function zeroKernel(this: This): number {
  return 0;
}

/** y[t, o] = Σ_i x[t, i] W[R0 + o, i]; thread (x = o, y = t). */
export function linearRowsKernel(this: This, x: number[], W: number[]): number {
  let s = 0;
  for (let i = 0; i < this.constants.IN; i++) {
    s += x[this.thread.y * this.constants.IN + i] * W[(this.thread.x + this.constants.R0) * this.constants.IN + i];
  }
  return s;
}

/** (C, R) grid [R, C]: the transpose of an (R, C) matrix, out[c, r] = M[r, c]. */
export function transposeKernel(this: { thread: { x: number; y: number }; constants: { C: number } }, M: number[]): number {
  return M[this.thread.x * this.constants.C + this.thread.y];
}

/** BC[t] = [B[t, 0..N) | C[t, 0..N)]; thread (x = column of 2N, y = t). */
export function packBCKernel(this: This, B: number[], C: number[]): number {
  if (this.thread.x < this.constants.N) return B[this.thread.y * this.constants.N + this.thread.x];
  return C[this.thread.y * this.constants.N + this.thread.x - this.constants.N];
}

type Thread2 = { thread: { x: number; y: number }; constants: { C: number; W1: number; W2: number; W3: number; X: number; S: number } };

/** (L, C) grid [C, L]: a + b. */
export function add2Kernel(this: Thread2, a: number[], b: number[]): number {
  return a[this.thread.y * this.constants.C + this.thread.x] + b[this.thread.y * this.constants.C + this.thread.x];
}

/** (X) grid [X]: acc + Σ_s P[s·X + x] — the sum of a split reduction's S partials added to an accumulator. */
export function accumulatePartialsKernel(this: Thread2, acc: number[], P: number[]): number {
  let s = acc[this.thread.x];
  for (let k = 0; k < this.constants.S; k++) s += P[k * this.constants.X + this.thread.x];
  return s;
}

/** (X) grid [X]: acc + g. */
export function accumulateKernel(this: Thread2, acc: number[], g: number[]): number {
  return acc[this.thread.x] + g[this.thread.x];
}

/** (X) grid [X]: acc + g ⊙ m (dA_log = dA ⊙ A, since A = −exp(A_log)). */
export function accumulateProductKernel(this: Thread2, acc: number[], g: number[], m: number[]): number {
  return acc[this.thread.x] + g[this.thread.x] * m[this.thread.x];
}

/** (L, W1+W2) grid [W1+W2, L]: [a (L, W1) | b (L, W2)] per row. */
export function pack2Kernel(this: Thread2, a: number[], b: number[]): number {
  if (this.thread.x < this.constants.W1) return a[this.thread.y * this.constants.W1 + this.thread.x];
  return b[this.thread.y * this.constants.W2 + this.thread.x - this.constants.W1];
}

/** (L, W1+W2+W3) grid [W1+W2+W3, L]: [a (L, W1) | b (L, W2) | c (L, W3)] per row. */
export function pack3Kernel(this: Thread2, a: number[], b: number[], c: number[]): number {
  if (this.thread.x < this.constants.W1) return a[this.thread.y * this.constants.W1 + this.thread.x];
  if (this.thread.x < this.constants.W1 + this.constants.W2) return b[this.thread.y * this.constants.W2 + this.thread.x - this.constants.W1];
  return c[this.thread.y * this.constants.W3 + this.thread.x - this.constants.W1 - this.constants.W2];
}

/** copy(x: Float32Array(n)) → (n) */
export function createCopyKernel(gpu: GpuJsLike, n: number, opts: KernelOptions) {
  return gpu.createKernel(copyKernel, kernelSettings([n], {}, {}, opts));
}

/** linearRows(x (L, IN), W (≥ R0+OUT, IN)) → (L, OUT) using rows [R0, R0+OUT) of W */
export function createLinearRowsKernel(gpu: GpuJsLike, shape: { L: number; IN: number; OUT: number; R0: number }, opts: KernelOptions) {
  const { L, IN, OUT, R0 } = shape;
  return gpu.createKernel(linearRowsKernel, kernelSettings([OUT, L], { IN, R0 }, {}, opts));
}

/** transpose(M (R, C)) → (C, R) */
export function createTransposeKernel(gpu: GpuJsLike, R: number, C: number, opts: KernelOptions) {
  return gpu.createKernel(transposeKernel, kernelSettings([R, C], { C }, {}, opts));
}

/** packBC(B (L, N), C (L, N)) → (L, 2N) */
export function createPackBCKernel(gpu: GpuJsLike, shape: { L: number; N: number }, opts: KernelOptions) {
  return gpu.createKernel(packBCKernel, kernelSettings([2 * shape.N, shape.L], { N: shape.N }, {}, opts));
}
