// conv1d: hand case, finite differences, chunked (streamed) == one-shot forward and backward,
// cpu and gpu.js (webgpu, webasm) vs the float64 reference.
import test from 'ava';
import { conv1dRef, conv1dBackwardRef } from '../../kernels/conv1d/ref.js';
import { conv1d, conv1dBackward } from '../../kernels/conv1d/cpu.js';
import { convBwdWSplitWin, convBwdXWin, convFwdWin, createConv1dKernels } from '../../kernels/conv1d/gpujs.js';
import { kernelSettings } from '../../kernels/gpujs-types.js';
import { siluRef } from '../../kernels/silu/ref.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`conv1d webgpu tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });
const K = 4;

test('conv1dRef by hand: one channel, w = [1, 2, 3, 4], b = 0.5, zero state', (t) => {
  const { y, state } = conv1dRef(Float64Array.of(1, 10, 100), Float64Array.of(1, 2, 3, 4), Float64Array.of(0.5), null, 3, 1, K);
  // y_t = Σ_k w_k x_{t-3+k}: y0 = 4·1, y1 = 3·1 + 4·10, y2 = 2·1 + 3·10 + 4·100
  t.deepEqual(Array.from(y), [4.5, 43.5, 432.5]);
  t.deepEqual(Array.from(state), [1, 10, 100]);
  const s2 = conv1dRef(Float64Array.of(7), Float64Array.of(1, 2, 3, 4), null, state, 1, 1, K);
  t.deepEqual(Array.from(s2.y), [1 * 1 + 2 * 10 + 3 * 100 + 4 * 7]);
  t.deepEqual(Array.from(s2.state), [10, 100, 7]);
});

test('conv1dBackwardRef matches central finite differences (x, w, b, stateIn; with dStateOut)', (t) => {
  const rng = mulberry32(4);
  for (const L of [2, 5]) { // L < K-1 exercises stateOut taken partly from stateIn
    const C = 3;
    const x = randn(rng, L * C), w = randn(rng, C * K), b = randn(rng, C), s = randn(rng, (K - 1) * C);
    const dY = randn(rng, L * C), dS = randn(rng, (K - 1) * C);
    const g = conv1dBackwardRef(x, w, s, dY, dS, L, C, K);
    const f = () => { const o = conv1dRef(x, w, b, s, L, C, K); return Float64Array.from([...o.y, ...o.state]); };
    const d = Float64Array.from([...dY, ...dS]);
    const e = [g.dX, g.dW, g.dB, g.dState].map((gr, i) => maxRelErr(gr, numericGrad(f, [x, w, b, s][i], d)));
    t.log(`L=${L} max rel err dX, dW, dB, dState vs finite differences: ${e.map((v) => v.toExponential(2)).join(', ')}`);
    for (const v of e) t.true(v < TOLERANCE.finiteDifference);
  }
});

for (const [L, C] of [[1, 33], [3, 5], [257, 129], [4099, 33]] as Array<[number, number]>) {
  test(`cpu conv1d forward/backward vs reference, L=${L} C=${C}`, (t) => {
    const rng = mulberry32(L + 17 * C);
    const x = randn(rng, L * C), w = randn(rng, C * K, 0.5), b = randn(rng, C), s = randn(rng, (K - 1) * C);
    const dY = randn(rng, L * C), dS = randn(rng, (K - 1) * C);
    const r = conv1dRef(x, w, b, s, L, C, K);
    const c = conv1d(f32(x), f32(w), f32(b), f32(s), L, C, K);
    const cs = conv1d(f32(x), f32(w), f32(b), f32(s), L, C, K, { silu: true });
    const r0 = conv1dRef(x, w, b, null, L, C, K);
    const c0 = conv1d(f32(x), f32(w), f32(b), null, L, C, K);
    const gr = conv1dBackwardRef(x, w, s, dY, dS, L, C, K);
    const gc = conv1dBackward(f32(x), f32(w), f32(s), f32(dY), f32(dS), L, C, K);
    const e = {
      y: maxRelErr(c.y, r.y), state: maxRelErr(c.state, r.state), ySilu: maxRelErr(cs.y, siluRef(r.y)), yZeroState: maxRelErr(c0.y, r0.y),
      dX: maxRelErr(gc.dX, gr.dX), dW: maxRelErr(gc.dW, gr.dW), dB: maxRelErr(gc.dB, gr.dB), dState: maxRelErr(gc.dState, gr.dState),
    };
    t.log(`max rel err ${JSON.stringify(e)}`);
    for (const v of [e.y, e.state, e.ySilu, e.yZeroState]) t.true(v < TOLERANCE.forward);
    for (const v of [e.dX, e.dW, e.dB, e.dState]) t.true(v < TOLERANCE.backward);
  });
}

