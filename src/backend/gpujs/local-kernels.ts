// Small gpu.js kernels the backend needs that kernels/ does not provide: an upload copy (a
// Float32Array becomes a device-resident handle), a linear over a row slice of W (the fused
// in_proj / x_proj projections are used a slice at a time), and packing B and C side by side
// for the selective scan's device path. Same conventions as kernels/: index arithmetic inline from
// this.thread.* and Integer constants (i32 in WGSL), loop bounds constants.
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../../../kernels/gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { IN: number; R0: number; N: number };
}

function copyKernel(this: This, x: number[]): number {
  return x[this.thread.x];
}

/** y[t, o] = Σ_i x[t, i] W[R0 + o, i]; thread (x = o, y = t). */
function linearRowsKernel(this: This, x: number[], W: number[]): number {
  let s = 0;
  for (let i = 0; i < this.constants.IN; i++) {
    s += x[this.thread.y * this.constants.IN + i] * W[(this.thread.x + this.constants.R0) * this.constants.IN + i];
  }
  return s;
}

/** BC[t] = [B[t, 0..N) | C[t, 0..N)]; thread (x = column of 2N, y = t). */
function packBCKernel(this: This, B: number[], C: number[]): number {
  if (this.thread.x < this.constants.N) return B[this.thread.y * this.constants.N + this.thread.x];
  return C[this.thread.y * this.constants.N + this.thread.x - this.constants.N];
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

/** packBC(B (L, N), C (L, N)) → (L, 2N) */
export function createPackBCKernel(gpu: GpuJsLike, shape: { L: number; N: number }, opts: KernelOptions) {
  return gpu.createKernel(packBCKernel, kernelSettings([2 * shape.N, shape.L], { N: shape.N }, {}, opts));
}
