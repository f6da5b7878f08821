// selective-scan — device-resident forward benchmark for a real GPU (webgpu only; issue 6): ms per
// call over L = 2^lmin … 2^lmax at ED = 256, N = 16, B = 1, for each scheme and chunk length, with a
// per-stage profile and two correctness checks. Not a test (the lavapipe tests are the contract) and
// not part of the kernel library: like bench.ts it loads src/backend/gpu-runtime.js dynamically.
//
// Run: node dist/kernels/selective-scan/bench-device.js [--lmin 10] [--lmax 20] [--chunks 8]
//        [--schemes tree,hillis-steele] [--hs-chunk 16] [--repeats 15] [--profile 16,20] [--check] [--json]
//        [--configs tree:8:1d,tree:8:1d-hoist,tree:8:3d,hillis-steele:16]   (overrides --chunks/--schemes)
//        [--no-pool] (fresh output buffers per call; default: the engine's buffer pool) [--wg 8x8,64]
//        [--batch] (also the engine's batched submits recorded into shared passes)
// Honesty rules: inputs are generated on the device (no upload), in two independent sets that the
// repeats alternate between (each ≥ 64 MiB from L = 2^16, larger than the 50 MB L2); two warm-up calls;
// the clock stops after `queue.onSubmittedWorkDone()` (all work finished); median of --repeats.
// Where the adapter has 'timestamp-query' the device time between two marker passes is reported too
// (markers are empty compute passes submitted before and after the call). Long inputs are cut into
// power-of-two segments of the device path's limit, the state carried on the device.
// --profile L1,L2 (log2): per-stage device times (timestamp markers between stages; without
// timestamps, wall time with a queue sync after every stage).
import { selectiveScan } from './cpu.js';
import type { ScanVariant } from './ref.js';
import { createSelectiveScanKernels, type GpuScanArgs, type GpuScanOptions, type GpuTensor, type ReplayLayout, type ScanScheme, toFlat } from './gpujs.js';
import { deviceBench, fill, stageTimer, TimestampMarks } from '../bench-util.js';
import { kernelSettings } from '../gpujs-types.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const lmin = Number(opt('lmin', '10')), lmax = Number(opt('lmax', '20'));
const ED = Number(opt('ed', '256')), N = Number(opt('n', '16')), repeats = Number(opt('repeats', '15'));
const chunks = opt('chunks', '8').split(',').map(Number);
const schemes = opt('schemes', 'tree,hillis-steele').split(',') as ScanScheme[];
const hsChunk = Number(opt('hs-chunk', '16'));
const profileAt = new Set(opt('profile', '').split(',').filter(Boolean).map(Number));
const log = (s: string) => console.error(s);

const { rt, probe, gpu } = await deviceBench('bench-device', true); // also --wg WxH,F
log(`adapter: ${probe.name} (${probe.vendor ?? ''} ${probe.architecture ?? ''}); maxStorageBufferBindingSize ${probe.limits?.maxStorageBufferBindingSize}`);
const maxBindingBytes = probe.limits!.maxStorageBufferBindingSize;

// ---- device-side inputs ----
type Th = { thread: { x: number; y: number; z: number }; constants: { seed: number; scale: number; shift: number } };
/** Pseudo-random values in [shift − scale/2, shift + scale/2) from the thread coordinates (hash of sin). */
function genKernel(this: Th): number {
  const v = Math.sin(this.thread.x * 12.9898 + this.thread.y * 78.233 + this.thread.z * 37.719 + this.constants.seed) * 43758.5453;
  return this.constants.shift + this.constants.scale * (v - Math.floor(v) - 0.5);
}
const genCache = new Map<string, any>();
/** A fresh (rows, cols) device tensor; the grid keeps y ≤ 524,280 (gpu.js/WebGPU dispatch limits). */
async function gen(rows: number, cols: number, seed: number, scale: number, shift: number): Promise<GpuTensor> {
  const out = rows % 1024 === 0 && rows > 1024 ? [cols, 1024, rows / 1024] : [cols, rows];
  const key = `${out.join('x')} ${seed} ${scale} ${shift}`;
  let k = genCache.get(key);
  if (!k) genCache.set(key, (k = gpu.createKernel(genKernel, { ...kernelSettings(out, {}, { seed, scale, shift }), pipeline: true, immutable: true })));
  return k();
}
const copyK = new Map<number, any>();
const upload = (x: Float32Array): Promise<GpuTensor> => {
  let k = copyK.get(x.length);
  if (!k) copyK.set(x.length, (k = gpu.createKernel(function (this: { thread: { x: number } }, v: number[]) { return v[this.thread.x]; }, { output: [x.length], pipeline: true, immutable: true })));
  return k(x);
};
const A = fill(ED * N, 3, 2, 0).map((x) => -Math.exp(x + 1.4)); // A = -exp(A_log), A_log ∈ [0.4, 2.4]
const D = fill(ED, 4), deltaBias = fill(ED, 5, 4, -2);
const shared = { A: await upload(A), D: await upload(D), deltaBias: await upload(deltaBias), h0: await upload(new Float32Array(ED * N)) };
const zeroBias = await upload(new Float32Array(ED)); // variant lin: δ is the input itself
const device = (shared.A as any).context.device;
// recycled output buffers, as the training engine runs the scan (without, each call's immutable outputs
// are freshly allocated and zero-filled: 2^20 forward 38–47 ms instead of 33 on the H100)
if (!argv.includes('--no-pool')) (await import('../../src/backend/gpujs/buffer-pool.js')).installBufferPool(device);
// --batch: also the engine's batched submits with shared passes (src/backend/gpujs/submit-batcher.ts)
if (argv.includes('--batch')) (await import('../../src/backend/gpujs/submit-batcher.js')).installSubmitBatcher(device).sharePasses = true;
const hasTs = device.features?.has?.('timestamp-query') === true;
log(`timestamp-query: ${hasTs}`);

