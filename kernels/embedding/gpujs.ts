// embedding — gpu.js kernels: gather rows of E by token id, and the backward as a gather-sum
// (dE[v, d] = Σ_t [ids[t] = v] dY[t, d]: one thread per dE element looping over L, since gpu.js has
// no atomics for a scatter). Contract in ref.ts. ids are passed as a Float32Array (gpu.js arrays are
// float; ids < V ≤ 2^24 are exact) — validate them on the host first (checkIds): a kernel cannot throw.
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { L: number; V: number; D: number };
}

/** y[t, d] = E[ids[t], d]; thread (x = d, y = t). */
export function embFwd(this: This, ids: number[], E: number[]): number {
  return E[ids[this.thread.y] * this.constants.D + this.thread.x];
}

/** dE[v, d]; thread (x = d, y = v). */
export function embBwd(this: This, ids: number[], dY: number[]): number {
  let s = 0;
  for (let t = 0; t < this.constants.L; t++) {
    if (ids[t] === this.thread.y) s += dY[t * this.constants.D + this.thread.x];
  }
  return s;
}

/** embBwd over split z only (t in [z·TS, (z+1)·TS) ∩ [0, L)); thread (x = d, y = v, z = split). */
export function embBwdSplit(this: { thread: { x: number; y: number; z: number }; constants: { L: number; D: number; TS: number } }, ids: number[], dY: number[]): number {
  let s = 0;
  for (let j = 0; j < this.constants.TS; j++) {
    // no data-dependent break (rows past L are read, clamped, and masked out): see linearBwdWSplit
    const v = dY[(this.thread.z * this.constants.TS + j) * this.constants.D + this.thread.x];
    if (this.thread.z * this.constants.TS + j < this.constants.L && ids[this.thread.z * this.constants.TS + j] === this.thread.y) s += v;
  }
  return s;
}

export function createEmbeddingKernels(gpu: GpuJsLike, shape: { L: number; V: number; D: number }, opts: KernelOptions = {}) {
  const { L, V, D } = shape;
  return {
    forward: gpu.createKernel(embFwd, kernelSettings([D, L], { L, V, D }, {}, opts)),
    backward: gpu.createKernel(embBwd, kernelSettings([D, V], { L, V, D }, {}, opts)),
  };
}
