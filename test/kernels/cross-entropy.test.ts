// cross-entropy: hand case (uniform logits → ln V), ignore index, finite differences, cpu and gpu.js
// (webgpu, webasm) vs the float64 reference (per-position NLL, totals, correct count, dLogits).
import test from 'ava';
import { crossEntropyRef, crossEntropyBackwardRef, summarizeCrossEntropy } from '../../kernels/cross-entropy/ref.js';
import { crossEntropy, crossEntropyBackward } from '../../kernels/cross-entropy/cpu.js';
import { createCrossEntropyKernels } from '../../kernels/cross-entropy/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randint, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`cross-entropy webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });
const V = 16;

test('crossEntropyRef by hand: uniform logits give ln V nats = log2 V bits; -1 is ignored', (t) => {
  const logits = new Float64Array(3 * V);
  logits[2 * V + 5] = 100; // row 2 predicts 5 with certainty
  const r = crossEntropyRef(logits, Int32Array.of(3, -1, 5), 3, V);
  t.is(r.count, 2);
  t.is(r.correct, 1); // row 0: all tie, argmax = 0 ≠ 3; row 2: argmax 5 = target
  t.true(Math.abs(r.nll[0] - Math.log(V)) < 1e-14 && r.nll[1] === 0 && r.nll[2] < 1e-40);
  t.true(Math.abs(r.lossNats - Math.log(V) / 2) < 1e-14 && Math.abs(r.lossBits - 2) < 1e-14);
  t.throws(() => crossEntropy(f32(logits), Int32Array.of(3, 16, 0), 3, V), { message: /target 16 at position 1/ });
  const d = crossEntropyBackwardRef(logits, Int32Array.of(3, -1, 5), 3, V);
  t.true(Math.abs(d[3] - (1 / V - 1) / 2) < 1e-15 && d[V + 3] === 0);
});

test('crossEntropyBackwardRef matches central finite differences of the mean loss', (t) => {
  const rng = mulberry32(6);
  const L = 5;
  const logits = randn(rng, L * V, 2), targets = Int32Array.from(randint(rng, L, V));
  targets[2] = -1;
  const f = () => Float64Array.of(crossEntropyRef(logits, targets, L, V).lossNats);
  const e = maxRelErr(crossEntropyBackwardRef(logits, targets, L, V), numericGrad(f, logits, Float64Array.of(1)));
  t.log(`dLogits vs finite differences: ${e.toExponential(2)}`);
  t.true(e < TOLERANCE.finiteDifference);
});

function data(L: number, seed: number) {
  const rng = mulberry32(seed);
  const logits = randn(rng, L * V, 3);
  const targets = Int32Array.from(randint(rng, L, V));
  for (let t = 0; t < L; t += 5) targets[t] = -1;
  // make some positions predictable so `correct` counts both outcomes
  for (let t = 1; t < L; t += 3) if (targets[t] >= 0) logits[t * V + targets[t]] += 8;
  return { logits: Float64Array.from(f32(logits)), targets };
}

for (const L of [1, 3, 257, 4099]) {
  test(`cpu cross-entropy vs reference, L=${L}`, (t) => {
    const { logits, targets } = data(L, L);
    const r = crossEntropyRef(logits, targets, L, V);
    const c = crossEntropy(f32(logits), targets, L, V);
    const e = {
      nll: maxRelErr(c.nll, r.nll), loss: Math.abs(c.lossNats - r.lossNats) / Math.max(r.lossNats, 1e-30),
      dLogits: maxRelErr(crossEntropyBackward(f32(logits), targets, L, V), crossEntropyBackwardRef(logits, targets, L, V)),
    };
    t.log(`max rel err ${JSON.stringify(e)}; correct ${c.correct}/${c.count}, loss ${c.lossBits.toFixed(4)} bits`);
    t.is(c.correct, r.correct);
    t.is(c.count, r.count);
    t.true(e.nll < TOLERANCE.forward && e.loss < TOLERANCE.forward && e.dLogits < TOLERANCE.backward);
  });
}

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const L of [1, 3, 257, 4099]) {
    run(`${mode} cross-entropy vs reference, L=${L}`, async (t) => {
      const gpu = await getGpu(mode);
      const { logits, targets } = data(L, L + 1);
      const r = crossEntropyRef(logits, targets, L, V);
      const k = createCrossEntropyKernels(gpu, { L, V });
      const lg = f32(logits), tg = f32(targets);
      const lse = f32(await readFlat(k.lse(lg)));
      const nll = await readFlat(k.nll(lg, lse, tg));
      const ok = await readFlat(k.correct(lg, tg));
      const s = summarizeCrossEntropy(nll, ok, targets, L);
      const d = await readFlat(k.backward(lg, lse, tg, r.count > 0 ? 1 / r.count : 0));
      const e = {
        nll: maxRelErr(s.nll, r.nll), loss: Math.abs(s.lossNats - r.lossNats) / Math.max(r.lossNats, 1e-30),
        dLogits: maxRelErr(d, crossEntropyBackwardRef(logits, targets, L, V)),
      };
      t.log(`max rel err ${JSON.stringify(e)}; correct ${s.correct}/${s.count}`);
      t.is(s.correct, r.correct);
      t.true(e.nll < TOLERANCE.forward && e.loss < TOLERANCE.forward && e.dLogits < TOLERANCE.backward);
    });
  }
}