const stamps = new TimestampMarks(device, 512);
const sync = () => device.queue.onSubmittedWorkDone();
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

interface Seg { L: number; u: GpuTensor; deltaRaw: GpuTensor; z: GpuTensor; BC: GpuTensor }
/** deltaRaw of n tokens; `lin` (variant lin, no softplus, zeroBias): δ itself, in [0.001, 0.101) as Mamba's dt init. */
const genDeltaRaw = (n: number, seed: number, lin: boolean) => (lin ? gen(n, ED, seed, 0.1, 0.051) : gen(n, ED, seed, 2, -1));
/** Input segments (`lin`: as genDeltaRaw). */
async function inputs(L: number, S: number, set: number, lin = false): Promise<Seg[]> {
  const segs: Seg[] = [];
  for (let t0 = 0, i = 0; t0 < L; t0 += S, i++) {
    const n = Math.min(S, L - t0), s = 100 * set + 10 * i;
    segs.push({ L: n, u: await gen(n, ED, s + 1, 1, 0), deltaRaw: await genDeltaRaw(n, s + 2, lin), z: await gen(n, ED, s + 3, 1, 0), BC: await gen(n, 2 * N, s + 4, 2, 0) });
  }
  await sync();
  return segs;
}
const free = (segs: Seg[]) => { for (const s of segs) for (const k of ['u', 'deltaRaw', 'z', 'BC'] as const) (s[k] as any).delete(); };

type Kernels = ReturnType<typeof createSelectiveScanKernels>;
/** One forward over all segments, carrying the state; returns the last hL handle (caller deletes). */
async function forward(k: Kernels, segs: Seg[], profile?: (stage: string) => Promise<void>, variant: ScanVariant = {}): Promise<GpuTensor> {
  let h: GpuTensor = shared.h0;
  for (const s of segs) {
    const bias = variant.deltaSoftplus === false ? { deltaBias: zeroBias } : {};
    const r = await k.run({ ...s, ED, N, ...shared, ...bias, h0: h, bcStride: 2 * N, bOffset: 0, cOffset: N, ...variant } as GpuScanArgs, { profile });
    (r.out as any).delete();
    if (h !== shared.h0) (h as any).delete();
    h = r.hL;
  }
  return h;
}

interface Row { config: string; scheme: string; chunk: number; L: number; segment: number; ms: number; msMin: number; gpuMs: number | null; nsPerToken: number; repeats: number }
const rows: Row[] = [];
const profiles: Array<{ config: string; scheme: string; chunk: number; L: number; wall: boolean; stages: Record<string, number>; launches: number }> = [];
const checks: Array<Record<string, unknown>> = [];

