// lm-head (tied): logits = h Eᵀ; backward dH and dE (added to the embedding's dE): hand case, finite
// differences, cpu and gpu.js (webgpu, webasm) vs the float64 reference, and the tie's gradient sum.
import test from 'ava';
import { lmHeadRef, lmHeadBackwardRef } from '../../kernels/lm-head/ref.js';
import { lmHead, lmHeadBackward } from '../../kernels/lm-head/cpu.js';
import { createLmHeadKernels } from '../../kernels/lm-head/gpujs.js';
import { embeddingRef, embeddingBackwardRef } from '../../kernels/embedding/ref.js';
import { embeddingBackward } from '../../kernels/embedding/cpu.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randint, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`lm-head webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });
const V = 16;

test('lmHeadRef by hand, and the tie: d/dE of (embedding → head) = scatter-add + head gradient', (t) => {
  t.deepEqual(Array.from(lmHeadRef(Float64Array.of(1, 2), Float64Array.of(1, 0, 0, 1, 1, 1), 1, 2, 3)), [1, 2, 3]);
  const rng = mulberry32(9);
  const [L, D, Vs] = [4, 3, 5];
  const ids = randint(rng, L, Vs), E = randn(rng, Vs * D), dLogits = randn(rng, L * Vs);
  // logits = embedding(ids, E) · Eᵀ: E is used twice
  const f = () => lmHeadRef(embeddingRef(ids, E, Vs, D), E, L, D, Vs);
  const h = embeddingRef(ids, E, Vs, D);
  const g = lmHeadBackwardRef(h, E, dLogits, L, D, Vs);
  const tied = embeddingBackwardRef(ids, g.dH, Vs, D).map((v, i) => v + g.dE[i]);
  const e = maxRelErr(tied, numericGrad(f, E, dLogits));
  const gh = maxRelErr(g.dH, numericGrad(() => lmHeadRef(h, E, L, D, Vs), h, dLogits));
  t.log(`tied dE, dH vs finite differences: ${e.toExponential(2)}, ${gh.toExponential(2)}`);
  t.true(e < TOLERANCE.finiteDifference && gh < TOLERANCE.finiteDifference);
  // cpu: the head's backward accumulates into the embedding's dE
  const dE = embeddingBackward(ids, f32(g.dH), Vs, D);
  lmHeadBackward(f32(h), f32(E), f32(dLogits), L, D, Vs, dE);
  t.true(maxRelErr(dE, tied) < TOLERANCE.backward);
});

const shapes: Array<[number, number]> = [[1, 33], [3, 5], [257, 129], [4099, 33]];
for (const mode of ['cpu', 'webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, D] of shapes) {
    run(`${mode} lm-head forward/backward vs reference, L=${L} D=${D} V=${V}`, async (t) => {
      const rng = mulberry32(L + D);
      const h = randn(rng, L * D), E = randn(rng, V * D, 0.2), dL = randn(rng, L * V);
      const ref = lmHeadRef(h, E, L, D, V);
      const gr = lmHeadBackwardRef(h, E, dL, L, D, V);
      let y: ArrayLike<number>, dH: ArrayLike<number>, dE: ArrayLike<number>;
      if (mode === 'cpu') {
        y = lmHead(f32(h), f32(E), L, D, V);
        ({ dH, dE } = lmHeadBackward(f32(h), f32(E), f32(dL), L, D, V));
      } else {
        const k = createLmHeadKernels(await getGpu(mode), { L, D, V });
        y = await readFlat(k.forward(f32(h), f32(E)));
        dH = await readFlat(k.backwardH(f32(dL), f32(E)));
        dE = await readFlat(k.backwardE(f32(dL), f32(h)));
      }
      const e = { logits: maxRelErr(y, ref), dH: maxRelErr(dH, gr.dH), dE: maxRelErr(dE, gr.dE) };
      t.log(`max rel err ${JSON.stringify(e)}`);
      t.true(e.logits < TOLERANCE.forward && e.dH < TOLERANCE.backward && e.dE < TOLERANCE.backward);
    });
  }
}
