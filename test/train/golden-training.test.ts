// Golden training test (llm.c's test_gpt2 in spirit): the tiny golden model, one fixed lambda batch,
// 10 AdamW steps with grad-norm clipping, against a run PyTorch recorded
// (scripts/golden/make_golden_training.py → fixtures/golden/training/expected.json): the first step's
// gradient of every parameter vs PyTorch autograd, and the loss curve and final weights of
//   float64: gradientsRef64 + a float64 AdamW/clip written here (torch's formulas)  vs torch in float64
//   float32: gradientsCpu + src/train/adamw.ts (AdamW, clipGradNorm)                vs torch in float32
import test from 'ava';
import { readFileSync } from 'node:fs';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import type { MambaConfig } from '../../src/model/config.js';
import type { MambaWeights } from '../../src/model/weights.js';
import { tensorSpecs } from '../../src/model/weights.js';
import { AdamW, clipGradNorm, namedGrads, namedParams } from '../../src/train/adamw.js';
import { gradientsCpu, gradientsRef64, toFloat64, type MambaWeights64 } from '../../src/train/grad.js';
import type { Batch } from '../../src/train/types.js';
import { maxRelErr } from '../helpers/compare.js';
import { TOLERANCE } from '../kernels/tolerances.js';

interface Run { losses: number[]; gradNorms: number[]; finalLoss: number; finalWeights: Record<string, number[]>; firstGrads?: Record<string, number[]> }
interface Golden {
  B: number; L: number; tokens: number[][]; lrs: number[]; decay: string[];
  hyper: { beta1: number; beta2: number; eps: number; weightDecay: number; maxNorm: number };
  float64: Run; float32: Run;
}
const golden = JSON.parse(readFileSync('fixtures/golden/training/expected.json', 'utf8')) as Golden;
const batch: Batch = { ids: Uint8Array.from(golden.tokens.flat()), B: golden.B, L: golden.L };
const load = () => loadCheckpoint('fixtures/golden/tiny');

/** Tensors of weights/grads (float32 or float64) by state-dict name. */
function byName(config: MambaConfig, w: MambaWeights | MambaWeights64): Map<string, Float32Array | Float64Array> {
  return new Map(tensorSpecs(config).map((s) => [s.name, s.get(w as MambaWeights)!]));
}

/** Per-tensor max relative error of `got` vs the recorded tensors; returns the worst and a log line. */
function compareAll(config: MambaConfig, got: MambaWeights | MambaWeights64, want: Record<string, number[]>): { worst: number; line: string } {
  const g = byName(config, got);
  for (const name of Object.keys(want)) if (!g.has(name)) throw new Error(`golden has ${name}, our weights do not`);
  let worst = 0;
  const parts: string[] = [];
  for (const [name, arr] of g) {
    const e = maxRelErr(arr, want[name]);
    worst = Math.max(worst, e);
    parts.push(`${name.replace('backbone.', '').replace('.weight', '')} ${e.toExponential(1)}`);
  }
  return { worst, line: parts.join(', ') };
}

test('golden training: the decay groups are the ones PyTorch used', async (t) => {
  const { config, weights } = await load();
  const ours = namedParams(config, weights).filter((p) => p.decay).map((p) => p.name).sort();
  t.deepEqual(ours, [...golden.decay].sort());
});

test('golden training: step-1 gradients of every parameter match PyTorch autograd (float64 ref and float32 cpu)', async (t) => {
  const { config, weights } = await load();
  const ref = gradientsRef64(config, toFloat64(weights), batch);
  const cpu = await gradientsCpu(config, weights, batch);
  const want = golden.float64.firstGrads!;
  const r = compareAll(config, ref.grads, want);
  const c = compareAll(config, cpu.grads, want);
  t.log(`loss: torch ${golden.float64.losses[0]}, ref ${ref.loss}, cpu ${cpu.loss}`);
  t.log(`gradientsRef vs autograd: worst ${r.worst.toExponential(2)}: ${r.line}`);
  t.log(`gradientsCpu vs autograd: worst ${c.worst.toExponential(2)}: ${c.line}`);
  t.true(Math.abs(ref.loss - golden.float64.losses[0]) / golden.float64.losses[0] < 1e-12);
  t.true(r.worst < 1e-9, 'float64 vs float64: rounding only');
  t.true(c.worst < TOLERANCE.backward);
});

