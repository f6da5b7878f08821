// selective-scan backward as gpu.js kernels (webgpu on lavapipe, webasm) vs the float64 reference
// `selectiveScanBackwardRef`, on seeded random inputs of odd sizes with h0 and dhL, and the
// chunk-boundary cases (L = 1, L < chunk, L just past a multiple of the chunk).
import test from 'ava';
import { type SelectiveScanArgs, selectiveScanBackwardRef } from '../../kernels/selective-scan/ref.js';
import { createSelectiveScanBackwardKernels } from '../../kernels/selective-scan/gpujs-backward.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { randomScanArgs } from '../helpers/scan-args.js';
import { f32, maxRelErr } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`selective-scan backward webgpu tests skipped: ${probe.reason}`);
const modes: Array<'webgpu' | 'webasm'> = probe.ok ? ['webgpu', 'webasm'] : ['webasm'];
test.after.always(async () => { await shutdownGpu(); });

const randomArgs = (seed: number, L: number, ED: number, N: number) => randomScanArgs(seed, L, ED, N, true);

const toF32 = (a: SelectiveScanArgs<Float64Array>): SelectiveScanArgs<Float32Array> => ({
  L: a.L, ED: a.ED, N: a.N, u: f32(a.u), deltaRaw: f32(a.deltaRaw), z: f32(a.z), A: f32(a.A),
  B: f32(a.B), C: f32(a.C), D: f32(a.D), deltaBias: f32(a.deltaBias), h0: a.h0 ? f32(a.h0) : null,
});

const fmt = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');

const shapes: Array<[number, number, number]> = [[1, 5, 1], [3, 5, 16], [257, 33, 1], [257, 33, 16], [4099, 5, 16]];
for (const mode of modes) {
  test(`${mode}: gpu.js backward == selectiveScanBackwardRef (L, ED, N) ∈ ${shapes.map((s) => `(${s.join(',')})`).join(' ')}`, async (t) => {
    const gpu = await getGpu(mode);
    const sets = new Map<string, ReturnType<typeof createSelectiveScanBackwardKernels>>();
    for (const [i, [L, ED, N]] of shapes.entries()) {
      const a = randomArgs(1000 + i, L, ED, N);
      const rng = mulberry32(2000 + i);
      const dOut = randn(rng, L * ED);
      const dhL = randn(rng, ED * N);
      const ref = selectiveScanBackwardRef(a, dOut, dhL);
      let k = sets.get(`${ED} ${N}`);
      if (!k) sets.set(`${ED} ${N}`, (k = createSelectiveScanBackwardKernels(gpu, { ED, N })));
      const t0 = performance.now();
      const got = await k.run(toF32(a), f32(dOut), f32(dhL));
      const ms = performance.now() - t0;
      const errs: Record<string, number> = {};
      for (const name of Object.keys(ref) as Array<keyof typeof ref>) errs[name] = maxRelErr(got[name], ref[name]);
      t.log(`L=${L} ED=${ED} N=${N} (${ms.toFixed(0)} ms incl. compile): ${fmt(errs)}`);
      for (const [name, e] of Object.entries(errs)) t.true(e < TOLERANCE.backward, `L=${L} ED=${ED} N=${N} ${name}: ${e}`);
    }
  });
}

test('gpu.js backward, chunk 5 (partial last chunk): dhL absent = zeros, h0 absent = zeros; L = 0 passes dhL through', async (t) => {
  const gpu = await getGpu(modes[0]);
  const k = createSelectiveScanBackwardKernels(gpu, { ED: 3, N: 2, chunk: 5 });
  const a = { ...randomArgs(7, 19, 3, 2), h0: null };
  const dOut = randn(mulberry32(8), 19 * 3);
  const ref = selectiveScanBackwardRef(a, dOut, null);
  const got = await k.run(toF32(a), f32(dOut), null);
  const errs: Record<string, number> = {};
  for (const name of Object.keys(ref) as Array<keyof typeof ref>) errs[name] = maxRelErr(got[name], ref[name]);
  t.log(`${modes[0]} L=19 ED=3 N=2 chunk 5, no h0/dhL: ${fmt(errs)}`);
  for (const [name, e] of Object.entries(errs)) t.true(e < TOLERANCE.backward, `${name}: ${e}`);
  const e = { ...randomArgs(9, 0, 3, 2) };
  const dhL = f32(randn(mulberry32(10), 6));
  const g0 = await k.run(toF32(e), new Float32Array(0), dhL);
  t.deepEqual(Array.from(g0.dh0), Array.from(dhL));
  t.is(g0.dU.length, 0);
  await t.throwsAsync(() => k.run(toF32(e), new Float32Array(0), new Float32Array(5)), { instanceOf: RangeError });
});
