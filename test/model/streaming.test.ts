// Streaming: a sequence run in chunks that carry the conv and SSM state must equal the one-shot
// forward, and the recurrent single-step path (chunks of one token) must equal it too.
import test from 'ava';
import { createCpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import type { Backend } from '../../src/backend/types.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { MambaModel } from '../../src/model/mamba.js';

async function run(model: MambaModel, ids: Uint8Array, chunk: number): Promise<Float32Array> {
  const be: Backend = model.backend;
  const D = model.dims.D;
  const out = new Float32Array(ids.length * D);
  let state = await model.initialState();
  for (let o = 0; o < ids.length; o += chunk) {
    const r = await model.forward(ids.subarray(o, Math.min(ids.length, o + chunk)), state);
    state = r.state;
    out.set(await be.read(r.hidden), o * D);
    be.free(r.hidden);
  }
  model.freeState(state);
  return out;
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

test('streamed chunks and the recurrent single-token step equal the one-shot forward', async (t) => {
  const ckpt = await loadCheckpoint('fixtures/golden/tiny');
  const be = await createCpuBackend(2);
  try {
    const model = await MambaModel.load(be, ckpt.config, ckpt.weights);
    const L = 301; // not a multiple of any chunk below
    const ids = new Uint8Array(L);
    let s = 12345;
    for (let i = 0; i < L; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      ids[i] = 7 + (s >>> 16) % 5; // A C G T N
    }
    const oneShot = await run(model, ids, L);
    for (const chunk of [64, 100, 7]) {
      const e = maxRel(await run(model, ids, chunk), oneShot);
      t.log(`chunk ${chunk}: max rel difference ${e.toExponential(2)}`);
      t.true(e < 1e-5);
    }
    const step = maxRel(await run(model, ids, 1), oneShot);
    t.log(`recurrent step (chunk 1): max rel difference ${step.toExponential(2)}`);
    t.true(step < 1e-5);
  } finally {
    await be.dispose();
  }
});
