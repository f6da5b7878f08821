// silu: hand values, finite differences, cpu and gpu.js (webgpu, webasm) vs the float64 reference.
import test from 'ava';
import { siluRef, siluBackwardRef } from '../../kernels/silu/ref.js';
import { silu, siluBackward } from '../../kernels/silu/cpu.js';
import { createSiluKernels } from '../../kernels/silu/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`silu webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

test('siluRef by hand: silu(0) = 0, silu(1) = 1/(1+e⁻¹), silu(-100) ≈ 0', (t) => {
  const y = siluRef(Float64Array.of(0, 1, -100, 100));
  t.is(y[0], 0);
  t.true(Math.abs(y[1] - 0.7310585786300049) < 1e-15);
  t.true(Math.abs(y[2]) < 1e-40 && y[3] === 100);
  const x = randn(mulberry32(1), 9, 3), dY = randn(mulberry32(2), 9);
  const e = maxRelErr(siluBackwardRef(x, dY), numericGrad(() => siluRef(x), x, dY));
  t.log(`backward vs finite differences: ${e.toExponential(2)}`);
  t.true(e < TOLERANCE.finiteDifference);
});

const shapes: Array<[number, number]> = [[1, 33], [3, 5], [257, 129], [4099, 33]];
for (const [L, C] of shapes) {
  test(`cpu silu vs reference, L=${L} C=${C}`, (t) => {
    const rng = mulberry32(L + C);
    const x = randn(rng, L * C, 4), dY = randn(rng, L * C);
    const e = { y: maxRelErr(silu(f32(x)), siluRef(x)), dX: maxRelErr(siluBackward(f32(x), f32(dY)), siluBackwardRef(x, dY)) };
    t.log(`max rel err ${JSON.stringify(e)}`);
    t.true(e.y < TOLERANCE.forward && e.dX < TOLERANCE.backward);
  });
}

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, C] of shapes) {
    run(`${mode} silu vs reference, L=${L} C=${C}`, async (t) => {
      const gpu = await getGpu(mode);
      const rng = mulberry32(L * 2 + C);
      const x = randn(rng, L * C, 4), dY = randn(rng, L * C);
      const k = createSiluKernels(gpu, { L, C });
      const e = {
        y: maxRelErr(await readFlat(k.forward(f32(x))), siluRef(x)),
        dX: maxRelErr(await readFlat(k.backward(f32(x), f32(dY))), siluBackwardRef(x, dY)),
      };
      t.log(`max rel err ${JSON.stringify(e)}`);
      t.true(e.y < TOLERANCE.forward && e.dX < TOLERANCE.backward);
    });
  }
}
