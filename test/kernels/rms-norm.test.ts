// rms-norm: hand case, finite differences, cpu and gpu.js (webgpu, webasm) vs the float64 reference,
// plain and fused residual-add forms.
import test from 'ava';
import { rmsNormRef, rmsNormBackwardRef, addRmsNormRef, addRmsNormBackwardRef } from '../../kernels/rms-norm/ref.js';
import { rmsNorm, rmsNormBackward, addRmsNorm, addRmsNormBackward } from '../../kernels/rms-norm/cpu.js';
import { createRmsNormKernels } from '../../kernels/rms-norm/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`rms-norm webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

test('rmsNormRef by hand: [3, 4] → rms √12.5', (t) => {
  const y = rmsNormRef(Float64Array.of(3, 4), Float64Array.of(1, 2), 1, 2, 0);
  const r = 1 / Math.sqrt(12.5);
  t.true(Math.abs(y[0] - 3 * r) < 1e-15 && Math.abs(y[1] - 8 * r) < 1e-15);
  const f = addRmsNormRef(Float64Array.of(1, 1), Float64Array.of(2, 3), Float64Array.of(1, 2), 1, 2, 0);
  t.deepEqual(Array.from(f.residual), [3, 4]);
  t.deepEqual(Array.from(f.y), Array.from(y));
});

test('rms-norm backward refs match central finite differences (plain and fused)', (t) => {
  const rng = mulberry32(3);
  const [L, D] = [3, 5];
  const x = randn(rng, L * D), res = randn(rng, L * D), w = randn(rng, D, 0.5, 1), dY = randn(rng, L * D), dR = randn(rng, L * D);
  const g = rmsNormBackwardRef(x, w, dY, L, D);
  const f = () => rmsNormRef(x, w, L, D);
  const e1 = [maxRelErr(g.dX, numericGrad(f, x, dY)), maxRelErr(g.dW, numericGrad(f, w, dY))];
  // fused: loss = Σ dY·y + Σ dR·residual'; gradient wrt x (== wrt residual) and w
  const sum = addRmsNormRef(x, res, w, L, D).residual;
  const gf = addRmsNormBackwardRef(sum, w, dY, dR, L, D);
  const both = () => { const o = addRmsNormRef(x, res, w, L, D); return Float64Array.from([...o.y, ...o.residual]); };
  const dBoth = Float64Array.from([...dY, ...dR]);
  const e2 = [maxRelErr(gf.dX, numericGrad(both, x, dBoth)), maxRelErr(gf.dX, numericGrad(both, res, dBoth)), maxRelErr(gf.dW, numericGrad(both, w, dBoth))];
  t.log(`max rel err vs finite differences: plain dX, dW ${e1.map((e) => e.toExponential(2))}; fused dX, dRes, dW ${e2.map((e) => e.toExponential(2))}`);
  for (const e of [...e1, ...e2]) t.true(e < TOLERANCE.finiteDifference);
});

for (const [L, D] of [[1, 33], [3, 5], [257, 129], [4099, 33]] as Array<[number, number]>) {
  test(`cpu rms-norm (plain + fused) forward/backward vs reference, L=${L} D=${D}`, (t) => {
    const rng = mulberry32(L + D);
    const x = randn(rng, L * D), res = randn(rng, L * D), w = randn(rng, D, 0.5, 1), dY = randn(rng, L * D), dR = randn(rng, L * D);
    const fr = addRmsNormRef(x, res, w, L, D);
    const fc = addRmsNorm(f32(x), f32(res), f32(w), L, D);
    const br = addRmsNormBackwardRef(fr.residual, w, dY, dR, L, D);
    const bc = addRmsNormBackward(fc.residual, f32(w), f32(dY), f32(dR), L, D);
    const pr = rmsNormBackwardRef(x, w, dY, L, D);
    const pc = rmsNormBackward(f32(x), f32(w), f32(dY), L, D);
    const e = {
      y: maxRelErr(rmsNorm(f32(x), f32(w), L, D), rmsNormRef(x, w, L, D)),
      fusedY: maxRelErr(fc.y, fr.y), fusedRes: maxRelErr(fc.residual, fr.residual),
      dX: maxRelErr(pc.dX, pr.dX), dW: maxRelErr(pc.dW, pr.dW), fusedDX: maxRelErr(bc.dX, br.dX), fusedDW: maxRelErr(bc.dW, br.dW),
    };
    t.log(`max rel err ${JSON.stringify(e)}`);
    t.true(e.y < TOLERANCE.forward && e.fusedY < TOLERANCE.forward && e.fusedRes < TOLERANCE.forward);
    for (const v of [e.dX, e.dW, e.fusedDX, e.fusedDW]) t.true(v < TOLERANCE.backward);
  });
}

