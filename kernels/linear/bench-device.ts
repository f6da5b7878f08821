// linear — device-resident benchmark of the gpu.js GEMM kernels for a real GPU (webgpu only; issue 6):
// the default model's linear shapes over one training chunk, forward (linearFwdT), dX (linearBwdX) and
// split dW (linearBwdWSplit, splits of --split and of 1,024 tokens), and the four-value kernels
// (fwd4: linearFwdTRows4; fwd22 / dW22: linearFwdT22 / linearBwdWSplit22, 2 × 2 tiles), each checked against
// the one-output kernel first (max |difference| printed). `--wg 8x8,64` builds them with
// gpu.js's own workgroups (the warp-row kernels measured in docs/benchmarks.md were removed once the
// 32×8 workgroups gave the plain kernels the same warp shape). Not a test (test/kernels/ compares the
// kernels against the reference).
//
// Run: node dist/kernels/linear/bench-device.js [--L 65536] [--repeats 11] [--split 256] [--tiles 4x4,4x8,8x4] [--no-pool] [--json]
// (--no-pool: without src/backend/gpujs/buffer-pool.ts, i.e. a freshly allocated output per call)
// Timing: inputs uploaded once, every kernel compiled, then 0.5 s of the first kernel (GPU clocks ramp up:
// the first timings after idle read up to 4× slow), two warm-up calls per kernel, the clock stops after `queue.onSubmittedWorkDone()`,
// median of --repeats; outputs are immutable handles deleted after each call (as the training engine).
import { linearBwdWSplit, linearBwdWSplit22, linearBwdWSplit22Full, linearBwdWSplitFull, linearBwdX, linearFwdT, linearFwdT22, linearFwdTRows4, tileGemmSource } from './gpujs.js';
import { flatView, kernelSettings, laneStrides, laneView, scatterFloats, scatterHelpers, scatterView, type GpuHandle } from '../gpujs-types.js';
import { deviceBench } from '../bench-util.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const L = Number(opt('L', '65536')), repeats = Number(opt('repeats', '11')), TS = Number(opt('split', '256'));
const { rt, probe, gpu } = await deviceBench('linear bench-device', false); // also --wg WxH,F
const { installBufferPool } = await import('../../src/backend/gpujs/buffer-pool.js'); // as the training engine
console.error(`adapter: ${probe.name}`);
type Hd = { delete(): void; context?: { device?: { queue: { onSubmittedWorkDone(): Promise<void> } } } };
const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7311 + n) * 0.5);
const copy = function (this: { thread: { x: number } }, a: number[]) { return a[this.thread.x]; };
const upload = (a: Float32Array): Promise<Hd> => gpu.createKernel(copy, { output: [a.length], pipeline: true, immutable: true })(a);
let device: { queue: { onSubmittedWorkDone(): Promise<void> } } | undefined;
async function time(k: (...a: unknown[]) => Promise<Hd>, args: unknown[]): Promise<number> {
  const ts: number[] = [];
  for (let r = 0; r < repeats + 2; r++) {
    await device?.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    const h = await k(...args);
    if (!device) {
      device = h.context?.device;
      if (device && !argv.includes('--no-pool')) installBufferPool(device as never);
    }
    await device!.queue.onSubmittedWorkDone();
    if (r >= 2) ts.push(performance.now() - t0);
    h.delete();
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1];
}
const mk = (fn: Function, out: number[], c: Record<string, number>) =>
  gpu.createKernel(fn, kernelSettings(out, c, {}, { pipeline: true, immutable: true }));
// four values per thread, stored through lane strides (src/backend/gpujs/lane-strides.ts)
const mk4 = (fn: Function, out: number[], c: Record<string, number>) =>
  gpu.createKernel(fn, { ...kernelSettings(out, c, {}, { pipeline: true, immutable: true }), returnType: 'Array(4)' });
// R × C register tiles stored through storeAt (src/backend/gpujs/scatter-stores.ts): --tiles 4x4,4x8
const tiles = opt('tiles', '4x4,4x8,8x4').split(',').map((t) => t.split('x').map(Number) as [number, number]);
const mkTile = (R: number, C: number, grid: number[], c: Record<string, number>, floats: number) =>
  gpu.createKernel(tileGemmSource(R, C), { ...kernelSettings(grid, { ...c, ...scatterFloats(floats) }, {}, { pipeline: true, immutable: true }), functions: scatterHelpers });
const maxDiff = async (a: Hd, b: Hd, n: number): Promise<number> => {
  const ha = a as unknown as GpuHandle & { kernel?: { laneStrided?: boolean; scattered?: boolean } };
  const va = ha.kernel?.laneStrided ? laneView(ha, n) : ha.kernel?.scattered ? scatterView(ha, n) : flatView(ha, n), vb = flatView(b as unknown as GpuHandle, n);
  const u = (await va.toArray()) as Float32Array, v = (await vb.toArray()) as Float32Array;
  va.delete();
  vb.delete();
  if (!ha.kernel?.laneStrided && !ha.kernel?.scattered) ha.delete();
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(u[i] - v[i]));
  return m;
};

