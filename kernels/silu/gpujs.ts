// silu — gpu.js kernels for SiLU (y = x σ(x)) and its backward; same contract as ref.ts.
// Elementwise over an (L, C) tensor, 2-D output [C, L] so indices stay i32 for any L.
// exp(−x) overflows f32 to +inf for x < −88: x / inf = −0, the correct limit.
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { C: number };
}

export function siluFwd(this: This, x: number[]): number {
  const v = x[this.thread.y * this.constants.C + this.thread.x];
  return v / (1 + Math.exp(-v));
}

export function siluBwd(this: This, x: number[], dY: number[]): number {
  const v = x[this.thread.y * this.constants.C + this.thread.x];
  const s = 1 / (1 + Math.exp(-v));
  return dY[this.thread.y * this.constants.C + this.thread.x] * s * (1 + v * (1 - s));
}

/** forward(x) → SiLU(x) (L, C); backward(x, dY) → dX (L, C). */
export function createSiluKernels(gpu: GpuJsLike, shape: { L: number; C: number }, opts: KernelOptions = {}) {
  const s = kernelSettings([shape.C, shape.L], { C: shape.C }, {}, opts);
  return { forward: gpu.createKernel(siluFwd, s), backward: gpu.createKernel(siluBwd, s) };
}
