// residual-add: hand case, backward, cpu and gpu.js (webgpu, webasm) vs the float64 reference.
import test from 'ava';
import { residualAddRef, residualAddBackwardRef } from '../../kernels/residual-add/ref.js';
import { residualAdd, residualAddBackward } from '../../kernels/residual-add/cpu.js';
import { createResidualAddKernels } from '../../kernels/residual-add/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`residual-add webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

test('residualAddRef by hand; backward copies dOut to both inputs (finite differences)', (t) => {
  t.deepEqual(Array.from(residualAddRef(Float64Array.of(1, 2), Float64Array.of(10, -2))), [11, 0]);
  const rng = mulberry32(2);
  const a = randn(rng, 7), b = randn(rng, 7), d = randn(rng, 7);
  const g = residualAddBackwardRef(d);
  const e = [maxRelErr(g.dA, numericGrad(() => residualAddRef(a, b), a, d)), maxRelErr(g.dB, numericGrad(() => residualAddRef(a, b), b, d))];
  t.log(`dA, dB vs finite differences: ${e.map((v) => v.toExponential(2))}`);
  for (const v of e) t.true(v < TOLERANCE.finiteDifference);
  const gc = residualAddBackward(f32(d));
  t.deepEqual(Array.from(gc.dA), Array.from(f32(d)));
  t.deepEqual(Array.from(gc.dB), Array.from(f32(d)));
});

const shapes: Array<[number, number]> = [[1, 33], [3, 5], [257, 129], [4099, 33]];
for (const mode of ['cpu', 'webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, C] of shapes) {
    run(`${mode} residual add vs reference, L=${L} C=${C}`, async (t) => {
      const rng = mulberry32(L + C);
      const a = randn(rng, L * C), b = randn(rng, L * C);
      const got = mode === 'cpu'
        ? residualAdd(f32(a), f32(b))
        : await readFlat(createResidualAddKernels(await getGpu(mode), { L, C }).forward(f32(a), f32(b)));
      const e = maxRelErr(got, residualAddRef(a, b));
      t.log(`max rel err ${e.toExponential(2)}`);
      t.true(e < TOLERANCE.forward);
    });
  }
}
