// Gradient-engine throughput on the CPU: gradientsCpu (src/train/grad-cpu.ts: forward + backward,
// chunked along L) for the default model (makeConfig({}): d_model 128, 12 layers, ED 256, N 16) with
// fresh weights (initWeights, seed 0) on a batch of B windows of L tokens. Tokens/s = B·L / median wall
// time over `repeats` runs after one warm-up; also peak RSS of the process.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/train-step.js [--L 4096] [--B 2] [--repeats 3]
//        [--threads 2] [--ts]   (--ts: the TypeScript kernels)        (prints JSON on stdout)
import { makeConfig } from '../src/model/config.js';
import { initWeights } from '../src/model/init.js';
import { makeGradientsCpu } from '../src/train/grad-cpu.js';

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
const fn = makeGradientsCpu({ threads, ...(argv.includes('--ts') ? { kernels: 'ts' as const } : {}) });

const times: number[] = [];
let loss = 0;
for (let r = 0; r <= Math.max(repeats, 0) && !(repeats === 0 && r > 0); r++) {
  const t0 = performance.now();
  loss = (await fn(cfg, weights, { ids, B, L })).loss;
  if (r > 0 || repeats === 0) times.push(performance.now() - t0); // --repeats 0: one cold run
}
times.sort((a, b) => a - b);
const ms = times[times.length >> 1];
process.stdout.write(JSON.stringify({
  L, B, threads, kernels: argv.includes('--ts') ? 'ts' : 'wasm', loss, medianMs: Math.round(ms), tokensPerSec: Math.round((B * L) / (ms / 1000)),
  usPerToken: +((ms * 1000) / (B * L)).toFixed(1), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
}) + '\n');