test('conv1d chunked with state carry == one-shot (ref and cpu, forward and backward; chunks of 1 = single steps)', (t) => {
  const rng = mulberry32(77);
  const [L, C] = [257, 5];
  const x = randn(rng, L * C), w = randn(rng, C * K), b = randn(rng, C), dY = randn(rng, L * C);
  const whole = conv1dRef(x, w, b, null, L, C, K);
  const wholeG = conv1dBackwardRef(x, w, null, dY, null, L, C, K);
  for (const cuts of [[0, 1, 2, 3, 100, 257], [0, 64, 128, 192, 256, 257], Array.from({ length: 258 }, (_, i) => i)]) {
    const y = new Float64Array(L * C);
    const yc = new Float32Array(L * C);
    const states: Float64Array[] = [];
    let s: Float64Array | null = null;
    let sc: Float32Array | null = null;
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [a, e] = [cuts[i], cuts[i + 1]];
      states.push(s ?? new Float64Array((K - 1) * C));
      const o = conv1dRef(x.subarray(a * C, e * C), w, b, s, e - a, C, K);
      const oc = conv1d(f32(x.subarray(a * C, e * C)), f32(w), f32(b), sc, e - a, C, K);
      y.set(o.y, a * C); yc.set(oc.y, a * C);
      s = o.state; sc = oc.state;
    }
    // backward in reverse chunk order: dStateIn of chunk i is dStateOut of chunk i-1
    const dX = new Float64Array(L * C), dW = new Float64Array(C * K), dB = new Float64Array(C);
    let dS: Float64Array | null = null;
    for (let i = cuts.length - 2; i >= 0; i--) {
      const [a, e] = [cuts[i], cuts[i + 1]];
      const g = conv1dBackwardRef(x.subarray(a * C, e * C), w, states[i], dY.subarray(a * C, e * C), dS, e - a, C, K);
      dX.set(g.dX, a * C);
      for (let k = 0; k < C * K; k++) dW[k] += g.dW[k];
      for (let k = 0; k < C; k++) dB[k] += g.dB[k];
      dS = g.dState;
    }
    const e = [maxRelErr(y, whole.y), maxRelErr(s!, whole.state), maxRelErr(yc, whole.y), maxRelErr(dX, wholeG.dX), maxRelErr(dW, wholeG.dW), maxRelErr(dB, wholeG.dB)];
    t.log(`${cuts.length - 1} chunks: max rel err y, state, cpu y, dX, dW, dB: ${e.map((v) => v.toExponential(2)).join(', ')}`);
    t.true(e[0] < 1e-14 && e[1] === 0 && e[2] < TOLERANCE.forward && e[3] < 1e-14 && e[4] < 1e-12 && e[5] < 1e-12);
    t.true(maxRelErr(dS!, wholeG.dState) < 1e-14); // gradient reaching the (zero) state before the sequence
  }
});

