// Independent windows in one gpu.js scan call (`window` on the device path: a batch of sequences laid
// end to end, each from a zero state, nothing flowing from one into the next — what the GPU training
// engine uses to run a batch of short windows in one set of launches): forward `run` and backward
// `runDevice` against the float64 reference run window by window — also with the backward given the tree
// the forward saved. Windows of one chunk (every tree node starts a window), of several chunks, and long
// enough for three tree levels.
import test from 'ava';
import { type SelectiveScanArgs, selectiveScanBackwardRef, selectiveScanRef } from '../../kernels/selective-scan/ref.js';
import { createSelectiveScanKernels, treeLevels } from '../../kernels/selective-scan/gpujs.js';
import { createSelectiveScanBackwardKernels } from '../../kernels/selective-scan/gpujs-backward.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { randomScanArgs } from '../helpers/scan-args.js';
import { deviceUploader, f32, maxRelErr, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`selective-scan window tests skipped: ${probe.reason}`);
test.after.always(async () => { await shutdownGpu(); });

/** Rows [w·LW, (w+1)·LW) of a (L, C) array. */
const rows = (x: Float64Array, w: number, LW: number, C: number) => x.subarray(w * LW * C, (w + 1) * LW * C);

const cases: Array<[number, number, number, number]> = [
  // [window tokens, windows, ED, N]
  [8, 70, 5, 4], // 70 one-chunk windows: NC = 70 > 64, so one tree level above the chunks
  [24, 5, 7, 16],
  [512, 6, 3, 2], // 384 chunks: levels 384 → 96 → 12
];

