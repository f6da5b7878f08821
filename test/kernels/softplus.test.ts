// softplus: hand values (incl. the threshold and tiny/huge inputs), finite differences, cpu and
// gpu.js (webgpu, webasm) vs the float64 reference, with inputs spanning the log1p-sensitive range.
import test from 'ava';
import { softplusRef, softplusBackwardRef } from '../../kernels/softplus/ref.js';
import { softplus, softplusBackward } from '../../kernels/softplus/cpu.js';
import { createSoftplusKernels } from '../../kernels/softplus/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`softplus webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

/** Elementwise relative error: softplus of very negative x is tiny, so a max-norm would hide it. */
function maxElemRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < ref.length; i++) e = Math.max(e, Math.abs(got[i] - ref[i]) / Math.max(Math.abs(ref[i]), 1e-30));
  return e;
}

test('softplusRef by hand: softplus(0) = ln 2, x > 20 → x, softplus(-30) = e⁻³⁰', (t) => {
  const y = softplusRef(Float64Array.of(0, 25, -30, 20));
  t.true(Math.abs(y[0] - Math.LN2) < 1e-16);
  t.is(y[1], 25);
  t.true(Math.abs(y[2] - Math.exp(-30)) / Math.exp(-30) < 1e-12);
  t.true(Math.abs(y[3] - (20 + Math.log1p(Math.exp(-20)))) < 1e-14);
  const x = randn(mulberry32(1), 9, 3), dY = randn(mulberry32(2), 9);
  const e = maxRelErr(softplusBackwardRef(x, dY), numericGrad(() => softplusRef(x), x, dY));
  t.log(`backward vs finite differences: ${e.toExponential(2)}`);
  t.true(e < TOLERANCE.finiteDifference);
});

/** inputs from -30 to 30: tiny-u log1p region, the series/log switch, and the threshold */
function inputs(rng: () => number, n: number): Float64Array {
  const x = randn(rng, n, 6);
  for (let i = 0; i < n; i += 7) x[i] = -30 + 60 * rng();
  return x;
}

const shapes: Array<[number, number]> = [[1, 33], [3, 5], [257, 129], [4099, 33]];
for (const [L, C] of shapes) {
  test(`cpu softplus vs reference, L=${L} C=${C}`, (t) => {
    const rng = mulberry32(L + C);
    const x = inputs(rng, L * C), dY = randn(rng, L * C);
    const e = { y: maxElemRelErr(softplus(f32(x)), softplusRef(Float64Array.from(f32(x)))), dX: maxRelErr(softplusBackward(f32(x), f32(dY)), softplusBackwardRef(x, dY)) };
    t.log(`max elementwise rel err y, max rel err dX ${JSON.stringify(e)}`);
    t.true(e.y < TOLERANCE.forward && e.dX < TOLERANCE.backward);
  });
}

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, C] of shapes) {
    run(`${mode} softplus vs reference (elementwise relative error), L=${L} C=${C}`, async (t) => {
      const gpu = await getGpu(mode);
      const rng = mulberry32(L * 2 + C);
      const x = inputs(rng, L * C), dY = randn(rng, L * C);
      const k = createSoftplusKernels(gpu, { L, C });
      // the reference is evaluated at the float32-rounded inputs: the kernel sees those
      const e = {
        y: maxElemRelErr(await readFlat(k.forward(f32(x))), softplusRef(Float64Array.from(f32(x)))),
        dX: maxRelErr(await readFlat(k.backward(f32(x), f32(dY))), softplusBackwardRef(x, dY)),
      };
      t.log(`max elementwise rel err y, max rel err dX ${JSON.stringify(e)}`);
      t.true(e.y < TOLERANCE.forward && e.dX < TOLERANCE.backward);
    });
  }
}
