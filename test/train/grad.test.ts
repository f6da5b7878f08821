// Gradient engine tests: the float64 reference against central finite differences of its own loss
// (every parameter of a tiny model), the float32 chunked CPU engine against the reference on odd
// lengths and chunkings, and both engines' loss against the golden forward (PyTorch and our model).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createCpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { makeConfig, type MambaConfig } from '../../src/model/config.js';
import { MambaModel } from '../../src/model/mamba.js';
import {
  gradientsCpu, gradientsRef, gradientsRef64, listParams, makeGradientsCpu, toFloat32, toFloat64,
} from '../../src/train/grad.js';
import type { Batch } from '../../src/train/types.js';
import { maxRelErr } from '../helpers/compare.js';
import { randomBatch, randomWeights } from '../helpers/model-weights.js';
import { TOLERANCE } from '../kernels/tolerances.js';



const fdConfigs: Array<[string, MambaConfig]> = [
  ['tied head', makeConfig({ dModel: 8, nLayer: 2, dState: 3, expand: 2, dConv: 4 })],
  ['untied head, dt_rank 3, K 3', makeConfig({ dModel: 6, nLayer: 2, dState: 2, expand: 2, dConv: 3, dtRank: 3, tieEmbeddings: false })],
];

for (const [name, cfg] of fdConfigs) {
  test(`gradientsRef matches central finite differences for every parameter (${name})`, (t) => {
    const w = toFloat64(randomWeights(cfg, 11));
    const batch = randomBatch(2, 7, 12);
    const r = gradientsRef64(cfg, w, batch);
    // Fourth-order central differences (error O(h⁴)) with h 1e-3: the plain two-point stencil at 1e-6
    // leaves ~1e-9 of rounding noise, 1e-5 of the smallest tensors' gradients (dt_proj ~1e-4).
    const h = 1e-3;
    const lossAt = (p: Float64Array, i: number, v: number) => {
      p[i] = v;
      return gradientsRef64(cfg, w, batch, true).loss;
    };
    const lines: string[] = [];
    let worst = 0;
    const grads = new Map(listParams(r.grads));
    for (const [pname, p] of listParams(w)) {
      const g = grads.get(pname)!;
      const fd = new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) {
        const keep = p[i];
        const f1 = lossAt(p, i, keep + h) - lossAt(p, i, keep - h);
        const f2 = lossAt(p, i, keep + 2 * h) - lossAt(p, i, keep - 2 * h);
        p[i] = keep;
        fd[i] = (8 * f1 - f2) / (12 * h);
      }
      let diff = 0, scale = 0;
      for (let i = 0; i < p.length; i++) {
        diff = Math.max(diff, Math.abs(g[i] - fd[i]));
        scale = Math.max(scale, Math.abs(fd[i]));
      }
      const rel = diff / Math.max(scale, 1e-8);
      worst = Math.max(worst, rel);
      lines.push(`${pname} ${rel.toExponential(1)} (max|g| ${scale.toExponential(1)})`);
      t.true(scale > 1e-6, `${pname}: gradient is ~0 everywhere (${scale}); the check would prove nothing`);
      t.true(rel < TOLERANCE.finiteDifference, `${pname}: max rel error ${rel} (max|fd| ${scale})`);
    }
    t.log(`loss ${r.loss.toFixed(6)}; worst ${worst.toExponential(2)}; per tensor: ${lines.join(', ')}`);
  });
}

const cpuCases: Array<{ L: number; B: number; chunk?: number; scanChunk?: number; recomputeLayers?: boolean; untied?: boolean }> = [
  { L: 2, B: 3 },
  { L: 33, B: 1, chunk: 2, scanChunk: 1 }, // chunks shorter than the conv's K-1 = 3 carried inputs
  { L: 33, B: 2, chunk: 5, untied: true }, // untied head, dt_rank 3, K 3
  { L: 33, B: 2, chunk: 8, scanChunk: 3, recomputeLayers: false },
  { L: 33, B: 2, chunk: 10, scanChunk: 4, recomputeLayers: true },
  { L: 257, B: 2, chunk: 64, recomputeLayers: true },
  { L: 257, B: 1 },
];

const tiedCfg = makeConfig({ dModel: 16, nLayer: 2, dState: 4, expand: 2, dConv: 4 });

for (const c of cpuCases) {
  const label = `L ${c.L}, B ${c.B}, chunk ${c.chunk ?? 'default'}, scan chunk ${c.scanChunk ?? 'default'}, recompute ${c.recomputeLayers ?? 'auto'}${c.untied ? ', untied head' : ''}`;
  test(`gradientsCpu (float32, chunked) matches gradientsRef: ${label}`, async (t) => {
    const cpuCfg = c.untied ? fdConfigs[1][1] : tiedCfg;
    const w = randomWeights(cpuCfg, 100 + c.L);
    const batch = randomBatch(c.B, c.L, 200 + c.L);
    const ref = await gradientsRef(cpuCfg, w, batch);
    const r64 = gradientsRef64(cpuCfg, toFloat64(w), batch);
    const got = await makeGradientsCpu(c)(cpuCfg, w, batch);
    const lossErr = Math.abs(got.loss - r64.loss) / r64.loss;
    t.is(got.count, c.B * (c.L - 1));
    t.is(got.correct, ref.correct);
    const want = new Map(listParams(r64.grads));
    let worst = 0;
    const lines: string[] = [];
    for (const [pname, g] of listParams(got.grads)) {
      const e = maxRelErr(g, want.get(pname)!);
      worst = Math.max(worst, e);
      lines.push(`${pname} ${e.toExponential(1)}`);
      t.true(e < TOLERANCE.backward, `${pname}: max rel error ${e}`);
    }
    t.log(`loss ${got.loss.toFixed(6)} (rel err ${lossErr.toExponential(1)}); worst grad ${worst.toExponential(2)}: ${lines.join(', ')}`);
    t.true(lossErr < TOLERANCE.forward);
  });
}

