// linear: reference by hand, finite differences, cpu and gpu.js (webgpu, webasm) vs the float64 reference.
import test, { type ExecutionContext } from 'ava';
import { linearRef, linearBackwardRef } from '../../kernels/linear/ref.js';
import { linear, linearBackward, gemmABt } from '../../kernels/linear/cpu.js';
import { createLinearKernels, linearBwdWSplit22Full, linearFwdT22, linearFwdTRows4, tileGemmSource } from '../../kernels/linear/gpujs.js';
import { type GpuHandle, kernelSettings, laneStrides, laneView, scatterFloats, scatterHelpers, scatterView } from '../../kernels/gpujs-types.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat, sumSplits } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`linear webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

test('linearRef by hand: 2 tokens, 3 → 2 with bias', (t) => {
  const x = Float64Array.of(1, 2, 3, -1, 0, 2); // (2, 3)
  const W = Float64Array.of(1, 0, -1, 0.5, 0.5, 0.5); // (2, 3)
  const b = Float64Array.of(10, -1);
  t.deepEqual(Array.from(linearRef(x, W, b, 2, 3, 2)), [1 + 0 - 3 + 10, 3 - 1, -1 - 2 + 10, 0.5 - 1]);
  const { dX, dW, db } = linearBackwardRef(x, W, Float64Array.of(1, 0, 0, 2), 2, 3, 2, true);
  t.deepEqual(Array.from(dX), [1, 0, -1, 1, 1, 1]);
  t.deepEqual(Array.from(dW), [1, 2, 3, -2, 0, 4]);
  t.deepEqual(Array.from(db!), [1, 2]);
});

test('linearBackwardRef matches central finite differences', (t) => {
  const rng = mulberry32(11);
  const [L, IN, OUT] = [3, 5, 4];
  const x = randn(rng, L * IN), W = randn(rng, OUT * IN), b = randn(rng, OUT), dY = randn(rng, L * OUT);
  const g = linearBackwardRef(x, W, dY, L, IN, OUT, true);
  const f = () => linearRef(x, W, b, L, IN, OUT);
  const errs = [maxRelErr(g.dX, numericGrad(f, x, dY)), maxRelErr(g.dW, numericGrad(f, W, dY)), maxRelErr(g.db!, numericGrad(f, b, dY))];
  t.log(`max rel err dX, dW, db vs finite differences: ${errs.map((e) => e.toExponential(2)).join(', ')}`);
  for (const e of errs) t.true(e < TOLERANCE.finiteDifference);
});

const cpuShapes: Array<[number, number, number]> = [[1, 33, 5], [3, 5, 129], [257, 129, 33], [4099, 33, 129], [4099, 8, 7]];
for (const [L, IN, OUT] of cpuShapes) {
  test(`cpu linear + backward vs reference, L=${L} IN=${IN} OUT=${OUT}`, (t) => {
    const rng = mulberry32(L * 7 + IN);
    const x = randn(rng, L * IN), W = randn(rng, OUT * IN, 0.1), b = randn(rng, OUT), dY = randn(rng, L * OUT);
    const ref = linearRef(x, W, b, L, IN, OUT);
    const got = linear(f32(x), f32(W), f32(b), L, IN, OUT);
    const gr = linearBackwardRef(x, W, dY, L, IN, OUT, true);
    const gg = linearBackward(f32(x), f32(W), f32(dY), L, IN, OUT, true);
    const e = { y: maxRelErr(got, ref), dX: maxRelErr(gg.dX, gr.dX), dW: maxRelErr(gg.dW, gr.dW), db: maxRelErr(gg.db!, gr.db!) };
    t.log(`max rel err ${JSON.stringify(e)}`);
    t.true(e.y < TOLERANCE.forward);
    for (const v of [e.dX, e.dW, e.db]) t.true(v < TOLERANCE.backward);
  });
}

