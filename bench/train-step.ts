// Gradient-engine throughput: gradientsCpu (src/train/grad-cpu.ts) or, with --device webgpu,
// gradientsGpu (src/train/grad-gpu.ts): forward + backward, chunked along L, for the default model (makeConfig({}): d_model 128, 12 layers, ED 256, N 16) with
// fresh weights (initWeights, seed 0) on a batch of B windows of L tokens. Tokens/s = B·L / median wall
// time over `repeats` runs after one warm-up; also peak RSS and the process CPU time of each timed run.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/train-step.js [--L 4096] [--B 2] [--repeats 3]
//        [--threads 2] [--ts]   (--ts: the TypeScript kernels)        (prints JSON on stdout)
//        [--device webgpu [--chunk T] [--split TS] [--profile] [--no-pool] [--no-batch] [--no-share] [--no-overlap] [--host-legacy] [--drain N] [--dsplit D] [--tile 1|rows4|2x2] [--dawn 'enable-dawn-features=…'] [--wg 8x8,64] [--pass-times]]  (--profile: per-kernel wall ms of the
//        last repeat, each kernel waited for — slower than the timed runs, which are not profiled)
// GPU memory is not visible from WebGPU: bench/h100-run.sh samples nvidia-smi beside this script.
import { makeConfig } from '../src/model/config.js';
import { initWeights } from '../src/model/init.js';
import { makeGradientsCpu } from '../src/train/grad-cpu.js';
import { makeGradientsGpu } from '../src/train/grad-gpu.js';
import { setDawnFlags, setWorkgroupSizes, shutdownGpu, webgpuPassTimer } from '../src/backend/gpu-runtime.js';
import { deviceBench } from '../kernels/bench-util.js';
import { summarizePassTimes } from '../src/backend/gpujs/pass-timer.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const L = Number(opt('L', '4096'));
const B = Number(opt('B', '2'));
const repeats = Number(opt('repeats', '3'));

const cfg = makeConfig({});
const weights = initWeights(cfg, 0);
const ids = new Uint8Array(B * L);
for (let i = 0; i < B * L; i++) ids[i] = 7 + ((i * 2654435761) >>> 29) % 4; // A C G T
const threads = Number(opt('threads', '2'));
// --wg 8x8,64: gpu.js's own workgroup sizes instead of the default 32×8 / 256 (src/backend/gpujs/workgroup-size.ts)
const wg = argv.includes('--wg') ? opt('wg', '32x8,256').split(/[x,]/).map(Number) : null;
if (wg) setWorkgroupSizes({ wide: [wg[0], wg[1]], flat: wg[2] });
if (argv.includes('--dawn')) setDawnFlags([opt('dawn', '')]); // dawn.node options, e.g. enable-dawn-features=disable_robustness
const device = opt('device', 'cpu');
const gpuOpts = { ...(argv.includes('--no-pool') ? { bufferPool: false } : {}), ...(argv.includes('--no-batch') ? { batchSubmits: false } : {}), ...(argv.includes('--no-share') ? { shareScanTree: false } : {}), ...(argv.includes('--no-overlap') ? { overlapDrains: false } : {}), ...(argv.includes('--host-legacy') ? { hostLegacy: true } : {}), ...(argv.includes('--drain') ? { drainEvery: Number(opt('drain', '256')) } : {}), ...(argv.includes('--dsplit') ? { scanDSplit: Number(opt('dsplit', '1')) } : {}), ...(argv.includes('--tile') ? { linearTile: opt('tile', '2x2') as '1' | 'rows4' | '2x2' } : {}), ...(argv.includes('--chunk') ? { chunk: Number(opt('chunk', '0')) } : {}), ...(argv.includes('--split') ? { split: Number(opt('split', '0')) } : {}) };
// --pass-times: one more step with every kernel's GPU time from timestamp queries (no waits between
// kernels; src/backend/gpujs/pass-timer.ts), summed per op and per kernel function
const passTimer = device === 'webgpu' && argv.includes('--pass-times') ? (await deviceBench('train-step', true), await webgpuPassTimer()) : undefined;
const gpuFn = device === 'webgpu' ? await makeGradientsGpu({ ...gpuOpts, ...(passTimer ? { passTimer } : {}) }) : undefined;
const fn = gpuFn ?? makeGradientsCpu({ threads, ...(argv.includes('--ts') ? { kernels: 'ts' as const } : {}) });

const times: number[] = [];
const cpuTimes: number[] = []; // process CPU ms (user + system, all threads) per timed run: wall time inflated by other load shows here
let loss = 0;
for (let r = 0; r <= Math.max(repeats, 0) && !(repeats === 0 && r > 0); r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  loss = (await fn(cfg, weights, { ids, B, L })).loss;
  const c = process.cpuUsage(c0);
  if (r > 0 || repeats === 0) { // --repeats 0: one cold run
    times.push(performance.now() - t0);
    cpuTimes.push((c.user + c.system) / 1000);
  }
}
let profile: Record<string, number> | undefined;
if (gpuFn && argv.includes('--profile')) {
  profile = {};
  const pf = await makeGradientsGpu({ ...gpuOpts, profile });
  await pf(cfg, weights, { ids, B, L });
  await pf.dispose();
  for (const k of Object.keys(profile)) profile[k] = Math.round(profile[k] * 10) / 10;
}
let passTimes: ReturnType<typeof summarizePassTimes> | undefined;
if (gpuFn && passTimer) {
  passTimer.start();
  await gpuFn(cfg, weights, { ids, B, L });
  passTimes = summarizePassTimes(await passTimer.stop()); // byScope: per engine op
}
await gpuFn?.dispose();
await shutdownGpu();
times.sort((a, b) => a - b);
const ms = times[times.length >> 1];
process.stdout.write(JSON.stringify({
  L, B, device, ...(gpuFn ? { engine: gpuFn.description, ...gpuOpts, ...(wg ? { workgroups: wg.join(',') } : {}) } : { threads, kernels: argv.includes('--ts') ? 'ts' : 'wasm' }), loss, medianMs: Math.round(ms), tokensPerSec: Math.round((B * L) / (ms / 1000)),
  usPerToken: +((ms * 1000) / (B * L)).toFixed(1), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  times: times.map((t) => Math.round(t)), cpuMs: cpuTimes.map((t) => Math.round(t)), ...(profile ? { profileMs: profile } : {}), ...(passTimes ? { passTimes } : {}),
}) + '\n');
