// selective-scan — forward vs backward on device handles (gpujs.ts `run`, gpujs-backward.ts `runDevice`)
// at ED 256, N 16, B 1: the ratio issue 6 asks for (backward within 2.5× of forward; mamba_ssm 2.7×).
// Not a test. Inputs are generated on the device; sequences longer than one call are cut into segments
// of S tokens (forward first to last, backward last to first, reusing one segment's inputs), as the
// training engine does. Clock stops after queue.onSubmittedWorkDone(); median of --repeats after a
// warm-up. Where the adapter has 'timestamp-query', the device time between marker passes is reported
// too, and --profile gives per-stage device times (markers between the stages; without timestamps:
// wall time with a queue sync per stage). For the default tree configuration it also times the pair as
// the training engine runs it: the forward saving δ and its tree (`save`), the backward taking them.
// Run: node dist/kernels/selective-scan/bench-backward.js [--lmin 12] [--lmax 20] [--seg 65536] [--repeats 5]
//        [--configs tree:8:warp,tree:8:3d:8,tree:16:warp:4:16,hillis-steele:16]   (scheme:chunk[:layout[:sub-chunk[:dA sub-chunks[:hoist]]]]; layout quad4 = quad with dΔraw at four positions, quad-d8 = quad with dC/dB's sum over d split 8 ways, quad-d8i = the same with the d-block index computed once (quad-d8: inline), quad alone = the defaults; a JSON object after '@' adds tune options, e.g. tree:8:quad@{"rawA":false,"chunkSums":false})
//        [--profile 16,20] (log2 L) [--fwd-layout 3d|quad] (the forward's replay layout) [--json]
//        [--check 262149] (instead of timing: the default backward, from scratch and from the quad forward's
//        saved tree, against layout '3d' — its own tree and kernels, none of the quad ones — at that L,
//        where a child index times N1·ED passes 2^24: max |a − b| / max |b| per gradient)
import { createSelectiveScanKernels, type GpuScanSaved, type ReplayLayout, toFlat } from './gpujs.js';
import { type BwdLayout, type BwdScheme, createSelectiveScanBackwardKernels } from './gpujs-backward.js';
import { kernelSettings } from '../gpujs-types.js';
import { deviceBench, stageTimer, TimestampMarks } from '../bench-util.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const lmin = Number(opt('lmin', '12')), lmax = Number(opt('lmax', '20')), repeats = Number(opt('repeats', '5'));
/** configs split at commas outside braces (a config's '@' tune object may hold commas) */
const configs = opt('configs', 'tree:8').split(/,(?![^{]*})/);
const profileAt = new Set(opt('profile', '').split(',').filter(Boolean).map(Number));
const ED = 256, N = 16;
const { rt, probe, gpu } = await deviceBench('bench-backward', true); // also --wg WxH,F
const maxBindingBytes = probe.limits!.maxStorageBufferBindingSize;
// the forward each backward config is compared with: same chunk, replay layout --fwd-layout (3d | quad)
const fwdLayout = opt('fwd-layout', '3d') as ReplayLayout;
const fwds = new Map<number, ReturnType<typeof createSelectiveScanKernels>>();
const fwdFor = (chunk: number) => {
  let k = fwds.get(chunk);
  if (!k) fwds.set(chunk, (k = createSelectiveScanKernels(gpu, { ED, N, chunk, maxBindingBytes, replay: { layout: fwdLayout } })));
  return k;
};
const bwds = configs.map((cfg) => {
  const at = cfg.indexOf('@');
  const [scheme, c, layout, sub, k, hoist] = (at < 0 ? cfg : cfg.slice(0, at)).split(':');
  const b = createSelectiveScanBackwardKernels(gpu, {
    ED, N, chunk: Number(c), maxBindingBytes, scheme: scheme as BwdScheme,
    tune: {
      ...(at < 0 ? {} : JSON.parse(cfg.slice(at + 1))),
      layout: (layout?.startsWith('quad') ? 'quad' : layout || undefined) as BwdLayout | undefined, rawPositions: layout?.startsWith('quad4') ? 4 : undefined,
      dSplit: layout?.includes('-d') ? parseInt(layout.split('-d')[1], 10) : undefined, hoistIdx: layout?.includes('-d') ? layout.endsWith('i') : undefined,
      sub: sub ? Number(sub) : undefined, dAChunks: k ? Number(k) : undefined, hoist: hoist === 'hoist',
    },
  });
  return { cfg, b };
});
const maxSeg = Math.min(...bwds.map((x) => Math.min(fwdFor(x.b.chunk).segmentLength(2 * N), x.b.maxLength)));
const seg = Math.min(Number(opt('seg', '65536')), 2 ** Math.floor(Math.log2(maxSeg)));
console.error(`adapter ${probe.name}; maxStorageBufferBindingSize ${maxBindingBytes}; segment ${seg}; backward maxLength ${bwds.map((x) => `${x.cfg} ${x.b.maxLength}`).join(', ')}; forward layout ${fwdLayout}`);

