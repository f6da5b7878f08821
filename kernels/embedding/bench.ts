// embedding — standalone benchmark of the token-embedding gather (forward) and its scatter-add
// backward at the model's shape (L = 4096 tokens, V = 16 padded vocabulary, D = 128) on ref
// (float64), cpu (float32), and the gpu.js kernels in webasm and webgpu modes (backward there is a
// gather-sum: one thread per dE element looping over L). Ids are A/C/G/T tokens (7–10), as in DNA.
// Not a test (correctness: test/kernels/embedding.test.ts).
// Timing rules (warm-up, median, device-resident webgpu with a finished queue) in ../bench-util.ts.
// Run: node dist/kernels/embedding/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--d 128] [--v 16] [--repeats 9] [--json]
import { parseBenchArgs, fill, runOpBench } from '../bench-util.js';
import { embeddingRef, embeddingBackwardRef } from './ref.js';
import { embedding, embeddingBackward } from './cpu.js';
import { createEmbeddingKernels } from './gpujs.js';

const args = parseBenchArgs('node dist/kernels/embedding/bench.js [--device all|ref,cpu,webasm,webgpu] [--L 4096] [--d 128] [--v 16] [--repeats 9] [--json]');
const L = args.L, D = args.opt('d', 128), V = args.opt('v', 16);
const ids = Int32Array.from(fill(L, 1, 4, 2), (u) => 7 + Math.floor(u)); // (L) in 7..10
const idsF = Float32Array.from(ids); // gpu.js arrays are float; ids < 2^24 are exact
const E = fill(V * D, 2), dY = fill(L * D, 3); // (V, D), (L, D)
const E64 = Float64Array.from(E), dY64 = Float64Array.from(dY);
const y = new Float32Array(L * D), dE = new Float32Array(V * D);

await runOpBench({
  op: 'embedding', shape: `L=${L} V=${V} D=${D}`, tokens: L,
  ref: { forward: () => embeddingRef(ids, E64, V, D), backward: () => embeddingBackwardRef(ids, dY64, V, D) },
  // embeddingBackward accumulates into dE (the tied LM head adds there too): zero it as a step would
  cpu: { forward: () => embedding(ids, E, V, D, y), backward: () => embeddingBackward(ids, dY, V, D, dE.fill(0)) },
  gpu: (gpu, opts) => {
    const k = createEmbeddingKernels(gpu, { L, V, D }, opts);
    return { forward: [[k.forward, [idsF, E]]], backward: [[k.backward, [idsF, dY]]] };
  },
}, args);
