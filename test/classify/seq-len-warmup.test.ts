// Sequence-length warmup in `classify train` fine-tuning: the stages are pretrain's (schedule.ts), each
// step draws windows of its stage's length with tokens per step constant, and a run resumed at a stage
// boundary or inside a stage repeats a straight run exactly (losses, gradient norms, weights, head).
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyStages, loadClassifyCheckpoint, trainClassifier, type ClassifyRun, type StepRecord } from '../../src/classify/train.js';
import type { SourceSplit } from '../../src/classify/sources.js';
import { makeConfig } from '../../src/model/config.js';
import { initWeights } from '../../src/model/init.js';
import { FakeGenome, randomBases } from '../data/fake-genome.js';

const tmp = mkdtempSync(join(tmpdir(), 'classify-warmup-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const config = makeConfig({ dModel: 8, nLayer: 1, dState: 4 });
// two "species" of different base composition, 12 kb each, the last 2 kb test
const genomes = [new FakeGenome({ a: randomBases(12000, 3) }), new FakeGenome({ b: randomBases(12000, 4, 'AATGC') })];
const splits: SourceSplit[] = [
  { species: 'A', fasta: 'a.fa', train: [{ name: 'a', start: 0, end: 10000 }], test: [{ name: 'a', start: 10000, end: 12000 }] },
  { species: 'B', fasta: 'b.fa', train: [{ name: 'b', start: 0, end: 10000 }], test: [{ name: 'b', start: 10000, end: 12000 }] },
];

const run = (over: Partial<ClassifyRun> = {}): ClassifyRun => ({
  kind: 'mamba', species: ['A', 'B'], sources: splits.map(({ species, fasta }) => ({ species, fasta })), split: { holdoutFraction: 1 / 6 },
  seqLen: 4096, batch: 1, seqLenWarmup: true, seqLenWarmupFraction: 2 / 3, steps: 6, scheduleSteps: 6,
  lr: 1e-2, minLrRatio: 0.1, warmupFraction: 0.1, weightDecay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, clip: 1, seed: 5,
  pool: 'mean', freezeBackbone: false, probeWindows: 0, rcAug: true, maxNFraction: 0.1, saveEvery: 1, keepCheckpoints: 0,
  k: 6, alpha: 1, kmerSource: 'windows', ...over,
});

async function straight(name: string, r: ClassifyRun): Promise<{ dir: string; steps: StepRecord[] }> {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const steps: StepRecord[] = [];
  const out = await trainClassifier({ runDir: dir, run: r, splits, genomes, config, weights: initWeights(config, 1), onStep: (s) => steps.push(s) });
  if (out.status !== 'done') throw new Error(`${name}: ${out.status}`);
  return { dir, steps };
}

const bytes = (dir: string, f: string) => readFileSync(join(dir, f));
const curve = (steps: StepRecord[]) => steps.map((s) => [s.step, s.seqLen, s.windows, s.loss, s.gradNorm, s.lr]);

test('stages for seq-len 4096: 1024×4, 2048×2, then 4096×1 (pretrain\'s seqLenStages); none for a probe or without the flag', (t) => {
  t.deepEqual(classifyStages(run()).map((s) => [s.seqLen, s.batch, s.firstStep, s.lastStep]), [[1024, 4, 1, 2], [2048, 2, 3, 4], [4096, 1, 5, Infinity]]);
  t.is(classifyStages(run({ seqLenWarmup: false })).length, 1);
  t.is(classifyStages(run({ freezeBackbone: true })).length, 1);
  t.is(classifyStages(run({ seqLenWarmup: undefined, seqLenWarmupFraction: undefined })).length, 1); // a run made before the flag
});

test.serial('each step draws windows of its stage\'s length, tokens per step constant; resume at a boundary and inside a stage equals a straight run', async (t) => {
  const a = await straight('straight', run());
  t.deepEqual(a.steps.map((s) => [s.seqLen, s.windows]), [[1024, 4], [1024, 4], [2048, 2], [2048, 2], [4096, 1], [4096, 1]]);
  t.true(a.steps.every((s) => s.seqLen * s.windows === 4096));
  t.log(`losses ${a.steps.map((s) => s.loss.toFixed(4)).join(' ')}`);
  for (const from of [2, 3, 4]) { // 2 and 4: the last step of a stage; 3: inside stage 1
    const dir = join(tmp, `resume-${from}`);
    mkdirSync(dir);
    const first: StepRecord[] = [];
    await trainClassifier({ runDir: dir, run: run({ steps: from }), splits, genomes, config, weights: initWeights(config, 1), onStep: (s) => first.push(s) });
    const ck = await loadClassifyCheckpoint(dir);
    t.is(ck.state.step, from);
    t.is(ck.state.stage, from <= 2 ? 0 : 1);
    const rest: StepRecord[] = [];
    const out = await trainClassifier({
      runDir: dir, run: { ...ck.state.run, steps: 6 }, splits, genomes, config: ck.config, weights: ck.weights,
      resume: { state: ck.state, head: ck.head, optimizer: ck.optimizer, dir: ck.dir }, onStep: (s) => rest.push(s),
    });
    t.is(out.status, 'done');
    t.deepEqual(curve([...first, ...rest]), curve(a.steps), `resumed at step ${from}`);
    t.deepEqual(bytes(dir, 'model.safetensors'), bytes(a.dir, 'model.safetensors'), `backbone, resumed at step ${from}`);
    t.deepEqual(bytes(dir, 'head.safetensors'), bytes(a.dir, 'head.safetensors'), `head, resumed at step ${from}`);
  }
  // the warmup changes what is trained on: a run without it takes every step at 4096×1
  const b = await straight('no-warmup', run({ seqLenWarmup: false }));
  t.deepEqual(b.steps.map((s) => [s.seqLen, s.windows]), Array(6).fill([4096, 1]));
  t.notDeepEqual(b.steps[0].loss, a.steps[0].loss);
});
