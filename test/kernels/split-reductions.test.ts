// The training engine's split token reductions (one thread per (split, parameter), then a sum) and the
// transposed-weight forward linear (2-D and warp-row grids), on gpu.js webgpu and webasm, vs the float64 references: odd sizes,
// splits that do not divide L (the last split is short), L shorter than one split.
import test from 'ava';
import { kernelSettings } from '../../kernels/gpujs-types.js';
import { linearBackwardRef, linearRef } from '../../kernels/linear/ref.js';
import {
  linearBwdWSplit, linearBwdXRow, linearBwdXRowF, linearFwdT, linearFwdTRow, linearFwdTRowF, rowGrid, rowKernelFunctions,
} from '../../kernels/linear/gpujs.js';
import { conv1dBackwardRef } from '../../kernels/conv1d/ref.js';
import { convBwdBSplit, convBwdWSplit } from '../../kernels/conv1d/gpujs.js';
import { rmsNormBackwardRef } from '../../kernels/rms-norm/ref.js';
import { bwdWSplitKernel } from '../../kernels/rms-norm/gpujs.js';
import { embeddingBackwardRef } from '../../kernels/embedding/ref.js';
import { embBwdSplit } from '../../kernels/embedding/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`split-reduction webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

/** Σ over the S partials of a (S, X) result. */
function sumSplits(P: Float64Array, S: number, X: number): Float64Array {
  const out = new Float64Array(X);
  for (let s = 0; s < S; s++) for (let x = 0; x < X; x++) out[x] += P[s * X + x];
  return out;
}

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
      // linear: dW by splits; forward through the transposed weight over a row slice [R0, R0 + 5)
      const x = randn(rng, L * IN), W = randn(rng, OUT * IN, 0.3), dY = randn(rng, L * OUT);
      const gr = linearBackwardRef(x, W, dY, L, IN, OUT, false);
      e.linearDW = maxRelErr(sumSplits(await readFlat(k(linearBwdWSplit, [IN, OUT, S], { L, IN, OUT, TS })(f32(dY), f32(x))), S, OUT * IN), gr.dW);
      const WT = new Float64Array(IN * OUT);
      for (let o = 0; o < OUT; o++) for (let i = 0; i < IN; i++) WT[i * OUT + o] = W[o * IN + i];
      const R0 = 3;
      const y = await readFlat(k(linearFwdT, [5, L], { IN, WOUT: OUT, R0 })(f32(x), f32(WT)));
      e.linearFwdT = maxRelErr(y, linearRef(x, W.subarray(R0 * IN, (R0 + 5) * IN), null, L, IN, 5));
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

test('rowGrid: warp-row grids only for widths that are multiples of 64, rows folded under 65,536 per z', (t) => {
  t.deepEqual(rowGrid(37, 128), { grid: [8, 16, 37], CH: 16, F: 1 });
  t.deepEqual(rowGrid(65535, 64), { grid: [8, 8, 65535], CH: 8, F: 1 });
  t.deepEqual(rowGrid(65536, 256), { grid: [8, 64, 32768], CH: 32, F: 2 });
  t.deepEqual(rowGrid(262144, 64), { grid: [8, 64, 32768], CH: 8, F: 8 });
  t.is(rowGrid(37, 40), null); // narrower than a workgroup's 64 columns: idle threads
  t.is(rowGrid(65537, 64), null); // odd rows cannot fold
});

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [rows, F] of [[37, 1], [36, 4], [2, 2]] as Array<[number, number]>) {
    run(`${mode} warp-row linear forward and dX vs reference, rows=${rows}, fold F=${F}`, async (t) => {
      const gpu = await getGpu(mode);
      const rng = mulberry32(rows * 7 + F);
      const [IN, OUT, WOUT, R0] = [64, 128, 200, 5]; // forward over the row slice [R0, R0 + IN) of a (WOUT, IN) weight
      const kx = randn(rng, rows * IN), W = randn(rng, WOUT * IN, 0.3);
      const WT = new Float64Array(IN * WOUT);
      for (let o = 0; o < WOUT; o++) for (let i = 0; i < IN; i++) WT[i * WOUT + o] = W[o * IN + i];
      const mk = (fn: Function, cols: number, ints: Record<string, number>) => gpu.createKernel(fn, {
        ...kernelSettings([8, (cols / 8) * F, rows / F], { ...ints, CH: cols / 8, F }), functions: rowKernelFunctions,
      });
      const y = await readFlat(mk(F === 1 ? linearFwdTRow : linearFwdTRowF, OUT, { IN, OUT, WOUT, R0 })(f32(kx), f32(WT)));
      const eFwd = maxRelErr(y, linearRef(kx, W.subarray(R0 * IN, (R0 + OUT) * IN), null, rows, IN, OUT));
      // dX = dY·W for W (OUT2, IN2) with IN2 = 192 columns out
      const [IN2, OUT2] = [192, 13];
      const W2 = randn(rng, OUT2 * IN2, 0.3), dY = randn(rng, rows * OUT2), x2 = randn(rng, rows * IN2);
      const dX = await readFlat(mk(F === 1 ? linearBwdXRow : linearBwdXRowF, IN2, { IN: IN2, OUT: OUT2, WOUT: 0, R0: 0 })(f32(dY), f32(W2)));
      const eDX = maxRelErr(dX, linearBackwardRef(x2, W2, dY, rows, IN2, OUT2, false).dX);
      t.log(`max rel err forward ${eFwd.toExponential(1)}, dX ${eDX.toExponential(1)}`);
      t.true(eFwd < TOLERANCE.forward, `forward ${eFwd}`);
      t.true(eDX < TOLERANCE.backward, `dX ${eDX}`);
    });
  }
}
