// embedding: hand case, bad ids, scatter-add backward vs finite differences, cpu and gpu.js
// (webgpu, webasm) vs the float64 reference.
import test from 'ava';
import { embeddingRef, embeddingBackwardRef } from '../../kernels/embedding/ref.js';
import { embedding, embeddingBackward } from '../../kernels/embedding/cpu.js';
import { createEmbeddingKernels } from '../../kernels/embedding/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randint, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`embedding webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });
const V = 16;

test('embeddingRef by hand; out-of-range ids are rejected with the position', (t) => {
  const E = Float64Array.of(0, 1, 10, 11, 20, 21); // (3, 2)
  t.deepEqual(Array.from(embeddingRef(Uint8Array.of(2, 0, 2), E, 3, 2)), [20, 21, 0, 1, 20, 21]);
  t.deepEqual(Array.from(embeddingBackwardRef(Int32Array.of(2, 0, 2), Float64Array.of(1, 2, 3, 4, 5, 6), 3, 2)), [3, 4, 0, 0, 6, 8]);
  t.throws(() => embedding(Int32Array.of(0, 3), f32(E), 3, 2), { message: /token id 3 at position 1/ });
  t.throws(() => embedding(Int32Array.of(-1), f32(E), 3, 2), { instanceOf: RangeError });
  const rng = mulberry32(3);
  const ids = randint(rng, 5, 3), E2 = randn(rng, 3 * 4), dY = randn(rng, 5 * 4);
  const e = maxRelErr(embeddingBackwardRef(ids, dY, 3, 4), numericGrad(() => embeddingRef(ids, E2, 3, 4), E2, dY));
  t.log(`dE vs finite differences: ${e.toExponential(2)}`);
  t.true(e < TOLERANCE.finiteDifference);
});

const shapes: Array<[number, number]> = [[1, 33], [3, 5], [257, 129], [4099, 33]];
for (const [L, D] of shapes) {
  test(`cpu embedding vs reference, L=${L} D=${D} (Uint8 and Int32 ids)`, (t) => {
    const rng = mulberry32(L + D);
    const ids = randint(rng, L, V), E = randn(rng, V * D), dY = randn(rng, L * D);
    const y8 = embedding(Uint8Array.from(ids), f32(E), V, D);
    const y32 = embedding(ids, f32(E), V, D);
    const prior = f32(randn(rng, V * D));
    const dE = embeddingBackward(ids, f32(dY), V, D, Float32Array.from(prior));
    const refDE = embeddingBackwardRef(ids, dY, V, D).map((v, i) => v + prior[i]);
    const e = { y: maxRelErr(y8, embeddingRef(ids, Float64Array.from(f32(E)), V, D)), dEAccumulated: maxRelErr(dE, refDE) };
    t.log(`max rel err ${JSON.stringify(e)}`);
    t.is(e.y, 0); // a gather of float32 rows is exact
    t.deepEqual(y32, y8);
    t.true(e.dEAccumulated < TOLERANCE.backward);
  });
}

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, D] of shapes) {
    run(`${mode} embedding forward/backward vs reference, L=${L} D=${D}`, async (t) => {
      const gpu = await getGpu(mode);
      const rng = mulberry32(L * 3 + D);
      const ids = randint(rng, L, V), E = randn(rng, V * D), dY = randn(rng, L * D);
      const k = createEmbeddingKernels(gpu, { L, V, D });
      const e = {
        y: maxRelErr(await readFlat(k.forward(f32(ids), f32(E))), Float64Array.from(embedding(ids, f32(E), V, D))),
        dE: maxRelErr(await readFlat(k.backward(f32(ids), f32(dY))), embeddingBackwardRef(ids, dY, V, D)),
      };
      t.log(`max rel err ${JSON.stringify(e)}`);
      t.is(e.y, 0); // a gather is exact
      t.true(e.dE < TOLERANCE.backward);
    });
  }
}
