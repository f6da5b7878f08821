// selective-scan: hand case, backward ref vs finite differences, cpu and gpu.js (webgpu, webasm)
// vs the float64 reference over odd shapes, with and without h0; streaming (state carried between
// calls) == one call; chunked CPU backward == reference backward.
import test from 'ava';
import {
  type ScanVariant, type SelectiveScanArgs, selectiveScanRef, selectiveScanBackwardRef, silu, softplus,
} from '../../kernels/selective-scan/ref.js';
import { allocGrads, selectiveScan, selectiveScanBackward } from '../../kernels/selective-scan/cpu.js';
import { createSelectiveScanKernels } from '../../kernels/selective-scan/gpujs.js';
import { createSelectiveScanBackwardKernels } from '../../kernels/selective-scan/gpujs-backward.js';
import { getGpu, probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { mulberry32, randn } from '../helpers/random.js';
import { randomScanArgs as randomArgs } from '../helpers/scan-args.js';
import { deviceUploader, f32, maxRelErr, numericGrad, readFlat } from '../helpers/compare.js';
import { TOLERANCE } from './tolerances.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`selective-scan webgpu tests skipped: ${probe.reason}`);
const modes: Array<'webgpu' | 'webasm'> = probe.ok ? ['webgpu', 'webasm'] : ['webasm'];
// one kernel set per (mode, ED, N, options): gpu.js compiles a shader per new shape, the bulk of the time
const kernelSets = new Map<string, Promise<ReturnType<typeof createSelectiveScanKernels>>>();
function scanKernels(mode: 'webgpu' | 'webasm', ED: number, N: number, maxSegment?: number) {
  const key = `${mode} ${ED} ${N} ${maxSegment}`;
  let k = kernelSets.get(key);
  if (!k) kernelSets.set(key, (k = getGpu(mode).then((gpu) => createSelectiveScanKernels(gpu, { ED, N, maxSegment }))));
  return k;
}
test.after.always(async () => { await shutdownGpu(); });


const toF32 = (a: SelectiveScanArgs<Float64Array>): SelectiveScanArgs<Float32Array> => ({
  L: a.L, ED: a.ED, N: a.N, u: f32(a.u), deltaRaw: f32(a.deltaRaw), z: f32(a.z), A: f32(a.A),
  B: f32(a.B), C: f32(a.C), D: f32(a.D), deltaBias: f32(a.deltaBias), h0: a.h0 ? f32(a.h0) : null,
});

/** Tokens [t0, t1) of a sequence (h0 replaced by the caller). */
function slice<T extends Float32Array | Float64Array>(a: SelectiveScanArgs<T>, t0: number, t1: number, h0: T | null): SelectiveScanArgs<T> {
  const { ED, N } = a;
  return {
    ...a, L: t1 - t0, h0,
    u: a.u.subarray(t0 * ED, t1 * ED) as T, deltaRaw: a.deltaRaw.subarray(t0 * ED, t1 * ED) as T, z: a.z.subarray(t0 * ED, t1 * ED) as T,
    B: a.B.subarray(t0 * N, t1 * N) as T, C: a.C.subarray(t0 * N, t1 * N) as T,
  };
}

const fmt = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');

test('by hand: L=2, ED=1, N=1, δ = ln 2 so the decay is exactly 1/2', async (t) => {
  // raw + bias = 0 → δ = softplus(0) = ln 2, A = -1 → exp(δA) = 1/2; z = ln 3 → silu(z) = ¾·ln 3.
  const ln2 = Math.LN2, g = 0.75 * Math.log(3);
  const a: SelectiveScanArgs<Float64Array> = {
    L: 2, ED: 1, N: 1, u: Float64Array.of(1, 2), deltaRaw: Float64Array.of(-0.5, -0.5), deltaBias: Float64Array.of(0.5),
    A: Float64Array.of(-1), B: Float64Array.of(1, 0.5), C: Float64Array.of(2, 1), D: Float64Array.of(0.5), z: Float64Array.of(Math.log(3), Math.log(3)),
  };
  // h1 = ln2·1·1 = ln2, y1 = 2·ln2 + 0.5·1;  h2 = ½·ln2 + ln2·0.5·2 = 1.5·ln2, y2 = 1.5·ln2 + 0.5·2
  const want = { out: [(2 * ln2 + 0.5) * g, (1.5 * ln2 + 1) * g], hL: [1.5 * ln2] };
  // with h0 = 4: h1 = 2 + ln2, y1 = 2·(2 + ln2) + 0.5;  h2 = 1 + 1.5·ln2, y2 = 1 + 1.5·ln2 + 1
  const wantH0 = { out: [(4 + 2 * ln2 + 0.5) * g, (2 + 1.5 * ln2) * g], hL: [1 + 1.5 * ln2] };
  const close = (got: ArrayLike<number>, w: number[], tol: number) => w.every((v, i) => Math.abs(got[i] - v) <= tol * Math.abs(v));
  for (const [h0, w] of [[null, want], [Float64Array.of(4), wantH0]] as const) {
    const args = { ...a, h0 };
    const r = selectiveScanRef(args);
    t.true(close(r.out, w.out, 1e-15) && close(r.hL, w.hL, 1e-15), `ref ${Array.from(r.out)} ${Array.from(r.hL)}`);
    const c = selectiveScan(toF32(args));
    t.true(close(c.out, w.out, 1e-6) && close(c.hL, w.hL, 1e-6), `cpu ${Array.from(c.out)}`);
    for (const mode of modes) {
      const k = await scanKernels(mode, 1, 1);
      const g2 = await k.run(toF32(args));
      t.true(close(g2.out as Float32Array, w.out, 1e-6) && close(g2.hL as Float32Array, w.hL, 1e-6), `${mode} ${Array.from(g2.out as Float32Array)}`);
    }
  }
  t.is(softplus(0), ln2);
  t.is(softplus(30), 30);
  t.true(Math.abs(softplus(-30) / Math.exp(-30) - 1) < 1e-12, 'softplus keeps relative precision far below 0');
});

test('backward ref matches central finite differences (with h0 and dhL)', (t) => {
  const a = randomArgs(7, 5, 3, 2, true);
  const rng = mulberry32(8);
  const dOut = randn(rng, a.L * a.ED), dhL = randn(rng, a.ED * a.N);
  const g = selectiveScanBackwardRef(a, dOut, dhL);
  // loss = Σ dOut·out + Σ dhL·hL, as one flat output vector
  const f = () => { const r = selectiveScanRef(a); return Float64Array.from([...r.out, ...r.hL]); };
  const w = Float64Array.from([...dOut, ...dhL]);
  const errs = {
    dU: maxRelErr(g.dU, numericGrad(f, a.u, w)), dDeltaRaw: maxRelErr(g.dDeltaRaw, numericGrad(f, a.deltaRaw, w)),
    dA: maxRelErr(g.dA, numericGrad(f, a.A, w)), dB: maxRelErr(g.dB, numericGrad(f, a.B, w)), dC: maxRelErr(g.dC, numericGrad(f, a.C, w)),
    dD: maxRelErr(g.dD, numericGrad(f, a.D, w)), dZ: maxRelErr(g.dZ, numericGrad(f, a.z, w)),
    dDeltaBias: maxRelErr(g.dDeltaBias, numericGrad(f, a.deltaBias, w)), dh0: maxRelErr(g.dh0, numericGrad(f, a.h0!, w)),
  };
  t.log(`max rel err vs finite differences: ${fmt(errs)}`);
  for (const e of Object.values(errs)) t.true(e < TOLERANCE.finiteDifference);
});

const shapes: Array<[number, number, number]> = [
  [1, 5, 1], [1, 33, 16], [3, 5, 16], [3, 33, 1], [257, 5, 1], [257, 33, 16], [4099, 5, 16], [4099, 33, 1],
];

for (const [L, ED, N] of shapes) {
  for (const withH0 of [false, true]) {
    test(`forward cpu${modes.map((m) => `, ${m}`).join('')} vs reference, L=${L} ED=${ED} N=${N}${withH0 ? ' with h0' : ''}`, async (t) => {
      const a = randomArgs(L * 100 + ED + N + (withH0 ? 1 : 0), L, ED, N, withH0);
      const ref = selectiveScanRef(a);
      const c = selectiveScan(toF32(a));
      const errs: Record<string, number> = { 'cpu out': maxRelErr(c.out, ref.out), 'cpu hL': maxRelErr(c.hL, ref.hL) };
      for (const mode of modes) {
        const k = await scanKernels(mode, ED, N);
        const g = await k.run(toF32(a));
        errs[`${mode} out`] = maxRelErr(g.out as Float32Array, ref.out);
        errs[`${mode} hL`] = maxRelErr(g.hL as Float32Array, ref.hL);
      }
      t.log(`max rel err: ${fmt(errs)}`);
      for (const e of Object.values(errs)) t.true(e < TOLERANCE.forward);
    });
  }
}

test('streaming: two calls carrying the state == one call (ref, cpu, gpu.js), gpu.js segments == one segment', async (t) => {
  const a = randomArgs(11, 1000, 7, 16, true);
  const [L, split] = [a.L, 389];
  const errs: Record<string, number> = {};
  const r = selectiveScanRef(a);
  const r1 = selectiveScanRef(slice(a, 0, split, a.h0!));
  const r2 = selectiveScanRef(slice(a, split, L, r1.hL));
  errs.ref = Math.max(maxRelErr(Float64Array.from([...r1.out, ...r2.out]), r.out), maxRelErr(r2.hL, r.hL));
  const a32 = toF32(a);
  const c = selectiveScan(a32);
  const c1 = selectiveScan(slice(a32, 0, split, a32.h0!));
  const c2 = selectiveScan(slice(a32, split, L, c1.hL));
  errs.cpu = Math.max(maxRelErr(Float32Array.from([...c1.out, ...c2.out]), c.out), maxRelErr(c2.hL, c.hL));
  for (const mode of modes) {
    const k = await scanKernels(mode, a.ED, a.N);
    const g = await k.run(a32);
    const g1 = await k.run(slice(a32, 0, split, a32.h0!));
    const g2 = await k.run(slice(a32, split, L, g1.hL as Float32Array));
    errs[`${mode} two calls`] = Math.max(
      maxRelErr(Float32Array.from([...(g1.out as Float32Array), ...(g2.out as Float32Array)]), g.out as Float32Array),
      maxRelErr(g2.hL as Float32Array, g.hL as Float32Array));
    // force segments of 96 tokens (the binding-limit path): state carried on the device
    const ks = await scanKernels(mode, a.ED, a.N, 96);
    const gs = await ks.run(a32);
    errs[`${mode} 96-token segments`] = Math.max(maxRelErr(gs.out as Float32Array, g.out as Float32Array), maxRelErr(gs.hL as Float32Array, g.hL as Float32Array));
    errs[`${mode} segments vs ref`] = maxRelErr(gs.out as Float32Array, r.out);
  }
  t.log(`max rel err, split vs one call: ${fmt(errs)}`);
  for (const [name, e] of Object.entries(errs)) t.true(e < (name.endsWith('vs ref') ? TOLERANCE.forward : TOLERANCE.streamed), name);
});

test('cpu chunk-start states equal the state of a run stopped there; chunked cpu == one-shot', (t) => {
  const a = toF32(randomArgs(12, 300, 5, 16, true));
  const chunk = 64;
  const full = selectiveScan(a, { chunk });
  let maxErr = 0;
  let h = a.h0!;
  const out = new Float32Array(a.L * a.ED);
  for (let t0 = 0, c = 0; t0 < a.L; t0 += chunk, c++) {
    maxErr = Math.max(maxErr, maxRelErr(full.boundaries!.subarray(c * a.ED * a.N, (c + 1) * a.ED * a.N), h));
    const r = selectiveScan(slice(a, t0, Math.min(a.L, t0 + chunk), h));
    out.set(r.out, t0 * a.ED);
    h = r.hL;
  }
  const errs = { boundaries: maxErr, out: maxRelErr(out, full.out), hL: maxRelErr(h, full.hL) };
  t.log(`max rel err, chunk by chunk vs one-shot: ${fmt(errs)}`);
  for (const e of Object.values(errs)) t.true(e < TOLERANCE.streamed);
});

for (const [L, ED, N, chunk] of [[1, 5, 16, 64], [3, 33, 1, 2], [257, 5, 16, 16], [1000, 7, 16, 64]] as Array<[number, number, number, number]>) {
  test(`cpu backward (chunked recompute, chunk ${chunk}) vs reference backward, L=${L} ED=${ED} N=${N}`, (t) => {
    const a = randomArgs(L + 31 * ED + N, L, ED, N, true);
    const rng = mulberry32(L + 5);
    const dOut = randn(rng, L * ED), dhL = randn(rng, ED * N);
    const ref = selectiveScanBackwardRef(a, dOut, dhL);
    const a32 = toF32(a);
    const got = selectiveScanBackward(a32, f32(dOut), f32(dhL), { chunk });
    // the worker split: two channel ranges accumulating into shared gradients give the same result
    const mid = Math.floor(ED / 2);
    const shared = allocGrads(L, ED, N);
    const fwd = selectiveScan(a32, { chunk });
    selectiveScanBackward(a32, f32(dOut), f32(dhL), { chunk, d0: 0, d1: mid, grads: shared, boundaries: fwd.boundaries });
    selectiveScanBackward(a32, f32(dOut), f32(dhL), { chunk, d0: mid, d1: ED, grads: shared, boundaries: fwd.boundaries });
    const errs: Record<string, number> = {};
    for (const k of Object.keys(ref) as Array<keyof typeof ref>) {
      errs[k] = maxRelErr(got[k], ref[k]);
      errs[`${k} (split)`] = maxRelErr(shared[k], ref[k]);
    }
    t.log(`max rel err: ${fmt(errs)}`);
    for (const e of Object.values(errs)) t.true(e < TOLERANCE.backward);
  });
}

(probe.ok ? test : test.skip)('webgpu: device-handle inputs stay on the device and return handles (replay 3d; quad at chunk 4, 8, 12; whole chunks at 8, 16, 32 with the leaf per chunk and δ fused, B/C as quads or single floats, with and without prefetch; partial last chunk)', async (t) => {
  const gpu = await getGpu('webgpu');
  const a = randomArgs(21, 203, 9, 16, true);
  const a32 = toF32(a);
  const upload = deviceUploader(gpu);
  const BC = new Float32Array(a.L * 2 * a.N);
  for (let i = 0; i < a.L; i++) { BC.set(a32.B.subarray(i * a.N, (i + 1) * a.N), i * 2 * a.N); BC.set(a32.C.subarray(i * a.N, (i + 1) * a.N), i * 2 * a.N + a.N); }
  const args = {
    L: a.L, ED: a.ED, N: a.N, u: await upload(a32.u), deltaRaw: await upload(a32.deltaRaw), z: await upload(a32.z),
    A: await upload(a32.A), D: await upload(a32.D), deltaBias: await upload(a32.deltaBias), BC: await upload(BC), h0: await upload(a32.h0!),
  };
  const ref = selectiveScanRef(a);
  const errs: Record<string, number> = {};
  const variants: Array<[string, Parameters<typeof createSelectiveScanKernels>[1]]> = [
    ['3d', { ED: a.ED, N: a.N, replay: { layout: '3d' } }], ['quad 8', { ED: a.ED, N: a.N, replay: { layout: 'quad' } }],
    ['quad 4', { ED: a.ED, N: a.N, chunk: 4, replay: { layout: 'quad' } }], ['quad 12', { ED: a.ED, N: a.N, chunk: 12, replay: { layout: 'quad' } }],
    ['chunk 8', { ED: a.ED, N: a.N, replay: { layout: 'chunk' } }], ['chunk 16', { ED: a.ED, N: a.N, chunk: 16, replay: { layout: 'chunk' } }],
    // the leaf as four states per thread, or whole-chunk threads (default) reading δ from its kernel or computing it (default)
    ['chunk 8, quad leaf', { ED: a.ED, N: a.N, replay: { leaf: 'quad' } }], ['chunk 8, chunk leaf, δ kernel', { ED: a.ED, N: a.N, replay: { leaf: 'chunk', fuseDelta: false } }],
    ['chunk 32 (chunk leaf, δ fused)', { ED: a.ED, N: a.N, chunk: 32 }],
    // B and C as 16-byte quads and the next token loaded ahead (both default) — each alone, and neither
    ['chunk 8, single-float B/C, no prefetch', { ED: a.ED, N: a.N, replay: { quadLoads: false, prefetch: false } }],
    ['chunk 8, quads, no prefetch', { ED: a.ED, N: a.N, replay: { prefetch: false } }],
    ['chunk 16, single-float B/C, prefetch', { ED: a.ED, N: a.N, chunk: 16, replay: { quadLoads: false } }],
  ];
  for (const [name, o] of variants) {
    const r = await createSelectiveScanKernels(gpu, o).run(args);
    t.true(typeof (r.out as any).toArray === 'function' && typeof (r.hL as any).toArray === 'function', 'results are device handles');
    const out = (await readFlat(r.out)).subarray(0, a.L * a.ED);
    errs[`${name} out`] = maxRelErr(out, ref.out);
    errs[`${name} hL`] = maxRelErr(await readFlat(r.hL), ref.hL);
    (r.out as any).delete();
    (r.hL as any).delete();
  }
  t.log(`max rel err: ${fmt(errs)}`);
  for (const e of Object.values(errs)) t.true(e < TOLERANCE.forward);
  t.throws(() => createSelectiveScanKernels(gpu, { ED: 4, N: 4, chunk: 6, replay: { layout: 'quad' } }), { instanceOf: RangeError });
});

/**
 * The same sequence for the variants without softplus: a small bias' = bias / 1000 and deltaRaw' = δ − bias',
 * so that deltaRaw' + bias' is the default variant's δ = softplus(raw + bias) (positive, the sizes a trained
 * model sees; a small bias' keeps float32 inputs from cancelling).
 */
function linearArgs(a: SelectiveScanArgs<Float64Array>): SelectiveScanArgs<Float64Array> {
  const deltaBias = a.deltaBias.map((b) => b / 1000);
  const deltaRaw = a.deltaRaw.map((x, i) => softplus(x + a.deltaBias[i % a.ED]) - deltaBias[i % a.ED]);
  return { ...a, deltaRaw, deltaBias };
}
/**
 * Device handles of a's inputs that every variant shares (B and C packed as (L, 2N) rows), the uploader, and
 * linearArgs(a).
 */
async function deviceCommon(gpu: Awaited<ReturnType<typeof getGpu>>, a: SelectiveScanArgs<Float64Array>) {
  const upload = deviceUploader(gpu);
  const BC = new Float32Array(a.L * 2 * a.N);
  for (let i = 0; i < a.L; i++) { BC.set(f32(a.B.subarray(i * a.N, (i + 1) * a.N)), i * 2 * a.N); BC.set(f32(a.C.subarray(i * a.N, (i + 1) * a.N)), i * 2 * a.N + a.N); }
  const common = {
    L: a.L, ED: a.ED, N: a.N, u: await upload(f32(a.u)), A: await upload(f32(a.A)), D: await upload(f32(a.D)),
    BC: await upload(BC), bcStride: 2 * a.N, bOffset: 0, cOffset: a.N, h0: await upload(f32(a.h0!)),
  };
  return { upload, common, lin: linearArgs(a) };
}
const VARIANTS: Array<[string, ScanVariant]> = [['gate: false', { gate: false }], ['deltaSoftplus: false', { deltaSoftplus: false }], ['both', { gate: false, deltaSoftplus: false }]];

test('ref and cpu variants: gate: false is y before the gate, deltaSoftplus: false takes raw + bias as δ (mamba_ssm z=None, delta_softplus=False)', (t) => {
  const a = randomArgs(41, 37, 5, 6, true);
  const full = selectiveScanRef(a);
  // the gate: the default output is the ungated one times silu(z)
  const ungated = selectiveScanRef(a, { gate: false });
  const gated = ungated.out.map((y, i) => y * silu(a.z[i]));
  const eGate = maxRelErr(gated, full.out);
  // δ as given: the default sequence with δ − bias passed as deltaRaw
  const lin = linearArgs(a);
  const eLin = Math.max(maxRelErr(selectiveScanRef(lin, { deltaSoftplus: false }).out, full.out), maxRelErr(selectiveScanRef(lin, { deltaSoftplus: false }).hL, full.hL));
  const errs: Record<string, number> = { 'ref gate': eGate, 'ref linear δ': eLin };
  for (const [name, v] of VARIANTS) {
    const args = v.deltaSoftplus === false ? lin : a;
    const ref = selectiveScanRef(args, v), c = selectiveScan(toF32(args), v);
    errs[`cpu ${name} out`] = maxRelErr(c.out, ref.out);
    errs[`cpu ${name} hL`] = maxRelErr(c.hL, ref.hL);
  }
  t.log(`max rel err: ${fmt(errs)}`);
  t.true(eGate < 1e-12 && eLin < 1e-12, 'the variants are the default scan without its gate / softplus');
  t.true(maxRelErr(ungated.out, full.out) > 0.1, 'the gate changes the output');
  for (const [k, e] of Object.entries(errs)) t.true(e < TOLERANCE.forward, `${k}: ${e}`);
});

(probe.ok ? test : test.skip)('webgpu: gate: false (no z) and deltaSoftplus: false on device inputs == reference (chunks 8 and 12, quads or single floats, with and without prefetch); refused where the kernels do not run them', async (t) => {
  const gpu = await getGpu('webgpu');
  const a = randomArgs(43, 203, 9, 16, true);
  const { upload, common, lin } = await deviceCommon(gpu, a);
  const delta = {
    softplus: { deltaRaw: await upload(f32(a.deltaRaw)), deltaBias: await upload(f32(a.deltaBias)) },
    linear: { deltaRaw: await upload(f32(lin.deltaRaw)), deltaBias: await upload(f32(lin.deltaBias)) },
  };
  const z = await upload(f32(a.z));
  const errs: Record<string, number> = {};
  const kernelSets: Array<[string, Parameters<typeof createSelectiveScanKernels>[1]]> = [
    ['chunk 8', { ED: a.ED, N: a.N }], ['chunk 12, single floats', { ED: a.ED, N: a.N, chunk: 12, replay: { quadLoads: false } }],
    ['chunk 8, no prefetch', { ED: a.ED, N: a.N, replay: { prefetch: false } }], ['chunk 8, δ kernel otherwise', { ED: a.ED, N: a.N, replay: { fuseDelta: false } }],
  ];
  for (const [kname, o] of kernelSets) {
    const k = createSelectiveScanKernels(gpu, o);
    for (const [name, v] of VARIANTS) {
      const linear = v.deltaSoftplus === false;
      const ref = selectiveScanRef(linear ? lin : a, v);
      // no z where the output has no gate
      const r = await k.run({ ...common, ...(linear ? delta.linear : delta.softplus), ...(v.gate === false ? {} : { z }), ...v });
      errs[`${kname}, ${name} out`] = maxRelErr((await readFlat(r.out)).subarray(0, a.L * a.ED), ref.out);
      errs[`${kname}, ${name} hL`] = maxRelErr(await readFlat(r.hL), ref.hL);
      (r.out as any).delete();
      (r.hL as any).delete();
    }
  }
  t.log(`max rel err: ${fmt(errs)}`);
  for (const [k, e] of Object.entries(errs)) t.true(e < TOLERANCE.forward, `${k}: ${e}`);
  // refused: host inputs, a saved tree, kernels other than the whole-chunk ones, and z missing with the gate on
  const k8 = createSelectiveScanKernels(gpu, { ED: a.ED, N: a.N });
  const dev = { ...common, ...delta.softplus, z };
  await t.throwsAsync(() => k8.run({ ...toF32(a), gate: false }), { instanceOf: RangeError, message: /device inputs/ });
  await t.throwsAsync(() => k8.run({ ...dev, deltaSoftplus: false }, { save: true }), { instanceOf: RangeError, message: /save/ });
  await t.throwsAsync(() => createSelectiveScanKernels(gpu, { ED: a.ED, N: a.N, replay: { layout: '3d' } }).run({ ...dev, gate: false }), { instanceOf: RangeError });
  await t.throwsAsync(() => createSelectiveScanKernels(gpu, { ED: a.ED, N: a.N, scheme: 'hillis-steele' }).run({ ...dev, gate: false }), { instanceOf: RangeError });
  await t.throwsAsync(() => k8.run({ ...dev, z: undefined }), { instanceOf: RangeError, message: /z is missing/ });
  // the backward computes the model's scan only: the same arguments passed on are refused, not ignored
  const bwd = createSelectiveScanBackwardKernels(gpu, { ED: a.ED, N: a.N });
  for (const v of [{ gate: false }, { deltaSoftplus: false }]) {
    await t.throwsAsync(() => bwd.runDevice({ ...dev, ...v } as Parameters<typeof bwd.runDevice>[0], z, common.h0), { instanceOf: RangeError, message: /gated scan with softplus only/ });
  }
});

(probe.ok ? test : test.skip)('webgpu: two channels per thread in the whole-chunk leaf and output (the model\'s scan, the plain variant, a saved tree; quads or single floats, with and without prefetch; partial last chunk) == reference; refused for odd ED', async (t) => {
  const gpu = await getGpu('webgpu');
  const a = randomArgs(47, 203, 10, 16, true);
  const { upload, common, lin } = await deviceCommon(gpu, a);
  const model = { ...common, deltaRaw: await upload(f32(a.deltaRaw)), deltaBias: await upload(f32(a.deltaBias)), z: await upload(f32(a.z)) };
  const plain = { ...common, deltaRaw: await upload(f32(lin.deltaRaw)), deltaBias: await upload(f32(lin.deltaBias)), gate: false, deltaSoftplus: false };
  const ref = { model: selectiveScanRef(a), plain: selectiveScanRef(lin, { gate: false, deltaSoftplus: false }), y: selectiveScanRef(a, { gate: false }) };
  const errs: Record<string, number> = {};
  const both = { leaf: 2, out: 2 };
  const sets: Array<[string, Parameters<typeof createSelectiveScanKernels>[1]]> = [
    ['chunk 8, both', { ED: a.ED, N: a.N, replay: { channels: both } }],
    ['chunk 12, leaf', { ED: a.ED, N: a.N, chunk: 12, replay: { channels: { leaf: 2 } } }],
    ['chunk 8, output, single floats', { ED: a.ED, N: a.N, replay: { channels: { out: 2 }, quadLoads: false } }],
    ['chunk 12, both, no prefetch', { ED: a.ED, N: a.N, chunk: 12, replay: { channels: both, prefetch: false } }],
    // the plain variant's default: two in the output; and one there
    ['chunk 8, default', { ED: a.ED, N: a.N }], ['chunk 8, output 1', { ED: a.ED, N: a.N, replay: { channels: { out: 1 } } }],
  ];
  const rows = Math.ceil(a.L / 8) * 8 * a.ED; // the saved y after the output's rows (chunk 8)
  for (const [name, o] of sets) {
    const k = createSelectiveScanKernels(gpu, o);
    for (const [v, args] of [['model', model], ['plain', plain]] as const) {
      const r = await k.run(args);
      errs[`${name}, ${v} out`] = maxRelErr((await readFlat(r.out)).subarray(0, a.L * a.ED), ref[v].out);
      errs[`${name}, ${v} hL`] = maxRelErr(await readFlat(r.hL), ref[v].hL);
      (r.out as any).delete();
      (r.hL as any).delete();
    }
    if (o.chunk === undefined) {
      // saved for a backward: the output kernel also stores y before the gate
      const r = await k.run(model, { save: true });
      errs[`${name}, saved out`] = maxRelErr((await readFlat(r.out)).subarray(0, a.L * a.ED), ref.model.out);
      errs[`${name}, saved y`] = maxRelErr((await readFlat(r.saved!.y)).subarray(rows, rows + a.L * a.ED), ref.y.out);
      for (const h of [r.out, r.hL, ...Object.values(r.saved ?? {})]) if (h && typeof (h as any).delete === 'function') (h as any).delete();
    }
  }
  t.log(`max rel err: ${fmt(errs)}`);
  for (const [k, e] of Object.entries(errs)) t.true(e < TOLERANCE.forward, `${k}: ${e}`);
  t.throws(() => createSelectiveScanKernels(gpu, { ED: 9, N: 16, replay: { channels: { out: 2 } } }), { instanceOf: RangeError, message: /even ED/ });
  t.throws(() => createSelectiveScanKernels(gpu, { ED: 10, N: 16, replay: { channels: { leaf: 4 } } }), { instanceOf: RangeError, message: /channels\.leaf/ });
});

test('segment length: a device forward that computes δ in its whole-chunk kernels (no save) is not capped by the δ kernel\'s grid', (t) => {
  const gpu = { mode: 'webgpu', createKernel: () => { throw new Error('not built'); } };
  const k = createSelectiveScanKernels(gpu, { ED: 256, N: 16, chunk: 128, maxBindingBytes: 2 ** 31 - 4 });
  // the δ kernel's grid: 524,280 rows; without it, one binding of (LS, ED) floats: ⌊2^29 / 32,768⌋ chunks
  t.is(k.segmentLength(32), 4095 * 128);
  t.is(k.segmentLength(32, true), 16383 * 128);
  // with the δ kernel otherwise (fuseDelta false), or a binding that binds first, the same
  t.is(createSelectiveScanKernels(gpu, { ED: 256, N: 16, chunk: 128, maxBindingBytes: 2 ** 31 - 4, replay: { fuseDelta: false } }).segmentLength(32, true), 4095 * 128);
  t.is(createSelectiveScanKernels(gpu, { ED: 256, N: 16, chunk: 128, maxBindingBytes: 2 ** 27 }).segmentLength(32, true), 1024 * 128);
});

(probe.ok ? test : test.skip)('webgpu: packed B/C layouts (x_proj rows: stride and offsets) — quads where they are multiples of 4, single floats otherwise, saved tree included', async (t) => {
  const gpu = await getGpu('webgpu');
  const a = randomArgs(23, 157, 5, 16, true);
  const a32 = toF32(a);
  const ref = selectiveScanRef(a);
  const upload = deviceUploader(gpu);
  const errs: Record<string, number> = {};
  // [stride, bOffset, cOffset]: (8 + 2N) like the model's x_proj (dt rank 8); an odd rank; C before B
  for (const [S, bo, co] of [[40, 8, 24], [37, 5, 21], [36, 20, 4]]) {
    const BC = new Float32Array(a.L * S).fill(Number.NaN); // unused columns poison any misread
    for (let i = 0; i < a.L; i++) { BC.set(a32.B.subarray(i * a.N, (i + 1) * a.N), i * S + bo); BC.set(a32.C.subarray(i * a.N, (i + 1) * a.N), i * S + co); }
    const args = {
      L: a.L, ED: a.ED, N: a.N, u: await upload(a32.u), deltaRaw: await upload(a32.deltaRaw), z: await upload(a32.z), A: await upload(a32.A),
      D: await upload(a32.D), deltaBias: await upload(a32.deltaBias), BC: await upload(BC), bcStride: S, bOffset: bo, cOffset: co, h0: await upload(a32.h0!),
    };
    for (const save of [false, true]) {
      const r = await createSelectiveScanKernels(gpu, { ED: a.ED, N: a.N, chunk: 12 }).run(args, { save });
      errs[`${S}/${bo}/${co}${save ? ' saved' : ''} out`] = maxRelErr((await readFlat(r.out)).subarray(0, a.L * a.ED), ref.out);
      errs[`${S}/${bo}/${co}${save ? ' saved' : ''} hL`] = maxRelErr(await readFlat(r.hL), ref.hL);
      for (const h of [r.out, r.hL, ...Object.values(r.saved ?? {})]) if (h && typeof (h as any).delete === 'function') (h as any).delete();
    }
  }
  t.log(`max rel err: ${fmt(errs)}`);
  for (const e of Object.values(errs)) t.true(e < TOLERANCE.forward);
});

test('forward gpu.js variants: tree (replay 3d and 1d, chunk 4 and 8, partial last chunk) and hillis-steele == reference', async (t) => {
  const gpu = await getGpu(modes[0]);
  // L = 4099 at chunk 4: 1025 chunks, so two tree levels above the chunks (1025 → 257 → 33) are exercised
  const a = randomArgs(31, 4099, 7, 16, true);
  const ref = selectiveScanRef(a);
  const a32 = toF32(a);
  const errs: Record<string, number> = {};
  const variants: Array<[string, Parameters<typeof createSelectiveScanKernels>[1]]> = [
    ['tree 3d chunk 8', { ED: 7, N: 16 }], ['tree 1d chunk 4', { ED: 7, N: 16, chunk: 4, replay: { layout: '1d' } }],
    ['tree 1d hoistB chunk 8', { ED: 7, N: 16, replay: { layout: '1d', hoistB: true } }], ['hillis-steele chunk 16', { ED: 7, N: 16, scheme: 'hillis-steele' }],
  ];
  for (const [name, o] of variants) {
    const g = await createSelectiveScanKernels(gpu, o).run(a32);
    errs[`${name} out`] = maxRelErr(g.out as Float32Array, ref.out);
    errs[`${name} hL`] = maxRelErr(g.hL as Float32Array, ref.hL);
  }
  t.log(`${modes[0]} L=4099 ED=7 N=16: ${fmt(errs)}`);
  for (const e of Object.values(errs)) t.true(e < TOLERANCE.forward);
  t.throws(() => createSelectiveScanKernels(gpu, { ED: 4, N: 33, scheme: 'tree' }), { instanceOf: RangeError });
});