test('cpu gemmABt accumulate adds into C; a row slice of W is a fused-projection slice', (t) => {
  const rng = mulberry32(5);
  const [L, IN, OUT] = [7, 9, 10];
  const x = f32(randn(rng, L * IN)), W = f32(randn(rng, OUT * IN));
  const full = linear(x, W, null, L, IN, OUT);
  const part = linear(x, W.subarray(3 * IN, 8 * IN), null, L, IN, 5);
  let err = 0;
  for (let tt = 0; tt < L; tt++) for (let o = 0; o < 5; o++) err = Math.max(err, Math.abs(part[tt * 5 + o] - full[tt * OUT + o + 3]));
  t.is(err, 0);
  const C = f32(full);
  gemmABt(x, W, C, L, OUT, IN, null, true);
  t.true(maxRelErr(C, Array.from(full, (v) => 2 * v)) < 1e-7);
});

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, IN, OUT] of [[1, 33, 5], [3, 5, 129], [257, 33, 17], [4099, 9, 5]] as Array<[number, number, number]>) {
    run(`${mode} linear forward + backward vs reference, L=${L} IN=${IN} OUT=${OUT}`, async (t) => {
      const gpu = await getGpu(mode);
      const rng = mulberry32(L + 3 * OUT);
      const x = randn(rng, L * IN), W = randn(rng, OUT * IN, 0.1), b = randn(rng, OUT), dY = randn(rng, L * OUT);
      const kb = createLinearKernels(gpu, { L, IN, OUT, bias: true });
      const kn = createLinearKernels(gpu, { L, IN, OUT, bias: false });
      const ref = linearRef(x, W, b, L, IN, OUT);
      const refNoBias = linearRef(x, W, null, L, IN, OUT);
      const gr = linearBackwardRef(x, W, dY, L, IN, OUT, true);
      const e = {
        y: maxRelErr(await readFlat(kb.forward(f32(x), f32(W), f32(b))), ref),
        yNoBias: maxRelErr(await readFlat(kn.forward(f32(x), f32(W))), refNoBias),
        dX: maxRelErr(await readFlat(kb.backwardX(f32(dY), f32(W))), gr.dX),
        dW: maxRelErr(await readFlat(kb.backwardW(f32(dY), f32(x))), gr.dW),
        db: maxRelErr(await readFlat(kb.backwardB!(f32(dY))), gr.db!),
      };
      t.log(`max rel err ${JSON.stringify(e)}`);
      t.true(e.y < TOLERANCE.forward && e.yNoBias < TOLERANCE.forward);
      for (const v of [e.dX, e.dW, e.db]) t.true(v < TOLERANCE.backward);
    });
  }
}

test(`${probe.ok ? 'webgpu' : 'webasm'} linear chains device handles (pipeline: true): x → y → dX`, async (t) => {
  const gpu = await getGpu(probe.ok ? 'webgpu' : 'webasm');
  const rng = mulberry32(99);
  const [L, IN, OUT] = [257, 17, 9];
  const x = randn(rng, L * IN), W1 = randn(rng, OUT * IN, 0.2), W2 = randn(rng, IN * OUT, 0.2);
  const k1 = createLinearKernels(gpu, { L, IN, OUT, bias: false }, { pipeline: true });
  const k2 = createLinearKernels(gpu, { L, IN: OUT, OUT: IN, bias: false }, { pipeline: true });
  const h = await k1.forward(f32(x), f32(W1));
  const y2 = await readFlat(k2.forward(h, f32(W2)));
  const ref = linearRef(linearRef(x, W1, null, L, IN, OUT), W2, null, L, OUT, IN);
  const e = maxRelErr(y2, ref);
  t.log(`max rel err of two chained linears: ${e.toExponential(2)}`);
  t.true(e < TOLERANCE.forward);
});

/**
 * The webgpu linear kernels' case: x as the first IN columns of a strided (L, XS) input xs, the rows
 * [R0, R0 + OUT) of a (WOUT, IN) weight W (Wslice) and W's transpose WT (IN, WOUT), an upstream dY.
 */
