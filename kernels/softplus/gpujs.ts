// softplus — gpu.js kernels for the stable softplus (threshold 20) and its backward; contract in ref.ts.
// gpu.js compiles Math.log1p to log(1 + u), which loses the low bits of small u, so log1p(u) for
// u = e^(−|x|) ∈ (0, 1] is written out: a 4-term series below u = 0.05 (truncation ≤ u⁴/5 relative,
// 1.3e-6), log(1 + u) above (rounding of 1 + u ≤ 6e-8/u relative, ≤ 1.2e-6).
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { C: number };
}

function softplusFwd(this: This, x: number[]): number {
  const v = x[this.thread.y * this.constants.C + this.thread.x];
  if (v > 20) return v;
  const u = Math.exp(-Math.abs(v));
  let l = 0;
  if (u < 0.05) {
    l = u * (1 - u * (0.5 - u * (1 / 3 - u * 0.25)));
  } else {
    l = Math.log(1 + u);
  }
  return Math.max(v, 0) + l;
}

function softplusBwd(this: This, x: number[], dY: number[]): number {
  const v = x[this.thread.y * this.constants.C + this.thread.x];
  const g = dY[this.thread.y * this.constants.C + this.thread.x];
  if (v > 20) return g;
  return g / (1 + Math.exp(-v));
}

/** forward(x) → softplus(x) (L, C); backward(x, dY) → dX (L, C). */
export function createSoftplusKernels(gpu: GpuJsLike, shape: { L: number; C: number }, opts: KernelOptions = {}) {
  const s = kernelSettings([shape.C, shape.L], { C: shape.C }, {}, opts);
  return { forward: gpu.createKernel(softplusFwd, s), backward: gpu.createKernel(softplusBwd, s) };
}