// scheme:chunk[:layout[-hoist][+leaf][+fuse][+q1][+nopf][+lc<P>][+oc<P>][+nogate][+lin]] — e.g. tree:8:1d-hoist, tree:32:chunk+leaf+fuse
// (leaf: the whole-chunk leaf; fuse: δ computed in the leaf and the output kernel; q1: B and C loaded one float
// at a time instead of as 16-byte quads; nopf: the next token's inputs not loaded ahead; lc2, oc1: two channels
// per thread in the whole-chunk leaf, one in the output (the defaults: 1, and 2 for the plain scan's output);
// nogate: no z, out = y (mamba_ssm's z=None); lin: δ = deltaRaw + bias, no softplus (delta_softplus=False). With both, the scan is the
// issue's plain one: u, Δ, B, C in, y out, the shape its floors count)
function variantOf(lay: string | undefined): ScanVariant {
  const flags = (lay ?? '').split('+');
  return { ...(flags.includes('nogate') ? { gate: false } : {}), ...(flags.includes('lin') ? { deltaSoftplus: false } : {}) };
}
function replayOf(lay: string | undefined): GpuScanOptions['replay'] {
  if (!lay) return undefined;
  const [l, ...flags] = lay.split('+');
  const ch = flags.filter((f) => /^[lo]c[12]$/.test(f)); // channels per thread: lc<P> leaf, oc<P> output
  return { layout: l.split('-')[0] as ReplayLayout, hoistB: l.endsWith('-hoist'), ...(flags.includes('leaf') ? { leaf: 'chunk' as const } : {}), ...(flags.includes('fuse') ? { fuseDelta: true } : {}),
    ...(flags.includes('q1') ? { quadLoads: false } : {}), ...(flags.includes('nopf') ? { prefetch: false } : {}),
    ...(ch.length > 0 ? { channels: Object.fromEntries(ch.map((f) => [f[0] === 'l' ? 'leaf' : 'out', Number(f[2])])) } : {}) };
}
const configs: string[] = argv.includes('--configs') ? opt('configs', '').split(',')
  : schemes.flatMap((s) => (s === 'hillis-steele' ? [`${s}:${hsChunk}`] : chunks.map((c) => `${s}:${c}`)));

for (const cfg of configs) {
  const [scheme, c, lay] = cfg.split(':') as [ScanScheme, string, string | undefined];
  const chunk = Number(c);
  const replay = replayOf(lay), variant = variantOf(lay);
  const k = createSelectiveScanKernels(gpu, { ED, N, chunk, scheme, maxBindingBytes, replay });
  const S = 2 ** Math.floor(Math.log2(k.segmentLength(2 * N, true)));
  for (let e = lmin; e <= lmax; e++) {
    const L = 2 ** e;
    const lin = variant.deltaSoftplus === false;
    const sets = [await inputs(L, S, 0, lin), await inputs(L, S, 1, lin)];
    for (const set of sets) (await forward(k, set, undefined, variant) as any).delete(); // warm-up: compile + first touch
    await sync();
    const wall: number[] = [], dev: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const set = sets[r % 2];
      await sync();
      const t0 = performance.now();
      stamps.mark();
      const h = await forward(k, set, undefined, variant);
      stamps.mark();
      await sync();
      wall.push(performance.now() - t0);
      (h as any).delete();
      const ts = await stamps.read();
      if (ts.length === 2) dev.push((ts[1] - ts[0]) / 1e6);
    }
    const ms = median(wall);
    rows.push({ config: cfg, scheme, chunk, L, segment: S, ms, msMin: Math.min(...wall), gpuMs: dev.length ? median(dev) : null, nsPerToken: (ms * 1e6) / L, repeats });
    log(`${cfg} L=2^${e}: ${ms.toFixed(3)} ms wall (min ${Math.min(...wall).toFixed(3)}), device ${dev.length ? median(dev).toFixed(3) : '-'} ms`);
    if (profileAt.has(e)) {
      for (const wallMode of hasTs ? [false, true] : [true]) {
        const per: Record<string, number[]> = {};
        for (let r = 0; r < 5; r++) {
          const timer = stageTimer(stamps, wallMode, sync);
          await timer.begin();
          const h = await forward(k, sets[r % 2], timer.onStage, variant);
          const acc = await timer.end();
          (h as any).delete();
          for (const [nm, v] of Object.entries(acc)) (per[nm] ??= []).push(v);
        }
        const stages = Object.fromEntries(Object.entries(per).map(([nm, v]) => [nm, median(v)]));
        profiles.push({ config: cfg, scheme, chunk, L, wall: wallMode, stages, launches: k.launches(Math.min(L, S)) * Math.ceil(L / S) });
        log(`  profile (${wallMode ? 'wall, sync per stage' : 'timestamps'}): ${Object.entries(stages).map(([nm, v]) => `${nm} ${v.toFixed(3)}`).join(', ')}`);
      }
    }
    for (const set of sets) free(set);
  }
}

