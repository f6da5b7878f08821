// lm-head — gpu.js kernels for the tied LM head: kernels/linear's kernels with IN = D, OUT = V,
// W = E, no bias (see ref.ts for the tie). backwardE's result must be added to the embedding's dE.
import type { GpuJsLike, KernelOptions } from '../gpujs-types.js';
import { createLinearKernels } from '../linear/gpujs.js';

/** forward(h, E) → logits (L, V); backwardH(dLogits, E) → dH (L, D); backwardE(dLogits, h) → dE (V, D). */
export function createLmHeadKernels(gpu: GpuJsLike, shape: { L: number; D: number; V: number }, opts: KernelOptions = {}) {
  const k = createLinearKernels(gpu, { L: shape.L, IN: shape.D, OUT: shape.V, bias: false }, opts);
  return { forward: k.forward, backwardH: k.backwardX, backwardE: k.backwardW };
}