// (name, IN, OUT): in_proj (one half), x_proj, dt_proj, out_proj, lm head — D 128, ED 256, R 8, N 16, V 16
const shapes: Array<[string, number, number]> = [['in_proj', 128, 512], ['x_proj', 256, 40], ['dt_proj', 8, 256], ['out_proj', 256, 128], ['head', 128, 16]];
const rows: Array<Record<string, unknown>> = [];
for (const [name, IN, OUT] of shapes) {
  const x = await upload(rnd(L * IN)), dY = await upload(rnd(L * OUT)), W = await upload(rnd(OUT * IN)), WT = await upload(rnd(IN * OUT));
  const gflop = (2 * L * IN * OUT) / 1e9;
  type Run = [string, (...a: unknown[]) => Promise<Hd>, unknown[]];
  const runs: Run[] = [
    ['fwd', mk(linearFwdT, [OUT, L], { IN, WOUT: OUT, R0: 0, XS: IN }), [x, WT]],
    ['dX', mk(linearBwdX, [IN, L], { L, IN, OUT }), [dY, W]],
    [`dW${TS}`, mk(linearBwdWSplit, [IN, OUT, Math.ceil(L / TS)], { L, IN, OUT, TS, XS: IN }), [dY, x]],
    ['dW1024', mk(linearBwdWSplit, [IN, OUT, Math.ceil(L / 1024)], { L, IN, OUT, TS: 1024, XS: IN }), [dY, x]],
    ['fwd4', mk4(linearFwdTRows4, [OUT, Math.ceil(L / 4)], { IN, WOUT: OUT, R0: 0, XS: IN, OUT, ...laneStrides(1, 4 * OUT, 0, OUT) }), [x, WT]],
    ...(OUT % 2 === 0 ? [['fwd22', mk4(linearFwdT22, [OUT / 2, Math.ceil(L / 2)], { IN, WOUT: OUT, R0: 0, XS: IN, OH: OUT / 2, ...laneStrides(1, 2 * OUT, 0, OUT / 2) }), [x, WT]] as Run] : []),
    ...(L % TS === 0 ? [[`dWfull${TS}`, mk(linearBwdWSplitFull, [IN, OUT, L / TS], { L, IN, OUT, TS, XS: IN }), [dY, x]] as Run] : []),
    ...(OUT % 2 === 0 && IN % 2 === 0 && L % TS === 0 ? [[`dW22full${TS}`, mk4(linearBwdWSplit22Full, [IN / 2, OUT / 2, L / TS], { L, OUT, TS, XS: IN, IH: IN / 2, ...laneStrides(1, 2 * IN, OUT * IN, IN / 2) }), [dY, x]] as Run] : []),
    ...tiles.filter(([, C]) => OUT % C === 0).map(([R, C]) => [`fwd${R}x${C}`, mkTile(R, C, [OUT / C, Math.ceil(L / R), 1],
      { K: IN, ARS: IN, AKS: 1, BKS: OUT, BO: 0, OS: OUT, CQ: OUT / C, ZK: 0, ZO: 0 }, R * Math.ceil(L / R) * OUT), [x, WT]] as Run),
    ...tiles.filter(([R, C]) => OUT % R === 0 && IN % C === 0 && L % TS === 0).map(([R, C]) => [`dW${R}x${C}_${TS}`, mkTile(R, C, [IN / C, OUT / R, L / TS],
      { K: TS, ARS: 1, AKS: OUT, BKS: IN, BO: 0, OS: IN, CQ: IN / C, ZK: TS, ZO: OUT * IN }, (L / TS) * OUT * IN), [dY, x]] as Run),
    ...(OUT % 2 === 0 && IN % 2 === 0 ? [[`dW22_${TS}`, mk4(linearBwdWSplit22, [IN / 2, OUT / 2, Math.ceil(L / TS)], { L, OUT, TS, XS: IN, IH: IN / 2, ...laneStrides(1, 2 * IN, OUT * IN, IN / 2) }), [dY, x]] as Run] : []),
    // the forward's product through the dX kernel (same WGSL up to names and loop length) and the forward again, last
  ];
  for (const [, k, args] of runs) (await k(...args)).delete(); // compile everything before any clock runs
  // the four-value kernels against the one-output kernels (same products, same summation order per output)
  const check: Record<string, number> = {};
  const ref = new Map<string, Hd>();
  for (const [key, k, args] of runs) if (key === 'fwd' || key === `dW${TS}`) ref.set(key, await k(...args));
  for (const [key, k, args] of runs) {
    if (key === 'fwd4' || key === 'fwd22' || /^fwd\d+x\d+$/.test(key)) check[key] = await maxDiff(await k(...args), ref.get('fwd')!, L * OUT);
    if (key.startsWith('dW22') || /^dW\d+x\d+_/.test(key)) check[key] = await maxDiff(await k(...args), ref.get(`dW${TS}`)!, Math.ceil(L / TS) * OUT * IN);
    if (key === `dWfull${TS}`) check[key] = await maxDiff(await k(...args), ref.get(`dW${TS}`)!, (L / TS) * OUT * IN);
  }
  for (const h of ref.values()) h.delete();
  console.error(`${name}: max |difference| to the one-output kernels ${JSON.stringify(check)}`);
  // GPU clocks: the first kernels timed after idle ran up to 4× slow; keep the device busy ≥ 0.5 s first
  for (const t0 = performance.now(); performance.now() - t0 < 500;) {
    (await runs[0][1](...runs[0][2])).delete();
    await device?.queue.onSubmittedWorkDone();
  }
  const v: Record<string, number> = {};
  for (const [key, k, args] of runs) v[key] = await time(k, args);
  const row = { name, L, IN, OUT, gflop: +gflop.toFixed(3), check, ...Object.fromEntries(Object.entries(v).map(([k, ms]) => [k, +ms.toFixed(3)])),
    gflops: Object.fromEntries(Object.entries(v).map(([k, ms]) => [k, Math.round((gflop / ms) * 1000)])) };
  rows.push(row);
  console.error(JSON.stringify(row));
  for (const h of [x, dY, W, WT]) h.delete();
}
if (argv.includes('--json')) process.stdout.write(JSON.stringify({ adapter: probe.name, L, TS, repeats, rows }) + '\n');
await rt.shutdownGpu();
