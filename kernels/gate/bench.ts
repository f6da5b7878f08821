// gate — standalone benchmark of out = y · SiLU(z) forward and backward (dY and dZ) at the model's
// shape (L = 4096 tokens, ED = 256) on ref (float64), cpu (float32, one fused backward loop), and the
// gpu.js kernels in webasm and webgpu modes (backward = backwardY + backwardZ, two kernels: gpu.js
// has one output per kernel). Not a test (correctness: test/kernels/gate.test.ts).
// Timing rules (warm-up, median, device-resident webgpu with a finished queue) in ../bench-util.ts.
// Run: node dist/kernels/gate/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--ed 256] [--repeats 9] [--json]
import { parseBenchArgs, fill, runOpBench } from '../bench-util.js';
import { gateRef, gateBackwardRef } from './ref.js';
import { gate, gateBackward } from './cpu.js';
import { createGateKernels } from './gpujs.js';

const args = parseBenchArgs('node dist/kernels/gate/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--ed 256] [--repeats 9] [--json]');
const L = args.L, C = args.opt('ed', 256);
const y = fill(L * C, 1, 2), z = fill(L * C, 2, 8), dOut = fill(L * C, 3); // (L, ED)
const y64 = Float64Array.from(y), z64 = Float64Array.from(z), dOut64 = Float64Array.from(dOut);
const out = new Float32Array(L * C), grads = { dY: new Float32Array(L * C), dZ: new Float32Array(L * C) };

await runOpBench({
  op: 'gate', shape: `L=${L} ED=${C}`, tokens: L,
  ref: { forward: () => gateRef(y64, z64), backward: () => gateBackwardRef(y64, z64, dOut64) },
  cpu: { forward: () => gate(y, z, out), backward: () => gateBackward(y, z, dOut, grads) },
  gpu: (gpu, opts) => {
    const k = createGateKernels(gpu, { L, C }, opts);
    return { forward: [[k.forward, [y, z]]], backward: [[k.backwardY, [z, dOut]], [k.backwardZ, [y, z, dOut]]] };
  },
}, args);
