// gate — gpu.js kernels for out = y · SiLU(z) and its backward (two kernels: one output per kernel);
// contract in ref.ts. Elementwise over (L, C), 2-D output [C, L].
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { C: number };
}

function gateFwd(this: This, y: number[], z: number[]): number {
  const zv = z[this.thread.y * this.constants.C + this.thread.x];
  return (y[this.thread.y * this.constants.C + this.thread.x] * zv) / (1 + Math.exp(-zv));
}

function gateBwdY(this: This, z: number[], dOut: number[]): number {
  const zv = z[this.thread.y * this.constants.C + this.thread.x];
  return (dOut[this.thread.y * this.constants.C + this.thread.x] * zv) / (1 + Math.exp(-zv));
}

function gateBwdZ(this: This, y: number[], z: number[], dOut: number[]): number {
  const zv = z[this.thread.y * this.constants.C + this.thread.x];
  const s = 1 / (1 + Math.exp(-zv));
  return dOut[this.thread.y * this.constants.C + this.thread.x] * y[this.thread.y * this.constants.C + this.thread.x] * s * (1 + zv * (1 - s));
}

/** forward(y, z) → out (L, C); backwardY(z, dOut) → dY; backwardZ(y, z, dOut) → dZ. */
export function createGateKernels(gpu: GpuJsLike, shape: { L: number; C: number }, opts: KernelOptions = {}) {
  const s = kernelSettings([shape.C, shape.L], { C: shape.C }, {}, opts);
  return {
    forward: gpu.createKernel(gateFwd, s),
    backwardY: gpu.createKernel(gateBwdY, s),
    backwardZ: gpu.createKernel(gateBwdZ, s),
  };
}
