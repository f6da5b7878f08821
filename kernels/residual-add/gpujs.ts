// residual-add — gpu.js kernel for out = a + b over (L, C) (2-D output [C, L]); contract in ref.ts.
// Its backward is a copy of dOut (no kernel needed: pass the same handle to both inputs' consumers).
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { C: number };
}

function addFwd(this: This, a: number[], b: number[]): number {
  return a[this.thread.y * this.constants.C + this.thread.x] + b[this.thread.y * this.constants.C + this.thread.x];
}

export function createResidualAddKernels(gpu: GpuJsLike, shape: { L: number; C: number }, opts: KernelOptions = {}) {
  return { forward: gpu.createKernel(addFwd, kernelSettings([shape.C, shape.L], { C: shape.C }, {}, opts)) };
}