for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [L, C] of [[1, 33], [3, 5], [257, 129], [4099, 17]] as Array<[number, number]>) {
    run(`${mode} conv1d forward/backward vs reference, L=${L} C=${C}`, async (t) => {
      const gpu = await getGpu(mode);
      const rng = mulberry32(L * 5 + C);
      const x = randn(rng, L * C), w = randn(rng, C * K, 0.5), b = randn(rng, C), s = randn(rng, (K - 1) * C);
      const dY = randn(rng, L * C), dS = randn(rng, (K - 1) * C);
      const k = createConv1dKernels(gpu, { L, C, K });
      const r = conv1dRef(x, w, b, s, L, C, K);
      const gr = conv1dBackwardRef(x, w, s, dY, dS, L, C, K);
      const e = {
        y: maxRelErr(await readFlat(k.forward(f32(x), f32(w), f32(b), f32(s))), r.y),
        ySilu: maxRelErr(await readFlat(k.forwardSilu(f32(x), f32(w), f32(b), f32(s))), siluRef(r.y)),
        state: maxRelErr(await readFlat(k.stateOut(f32(x), f32(s))), r.state),
        dX: maxRelErr(await readFlat(k.backwardX(f32(dY), f32(w), f32(dS))), gr.dX),
        dState: maxRelErr(await readFlat(k.backwardState(f32(dY), f32(w), f32(dS))), gr.dState),
        dW: maxRelErr(await readFlat(k.backwardW(f32(dY), f32(x), f32(s))), gr.dW),
        dB: maxRelErr(await readFlat(k.backwardB(f32(dY))), gr.dB),
      };
      t.log(`max rel err ${JSON.stringify(e)}`);
      for (const v of [e.y, e.ySilu, e.state]) t.true(v < TOLERANCE.forward);
      for (const v of [e.dX, e.dState, e.dW, e.dB]) t.true(v < TOLERANCE.backward);
    });
  }
}

// independent windows (the GPU training engine's batched short windows): G windows of LW rows in one
// call == the reference run window by window from zero states; dW summed over windows in splits
for (const mode of ['webgpu', 'webasm'] as const) {
  const run = mode === 'webgpu' && !probe.ok ? test.skip : test;
  for (const [LW, G, C, K, TS] of [[5, 7, 3, 4, 4], [1, 3, 2, 2, 2], [16, 3, 5, 4, 7]] as Array<[number, number, number, number, number]>) {
    run(`${mode} conv1d over ${G} windows of ${LW} rows (K ${K}) == reference per window`, async (t) => {
      const gpu = await getGpu(mode);
      const L = LW * G, S = Math.ceil(L / TS);
      const rng = mulberry32(LW * 31 + G);
      const x = randn(rng, L * C), w = randn(rng, C * K, 0.5), b = randn(rng, C), dY = randn(rng, L * C);
      const y = new Float64Array(L * C), dX = new Float64Array(L * C), dW = new Float64Array(C * K);
      for (let g = 0; g < G; g++) {
        const xs = x.subarray(g * LW * C, (g + 1) * LW * C), ds = dY.subarray(g * LW * C, (g + 1) * LW * C);
        y.set(conv1dRef(xs, w, b, null, LW, C, K).y, g * LW * C);
        const r = conv1dBackwardRef(xs, w, null, ds, null, LW, C, K);
        dX.set(r.dX, g * LW * C);
        for (let i = 0; i < dW.length; i++) dW[i] += r.dW[i];
      }
      const c = { L, C, K, LW, TS };
      const k = (fn: Function, out: number[]) => gpu.createKernel(fn, kernelSettings(out, c));
      const gy = await readFlat(k(convFwdWin, [C, L])(f32(x), f32(w), f32(b)));
      const gdx = await readFlat(k(convBwdXWin, [C, L])(f32(dY), f32(w)));
      const P = await readFlat(k(convBwdWSplitWin, [K, C, S])(f32(dY), f32(x)));
      const gdw = new Float64Array(C * K);
      for (let s2 = 0; s2 < S; s2++) for (let i = 0; i < C * K; i++) gdw[i] += P[s2 * C * K + i];
      const e = { y: maxRelErr(gy, y), dX: maxRelErr(gdx, dX), dW: maxRelErr(gdw, dW) };
      t.log(`max rel err y ${e.y.toExponential(1)}, dX ${e.dX.toExponential(1)}, dW ${e.dW.toExponential(1)}`);
      t.true(e.y < TOLERANCE.forward && e.dX < TOLERANCE.backward && e.dW < TOLERANCE.backward, JSON.stringify(e));
    });
  }
}
