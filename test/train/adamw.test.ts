// AdamW and gradient clipping against PyTorch (fixtures/golden/adamw, written by
// scripts/golden/make_adamw_golden.py with torch.optim.AdamW + clip_grad_norm_), against a hand-computed
// first step, and the decay groups on a real model's parameter names.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { AdamW, clipGradNorm, hasWeightDecay, namedParams, type NamedParam } from '../../src/train/adamw.js';
import { makeConfig } from '../../src/model/config.js';
import { initWeights } from '../../src/model/init.js';

interface Golden {
  hyper: { beta1: number; beta2: number; eps: number; weightDecay: number; maxNorm: number };
  decay: Record<string, boolean>;
  initial: Record<string, number[]>;
  steps: {
    lr: number; gradNorm: number;
    grads: Record<string, number[]>; clippedGrads: Record<string, number[]>;
    params: Record<string, number[]>; expAvg: Record<string, number[]>; expAvgSq: Record<string, number[]>;
  }[];
}
const golden: Golden = JSON.parse(readFileSync('fixtures/golden/adamw/adamw.json', 'utf8'));

/** max |a-b| in units of b's float32 spacing (ulps), and how many elements are not bit-identical */
function ulpDiff(a: Float32Array, b: readonly number[]): { maxUlp: number; differing: number } {
  let maxUlp = 0;
  let differing = 0;
  for (let i = 0; i < b.length; i++) {
    if (Object.is(a[i], Math.fround(b[i]))) continue;
    differing++;
    const ulp = Math.max(2 ** -149, 2 ** (Math.floor(Math.log2(Math.abs(b[i]) || 2 ** -126)) - 23));
    maxUlp = Math.max(maxUlp, Math.abs(a[i] - b[i]) / ulp);
  }
  return { maxUlp, differing };
}

test('AdamW + clip_grad_norm_ follow torch.optim.AdamW bit for bit over 6 steps (clipped and unclipped)', (t) => {
  const names = Object.keys(golden.initial);
  const params: NamedParam[] = names.map((name) => ({ name, param: Float32Array.from(golden.initial[name]), decay: golden.decay[name] }));
  const opt = new AdamW(golden.hyper);
  let worst = 0;
  let differing = 0;
  let total = 0;
  for (const [k, step] of golden.steps.entries()) {
    const grads = names.map((n) => Float32Array.from(step.grads[n]));
    const norm = clipGradNorm(grads, golden.hyper.maxNorm);
    t.true(Math.abs(norm - step.gradNorm) <= 1e-6 * step.gradNorm, `step ${k + 1}: norm ${norm} vs torch ${step.gradNorm}`);
    names.forEach((n, i) => {
      const d = ulpDiff(grads[i], step.clippedGrads[n]);
      t.true(d.maxUlp <= 1, `step ${k + 1} clipped grad ${n}: ${d.maxUlp} ulp`);
    });
    opt.update(params, names.map((n) => Float32Array.from(step.clippedGrads[n])), step.lr);
    for (const [i, n] of names.entries()) {
      for (const [mine, theirs] of [[params[i].param, step.params[n]], [opt.expAvg.get(n)!, step.expAvg[n]], [opt.expAvgSq.get(n)!, step.expAvgSq[n]]] as const) {
        const d = ulpDiff(mine, theirs);
        worst = Math.max(worst, d.maxUlp);
        differing += d.differing;
        total += theirs.length;
      }
    }
  }
  t.log(`params + moments over ${golden.steps.length} steps: ${differing} of ${total} values differ from PyTorch, max ${worst.toFixed(2)} ulp`);
  t.true(golden.steps.some((s) => s.gradNorm > 1) && golden.steps.some((s) => s.gradNorm < 1), 'golden covers clipped and unclipped steps');
  // bit-identical with the torch 1.13 that wrote the golden; allow 1 ulp for another build's fused/unfused rounding
  t.true(worst <= 1, `max difference ${worst} ulp`);
});

test('first AdamW step by hand: p·(1−lr·λ) − lr·g/(|g|+ε) for decayed, −lr·sign(g) without decay', (t) => {
  const lr = 0.01;
  const opt = new AdamW({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const decayed: NamedParam = { name: 'w', param: Float32Array.of(1, -2, 0.5), decay: true };
  const plain: NamedParam = { name: 'b', param: Float32Array.of(1, -2, 0.5), decay: false };
  const g = Float32Array.of(0.3, -4, 0);
  opt.update([decayed, plain], [g, g], lr);
  // step 1: m̂ = g, v̂ = g², update = lr·g/(|g|+ε)
  const expect = (p: number, gi: number, decay: boolean) => p * (decay ? 1 - lr * 0.1 : 1) - lr * gi / (Math.abs(gi) + 1e-8);
  for (let i = 0; i < 3; i++) {
    t.true(Math.abs(decayed.param[i] - expect([1, -2, 0.5][i], g[i], true)) < 1e-6, `decayed[${i}] ${decayed.param[i]}`);
    t.true(Math.abs(plain.param[i] - expect([1, -2, 0.5][i], g[i], false)) < 1e-6, `plain[${i}] ${plain.param[i]}`);
  }
  t.is(opt.step, 1);
  // a zero gradient leaves an undecayed parameter exactly unchanged
  t.is(plain.param[2], 0.5);
});

test('clipGradNorm leaves small gradients untouched and scales large ones to norm 1', (t) => {
  const small = [Float32Array.of(0.3, 0.4)];
  t.is(clipGradNorm(small, 1), Math.fround(0.5));
  t.deepEqual([...small[0]], [Math.fround(0.3), Math.fround(0.4)]);
  const big = [Float32Array.of(3), Float32Array.of(4)];
  t.is(clipGradNorm(big, 1), 5);
  t.true(Math.abs(Math.hypot(big[0][0], big[1][0]) - 1) < 1e-6);
  t.true(Number.isNaN(clipGradNorm([Float32Array.of(NaN, 1)], 1)));
});

test('decay groups: matrices of the mixers decay; embedding, norms, biases, A_log and D do not', (t) => {
  const cfg = makeConfig({ dModel: 8, nLayer: 2, dState: 4 });
  const params = namedParams(cfg, initWeights(cfg, 1));
  const decayed = params.filter((p) => p.decay).map((p) => p.name.replace(/layers\.\d+\./, 'layers.i.'));
  const plain = params.filter((p) => !p.decay).map((p) => p.name.replace(/layers\.\d+\./, 'layers.i.'));
  t.deepEqual([...new Set(decayed)].sort(), [
    'backbone.layers.i.mixer.conv1d.weight', 'backbone.layers.i.mixer.dt_proj.weight', 'backbone.layers.i.mixer.in_proj.weight',
    'backbone.layers.i.mixer.out_proj.weight', 'backbone.layers.i.mixer.x_proj.weight',
  ]);
  t.deepEqual([...new Set(plain)].sort(), [
    'backbone.embedding.weight', 'backbone.layers.i.mixer.A_log', 'backbone.layers.i.mixer.D', 'backbone.layers.i.mixer.conv1d.bias',
    'backbone.layers.i.mixer.dt_proj.bias', 'backbone.layers.i.norm.weight', 'backbone.norm_f.weight',
  ]);
  t.true(hasWeightDecay('lm_head.weight'));
  t.false(hasWeightDecay('backbone.layers.0.norm.bias'));
});
