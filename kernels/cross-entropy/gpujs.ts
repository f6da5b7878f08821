// cross-entropy — gpu.js kernels for next-token cross-entropy; contract in ref.ts.
// Per-row kernels (one thread per position, loops over the constant V): logsumexp, NLL, argmax hit;
// the (L, V) backward uses the logsumexp row. Targets go in as a Float32Array (-1 = ignore). The
// target logit is picked by comparing the loop index to the target (no float-valued index).
// Totals (mean nats/bits, count, correct) are summed on the host in float64: summarizeCrossEntropy.
//   lse(logits) → (L);  nll(logits, lse, targets) → (L);  correct(logits, targets) → (L) 0/1
//   backward(logits, lse, targets, scale) → dLogits (L, V) = (softmax − onehot) · scale, scale = 1/count
import { kernelSettings, type GpuJsLike, type KernelOptions } from '../gpujs-types.js';

interface This {
  thread: { x: number; y: number };
  constants: { V: number };
}

export function lseKernel(this: This, logits: number[]): number {
  let m = logits[this.thread.x * this.constants.V];
  for (let v = 1; v < this.constants.V; v++) m = Math.max(m, logits[this.thread.x * this.constants.V + v]);
  let s = 0;
  for (let v = 0; v < this.constants.V; v++) s += Math.exp(logits[this.thread.x * this.constants.V + v] - m);
  return m + Math.log(s);
}

export function nllKernel(this: This, logits: number[], lse: number[], targets: number[]): number {
  const y = targets[this.thread.x];
  if (y < 0) return 0;
  let picked = 0;
  for (let v = 0; v < this.constants.V; v++) {
    if (v === y) picked = logits[this.thread.x * this.constants.V + v];
  }
  return lse[this.thread.x] - picked;
}

export function correctKernel(this: This, logits: number[], targets: number[]): number {
  const y = targets[this.thread.x];
  if (y < 0) return 0;
  let m = logits[this.thread.x * this.constants.V];
  let arg = 0;
  for (let v = 1; v < this.constants.V; v++) {
    if (logits[this.thread.x * this.constants.V + v] > m) {
      m = logits[this.thread.x * this.constants.V + v];
      arg = v;
    }
  }
  if (arg === y) return 1;
  return 0;
}

/** thread (x = v, y = t). */
export function ceBwdKernel(this: This, logits: number[], lse: number[], targets: number[], scale: number): number {
  const y = targets[this.thread.y];
  if (y < 0) return 0;
  const p = Math.exp(logits[this.thread.y * this.constants.V + this.thread.x] - lse[this.thread.y]);
  if (this.thread.x === y) return (p - 1) * scale;
  return p * scale;
}

export function createCrossEntropyKernels(gpu: GpuJsLike, shape: { L: number; V: number }, opts: KernelOptions = {}) {
  const { L, V } = shape;
  const row = kernelSettings([L], { V }, {}, opts);
  return {
    lse: gpu.createKernel(lseKernel, row),
    nll: gpu.createKernel(nllKernel, row),
    correct: gpu.createKernel(correctKernel, row),
    backward: gpu.createKernel(ceBwdKernel, kernelSettings([V, L], { V }, {}, opts)), // an integer scale is typed Number by gpu.js too
  };
}
