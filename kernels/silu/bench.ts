// silu — standalone benchmark of SiLU forward and backward at the model's shape (L = 4096 tokens,
// ED = 256: the activation after the depthwise conv) on ref (float64), cpu (float32), and the gpu.js
// kernels in webasm and webgpu modes. Not a test (correctness: test/kernels/silu.test.ts).
// Timing rules (warm-up, median, device-resident webgpu with a finished queue) in ../bench-util.ts.
// Run: node dist/kernels/silu/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--ed 256] [--repeats 9] [--json]
import { parseBenchArgs, fill, runOpBench } from '../bench-util.js';
import { siluRef, siluBackwardRef } from './ref.js';
import { silu, siluBackward } from './cpu.js';
import { createSiluKernels } from './gpujs.js';

const args = parseBenchArgs('node dist/kernels/silu/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--ed 256] [--repeats 9] [--json]');
const L = args.L, C = args.opt('ed', 256);
const x = fill(L * C, 1, 8), dY = fill(L * C, 2); // (L, ED)
const x64 = Float64Array.from(x), dY64 = Float64Array.from(dY);
const y = new Float32Array(L * C), dX = new Float32Array(L * C);

await runOpBench({
  op: 'silu', shape: `L=${L} ED=${C}`, tokens: L,
  ref: { forward: () => siluRef(x64), backward: () => siluBackwardRef(x64, dY64) },
  cpu: { forward: () => silu(x, y), backward: () => siluBackward(x, dY, dX) },
  gpu: (gpu, opts) => {
    const k = createSiluKernels(gpu, { L, C }, opts);
    return { forward: [[k.forward, [x]]], backward: [[k.backward, [x, dY]]] };
  },
}, args);
