// Whole-model forward throughput of the default model (d_model 128, 12 layers) on a device chosen by
// name (webgpu, wasm, cpu), streaming a sequence of `--tokens` in chunks of `--chunk` that carry the
// state — the way `embed` and `eval` run. Tokens/s = tokens / wall time of the whole stream (after a
// warm-up chunk), hidden states read back per chunk so device work is finished when the clock stops.
//
// Run: npx tsc -p tsconfig.json && node dist/bench/model-forward-device.js --device webgpu --chunk 65536 --tokens 262144
//        [--pass-times]  (webgpu: then one more chunk with every kernel's GPU time from timestamp queries,
//                         summed per kernel function; src/backend/gpujs/pass-timer.ts)
import { createBackend, parseDevice, shutdownGpu } from '../src/backend/registry.js';
import { webgpuPassTimer } from '../src/backend/gpu-runtime.js';
import { deviceBench } from '../kernels/bench-util.js';
import { summarizePassTimes } from '../src/backend/gpujs/pass-timer.js';
import { makeConfig } from '../src/model/config.js';
import { initWeights } from '../src/model/init.js';
import { MambaModel } from '../src/model/mamba.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const device = parseDevice(opt('device', 'webgpu'));
const chunk = Number(opt('chunk', '4096'));
const tokens = Number(opt('tokens', String(4 * chunk)));

const cfg = makeConfig({});
const timing = device === 'webgpu' && argv.includes('--pass-times');
if (timing) await deviceBench('model-forward-device', true); // the device asks for 'timestamp-query'
const be = await createBackend(device);
const model = await MambaModel.load(be, cfg, initWeights(cfg, 0));
const ids = new Uint8Array(chunk);
for (let i = 0; i < chunk; i++) ids[i] = 7 + ((i * 2654435761) >>> 29) % 4;

async function stream(n: number): Promise<{ ms: number; chunkMs: number[] }> {
  let state = await model.initialState();
  const chunkMs: number[] = [];
  const t0 = performance.now();
  for (let done = 0; done < n; done += chunk) {
    const c0 = performance.now();
    const r = await model.forward(ids, state);
    state = r.state;
    await be.read(r.hidden);
    be.free(r.hidden);
    chunkMs.push(+(performance.now() - c0).toFixed(1));
  }
  const ms = performance.now() - t0;
  model.freeState(state);
  return { ms, chunkMs };
}

await stream(chunk); // warm-up: kernel compilation for this chunk shape
const r = await stream(tokens);
let passTimes: ReturnType<typeof summarizePassTimes> | undefined;
if (timing) {
  const timer = await webgpuPassTimer();
  timer.start();
  await stream(chunk);
  passTimes = summarizePassTimes(await timer.stop(), 25);
}
console.log(JSON.stringify({ device: be.name, description: be.description, chunk, tokens, ms: +r.ms.toFixed(1), tokensPerS: Math.round(tokens / (r.ms / 1e3)), chunkMs: r.chunkMs, date: new Date().toISOString(), ...(passTimes ? { passTimes } : {}) }));
model.dispose();
await be.dispose();
await shutdownGpu();