type Th = { thread: { x: number; y: number }; constants: { seed: number; scale: number; shift: number } };
function genKernel(this: Th): number {
  const v = Math.sin(this.thread.x * 12.9898 + this.thread.y * 78.233 + this.constants.seed) * 43758.5453;
  return this.constants.shift + this.constants.scale * (v - Math.floor(v) - 0.5);
}
/** (rows, cols) pseudo-random device tensor, grid y ≤ 524,280. */
const gen = (rows: number, cols: number, seed: number, scale: number, shift: number) =>
  gpu.createKernel(genKernel, { ...kernelSettings([cols, rows], {}, { seed, scale, shift }), pipeline: true, immutable: true })() as Promise<any>;

let device: any = null;
let stamps!: TimestampMarks; // once the device is known
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

if (argv.includes('--check')) {
  const L = Number(opt('check', String(2 ** 18 + 5)));
  const u = await gen(L, ED, 1, 2, 0), raw = await gen(L, ED, 2, 2, -1), z = await gen(L, ED, 3, 2, 0), BC = await gen(L, 2 * N, 4, 2, 0);
  const A = await gen(ED, N, 5, 4, -3), D = await gen(1, ED, 6, 1, 0), bias = await gen(1, ED, 7, 1, -2), h0 = await gen(ED, N, 8, 0.2, 0);
  const dOut = await gen(L, ED, 9, 2, 0), dhL = await gen(ED, N, 10, 0.2, 0);
  const args = { L, ED, N, u, deltaRaw: raw, z, BC, bcStride: 2 * N, bOffset: 0, cOffset: N, A, D, deltaBias: bias, h0 };
  const sizes: Record<string, number> = { dU: L * ED, dDeltaRaw: L * ED, dZ: L * ED, dB: L * N, dC: L * N, dA: ED * N, dh0: ED * N, dD: ED, dDeltaBias: ED };
  const read = async (g: Record<string, unknown>) => {
    const out: Record<string, Float32Array> = {};
    for (const [k, n] of Object.entries(sizes)) out[k] = await toFlat(g[k], n);
    for (const h of Object.values(g)) (h as any).delete();
    return out;
  };
  const ref = await read(await createSelectiveScanBackwardKernels(gpu, { ED, N, chunk: 8, maxBindingBytes, tune: { layout: '3d' } }).runDevice(args, dOut, dhL) as unknown as Record<string, unknown>);
  const b = createSelectiveScanBackwardKernels(gpu, { ED, N, chunk: 8, maxBindingBytes });
  const fwd = createSelectiveScanKernels(gpu, { ED, N, chunk: 8, maxBindingBytes, replay: { layout: 'quad' } });
  const fr = await fwd.run(args, { save: true });
  const got = { scratch: await read(await b.runDevice(args, dOut, dhL) as unknown as Record<string, unknown>), saved: await read(await b.runDevice(args, dOut, dhL, { saved: fr.saved }) as unknown as Record<string, unknown>) };
  const err = (a: Float32Array, r: Float32Array) => { let m = 0, s = 0; for (let i = 0; i < r.length; i++) { m = Math.max(m, Math.abs(a[i] - r[i])); s = Math.max(s, Math.abs(r[i])); } return +(m / s).toExponential(2); };
  const result = { device: probe.name, date: new Date().toISOString(), L, ED, N, vs: "layout '3d' (chunk 8)", checks: Object.fromEntries(Object.entries(got).map(([k, g]) => [k, Object.fromEntries(Object.keys(sizes).map((n) => [n, err(g[n], ref[n])]))])) };
  process.stdout.write(JSON.stringify(result) + '\n');
  await rt.shutdownGpu();
  process.exit(0);
}

