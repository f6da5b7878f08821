// selective-scan backward as gpu.js kernels (webgpu on lavapipe, webasm) vs the float64 reference
// `selectiveScanBackwardRef`, on seeded random inputs of odd sizes with h0 and dhL, and the
// chunk-boundary cases (L = 1, L < chunk, L just past a multiple of the chunk). Scheme 'tree' (default):
// also three tree levels with chunk counts that are not multiples of the fan-in, both grid layouts,
// several row-sum stages; scheme 'hillis-steele' (the N > 32 fallback) on its own.
import anyTest, { type ExecutionContext } from 'ava';
import { type SelectiveScanArgs, selectiveScanBackwardRef, selectiveScanRef } from '../../kernels/selective-scan/ref.js';
import { createSelectiveScanKernels } from '../../kernels/selective-scan/gpujs.js';
import { createSelectiveScanBackwardKernels, type GpuScanBackwardOptions, treeBackwardMaxLength } from '../../kernels/selective-scan/gpujs-backward.js';
import { treeLevels } from '../../kernels/selective-scan/gpujs.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { randomScanArgs } from '../helpers/scan-args.js';
import { deviceUploader, f32, maxRelErr, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

// One test at a time: on lavapipe these tests take 5–10 s each alone but 1.5–7 min each when ava runs
// them side by side on the one device (measured 2026-11-24), which nears ava's 5-minute inactivity timeout.
const test = anyTest.serial;

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

type Case = { L: number; ED: number; N: number; opts: Partial<GpuScanBackwardOptions>; scheme: string; layout?: string; sub?: number };
/** each case's gradients against selectiveScanBackwardRef, seeds from `seed` */
async function checkCases(t: ExecutionContext, gpu: Awaited<ReturnType<typeof getGpu>>, cases: Case[], seed: number): Promise<void> {
  for (const [i, c] of cases.entries()) {
    const a = randomArgs(seed + i, c.L, c.ED, c.N);
    const rng = mulberry32(seed + 100 + i);
    const dOut = randn(rng, c.L * c.ED), dhL = randn(rng, c.ED * c.N);
    const ref = selectiveScanBackwardRef(a, dOut, dhL);
    const k = createSelectiveScanBackwardKernels(gpu, { ED: c.ED, N: c.N, ...c.opts });
    t.is(k.scheme as string, c.scheme);
    if (c.layout) t.is(k.layout as string, c.layout);
    if (c.sub) t.is(k.sub, c.sub);
    const got = await k.run(toF32(a), f32(dOut), f32(dhL));
    const errs: Record<string, number> = {};
    for (const name of Object.keys(ref) as Array<keyof typeof ref>) errs[name] = maxRelErr(got[name], ref[name]);
    t.log(`${modes[0]} L=${c.L} ED=${c.ED} N=${c.N} ${JSON.stringify(c.opts)} (${k.scheme}, chunk ${k.chunk}${c.layout ? `, ${c.layout}, sub ${c.sub}` : ''}): ${fmt(errs)}`);
    for (const [name, e] of Object.entries(errs)) t.true(e < TOLERANCE.backward, `case ${i} ${name}: ${e}`);
  }
}

// Tree scheme edge cases (first mode): chunk 2 at L = 4099 gives 2050 chunks → three tree levels
// (2050 → 513 → 65 → 9 groups: no count a multiple of its fan-in) and, with one chunk per dA thread,
// 2050 dA partials (two row-sum stages; dD and dΔbias over 4099 rows: two stages too); the 'warp'
// layout (8 | ED: d-block partials for dB, dC) with sub-chunks of 4 under chunks of 8 (tree levels,
// last chunk partial) and of 16 (no tree level: the sub-chunk walk starts at the top); the N > 32
// fallback to 'hillis-steele' (and that scheme asked for explicitly at N = 16).
test('gpu.js backward: three tree levels, warp layout, sub-chunks, row-sum stages, N > 32 fallback == selectiveScanBackwardRef', async (t) => {
  const gpu = await getGpu(modes[0]);
  t.deepEqual(treeLevels(Math.ceil(4099 / 2)).counts, [2050, 513, 65, 9]);
  const cases: Case[] = [
    { L: 4099, ED: 3, N: 2, opts: { chunk: 2, tune: { dAChunks: 1 } }, scheme: 'tree', layout: '3d', sub: 2 },
    { L: 4099, ED: 8, N: 2, opts: { tune: { layout: 'warp', sub: 4, dAChunks: 3 } }, scheme: 'tree', layout: 'warp', sub: 4 },
    { L: 257, ED: 40, N: 16, opts: { chunk: 16, tune: { layout: 'warp', sub: 4 } }, scheme: 'tree', layout: 'warp', sub: 4 },
    { L: 257, ED: 64, N: 1, opts: { tune: { layout: 'warp' } }, scheme: 'tree', layout: 'warp', sub: 8 },
    { L: 2001, ED: 7, N: 16, opts: { chunk: 16, tune: { sub: 4, hoist: true } }, scheme: 'tree', layout: '3d', sub: 4 },
    { L: 37, ED: 3, N: 33, opts: {}, scheme: 'hillis-steele' },
    { L: 257, ED: 9, N: 16, opts: { scheme: 'hillis-steele' }, scheme: 'hillis-steele' },
  ];
  await checkCases(t, gpu, cases, 6000);
  // no (L, ED, N) tensor: one call is limited by grid z ≤ 65,535 chunks (2 GiB bindings) or by the
  // (NC, N+1, ED) tree leaf (lavapipe's 128 MiB); sub-chunks of 4 halve the first (z counts sub-chunks)
  t.is(createSelectiveScanBackwardKernels(gpu, { ED: 256, N: 16, maxBindingBytes: 2 ** 31 }).maxLength, 65535 * 8);
  // on webgpu the fused dΔraw/dA/dU output binds first: two (T, ED) row blocks and (at most) (N + 2)·ED/2 partials (dA, dD, dΔbias) per chunk
  const fusedPerChunk = (ED: number, N: number) => (modes[0] === 'webgpu' ? 2 * 8 * ED + ((N + 2) * ED) / 2 : 0);
  t.is(createSelectiveScanBackwardKernels(gpu, { ED: 256, N: 16, maxBindingBytes: 128 * 2 ** 20 }).maxLength, Math.floor(2 ** 25 / Math.max(17 * 256, fusedPerChunk(256, 16))) * 8);
  t.is(treeBackwardMaxLength(256, 16, 8, 2 ** 31, 4), Math.floor(65535 / 2) * 8);
  if (modes[0] === 'webgpu') t.throws(() => createSelectiveScanBackwardKernels(gpu, { ED: 10, N: 2, tune: { layout: 'quad', dSplit: 4 } }), { instanceOf: RangeError });
  if (modes[0] === 'webgpu') t.throws(() => createSelectiveScanBackwardKernels(gpu, { ED: 12, N: 2, tune: { layout: 'quad', dSplit: 2, sumsInner: 4 } }), { instanceOf: RangeError });
  const small = createSelectiveScanBackwardKernels(gpu, { ED: 3, N: 2, maxBindingBytes: 4096 });
  t.is(small.maxLength, Math.floor(1024 / Math.max(8 * 3, fusedPerChunk(3, 2))) * 8); // (NC·T, ED) tensors of 1,024 floats, or the fused output
  const e = randomArgs(6200, small.maxLength + 1, 3, 2);
  await t.throwsAsync(() => small.run(toF32(e), new Float32Array(e.L * 3), null), { instanceOf: RangeError });
});

// four positions per thread (webgpu only: Array(4) results; dΔraw two, or four): partial last chunk
// with tree levels, chunk 16, chunk 4 with L a multiple of it, L shorter than one chunk
(probe.ok ? test : test.skip)('gpu.js backward, webgpu: four positions per thread, default whole-chunk kernels == selectiveScanBackwardRef', async (t) => {
  const gpu = await getGpu('webgpu');
  await checkCases(t, gpu, [
    { L: 4099, ED: 7, N: 16, opts: { tune: { layout: 'quad' as const } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 4099, ED: 7, N: 16, opts: { tune: { layout: 'quad' as const, chunkRows: false } }, scheme: 'tree', layout: 'quad', sub: 8 }, // dZ, dU four positions per thread
    { L: 257, ED: 9, N: 16, opts: { chunk: 16, tune: { layout: 'quad' as const, rawPositions: 4 as const } }, scheme: 'tree', layout: 'quad', sub: 16 },
    { L: 2000, ED: 5, N: 3, opts: { chunk: 4, tune: { layout: 'quad' as const } }, scheme: 'tree', layout: 'quad', sub: 4 },
    { L: 3, ED: 5, N: 2, opts: { tune: { layout: 'quad' as const } }, scheme: 'tree', layout: 'quad', sub: 8 },
    // dC and dB with the sum over d split into partial threads (summed while unblocked)
    { L: 4099, ED: 12, N: 16, opts: { tune: { layout: 'quad' as const, dSplit: 4 } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 257, ED: 9, N: 3, opts: { chunk: 16, tune: { layout: 'quad' as const, dSplit: 3 } }, scheme: 'tree', layout: 'quad', sub: 16 },
    { L: 2000, ED: 8, N: 16, opts: { tune: { layout: 'quad' as const, dSplit: 8, hoistIdx: false } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 2000, ED: 48, N: 5, opts: { tune: { layout: 'quad' as const } }, scheme: 'tree', layout: 'quad', sub: 8 }, // default split: 16
  ], 6500);
});

// webgpu's whole-chunk kernels (scattered stores) against the separate ones, and their options
(probe.ok ? test : test.skip)('gpu.js backward, webgpu: fused dΔraw/dA/dU and whole-chunk dC/dB options, B/C as quads or single floats == selectiveScanBackwardRef', async (t) => {
  const gpu = await getGpu('webgpu');
  await checkCases(t, gpu, [
    // the separate dΔraw, dA and four-position dC/dB kernels; dΔraw/dA fused holding 4 positions, 3 chunks per thread; N = 32 (holds 4)
    { L: 4099, ED: 7, N: 16, opts: { tune: { layout: 'quad' as const, rawA: false, chunkSums: false } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 4099, ED: 12, N: 16, opts: { tune: { layout: 'quad' as const, rawHold: 4, rawAChunks: 3 } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 4099, ED: 12, N: 16, opts: { tune: { layout: 'quad' as const, rawDU: false } }, scheme: 'tree', layout: 'quad', sub: 8 }, // dU from its own kernel
    { L: 1001, ED: 6, N: 32, opts: { tune: { layout: 'quad' as const, rawAChunks: 1 } }, scheme: 'tree', layout: 'quad', sub: 8 },
    // dC/dB walking 4 of a block's channels side by side in a loop of 2 or 3 groups; a block of 33 channels (one at a time)
    { L: 4096, ED: 16, N: 16, opts: { tune: { layout: 'quad' as const, dSplit: 2, sumsInner: 4 } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 4099, ED: 12, N: 16, opts: { tune: { layout: 'quad' as const, dSplit: 1, sumsInner: 4 } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 257, ED: 66, N: 2, opts: { tune: { layout: 'quad' as const } }, scheme: 'tree', layout: 'quad', sub: 8 },
    // a block of 16 channels; dy from a kernel of its own, the reverse leaf at four states per thread, dB one channel at a time
    { L: 1001, ED: 16, N: 16, opts: { tune: { layout: 'quad' as const, dSplit: 1 } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 4099, ED: 12, N: 16, opts: { tune: { layout: 'quad' as const, dyFromDZ: false, sumsInnerB: 1, revLeafChunk: false } }, scheme: 'tree', layout: 'quad', sub: 8 },
    // B and C one float at a time (default: 16-byte quads) with and without the reverse leaf's prefetch, and quads without it
    { L: 4099, ED: 12, N: 16, opts: { tune: { layout: 'quad' as const, quadLoads: false, prefetch: false } }, scheme: 'tree', layout: 'quad', sub: 8 },
    { L: 257, ED: 9, N: 16, opts: { chunk: 16, tune: { layout: 'quad' as const, quadLoads: false } }, scheme: 'tree', layout: 'quad', sub: 16 },
    { L: 1001, ED: 16, N: 16, opts: { tune: { layout: 'quad' as const, prefetch: false } }, scheme: 'tree', layout: 'quad', sub: 8 },
  ], 6600);
});

// Device path: every input a handle, B and C packed as x_proj's (L, R + 2N) output (stride R + 2N,
// B at column R, C at R + N), h0 and dhL nonzero; gradients come back as handles (row-padded).
(probe.ok ? test : test.skip)('webgpu runDevice (and forward run) on handles, packed BC (R = 8: B/C as quads; R = 5: single floats), == float64 reference at L ∈ 1, 3, 257, 2001', async (t) => {
  const gpu = await getGpu('webgpu');
  const upload = deviceUploader(gpu);
  const Rs = [8, 5, 5, 8, 8, 5, 5]; // dt-rank columns before B: 8 like the default model (quads apply where N % 4 = 0), or 5
  const sets = new Map<string, ReturnType<typeof createSelectiveScanBackwardKernels>>();
  const cases: Array<[number, number, number]> = [[1, 7, 16], [3, 7, 1], [257, 33, 16], [257, 9, 1], [2001, 33, 16], [2001, 17, 1], [2001, 64, 16]];
  for (const [i, [L, ED, N]] of cases.entries()) {
    const a = randomArgs(3000 + i, L, ED, N);
    const R = Rs[i];
    const rng = mulberry32(4000 + i);
    const dOut = randn(rng, L * ED), dhL = randn(rng, ED * N);
    const ref = selectiveScanBackwardRef(a, dOut, dhL);
    const S = R + 2 * N;
    const xp = f32(randn(rng, L * S)); // (L, R + 2N): dt-rank columns are noise the scan must skip
    for (let r = 0; r < L; r++) for (let n = 0; n < N; n++) { xp[r * S + R + n] = a.B[r * N + n]; xp[r * S + R + N + n] = a.C[r * N + n]; }
    let k = sets.get(`${ED} ${N}`);
    if (!k) sets.set(`${ED} ${N}`, (k = createSelectiveScanBackwardKernels(gpu, { ED, N })));
    const ins = {
      u: await upload(f32(a.u)), deltaRaw: await upload(f32(a.deltaRaw)), z: await upload(f32(a.z)), BC: await upload(xp),
      A: await upload(f32(a.A)), D: await upload(f32(a.D)), deltaBias: await upload(f32(a.deltaBias)), h0: await upload(f32(a.h0!)),
    };
    const hOut = await upload(f32(dOut)), hL = await upload(f32(dhL));
    const g = await k.runDevice({ L, ED, N, ...ins, bcStride: S, bOffset: R, cOffset: R + N }, hOut, hL);
    const rows: Record<string, number> = { dU: ED, dDeltaRaw: ED, dZ: ED, dB: N, dC: N };
    const errs: Record<string, number> = {};
    for (const name of Object.keys(ref) as Array<keyof typeof ref>) {
      const h = g[name] as any;
      t.true(typeof h.toArray === 'function', `${name} is a device handle`);
      const flat = await readFlat(h);
      errs[name] = maxRelErr(name in rows ? flat.subarray(0, L * rows[name]) : flat, ref[name]);
    }
    if (L >= 257) {
      // the forward on the same handles (what the engine runs per chunk of tokens): out + hL handles
      const ref2 = selectiveScanRef(a);
      const kf = createSelectiveScanKernels(gpu, { ED, N });
      const f = await kf.run({ L, ED, N, ...ins, bcStride: S, bOffset: R, cOffset: R + N });
      t.true(typeof (f.out as any).toArray === 'function' && typeof (f.hL as any).toArray === 'function', 'forward returns handles');
      errs['fwd out'] = maxRelErr((await readFlat(f.out)).subarray(0, L * ED), ref2.out);
      errs['fwd hL'] = maxRelErr(await readFlat(f.hL), ref2.hL);
      (f.out as any).delete();
      (f.hL as any).delete();
    }
    // distinct buffers: deleting one gradient must not touch another
    const handles = Object.values(g) as any[];
    t.is(new Set(handles.map((h) => h.buffer ?? h)).size, handles.length, 'each gradient has its own buffer');
    for (const h of handles) h.delete();
    for (const h of [...Object.values(ins), hOut, hL] as any[]) h.delete();
    t.log(`runDevice L=${L} ED=${ED} N=${N} R=${R}: ${fmt(errs)}`);
    for (const [name, e] of Object.entries(errs)) t.true(e < TOLERANCE.backward, `L=${L} ED=${ED} N=${N} ${name}: ${e}`);
  }
  // calls queue: two runDevice calls issued together give the same gradients as one at a time
  const [L, ED, N] = [40, 7, 16];
  const a = randomArgs(5000, L, ED, N);
  const rng = mulberry32(5001);
  const dOut = randn(rng, L * ED), dhL = randn(rng, ED * N);
  const ref = selectiveScanBackwardRef(a, dOut, dhL);
  const BC = new Float32Array(L * 2 * N);
  for (let r = 0; r < L; r++) { BC.set(f32(a.B.subarray(r * N, r * N + N)), r * 2 * N); BC.set(f32(a.C.subarray(r * N, r * N + N)), r * 2 * N + N); }
  const k = createSelectiveScanBackwardKernels(gpu, { ED, N, chunk: 8 });
  const args = {
    L, ED, N, u: await upload(f32(a.u)), deltaRaw: await upload(f32(a.deltaRaw)), z: await upload(f32(a.z)), BC: await upload(BC),
    bcStride: 2 * N, bOffset: 0, cOffset: N, A: await upload(f32(a.A)), D: await upload(f32(a.D)), deltaBias: await upload(f32(a.deltaBias)), h0: await upload(f32(a.h0!)),
  };
  const zeros = await upload(new Float32Array(ED * N));
  const [g1, g2] = await Promise.all([k.runDevice(args, await upload(f32(dOut)), await upload(f32(dhL))), k.runDevice(args, await upload(new Float32Array(L * ED)), zeros)]);
  const e1 = maxRelErr((await readFlat(g1.dU)).subarray(0, L * ED), ref.dU);
  const z2 = Math.max(...Array.from((await readFlat(g2.dh0)).map(Math.abs)));
  t.log(`two queued runDevice calls: dU err ${e1.toExponential(2)}, zero-gradient call max|dh0| ${z2}`);
  t.true(e1 < TOLERANCE.backward);
  t.is(z2, 0);
  await t.throwsAsync(() => k.runDevice({ ...args, bOffset: 2 * N }, zeros, zeros), { instanceOf: RangeError });
  await t.throwsAsync(() => k.runDevice({ ...args, u: f32(a.u) as any }, zeros, zeros), { instanceOf: RangeError });
});
