// Learning, measured honestly: on a genome drawn from a known order-3 Markov chain
// (fixtures/markov/markov3.*, scripts/markov-genome.ts) a short CPU run of a small model must reach
// held-out bits per base within 0.1 of the chain's exact entropy rate — which no model can beat — and
// well below what 2 bases of context allow (so it learned the order-3 structure, not base frequencies).
// Also: gradient accumulation (2 micro-batches of 1) matches one batch of 2 over the same windows.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../src/backend/registry.js';
import { openGenome } from '../../src/genome/open.js';
import { makeConfig } from '../../src/model/config.js';
import { initWeights } from '../../src/model/init.js';
import type { MambaWeights } from '../../src/model/weights.js';
import { gradientsCpu } from '../../src/train/grad.js';
import { train } from '../../src/train/loop.js';
import { capRegions, tailSplit } from '../../src/train/split.js';
import type { RunSettings } from '../../src/train/trainer-state.js';
import { makeValidator } from '../../src/train/validate.js';

const info = JSON.parse(readFileSync('fixtures/markov/markov3.json', 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'markov-learning-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

function settings(over: Partial<RunSettings>): RunSettings {
  return {
    fasta: 'fixtures/markov/markov3.fa', validFraction: 0.1, trainRegions: [], validRegions: [], seed: 0,
    steps: 100, scheduleSteps: 100, lr: 8e-3, minLrRatio: 0.1, warmupFraction: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8,
    weightDecay: 0.1, clip: 1, seqLen: 256, batch: 8, gradAccum: 1, seqLenWarmup: false, seqLenWarmupFraction: 0.5,
    rcAug: false, maxNFraction: 0.1, evalEvery: 0, evalBases: 100_000, saveEvery: 0, keepCheckpoints: 1, gradEngine: 'cpu', initFrom: 'init seed 0',
    ...over,
  };
}

test.serial('a small model learns the order-3 chain: held-out bits/base within 0.1 of the entropy rate', async (t) => {
  const genome = await openGenome('fixtures/markov/markov3.fa');
  const backend = await createBackend('cpu', { threads: 1 });
  try {
    const split = tailSplit(genome, 0.1);
    const config = makeConfig({ dModel: 32, nLayer: 2 });
    const weights = initWeights(config, 0);
    const started = performance.now();
    const out = await train({
      runDir: tmp, genome, config, weights, gradientFn: gradientsCpu,
      run: settings({ trainRegions: split.train, validRegions: split.valid }),
      validate: makeValidator(backend, genome, capRegions(split.valid, 100_000), 4096),
    });
    const seconds = (performance.now() - started) / 1000;
    // the true chain's own score on the same held-out bases (from the 4th base of each region on)
    const BASE: Record<string, number> = { A: 0, C: 1, G: 2, T: 3 };
    let nll = 0;
    let n = 0;
    for (const r of split.valid) {
      const s = await genome.fetch(r.name, r.start, r.end);
      for (let i = 3; i < s.length; i++) {
        const ctx = 16 * BASE[s[i - 3]] + 4 * BASE[s[i - 2]] + BASE[s[i - 1]];
        nll -= Math.log2(info.transitions[ctx][BASE[s[i]]]);
        n++;
      }
    }
    const H = info.entropyRateBits as number;
    const got = out.lastValid!.bitsPerBase;
    t.log(`${seconds.toFixed(1)} s, 100 steps × 2,048 tokens: held-out ${got.toFixed(4)} bits/base; entropy rate ${H.toFixed(4)}; ` +
      `the true chain scores ${(nll / n).toFixed(4)} on these bases; 2-base context allows ${info.conditionalEntropyBits.k2.toFixed(4)}`);
    t.is(out.status, 'done');
    t.true(got - H < 0.1, `held-out ${got} vs entropy rate ${H}`);
    t.true(got < info.conditionalEntropyBits.k2 - 0.3, 'learned more than 2 bases of context');
  } finally {
    await backend.dispose();
    await genome.close();
  }
});

test.serial('gradient accumulation: 2 micro-batches of 1 window == 1 batch of 2 (same windows, same losses)', async (t) => {
  const genome = await openGenome('fixtures/lambda_virus.fa');
  try {
    const split = tailSplit(genome, 0.1);
    const config = makeConfig({ dModel: 16, nLayer: 2, dState: 4 });
    const runs: Array<{ losses: number[]; weights: MambaWeights }> = [];
    for (const [batch, gradAccum] of [[2, 1], [1, 2]]) {
      const dir = mkdtempSync(join(tmp, 'accum-'));
      const weights = initWeights(config, 1);
      const losses: number[] = [];
      await train({
        runDir: dir, genome, config, weights, gradientFn: gradientsCpu,
        run: settings({ trainRegions: split.train, validRegions: [], steps: 5, scheduleSteps: 5, seqLen: 64, batch, gradAccum }),
        hooks: { onStep: (r) => losses.push(r.loss) },
      });
      runs.push({ losses, weights });
    }
    const maxLoss = Math.max(...runs[0].losses.map((l, i) => Math.abs(l - runs[1].losses[i])));
    let maxW = 0;
    runs[0].weights.layers[0].inProj.forEach((v, i) => { maxW = Math.max(maxW, Math.abs(v - runs[1].weights.layers[0].inProj[i])); });
    t.log(`max loss difference ${maxLoss.toExponential(2)}, max in_proj weight difference ${maxW.toExponential(2)} after 5 steps`);
    t.true(maxLoss < 1e-5);
    t.true(maxW < 1e-4);
  } finally {
    await genome.close();
  }
});