const rows: Array<Record<string, unknown>> = [];
const profiles: Array<Record<string, unknown>> = [];
for (let L = 2 ** lmin; L <= 2 ** lmax; L *= 2) {
  const S = Math.min(L, seg);
  const nSeg = L / S;
  const u = await gen(S, ED, 1, 2, 0), raw = await gen(S, ED, 2, 2, -1), z = await gen(S, ED, 3, 2, 0), BC = await gen(S, 2 * N, 4, 2, 0);
  const A = await gen(ED, N, 5, 4, -3), D = await gen(1, ED, 6, 1, 0), bias = await gen(1, ED, 7, 1, -2), h0 = await gen(ED, N, 8, 0.2, 0);
  const dOut = await gen(S, ED, 9, 2, 0), dhL = await gen(ED, N, 10, 0.2, 0);
  device = u.context.device;
  if (!stamps) {
    stamps = new TimestampMarks(device);
    // recycled output buffers, as the training engine runs the scan (a fresh buffer per immutable output
    // otherwise costs an allocation and Dawn's zero-fill each call)
    const { installBufferPool } = await import('../../src/backend/gpujs/buffer-pool.js');
    installBufferPool(device);
  }
  const sync = () => device.queue.onSubmittedWorkDone();
  const args = { L: S, ED, N, u, deltaRaw: raw, z, BC, bcStride: 2 * N, bOffset: 0, cOffset: N, A, D, deltaBias: bias, h0 };
  const backward = (b: ReturnType<typeof createSelectiveScanBackwardKernels>, profile?: (stage: string) => Promise<void>, saved?: GpuScanSaved) => async () => {
    for (let s = 0; s < nSeg; s++) {
      const gr = await b.runDevice(args, dOut, dhL, { profile, ...(saved ? { saved } : {}) });
      for (const h of Object.values(gr)) (h as any).delete();
    }
  };
  const freeSaved = (sv: GpuScanSaved) => { for (const h of [sv.delta, sv.starts, ...sv.sums, ...(sv.y ? [sv.y] : [])]) (h as any).delete(); };
  /** the forward alone, and as the training engine runs it: saving δ and its tree for the backward */
  const forwards = (fwd: ReturnType<typeof createSelectiveScanKernels>) => ({
    forward: async () => {
      for (let s = 0; s < nSeg; s++) {
        const r = await fwd.run(args);
        (r.out as any).delete();
        (r.hL as any).delete();
      }
    },
    forwardSaving: async () => {
      for (let s = 0; s < nSeg; s++) {
        const r = await fwd.run(args, { save: true });
        (r.out as any).delete();
        (r.hL as any).delete();
        freeSaved(r.saved!);
      }
    },
  });
  /** median wall ms and median device ms (timestamps around the call) */
  const time = async (f: () => Promise<void>) => {
    await f();
    await sync();
    const ts: number[] = [], dev: number[] = [];
    for (let r = 0; r < repeats; r++) {
      await sync();
      const t0 = performance.now();
      stamps.mark();
      await f();
      stamps.mark();
      await sync();
      ts.push(performance.now() - t0);
      const st = await stamps.read();
      if (st.length === 2) dev.push((st[1] - st[0]) / 1e6);
    }
    return { ms: median(ts), dev: dev.length ? median(dev) : null };
  };
  const fwdTimes = new Map<number, { f: { ms: number; dev: number | null }; fs: { ms: number; dev: number | null } }>();
  for (const { cfg, b } of bwds) {
    const fwd = fwdFor(b.chunk);
    if (!fwdTimes.has(b.chunk)) {
      const { forward, forwardSaving } = forwards(fwd);
      fwdTimes.set(b.chunk, { f: await time(forward), fs: await time(forwardSaving) });
    }
    const { f, fs } = fwdTimes.get(b.chunk)!;
    const r = await time(backward(b));
    const row: Record<string, unknown> = { L, segment: S, config: cfg, forwardMs: +f.ms.toFixed(2), backwardMs: +r.ms.toFixed(2), ratio: +(r.ms / f.ms).toFixed(2), forwardDevMs: f.dev && +f.dev.toFixed(2), backwardDevMs: r.dev && +r.dev.toFixed(2) };
    if (b.scheme === 'tree' && b.layout !== 'warp' && b.sub === b.chunk) {
      const sv = (await fwd.run(args, { save: true })).saved!; // one segment's saved tree, reused by every repeat
      const rs = await time(backward(b, undefined, sv));
      freeSaved(sv);
      Object.assign(row, { forwardSavingMs: +fs.ms.toFixed(2), backwardFromSavedMs: +rs.ms.toFixed(2), ratioSaved: +(rs.ms / fs.ms).toFixed(2) });
    }
    rows.push(row);
    console.error(JSON.stringify(row));
    if (profileAt.has(Math.log2(L))) {
      const per: Record<string, number[]> = {};
      const wallMode = !stamps.qs;
      for (let rep = 0; rep < 3; rep++) {
        const timer = stageTimer(stamps, wallMode, sync);
        await timer.begin();
        await backward(b, timer.onStage)();
        for (const [nm, v] of Object.entries(await timer.end())) (per[nm] ??= []).push(v);
      }
      const stages = Object.fromEntries(Object.entries(per).map(([nm, v]) => [nm, +median(v).toFixed(3)]));
      profiles.push({ L, config: cfg, wall: wallMode, stages });
      console.error(`  profile ${cfg} L=2^${Math.log2(L)} (${wallMode ? 'wall, sync per stage' : 'timestamps'}): ${Object.entries(stages).map(([nm, v]) => `${nm} ${v}`).join(', ')}`);
    }
  }
  for (const h of [u, raw, z, BC, A, D, bias, h0, dOut, dhL]) h.delete();
}
process.stdout.write(JSON.stringify({ device: probe.name, date: new Date().toISOString(), ED, N, segment: seg, rows, profiles }) + '\n');
await rt.shutdownGpu();