/** torch.optim.AdamW + clip_grad_norm_ in float64 (torch/optim/adamw.py, torch/nn/utils/clip_grad.py). */
function adamw64(params: Float64Array[], decay: boolean[], h: Golden['hyper']) {
  const m = params.map((p) => new Float64Array(p.length));
  const v = params.map((p) => new Float64Array(p.length));
  let step = 0;
  return (grads: Float64Array[], lr: number): number => {
    let total = 0;
    for (const g of grads) {
      let s = 0;
      for (const x of g) s += x * x;
      total += s;
    }
    const norm = Math.sqrt(total);
    const coef = Math.min(1, h.maxNorm / (norm + 1e-6));
    step++;
    const bc1 = 1 - h.beta1 ** step;
    const bc2 = 1 - h.beta2 ** step;
    params.forEach((p, i) => {
      const g = grads[i];
      const wd = decay[i] ? 1 - lr * h.weightDecay : 1;
      for (let j = 0; j < p.length; j++) {
        const gj = g[j] * coef;
        m[i][j] = m[i][j] * h.beta1 + (1 - h.beta1) * gj;
        v[i][j] = v[i][j] * h.beta2 + (1 - h.beta2) * gj * gj;
        const den = Math.sqrt(v[i][j]) / Math.sqrt(bc2) + h.eps;
        p[j] = p[j] * wd - (lr / bc1) * (m[i][j] / den);
      }
    });
    return norm;
  };
}

test('golden training: 10 float64 steps (gradientsRef64 + AdamW) follow PyTorch float64', async (t) => {
  const { config, weights } = await load();
  const w = toFloat64(weights);
  const specs = tensorSpecs(config);
  const decaySet = new Set(golden.decay);
  const params = specs.map((s) => s.get(w as unknown as MambaWeights) as unknown as Float64Array);
  const step = adamw64(params, specs.map((s) => decaySet.has(s.name)), golden.hyper);
  const losses: number[] = [];
  let normErr = 0;
  for (let k = 0; k < golden.lrs.length; k++) {
    const r = gradientsRef64(config, w, batch);
    losses.push(r.loss);
    const norm = step(specs.map((s) => s.get(r.grads as unknown as MambaWeights) as unknown as Float64Array), golden.lrs[k]);
    normErr = Math.max(normErr, Math.abs(norm - golden.float64.gradNorms[k]) / golden.float64.gradNorms[k]);
  }
  const finalLoss = gradientsRef64(config, w, batch, true).loss;
  const lossErr = Math.max(...losses.map((l, k) => Math.abs(l - golden.float64.losses[k]) / golden.float64.losses[k]), Math.abs(finalLoss - golden.float64.finalLoss) / golden.float64.finalLoss);
  const wts = compareAll(config, w, golden.float64.finalWeights);
  t.log(`losses ${losses.map((l) => l.toFixed(6)).join(' ')} final ${finalLoss.toFixed(6)}`);
  t.log(`max rel error: losses ${lossErr.toExponential(2)}, grad norms ${normErr.toExponential(2)}, final weights ${wts.worst.toExponential(2)}`);
  t.true(lossErr < 1e-11);
  t.true(normErr < 1e-11);
  t.true(wts.worst < 1e-9);
});

test('golden training: 10 float32 steps (gradientsCpu + src/train/adamw.ts) follow PyTorch float32', async (t) => {
  const { config, weights } = await load();
  const initial = byName(config, weights);
  const initialCopy = new Map([...initial].map(([n, a]) => [n, Float64Array.from(a)]));
  const params = namedParams(config, weights);
  const opt = new AdamW(golden.hyper);
  const losses: number[] = [];
  let normErr = 0;
  for (let k = 0; k < golden.lrs.length; k++) {
    const r = await gradientsCpu(config, weights, batch);
    losses.push(r.loss);
    const grads = namedGrads(config, r.grads);
    const norm = clipGradNorm(grads, golden.hyper.maxNorm);
    normErr = Math.max(normErr, Math.abs(norm - golden.float32.gradNorms[k]) / golden.float32.gradNorms[k]);
    opt.update(params, grads, golden.lrs[k]);
  }
  const finalLoss = (await gradientsCpu(config, weights, batch)).loss;
  const want = golden.float32;
  const lossErr = Math.max(...losses.map((l, k) => Math.abs(l - want.losses[k]) / want.losses[k]), Math.abs(finalLoss - want.finalLoss) / want.finalLoss);
  const wts = compareAll(config, weights, want.finalWeights);
  // the 10 updates themselves (final − initial), which the weights' own scale would hide
  let worstUpdate = 0;
  for (const [name, w] of byName(config, weights)) {
    const w0 = initialCopy.get(name)!;
    const ours = Float64Array.from(w, (x, i) => x - w0[i]);
    const theirs = Float64Array.from(want.finalWeights[name], (x, i) => x - w0[i]);
    worstUpdate = Math.max(worstUpdate, maxRelErr(ours, theirs));
  }
  t.log(`losses ${losses.map((l) => l.toFixed(6)).join(' ')} final ${finalLoss.toFixed(6)} (torch f32 ${want.losses.map((l) => l.toFixed(6)).join(' ')})`);
  t.log(`max rel error: losses ${lossErr.toExponential(2)}, grad norms ${normErr.toExponential(2)}, final weights ${wts.worst.toExponential(2)}, updates ${worstUpdate.toExponential(2)}`);
  t.true(lossErr < TOLERANCE.forward);
  t.true(normErr < TOLERANCE.backward);
  t.true(wts.worst < TOLERANCE.backward);
  t.true(worstUpdate < 1e-3);
});
