// residual-add — standalone benchmark of out = a + b (and the cpu.ts backward, two copies of dOut)
// at the residual stream's shape (L = 4096 tokens, D = 128) on ref (float64), cpu (float32), and the
// gpu.js kernel in webasm and webgpu modes (forward only: the backward needs no kernel, a handle is
// shared — the table says so). Not a test (correctness: test/kernels/residual-add.test.ts).
// Timing rules (warm-up, median, device-resident webgpu with a finished queue) in ../bench-util.ts.
// Run: node dist/kernels/residual-add/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--d 128] [--repeats 9] [--json]
import { parseBenchArgs, fill, runOpBench } from '../bench-util.js';
import { residualAddRef, residualAddBackwardRef } from './ref.js';
import { residualAdd, residualAddBackward } from './cpu.js';
import { createResidualAddKernels } from './gpujs.js';

const args = parseBenchArgs('node dist/kernels/residual-add/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--d 128] [--repeats 9] [--json]');
const L = args.L, C = args.opt('d', 128);
const a = fill(L * C, 1), b = fill(L * C, 2), dOut = fill(L * C, 3); // (L, D)
const a64 = Float64Array.from(a), b64 = Float64Array.from(b), dOut64 = Float64Array.from(dOut);
const out = new Float32Array(L * C);

await runOpBench({
  op: 'residual-add', shape: `L=${L} D=${C}`, tokens: L,
  ref: { forward: () => residualAddRef(a64, b64), backward: () => residualAddBackwardRef(dOut64) },
  cpu: { forward: () => residualAdd(a, b, out), backward: () => residualAddBackward(dOut) },
  gpu: (gpu, opts) => {
    const k = createResidualAddKernels(gpu, { L, C }, opts);
    return { forward: [[k.forward, [a, b]]] };
  },
}, args);
