// gate (y · SiLU(z)): hand value, finite differences, cpu and gpu.js (webgpu, webasm) vs the reference.
import test from 'ava';
import { gateRef, gateBackwardRef } from '../../kernels/gate/ref.js';
import { gate, gateBackward } from '../../kernels/gate/cpu.js';
import { createGateKernels } from '../../kernels/gate/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`gate webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

test('gateRef by hand and backward vs finite differences', (t) => {
  t.true(Math.abs(gateRef(Float64Array.of(2), Float64Array.of(1))[0] - 2 * 0.7310585786300049) < 1e-15);
  const rng = mulberry32(5);
  const y = randn(rng, 11), z = randn(rng, 11, 3), d = randn(rng, 11);
  const g = gateBackwardRef(y, z, d);
  const e = [maxRelErr(g.dY, numericGrad(() => gateRef(y, z), y, d)), maxRelErr(g.dZ, numericGrad(() => gateRef(y, z), z, d))];
  t.log(`dY, dZ vs finite differences: ${e.map((v) => v.toExponential(2))}`);
  for (const v of e) t.true(v < TOLERANCE.finiteDifference);
});

const shapes: Array<[number, number]> = [[1, 33], [3, 5], [257, 129], [4099, 33]];
for (const [L, C] of shapes) {
  test(`cpu gate vs reference, L=${L} C=${C}`, (t) => {
    const rng = mulberry32(L + C);
    const y = randn(rng, L * C), z = randn(rng, L * C, 3), d = randn(rng, L * C);
    const gr = gateBackwardRef(y, z, d), gc = gateBackward(f32(y), f32(z), f32(d));
    const e = { out: maxRelErr(gate(f32(y), f32(z)), gateRef(y, z)), dY: maxRelErr(gc.dY, gr.dY), dZ: maxRelErr(gc.dZ, gr.dZ) };
    t.log(`max rel err ${JSON.stringify(e)}`);
    t.true(e.out < TOLERANCE.forward && e.dY < TOLERANCE.backward && e.dZ < TOLERANCE.backward);
  });
}

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, C] of shapes) {
    run(`${mode} gate vs reference, L=${L} C=${C}`, async (t) => {
      const gpu = await getGpu(mode);
      const rng = mulberry32(L * 3 + C);
      const y = randn(rng, L * C), z = randn(rng, L * C, 3), d = randn(rng, L * C);
      const k = createGateKernels(gpu, { L, C });
      const gr = gateBackwardRef(y, z, d);
      const e = {
        out: maxRelErr(await readFlat(k.forward(f32(y), f32(z))), gateRef(y, z)),
        dY: maxRelErr(await readFlat(k.backwardY(f32(z), f32(d))), gr.dY),
        dZ: maxRelErr(await readFlat(k.backwardZ(f32(y), f32(z), f32(d))), gr.dZ),
      };
      t.log(`max rel err ${JSON.stringify(e)}`);
      t.true(e.out < TOLERANCE.forward && e.dY < TOLERANCE.backward && e.dZ < TOLERANCE.backward);
    });
  }
}
