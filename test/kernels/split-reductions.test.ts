// The training engine's split token reductions (one thread per (split, parameter), then a sum) and the
// transposed-weight forward linear, on gpu.js webgpu and webasm, vs the float64 references: odd sizes,
// splits that do not divide L (the last split is short), L shorter than one split.
import test from 'ava';
import { type GpuHandle, kernelSettings, scatterFloats, scatterHelpers, scatterView } from '../../kernels/gpujs-types.js';
import { linearBackwardRef, linearRef } from '../../kernels/linear/ref.js';
import { linearBwdWSplit, linearFwdT } from '../../kernels/linear/gpujs.js';
import { conv1dBackwardRef } from '../../kernels/conv1d/ref.js';
import { convBwdBSplit, convBwdWSplit, convBwdWTapsSource } from '../../kernels/conv1d/gpujs.js';
import { rmsNormBackwardRef } from '../../kernels/rms-norm/ref.js';
import { bwdWSplitKernel } from '../../kernels/rms-norm/gpujs.js';
import { embeddingBackwardRef } from '../../kernels/embedding/ref.js';
import { embBwdSplit } from '../../kernels/embedding/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, readFlat, sumSplits } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`split-reduction webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, TS] of [[257, 16], [5, 64], [1, 1]] as Array<[number, number]>) {
    run(`${mode} split reductions (linear dW, conv dW/dB, RMSNorm dW, embedding dE) and linearFwdT vs reference, L=${L}, split ${TS}`, async (t) => {
      const gpu = await getGpu(mode);
      const k = (fn: Function, out: number[], ints: Record<string, number>) => gpu.createKernel(fn, kernelSettings(out, ints));
      const rng = mulberry32(L * 13 + TS);
      const S = Math.ceil(L / TS);
      const [IN, OUT, C, K, D, V] = [9, 13, 7, 4, 11, 16];
      const e: Record<string, number> = {};
      // linear: dW by splits; forward through the transposed weight over a row slice [R0, R0 + 5);
      // both also reading x as the first IN columns of a wider (L, XS) tensor (rows XS apart)
      const x = randn(rng, L * IN), W = randn(rng, OUT * IN, 0.3), dY = randn(rng, L * OUT);
      const XS = IN + 4;
      const xWide = new Float64Array(L * XS).map((_, j) => (j % XS < IN ? x[Math.floor(j / XS) * IN + (j % XS)] : 99));
      const gr = linearBackwardRef(x, W, dY, L, IN, OUT, false);
      e.linearDW = maxRelErr(sumSplits(await readFlat(k(linearBwdWSplit, [IN, OUT, S], { L, IN, OUT, TS, XS: IN })(f32(dY), f32(x))), S, OUT * IN), gr.dW);
      e.linearDWStrided = maxRelErr(sumSplits(await readFlat(k(linearBwdWSplit, [IN, OUT, S], { L, IN, OUT, TS, XS })(f32(dY), f32(xWide))), S, OUT * IN), gr.dW);
      const WT = new Float64Array(IN * OUT);
      for (let o = 0; o < OUT; o++) for (let i = 0; i < IN; i++) WT[i * OUT + o] = W[o * IN + i];
      const R0 = 3;
      const want = linearRef(x, W.subarray(R0 * IN, (R0 + 5) * IN), null, L, IN, 5);
      e.linearFwdT = maxRelErr(await readFlat(k(linearFwdT, [5, L], { IN, WOUT: OUT, R0, XS: IN })(f32(x), f32(WT))), want);
      e.linearFwdTStrided = maxRelErr(await readFlat(k(linearFwdT, [5, L], { IN, WOUT: OUT, R0, XS })(f32(xWide), f32(WT))), want);
      // conv1d with a carried-in state
      const cx = randn(rng, L * C), cw = randn(rng, C * K, 0.5), st = randn(rng, (K - 1) * C), cdY = randn(rng, L * C);
      const cr = conv1dBackwardRef(cx, cw, st, cdY, null, L, C, K);
      e.convDW = maxRelErr(sumSplits(await readFlat(k(convBwdWSplit, [K, C, S], { L, C, K, TS })(f32(cdY), f32(cx), f32(st))), S, C * K), cr.dW);
      e.convDB = maxRelErr(sumSplits(await readFlat(k(convBwdBSplit, [C, S], { L, C, K, TS })(f32(cdY))), S, C), cr.dB);
      // RMSNorm dW (r per row computed here, as the forward's rstd kernel would)
      const nx = randn(rng, L * D), nw = randn(rng, D), ndY = randn(rng, L * D);
      const r = new Float64Array(L);
      for (let i = 0; i < L; i++) {
        let ss = 0;
        for (let j = 0; j < D; j++) ss += nx[i * D + j] ** 2;
        r[i] = 1 / Math.sqrt(ss / D + 1e-5);
      }
      const nr = rmsNormBackwardRef(nx, nw, ndY, L, D, 1e-5);
      e.normDW = maxRelErr(sumSplits(await readFlat(k(bwdWSplitKernel, [D, S], { L, D, TS })(f32(nx), f32(ndY), f32(r))), S, D), nr.dW);
      // embedding dE
      const ids = Float64Array.from({ length: L }, () => Math.floor(rng() * V));
      const edY = randn(rng, L * D);
      e.embDE = maxRelErr(sumSplits(await readFlat(k(embBwdSplit, [D, V, S], { L, D, TS })(f32(ids), f32(edY))), S, V * D), embeddingBackwardRef(ids, edY, V, D));
      t.log(`max rel err ${Object.entries(e).map(([n, v]) => `${n} ${v.toExponential(1)}`).join(', ')}`);
      for (const [n, v] of Object.entries(e)) t.true(v < TOLERANCE.backward, `${n}: ${v}`);
    });
  }
}


// The conv's dW with all K taps per thread (the training engine's kernel for full splits on webgpu):
// partials stored through storeAt in convBwdWSplit's layout, a carried-in state, K = 4 and 3.
(probe.ok ? test : test.skip)('webgpu conv dW, all taps per thread (convBwdWTapsSource, full splits) vs reference', async (t) => {
  const gpu = await getGpu('webgpu');
  const e: Record<string, number> = {};
  for (const [L, TS, C, K] of [[259, 37, 7, 4], [64, 16, 5, 3], [6, 2, 3, 4]] as Array<[number, number, number, number]>) {
    const rng = mulberry32(L + K);
    const S = L / TS;
    const cx = randn(rng, L * C), cw = randn(rng, C * K, 0.5), st = randn(rng, (K - 1) * C), cdY = randn(rng, L * C);
    const cr = conv1dBackwardRef(cx, cw, st, cdY, null, L, C, K);
    const k = gpu.createKernel(convBwdWTapsSource(K), { ...kernelSettings([C, S], { C, K, TS, ...scatterFloats(S * C * K) }, {}, { pipeline: true, immutable: true }), functions: scatterHelpers });
    const P = await readFlat(scatterView(await k(f32(cdY), f32(cx), f32(st)) as GpuHandle, S * C * K));
    e[`L${L} split ${TS} K${K}`] = maxRelErr(sumSplits(P, S, C * K), cr.dW);
  }
  t.log(`max rel err: ${JSON.stringify(e)}`);
  for (const v of Object.values(e)) t.true(v < TOLERANCE.backward);
});
