// lm-head — standalone benchmark of the tied LM head logits = h Eᵀ (forward) and its backward
// (dH = dLogits E and dE = dLogitsᵀ h) at the model's shape (L = 4096 tokens, D = 128, V = 16 padded
// vocabulary) on ref (float64), cpu (float32, kernels/linear's blocked gemm), and the gpu.js kernels
// in webasm and webgpu modes (backward = backwardH + backwardE). Reports ns/token; GFLOP/s follow
// from 2·L·D·V flops forward, twice that backward. Not a test (correctness: test/kernels/lm-head.test.ts).
// Timing rules (warm-up, median, device-resident webgpu with a finished queue) in ../bench-util.ts.
// Run: node dist/kernels/lm-head/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--d 128] [--v 16] [--repeats 9] [--json]
import { parseBenchArgs, fill, runOpBench } from '../bench-util.js';
import { lmHeadRef, lmHeadBackwardRef } from './ref.js';
import { lmHead, lmHeadBackward } from './cpu.js';
import { createLmHeadKernels } from './gpujs.js';

const args = parseBenchArgs('node dist/kernels/lm-head/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--d 128] [--v 16] [--repeats 9] [--json]');
const L = args.L, D = args.opt('d', 128), V = args.opt('v', 16);
const h = fill(L * D, 1), E = fill(V * D, 2), dLogits = fill(L * V, 3); // (L, D), (V, D), (L, V)
const h64 = Float64Array.from(h), E64 = Float64Array.from(E), dLogits64 = Float64Array.from(dLogits);
const logits = new Float32Array(L * V), dE = new Float32Array(V * D);

await runOpBench({
  op: 'lm-head', shape: `L=${L} D=${D} V=${V}`, tokens: L,
  ref: { forward: () => lmHeadRef(h64, E64, L, D, V), backward: () => lmHeadBackwardRef(h64, E64, dLogits64, L, D, V) },
  // lmHeadBackward adds into dE (the embedding's gradient, tied weights): zero it as a step would
  cpu: { forward: () => lmHead(h, E, L, D, V, logits), backward: () => lmHeadBackward(h, E, dLogits, L, D, V, dE.fill(0)) },
  gpu: (gpu, opts) => {
    const k = createLmHeadKernels(gpu, { L, D, V }, opts);
    return { forward: [[k.forward, [h, E]]], backward: [[k.backwardH, [dLogits, E]], [k.backwardE, [dLogits, h]]] };
  },
}, args);