function sliceCase(rng: () => number, L: number, IN: number, OUT: number, R0: number, WOUT: number, XS: number) {
  const xs = randn(rng, L * XS), W = randn(rng, WOUT * IN, 0.3), dY = randn(rng, L * OUT);
  const x = new Float64Array(L * IN);
  for (let r = 0; r < L; r++) for (let i = 0; i < IN; i++) x[r * IN + i] = xs[r * XS + i];
  const WT = new Float64Array(IN * WOUT);
  for (let o = 0; o < WOUT; o++) for (let i = 0; i < IN; i++) WT[i * WOUT + o] = W[o * IN + i];
  return { xs, x, dY, Wslice: W.subarray(R0 * IN, (R0 + OUT) * IN), WT };
}

/** y, dX and dW of a sliceCase against the float64 reference: logs the max relative errors, then asserts. */
function checkLinear(t: ExecutionContext, c: { x: Float64Array; Wslice: Float64Array; dY: Float64Array; L: number; IN: number; OUT: number },
  y: ArrayLike<number>, dX: ArrayLike<number>, dW: ArrayLike<number>): void {
  const ref = linearBackwardRef(c.x, c.Wslice, c.dY, c.L, c.IN, c.OUT, false);
  const e = { y: maxRelErr(y, linearRef(c.x, c.Wslice, null, c.L, c.IN, c.OUT)), dX: maxRelErr(dX, ref.dX), dW: maxRelErr(dW, ref.dW) };
  t.log(`max rel err: y ${e.y.toExponential(2)}, dX ${e.dX.toExponential(2)}, dW ${e.dW.toExponential(2)}`);
  t.true(e.y < TOLERANCE.forward);
  t.true(e.dX < TOLERANCE.backward);
  t.true(e.dW < TOLERANCE.backward);
}

// Four rows per thread (the training engine's forward and dX linears on webgpu): Array(4) results
// stored as rows through laneStrides; L not a multiple of 4, a column slice of Wᵀ (R0, WOUT) and a
// strided input (XS > IN), against the float64 reference.
(probe.ok ? test : test.skip)('webgpu four-rows linear (forward through Wᵀ with a row slice and strided x; dX through the same kernel) == reference', async (t) => {
  const gpu = await getGpu('webgpu');
  const [L, IN, OUT, R0, WOUT, XS] = [257, 19, 40, 7, 50, 23];
  const { xs, x, dY, Wslice, WT } = sliceCase(mulberry32(123), L, IN, OUT, R0, WOUT, XS);
  const rows = async (fn: Function, Wd: number, ints: Record<string, number>, args: Float32Array[]) => {
    const k = gpu.createKernel(fn, { ...kernelSettings([Wd, Math.ceil(L / 4)], { ...ints, ...laneStrides(1, 4 * Wd, 0, Wd) }, {}, { pipeline: true, immutable: true }), returnType: 'Array(4)' });
    const stored = await k(...args) as GpuHandle;
    const view = laneView(stored, L * Wd); // takes the handle over
    return readFlat(view);
  };
  const y = await rows(linearFwdTRows4, OUT, { IN, WOUT, R0, XS, OUT }, [f32(xs), f32(WT)]);
  const dX = await rows(linearFwdTRows4, IN, { IN: OUT, WOUT: IN, R0: 0, XS: OUT, OUT: IN }, [f32(dY), f32(Wslice)]); // dY·W: W as its "Wᵀ"
  const e = { y: maxRelErr(y, linearRef(x, Wslice, null, L, IN, OUT)), dX: maxRelErr(dX, linearBackwardRef(x, Wslice, dY, L, IN, OUT, false).dX) };
  t.log(`max rel err: y ${e.y.toExponential(2)}, dX ${e.dX.toExponential(2)}`);
  t.true(e.y < TOLERANCE.forward);
  t.true(e.dX < TOLERANCE.backward);
});