if (flag('check')) {
  // 1: tree (default chunk) vs the float32 CPU scan at an odd L, on device-generated inputs
  const kt = createSelectiveScanKernels(gpu, { ED, N, maxBindingBytes });
  const kh = createSelectiveScanKernels(gpu, { ED, N, scheme: 'hillis-steele', maxBindingBytes });
  const err = (a: Float32Array, b: Float32Array) => { let m = 0, s = 0; for (let i = 0; i < b.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); } return m / s; };
  for (const L of [4099, 2 ** 18 + 5]) {
    const [s] = await inputs(L, L, 7);
    const h0 = await gen(ED, N, 9, 2, 0);
    const args = { ...s, ED, N, ...shared, h0, bcStride: 2 * N, bOffset: 0, cOffset: N } as GpuScanArgs;
    const rt0 = await kt.run(args), rh = await kh.run(args);
    const out = await toFlat(rt0.out, L * ED), hL = await toFlat(rt0.hL, ED * N);
    const hsOut = await toFlat(rh.out, L * ED);
    const c: Record<string, unknown> = { L, vs: 'hillis-steele (gpu)', out: err(out, hsOut), hL: err(hL, await toFlat(rh.hL, ED * N)) };
    // the float32 CPU scan, where it is quick, of a variant (default: the model's scan); variant lin's inputs
    let cpu: ((v: ScanVariant) => ReturnType<typeof selectiveScan>) | null = null;
    let lin: { deltaRaw: GpuTensor; deltaBias: GpuTensor } | null = null;
    if (L < 10000) {
      lin = { deltaRaw: await genDeltaRaw(L, 78, true), deltaBias: zeroBias };
      const BC = await toFlat(s.BC, L * 2 * N);
      const B = new Float32Array(L * N), C = new Float32Array(L * N);
      for (let t = 0; t < L; t++) { B.set(BC.subarray(t * 2 * N, t * 2 * N + N), t * N); C.set(BC.subarray(t * 2 * N + N, t * 2 * N + 2 * N), t * N); }
      const a = { L, ED, N, u: await toFlat(s.u, L * ED), deltaRaw: await toFlat(s.deltaRaw, L * ED), z: await toFlat(s.z, L * ED), A, B, C, D, deltaBias, h0: await toFlat(h0, ED * N) };
      const aLin = { ...a, deltaRaw: await toFlat(lin.deltaRaw, L * ED), deltaBias: new Float32Array(ED) };
      cpu = (v) => selectiveScan(v.deltaSoftplus === false ? aLin : a, v);
      const ref = cpu({});
      c.cpuOut = err(out, ref.out);
      c.cpuHL = err(hL, ref.hL);
    }
    // every --configs tree configuration against the same: hillis-steele, or for the variants (nogate, lin),
    // which only the whole-chunk kernels run, the CPU scan of the variant
    for (const cfg of argv.includes('--configs') ? configs.filter((x) => x.startsWith('tree:')) : []) {
      const [, ch, lay] = cfg.split(':');
      const variant = variantOf(lay), plain = Object.keys(variant).length > 0;
      if (plain && !cpu) continue;
      const r = await createSelectiveScanKernels(gpu, { ED, N, chunk: Number(ch), maxBindingBytes, replay: replayOf(lay) })
        .run({ ...args, ...(variant.deltaSoftplus === false ? lin : {}), ...variant });
      const want = plain ? cpu!(variant) : null;
      c[`${cfg} out${plain ? ' vs cpu' : ''}`] = err(await toFlat(r.out, L * ED), want ? want.out : hsOut);
      c[`${cfg} hL${plain ? ' vs cpu' : ''}`] = err(await toFlat(r.hL, ED * N), want ? want.hL : await toFlat(rh.hL, ED * N));
      (r.out as any).delete();
      (r.hL as any).delete();
    }
    checks.push(c);
    log(`check L=${L}: ${JSON.stringify(c)}`);
    for (const x of [rt0.out, rt0.hL, rh.out, rh.hL, h0, ...(lin ? [lin.deltaRaw] : [])]) (x as any).delete();
    free([s]);
  }
}
await rt.shutdownGpu();

const result = { adapter: probe.name, date: new Date().toISOString(), ED, N, timestampQuery: hasTs, rows, profiles, checks };
if (flag('json')) console.log(JSON.stringify(result, null, 1));
else {
  console.log('| config | chunk | L | segment | ms (median) | min | device ms | ns/token |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.config} | ${r.chunk} | ${r.L} | ${r.segment} | ${r.ms.toFixed(3)} | ${r.msMin.toFixed(3)} | ${r.gpuMs?.toFixed(3) ?? '-'} | ${r.nsPerToken.toFixed(1)} |`);
}
