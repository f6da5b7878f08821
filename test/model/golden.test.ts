// Golden test: a tiny Mamba LM and its outputs written by an independent PyTorch implementation
// (scripts/golden/make_golden.py, run by hand; fixtures/golden/tiny/). Our checkpoint loader and
// model forward must reproduce its final-norm hidden states, logits and loss.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createCpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { MambaModel } from '../../src/model/mamba.js';
import { TOLERANCE } from '../kernels/tolerances.js';

const dir = 'fixtures/golden/tiny';
const expected = JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8')) as {
  tokens: number[]; L: number; D: number; V: number; hidden: number[][]; logits: number[][]; nll: number[]; loss: number;
};

function maxRel(got: Float32Array, want: number[][]): number {
  const flat = want.flat();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < flat.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - flat[i]));
    scale = Math.max(scale, Math.abs(flat[i]));
  }
  return diff / scale;
}

for (const threads of [1, 2]) {
  test(`golden model: hidden states, logits and loss match PyTorch (cpu, ${threads} thread${threads > 1 ? 's' : ''})`, async (t) => {
    const ckpt = await loadCheckpoint(dir);
    const be = await createCpuBackend(threads);
    try {
      const model = await MambaModel.load(be, ckpt.config, ckpt.weights);
      const ids = Uint8Array.from(expected.tokens);
      const { hidden, state } = await model.forward(ids, await model.initialState());
      const logitsT = await model.logits(hidden);
      const h = await be.read(hidden);
      const logits = await be.read(logitsT);
      const targets = Int32Array.from(expected.tokens.slice(1).concat([-1]));
      const ce = await be.crossEntropy(logitsT, targets);
      model.freeState(state);
      const loss = ce.nll.slice(0, -1).reduce((a, b) => a + b, 0) / (ids.length - 1);
      const eh = maxRel(h, expected.hidden);
      const el = maxRel(logits, expected.logits);
      const eLoss = Math.abs(loss - expected.loss) / expected.loss;
      t.log(`max rel error: hidden ${eh.toExponential(2)}, logits ${el.toExponential(2)}, loss ${eLoss.toExponential(2)} (loss ${loss.toFixed(6)} vs ${expected.loss.toFixed(6)})`);
      t.true(eh < TOLERANCE.forward);
      t.true(el < TOLERANCE.forward);
      t.true(eLoss < TOLERANCE.forward);
    } finally {
      await be.dispose();
    }
  });
}
