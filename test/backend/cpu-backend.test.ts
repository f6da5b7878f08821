// The CPU backend with its WebAssembly SIMD kernels vs the same backend on the TypeScript kernels
// (the fallback): a small model's forward on 1 and 2 threads (threads split rows, channels and
// tokens) must agree, as must a state carried from one chunk into the next.
import test from 'ava';
import { createCpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { makeConfig } from '../../src/model/config.js';
import { initWeights } from '../../src/model/init.js';
import { MambaModel } from '../../src/model/mamba.js';
import { maxRelErr } from '../helpers/compare.js';
import { TOLERANCE } from '../kernels/tolerances.js';

const cfg = makeConfig({ nLayer: 2 });
const weights = initWeights(cfg, 3);
const L = 517; // odd, long enough that every op is split over threads
const ids = Uint8Array.from({ length: L }, (_, i) => 7 + ((i * 2654435761) >>> 29) % 5);

async function forward(threads: number, simd: boolean, chunks: number[]): Promise<{ out: Float32Array; description: string }> {
  const be = await createCpuBackend(threads, { simd });
  try {
    const model = await MambaModel.load(be, cfg, weights);
    const out = new Float32Array(L * cfg.dModel);
    let state = await model.initialState();
    let at = 0;
    for (const n of chunks) {
      const r = await model.forward(ids.subarray(at, at + n), state);
      state = r.state;
      out.set(await be.read(r.hidden), at * cfg.dModel);
      be.free(r.hidden);
      at += n;
    }
    model.freeState(state);
    model.dispose();
    return { out, description: be.description };
  } finally {
    await be.dispose();
  }
}

test('wasm SIMD and TypeScript kernels give the same forward, 1 and 2 threads, one chunk and three', async (t) => {
  const ref = await forward(1, false, [L]);
  t.regex(ref.description, /TypeScript/);
  for (const [threads, chunks] of [[1, [L]], [2, [L]], [2, [300, 16, L - 316]]] as const) {
    const got = await forward(threads, true, [...chunks]);
    t.regex(got.description, /WebAssembly SIMD/);
    const e = maxRelErr(got.out, ref.out);
    t.log(`${got.description}, chunks ${chunks.join('+')}: max rel difference vs TypeScript on 1 thread ${e.toExponential(2)}`);
    t.true(e < TOLERANCE.forward);
  }
  const ts2 = await forward(2, false, [L]);
  const e2 = maxRelErr(ts2.out, ref.out);
  t.log(`${ts2.description}: ${e2.toExponential(2)}`);
  t.true(e2 < TOLERANCE.streamed);
});