test('cpu addRmsNorm without residual equals rmsNorm and copies x', (t) => {
  const rng = mulberry32(8);
  const x = f32(randn(rng, 3 * 7)), w = f32(randn(rng, 7));
  const o = addRmsNorm(x, null, w, 3, 7);
  t.deepEqual(Array.from(o.residual), Array.from(x));
  t.deepEqual(Array.from(o.y), Array.from(rmsNorm(x, w, 3, 7)));
});

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, D] of [[1, 33], [3, 5], [257, 129], [4099, 17]] as Array<[number, number]>) {
    run(`${mode} rms-norm fused forward + backward vs reference, L=${L} D=${D}`, async (t) => {
      const gpu = await getGpu(mode);
      const rng = mulberry32(L * 3 + D);
      const x = randn(rng, L * D), res = randn(rng, L * D), w = randn(rng, D, 0.5, 1), dY = randn(rng, L * D), dR = randn(rng, L * D);
      const k = createRmsNormKernels(gpu, { L, D });
      const fr = addRmsNormRef(x, res, w, L, D);
      const br = addRmsNormBackwardRef(fr.residual, w, dY, dR, L, D);
      const sum = await readFlat(k.add(f32(x), f32(res)));
      const r = f32(await readFlat(k.rstd(f32(sum))));
      const y = await readFlat(k.apply(f32(sum), r, f32(w)));
      const c = f32(await readFlat(k.coef(f32(fr.residual), f32(dY), f32(w), r)));
      const dX = await readFlat(k.backwardX(f32(fr.residual), f32(dY), f32(w), r, c));
      const dXAdd = await readFlat(k.backwardXAdd(f32(fr.residual), f32(dY), f32(w), r, c, f32(dR)));
      const dW = await readFlat(k.backwardW(f32(fr.residual), f32(dY), r));
      const plain = rmsNormBackwardRef(fr.residual, w, dY, L, D);
      const e = {
        residual: maxRelErr(sum, fr.residual), y: maxRelErr(y, fr.y),
        dX: maxRelErr(dX, plain.dX), dXAdd: maxRelErr(dXAdd, br.dX), dW: maxRelErr(dW, br.dW),
      };
      t.log(`max rel err ${JSON.stringify(e)}`);
      t.true(e.residual < TOLERANCE.forward && e.y < TOLERANCE.forward);
      for (const v of [e.dX, e.dXAdd, e.dW]) t.true(v < TOLERANCE.backward);
    });
  }
}

test(`${probe.ok ? 'webgpu' : 'webasm'} rms-norm chains device handles: add → rstd → apply`, async (t) => {
  const gpu = await getGpu(probe.ok ? 'webgpu' : 'webasm');
  const rng = mulberry32(21);
  const [L, D] = [257, 33];
  const x = randn(rng, L * D), res = randn(rng, L * D), w = randn(rng, D, 0.5, 1);
  const k = createRmsNormKernels(gpu, { L, D }, { pipeline: true });
  const sum = await k.add(f32(x), f32(res));
  const r = await k.rstd(sum);
  const y = await readFlat(k.apply(sum, r, f32(w)));
  const e = maxRelErr(y, addRmsNormRef(x, res, w, L, D).y);
  t.log(`max rel err ${e.toExponential(2)}`);
  t.true(e < TOLERANCE.forward);
});
