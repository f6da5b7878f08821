// The gpu.js backend (webgpu and webasm modes) running the whole Mamba model vs the CPU backend:
// final hidden states, logits, SSM states and cross-entropy agree for odd lengths; a sequence
// streamed in two chunks equals the one-shot forward on the same backend.
import test from 'ava';
import { createCpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { probeWebGpu, shutdownGpu } from '../../src/backend/gpu-runtime.js';
import { createGpuJsBackend } from '../../src/backend/gpujs/gpujs-backend.js';
import type { Backend } from '../../src/backend/types.js';
import { makeConfig, type MambaConfig } from '../../src/model/config.js';
import { initWeights } from '../../src/model/init.js';
import { MambaModel } from '../../src/model/mamba.js';
import type { MambaWeights } from '../../src/model/weights.js';
import { maxRelErr } from '../helpers/compare.js';
import { mulberry32 } from '../helpers/random.js';

const probe = await probeWebGpu();
if (!probe.ok) console.log(`gpujs-backend webgpu tests skipped: ${probe.reason}`);
const modes: Array<'webgpu' | 'webasm'> = probe.ok ? ['webgpu', 'webasm'] : ['webasm'];
test.after.always(async () => { await shutdownGpu(); });

const LENGTHS = [1, 3, 257];

/** A small random model whose A_log, D, biases and norm weights are not at their trivial init values. */
function smallModel(): { config: MambaConfig; weights: MambaWeights } {
  const config = makeConfig({ dModel: 16, nLayer: 2 });
  const weights = initWeights(config, 7);
  const rng = mulberry32(11);
  const jitter = (a: Float32Array, s: number) => { for (let i = 0; i < a.length; i++) a[i] += s * (2 * rng() - 1); };
  for (const l of weights.layers) {
    jitter(l.ALog, 0.3);
    jitter(l.D, 0.5);
    jitter(l.dtProjBias, 0.5);
    jitter(l.conv1dBias, 0.2);
    jitter(l.norm, 0.3);
  }
  jitter(weights.normF, 0.3);
  return { config, weights };
}

function randomIds(L: number, seed: number): Uint8Array {
  const rng = mulberry32(seed);
  const ids = new Uint8Array(L);
  for (let i = 0; i < L; i++) ids[i] = Math.floor(rng() * 12);
  return ids;
}

interface RunResult { hidden: Float32Array; logits: Float32Array; ssm: Float32Array[]; nll: Float64Array; correct: number }

/** Runs ids in the given chunks; returns hidden and logits concatenated, the final SSM states, CE of the logits. */
async function run(model: MambaModel, ids: Uint8Array, chunks: number[]): Promise<RunResult> {
  const be: Backend = model.backend;
  const { D, V } = model.dims;
  const hidden = new Float32Array(ids.length * D);
  const logits = new Float32Array(ids.length * V);
  const nll = new Float64Array(ids.length);
  let correct = 0;
  let state = await model.initialState();
  let at = 0;
  for (const len of chunks) {
    const part = ids.subarray(at, at + len);
    const r = await model.forward(part, state);
    state = r.state;
    const lg = await model.logits(r.hidden);
    hidden.set(await be.read(r.hidden), at * D);
    logits.set(await be.read(lg), at * V);
    // targets: the next token, the last one ignored, every 5th ignored too
    const targets = new Int32Array(len);
    for (let i = 0; i < len; i++) targets[i] = at + i + 1 < ids.length && i % 5 !== 4 ? ids[at + i + 1] : -1;
    const ce = await be.crossEntropy(lg, targets);
    nll.set(ce.nll, at);
    correct += ce.correct;
    be.free(lg);
    be.free(r.hidden);
    at += len;
  }
  const ssm = await Promise.all(state.ssm.map((h) => be.read(h)));
  model.freeState(state);
  return { hidden, logits, ssm, nll, correct };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

for (const mode of modes) {
  test.serial(`gpujs ${mode}: Mamba forward, logits, SSM state and cross-entropy match the cpu backend`, async (t) => {
    const { config, weights } = smallModel();
    const cpu = await createCpuBackend(1);
    const be = await createGpuJsBackend(mode);
    t.log(be.description);
    try {
      const ref = await MambaModel.load(cpu, config, weights);
      const model = await MambaModel.load(be, config, weights);
      for (const L of LENGTHS) {
        const ids = randomIds(L, 100 + L);
        const want = await run(ref, ids, [L]);
        const got = await run(model, ids, [L]);
        const eH = maxRelErr(got.hidden, want.hidden);
        const eL = maxRelErr(got.logits, want.logits);
        const eS = Math.max(...got.ssm.map((h, i) => maxRelErr(h, want.ssm[i])));
        const eCE = maxAbs(got.nll, want.nll);
        t.log(`L=${L}: hidden ${eH.toExponential(2)}, logits ${eL.toExponential(2)}, ssm state ${eS.toExponential(2)} (max|diff|/max|ref|); nll max |diff| ${eCE.toExponential(2)}, correct ${got.correct}/${want.correct}`);
        t.true(eH < 1e-4, `hidden L=${L}`);
        t.true(eL < 1e-4, `logits L=${L}`);
        t.true(eS < 1e-4, `ssm state L=${L}`);
        t.true(eCE < 1e-4, `nll L=${L}`);
        t.is(got.correct, want.correct);
        // ignored targets give 0, like the cpu backend
        if (L > 1) t.is(got.nll[L - 1], 0);
      }
      // streamed in two chunks (odd split) == one shot, on the same backend
      const L = 257;
      const ids = randomIds(L, 100 + L);
      const one = await run(model, ids, [L]);
      const two = await run(model, ids, [100, 157]);
      const eStream = Math.max(maxRelErr(two.hidden, one.hidden), maxRelErr(two.logits, one.logits));
      t.log(`streamed 100 + 157 vs one shot: max rel difference ${eStream.toExponential(2)}`);
      t.true(eStream < 1e-5);
      model.dispose();
      ref.dispose();
    } finally {
      await be.dispose();
      await cpu.dispose();
    }
  });
}

test.serial('gpujs: freed tensors and foreign tensors are rejected', async (t) => {
  const be = await createGpuJsBackend('webasm');
  const cpu = await createCpuBackend(1);
  try {
    const x = await be.upload(new Float32Array([1, 2, 3]), [3]);
    t.deepEqual(Array.from(await be.read(x)), [1, 2, 3]);
    be.free(x);
    await t.throwsAsync(() => be.read(x), { message: /after free/ });
    const y = await cpu.upload(new Float32Array([1]), [1]);
    await t.throwsAsync(() => be.read(y), { message: /another device/ });
    await t.throwsAsync(() => be.upload(new Float32Array(2), [3]), { message: /2 values for shape \(3\)/ });
  } finally {
    await be.dispose();
    await cpu.dispose();
  }
});