// 2 × 2 tiles (the training engine's default linears on webgpu): forward and dX through linearFwdT22
// (odd L, a column slice of Wᵀ and a strided input), dW through linearBwdWSplit22Full's split partials
// (L a multiple of the split; summed here), against the float64 reference.
(probe.ok ? test : test.skip)('webgpu 2 × 2 tile linears (forward, dX, split dW partials) == reference', async (t) => {
  const gpu = await getGpu('webgpu');
  const [L, IN, OUT, R0, WOUT, XS] = [259, 22, 40, 7, 50, 23];
  const { xs, x, dY, Wslice, WT } = sliceCase(mulberry32(321), L, IN, OUT, R0, WOUT, XS);
  const tiles = async (Wd: number, ints: Record<string, number>, args: Float32Array[]) => {
    const k = gpu.createKernel(linearFwdT22, { ...kernelSettings([Wd / 2, Math.ceil(L / 2)], { ...ints, OH: Wd / 2, ...laneStrides(1, 2 * Wd, 0, Wd / 2) }, {}, { pipeline: true, immutable: true }), returnType: 'Array(4)' });
    return readFlat(laneView(await k(...args) as GpuHandle, L * Wd));
  };
  const y = await tiles(OUT, { IN, WOUT, R0, XS }, [f32(xs), f32(WT)]);
  const dX = await tiles(IN, { IN: OUT, WOUT: IN, R0: 0, XS: OUT }, [f32(dY), f32(Wslice)]);
  // dW over the first LW = 7·37 tokens in splits of 37: x read in place from the strided rows
  const [LW, TS] = [259, 37];
  const S = LW / TS;
  const kW = gpu.createKernel(linearBwdWSplit22Full, { ...kernelSettings([IN / 2, OUT / 2, S], { L: LW, OUT, TS, XS, IH: IN / 2, ...laneStrides(1, 2 * IN, OUT * IN, IN / 2) }, {}, { pipeline: true, immutable: true }), returnType: 'Array(4)' });
  const P = await readFlat(laneView(await kW(f32(dY), f32(xs)) as GpuHandle, S * OUT * IN));
  checkLinear(t, { x, Wslice, dY, L, IN, OUT }, y, dX, sumSplits(P, S, OUT * IN));
});

// Register tiles stored through storeAt (the training engine's default linears on webgpu): forward, dX
// and split dW partials of tileGemmSource for 8 × 8 and 4 × 4 and a non-square tile, odd L (rows past L
// land in padding), a column slice of Wᵀ and strided x, against the float64 reference.
for (const [R, C] of [[8, 8], [4, 4], [2, 4]] as const) {
  (probe.ok ? test : test.skip)(`webgpu ${R} × ${C} register-tile linears (tileGemmSource: forward, dX, split dW partials) == reference`, async (t) => {
    const gpu = await getGpu('webgpu');
    const [L, IN, OUT, R0, WOUT, XS] = [259, 24, 40, 7, 50, 27];
    const { xs, x, dY, Wslice, WT } = sliceCase(mulberry32(500 + R * C), L, IN, OUT, R0, WOUT, XS);
    const run = async (grid: number[], c: Record<string, number>, floats: number, count: number, args: Float32Array[]) => {
      const k = gpu.createKernel(tileGemmSource(R, C), { ...kernelSettings(grid, { ...c, ...scatterFloats(floats) }, {}, { pipeline: true, immutable: true }), functions: scatterHelpers });
      return readFlat(scatterView(await k(...args) as GpuHandle, count));
    };
    const rows = Math.ceil(L / R) * R;
    const y = await run([OUT / C, rows / R, 1], { K: IN, ARS: XS, AKS: 1, BKS: WOUT, BO: R0, OS: OUT, CQ: OUT / C, ZK: 0, ZO: 0 }, rows * OUT, L * OUT, [f32(xs), f32(WT)]);
    const dX = await run([IN / C, rows / R, 1], { K: OUT, ARS: OUT, AKS: 1, BKS: IN, BO: 0, OS: IN, CQ: IN / C, ZK: 0, ZO: 0 }, rows * IN, L * IN, [f32(dY), f32(Wslice)]);
    const [TS, S] = [37, 7]; // 7 full splits of 37 = 259 tokens
    const P = await run([IN / C, OUT / R, S], { K: TS, ARS: 1, AKS: OUT, BKS: XS, BO: 0, OS: IN, CQ: IN / C, ZK: TS, ZO: OUT * IN }, S * OUT * IN, S * OUT * IN, [f32(dY), f32(xs)]);
    checkLinear(t, { x, Wslice, dY, L, IN, OUT }, y, dX, sumSplits(P, S, OUT * IN));
  });
}