for (const [LW, G, ED, N] of cases) {
  (probe.ok ? test : test.skip)(`webgpu: ${G} windows of ${LW} tokens in one call == the reference per window (ED ${ED}, N ${N})`, async (t) => {
    const gpu = await getGpu('webgpu');
    const L = LW * G;
    const a = randomScanArgs(31 + LW, L, ED, N, false);
    const dOut = randn(mulberry32(77 + LW), L * ED);
    // reference, window by window, from zero states
    const want = { out: new Float64Array(L * ED), dU: new Float64Array(L * ED), dDeltaRaw: new Float64Array(L * ED), dZ: new Float64Array(L * ED),
      dB: new Float64Array(L * N), dC: new Float64Array(L * N), dA: new Float64Array(ED * N), dD: new Float64Array(ED), dDeltaBias: new Float64Array(ED) };
    for (let w = 0; w < G; w++) {
      const aw: SelectiveScanArgs<Float64Array> = {
        L: LW, ED, N, u: rows(a.u, w, LW, ED), deltaRaw: rows(a.deltaRaw, w, LW, ED), z: rows(a.z, w, LW, ED), B: rows(a.B, w, LW, N),
        C: rows(a.C, w, LW, N), A: a.A, D: a.D, deltaBias: a.deltaBias, h0: null,
      };
      want.out.set(selectiveScanRef(aw).out, w * LW * ED);
      const g = selectiveScanBackwardRef(aw, rows(dOut, w, LW, ED), null);
      for (const k of ['dU', 'dDeltaRaw', 'dZ'] as const) want[k].set(g[k], w * LW * ED);
      for (const k of ['dB', 'dC'] as const) want[k].set(g[k], w * LW * N);
      for (const k of ['dA', 'dD', 'dDeltaBias'] as const) for (let i = 0; i < g[k].length; i++) want[k][i] += g[k][i];
    }
    const upload = deviceUploader(gpu);
    const BC = new Float32Array(L * 2 * N);
    for (let r = 0; r < L; r++) for (let n = 0; n < N; n++) {
      BC[r * 2 * N + n] = a.B[r * N + n];
      BC[r * 2 * N + N + n] = a.C[r * N + n];
    }
    const zeros = await upload(new Float32Array(ED * N));
    const args = {
      L, ED, N, u: await upload(f32(a.u)), deltaRaw: await upload(f32(a.deltaRaw)), z: await upload(f32(a.z)), BC: await upload(BC),
      bcStride: 2 * N, bOffset: 0, cOffset: N, A: await upload(f32(a.A)), D: await upload(f32(a.D)), deltaBias: await upload(f32(a.deltaBias)), h0: zeros, window: LW,
    };
    const fwd = createSelectiveScanKernels(gpu, { ED, N });
    const bwd = createSelectiveScanBackwardKernels(gpu, { ED, N });
    const f = await fwd.run(args);
    const g = await bwd.runDevice(args, await upload(f32(dOut)), zeros);
    const e: Record<string, number> = { out: maxRelErr(await readFlat(f.out as any), want.out) };
    for (const k of ['dU', 'dDeltaRaw', 'dZ'] as const) e[k] = maxRelErr(await readFlat(g[k] as any), want[k]);
    for (const k of ['dB', 'dC'] as const) e[k] = maxRelErr(await readFlat(g[k] as any), want[k]);
    e.dA = maxRelErr(await readFlat(g.dA as any), want.dA);
    e.dD = maxRelErr(await readFlat(g.dD as any), want.dD);
    e.dDeltaBias = maxRelErr(await readFlat(g.dDeltaBias as any), want.dDeltaBias);
    t.log(`tree levels ${treeLevels(L / 8).counts.join(' → ')}; max rel err ${Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
    for (const [k, v] of Object.entries(e)) t.true(v < TOLERANCE.backward, `${k}: ${v}`);
    // the backward given what the forward saved (δ and its tree) instead of recomputing them
    const f2 = await fwd.run(args, { save: true });
    t.truthy(f2.saved, 'forward with save returns its tree');
    const g2 = await bwd.runDevice(args, await upload(f32(dOut)), zeros, { saved: f2.saved });
    const e2: Record<string, number> = { out: maxRelErr(await readFlat(f2.out as any), want.out) };
    for (const k of ['dU', 'dDeltaRaw', 'dZ'] as const) e2[k] = maxRelErr(await readFlat(g2[k] as any), want[k]);
    for (const k of ['dB', 'dC'] as const) e2[k] = maxRelErr(await readFlat(g2[k] as any), want[k]);
    e2.dA = maxRelErr(await readFlat(g2.dA as any), want.dA);
    t.log(`with the forward's saved tree: ${Object.entries(e2).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
    for (const [k, v] of Object.entries(e2)) t.true(v < TOLERANCE.backward, `saved ${k}: ${v}`);
    // the leaf with four states per thread (fwd: whole chunks, δ fused), also saved for the backward
    const fc = createSelectiveScanKernels(gpu, { ED, N, replay: { leaf: 'quad' } });
    const e3: Record<string, number> = { out: maxRelErr(await readFlat((await fc.run(args)).out as any), want.out) };
    const f3 = await fc.run(args, { save: true });
    e3['saved out'] = maxRelErr(await readFlat(f3.out as any), want.out);
    const g3 = await bwd.runDevice(args, await upload(f32(dOut)), zeros, { saved: f3.saved });
    for (const k of ['dU', 'dDeltaRaw', 'dZ', 'dB', 'dC', 'dA'] as const) e3[k] = maxRelErr(await readFlat(g3[k] as any), want[k]);
    t.log(`quad leaf: ${Object.entries(e3).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
    for (const [k, v] of Object.entries(e3)) t.true(v < TOLERANCE.backward, `quad leaf ${k}: ${v}`);
    // a saved tree from a call of another shape is refused
    const other = await fwd.run({ ...args, window: undefined }, { save: true });
    if (L / 8 > 1) await t.throwsAsync(() => bwd.runDevice({ ...args, L: L - 8 }, zeros, zeros, { saved: other.saved }), { instanceOf: RangeError });
    // a window that does not divide L, or is not a multiple of the chunk, is refused
    await t.throwsAsync(() => fwd.run({ ...args, window: LW === 8 ? 24 : LW + 8 }), { instanceOf: RangeError });
    await t.throwsAsync(() => bwd.runDevice({ ...args, window: 12 }, zeros, zeros), { instanceOf: RangeError });
  });
}
