// Paired A/B of GPU gradient-engine options (src/train/grad-gpu.ts GpuGradOptions) in one process: one
// engine per variant, steps alternated A B A B … on the same batch, so clock ramps, other load and
// thermal drift hit every variant alike (separate train-step.ts runs on the H100 varied ±10 % from
// run to run, more than the effects measured). Reports each variant's median ms and tokens/s and the
// median of the per-round ratios to the first variant.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/train-ab.js --L 131072 --B 1 --rounds 9
//        --variants '[{}, {"overlapDrains": false}, {"scanDSplit": 1}]'        (prints JSON on stdout)
import { makeConfig } from '../src/model/config.js';
import { initWeights } from '../src/model/init.js';
import { type GpuGradOptions, makeGradientsGpu } from '../src/train/grad-gpu.js';
import { setDawnFlags, shutdownGpu } from '../src/backend/gpu-runtime.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const L = Number(opt('L', '4096'));
const B = Number(opt('B', '1'));
const rounds = Number(opt('rounds', '7'));
const variants = JSON.parse(opt('variants', '[{}]')) as GpuGradOptions[];
if (argv.includes('--dawn')) setDawnFlags([opt('dawn', '')]); // dawn.node options for every variant

const cfg = makeConfig({});
const weights = initWeights(cfg, 0);
const ids = new Uint8Array(B * L);
for (let i = 0; i < B * L; i++) ids[i] = 7 + ((i * 2654435761) >>> 29) % 4; // A C G T
const fns = [];
for (const v of variants) fns.push(await makeGradientsGpu(v));
const times: number[][] = variants.map(() => []);
const losses: number[] = [];
for (let r = -1; r < rounds; r++) { // round −1: warm-up (kernel builds)
  for (const [i, fn] of fns.entries()) {
    const t0 = performance.now();
    const { loss } = await fn(cfg, weights, { ids, B, L });
    if (r >= 0) times[i].push(performance.now() - t0);
    else losses[i] = loss;
  }
}
for (const fn of fns) await fn.dispose();
await shutdownGpu();
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
process.stdout.write(JSON.stringify({
  L, B, rounds, engine: fns[0].description,
  variants: variants.map((v, i) => ({
    options: v, loss: losses[i], medianMs: Math.round(median(times[i])), tokensPerSec: Math.round((B * L) / (median(times[i]) / 1000)),
    ratioToFirst: +median(times[i].map((t, r) => t / times[0][r])).toFixed(3), times: times[i].map(Math.round),
  })),
}) + '\n');