// The kernel paths (WebAssembly SIMD, or the TypeScript fallback) and the batch split over 2 threads:
// each against the float64 reference; the split is deterministic (two calls give identical bits).
for (const o of [{ kernels: 'ts', threads: 1 }, { kernels: 'wasm', threads: 1 }, { kernels: 'wasm', threads: 2 }] as const) {
  test(`gradientsCpu kernels ${o.kernels}, threads ${o.threads}: matches gradientsRef64, L 65, B 3, chunk 16`, async (t) => {
    const w = randomWeights(tiedCfg, 31);
    const batch = randomBatch(3, 65, 32);
    const r64 = gradientsRef64(tiedCfg, toFloat64(w), batch);
    const fn = makeGradientsCpu({ ...o, chunk: 16 });
    const got = await fn(tiedCfg, w, batch);
    const again = await fn(tiedCfg, w, batch);
    const want = new Map(listParams(r64.grads));
    let worst = 0;
    let identical = again.loss === got.loss;
    const second = new Map(listParams(again.grads));
    for (const [pname, g] of listParams(got.grads)) {
      worst = Math.max(worst, maxRelErr(g, want.get(pname)!));
      identical &&= g.every((v, i) => Object.is(v, second.get(pname)![i]));
    }
    const lossErr = Math.abs(got.loss - r64.loss) / r64.loss;
    t.log(`worst grad rel err ${worst.toExponential(2)}, loss rel err ${lossErr.toExponential(1)}, repeat identical ${identical}`);
    t.true(worst < TOLERANCE.backward);
    t.true(lossErr < TOLERANCE.forward);
    t.is(got.correct, r64.correct);
    t.true(identical);
  });
}

test('gradientsCpu: chunked (with carried conv/SSM state gradients) equals one chunk', async (t) => {
  const w = randomWeights(tiedCfg, 7);
  const batch = randomBatch(1, 150, 8);
  const one = await makeGradientsCpu({ chunk: 150 })(tiedCfg, w, batch);
  const many = await makeGradientsCpu({ chunk: 7, scanChunk: 5 })(tiedCfg, w, batch);
  let worst = 0;
  const want = new Map(listParams(one.grads));
  for (const [pname, g] of listParams(many.grads)) worst = Math.max(worst, maxRelErr(g, want.get(pname)!));
  t.log(`max rel difference chunk 7 vs one chunk: ${worst.toExponential(2)}, loss ${Math.abs(one.loss - many.loss).toExponential(1)}`);
  t.true(worst < TOLERANCE.streamed);
  t.true(Math.abs(one.loss - many.loss) / one.loss < TOLERANCE.streamed);
});

test('loss of both engines equals the golden forward loss (PyTorch and our model)', async (t) => {
  const dir = 'fixtures/golden/tiny';
  const expected = JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8')) as { tokens: number[]; loss: number };
  const ckpt = await loadCheckpoint(dir);
  const ids = Uint8Array.from(expected.tokens);
  const batch: Batch = { ids, B: 1, L: ids.length };
  const ref = await gradientsRef(ckpt.config, ckpt.weights, batch);
  const cpu = await gradientsCpu(ckpt.config, ckpt.weights, batch);
  const be = await createCpuBackend(1);
  let modelLoss: number;
  try {
    const model = await MambaModel.load(be, ckpt.config, ckpt.weights);
    const { hidden, state } = await model.forward(ids, await model.initialState());
    const logits = await model.logits(hidden);
    const ce = await be.crossEntropy(logits, Int32Array.from([...expected.tokens.slice(1), -1]));
    model.freeState(state);
    modelLoss = ce.nll.reduce((a, b) => a + b, 0) / (ids.length - 1);
  } finally {
    await be.dispose();
  }
  const eRef = Math.abs(ref.loss - expected.loss) / expected.loss;
  const eCpu = Math.abs(cpu.loss - expected.loss) / expected.loss;
  const eModel = Math.abs(cpu.loss - modelLoss) / modelLoss;
  t.log(`PyTorch ${expected.loss.toFixed(8)}; gradientsRef ${ref.loss.toFixed(8)} (rel ${eRef.toExponential(1)}); gradientsCpu ${cpu.loss.toFixed(8)} (rel ${eCpu.toExponential(1)}); MambaModel forward ${modelLoss.toFixed(8)} (cpu engine vs it ${eModel.toExponential(1)})`);
  t.true(eRef < 1e-12, 'float64 reference from the same float32 weights must match PyTorch float64 to rounding');
  t.true(eCpu < TOLERANCE.forward);
  t.true(eModel < TOLERANCE.forward);
});

test('bad batches are refused with the problem named', async (t) => {
  const cfg = fdConfigs[0][1];
  const w = randomWeights(cfg, 1);
  await t.throwsAsync(gradientsCpu(cfg, w, { ids: new Uint8Array(3), B: 3, L: 1 }), { message: /L = 1 must be an integer ≥ 2/ });
  await t.throwsAsync(gradientsRef(cfg, w, { ids: new Uint8Array(5), B: 2, L: 3 }), { message: /5 ids, expected B·L/ });
  await t.throwsAsync(gradientsCpu(cfg, w, { ids: Uint8Array.from([7, 16]), B: 1, L: 2 }), { message: /token id 16 .* outside the vocabulary/ });
  const broken = toFloat32(toFloat64(w));
  broken.layers[1].D = new Float32Array(3);
  await t.throwsAsync(gradientsCpu(cfg, broken, randomBatch(1, 4, 1)), { message: /backbone\.layers\.1\.mixer\.D/ });
});
