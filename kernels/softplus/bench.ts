// softplus — standalone benchmark of the stable softplus (Δ = softplus(dt_proj(x))) forward and
// backward at the model's shape (L = 4096 tokens, ED = 256) on ref (float64), cpu (float32), and the
// gpu.js kernels in webasm and webgpu modes. Not a test (correctness: test/kernels/softplus.test.ts).
// Inputs span [-12, 12] so both the series and the log branch of the gpu.js kernel run.
// Timing rules (warm-up, median, device-resident webgpu with a finished queue) in ../bench-util.ts.
// Run: node dist/kernels/softplus/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--ed 256] [--repeats 9] [--json]
import { parseBenchArgs, fill, runOpBench } from '../bench-util.js';
import { softplusRef, softplusBackwardRef } from './ref.js';
import { softplus, softplusBackward } from './cpu.js';
import { createSoftplusKernels } from './gpujs.js';

const args = parseBenchArgs('node dist/kernels/softplus/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--ed 256] [--repeats 9] [--json]');
const L = args.L, C = args.opt('ed', 256);
const x = fill(L * C, 1, 24), dY = fill(L * C, 2); // (L, ED)
const x64 = Float64Array.from(x), dY64 = Float64Array.from(dY);
const y = new Float32Array(L * C), dX = new Float32Array(L * C);

await runOpBench({
  op: 'softplus', shape: `L=${L} ED=${C}`, tokens: L,
  ref: { forward: () => softplusRef(x64), backward: () => softplusBackwardRef(x64, dY64) },
  cpu: { forward: () => softplus(x, y), backward: () => softplusBackward(x, dY, dX) },
  gpu: (gpu, opts) => {
    const k = createSoftplusKernels(gpu, { L, C }, opts);
    return { forward: [[k.forward, [x]]], backward: [[k.backward, [x, dY]]] };
  },
}, args);
