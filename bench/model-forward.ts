// Whole-model forward throughput on the CPU backend: the default model (makeConfig({}): d_model 128,
// 12 layers, ED 256, N 16) with fresh weights (initWeights, seed 0), one chunk of L tokens from the
// zero state, hidden states read back. Tokens/s = L / median wall time over `repeats` runs after
// one warm-up, for each thread count, with the WebAssembly SIMD kernels and (--ts) the TypeScript ones.
// Also per-op wall times of one extra run per setting (ms summed over layers), to show where time goes.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/model-forward.js [--L 4096] [--repeats 3]
//        [--threads 1,2] [--ts]      (prints JSON on stdout)
import { createCpuBackend } from '../src/backend/cpu/cpu-backend.js';
import type { Backend } from '../src/backend/types.js';
import { makeConfig } from '../src/model/config.js';
import { initWeights } from '../src/model/init.js';
import { MambaModel } from '../src/model/mamba.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const L = Number(opt('L', '4096'));
const repeats = Number(opt('repeats', '3'));
const threadCounts = opt('threads', '1,2').split(',').map(Number);
const variants = argv.includes('--ts') ? [true, false] : [true];

const cfg = makeConfig({});
const weights = initWeights(cfg, 0);
const ids = new Uint8Array(L);
for (let i = 0; i < L; i++) ids[i] = 7 + ((i * 2654435761) >>> 29) % 4; // A C G T

async function once(model: MambaModel): Promise<number> {
  const t0 = performance.now();
  const r = await model.forward(ids, await model.initialState());
  await model.backend.read(r.hidden);
  model.backend.free(r.hidden);
  model.freeState(r.state);
  return performance.now() - t0;
}

/** Wraps a backend so that each op's wall time is summed by name. */
function profiled(be: Backend, ms: Record<string, number>): Backend {
  return new Proxy(be, {
    get(target, key, recv) {
      const v = Reflect.get(target, key, recv);
      if (typeof v !== 'function' || !['addRmsNorm', 'linear', 'conv1dSilu', 'selectiveScan', 'embedding'].includes(String(key))) return typeof v === 'function' ? v.bind(target) : v;
      return async (...args: unknown[]) => {
        const t0 = performance.now();
        const r = await v.apply(target, args);
        ms[String(key)] = (ms[String(key)] ?? 0) + performance.now() - t0;
        return r;
      };
    },
  });
}

const runs: Record<string, unknown>[] = [];
const profiles: Record<string, Record<string, number>> = {};
for (const simd of variants) {
  for (const threads of threadCounts) {
    const be = await createCpuBackend(threads, { simd });
    const model = await MambaModel.load(be, cfg, weights);
    await once(model); // warm-up: wasm tier-up, heap growth, worker start
    const ts: number[] = [];
    for (let r = 0; r < repeats; r++) ts.push(await once(model));
    ts.sort((a, b) => a - b);
    const med = ts[ts.length >> 1];
    runs.push({ backend: be.description, simd, threads, msMedian: +med.toFixed(1), msAll: ts.map((x) => +x.toFixed(1)), tokensPerS: Math.round(L / (med / 1e3)) });
    const profile: Record<string, number> = {};
    const pm = await MambaModel.load(profiled(be, profile), cfg, weights);
    await once(pm);
    for (const k of Object.keys(profile)) profile[k] = +profile[k].toFixed(1);
    profiles[`${simd ? 'wasm' : 'ts'} ${threads}t`] = profile;
    pm.dispose();
    model.dispose();
    await be.dispose();
  }
}
console.log(JSON.stringify({ L, repeats, node: process.version, config: { dModel: cfg.dModel, nLayer: cfg.nLayer, dState: cfg.dState, expand: cfg.expand }, runs, opMs: profiles }, null, 1));
