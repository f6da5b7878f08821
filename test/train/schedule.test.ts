import test from 'ava';
import { learningRate, seqLenStages, stageAt, warmupSteps, type LrSchedule } from '../../src/train/schedule.js';

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));

test('lr: linear warmup to peak, cosine to minLrRatio·peak at the horizon, flat after', (t) => {
  const s: LrSchedule = { peak: 8e-3, horizon: 100, warmupFraction: 0.1, minLrRatio: 0.1 };
  t.is(warmupSteps(s), 10);
  t.true(close(learningRate(s, 1), 8e-4));
  t.true(close(learningRate(s, 5), 4e-3));
  t.true(close(learningRate(s, 10), 8e-3));
  // halfway through the cosine (t = 55): min + (peak-min)/2
  t.true(close(learningRate(s, 55), 8e-4 + (8e-3 - 8e-4) / 2));
  t.true(close(learningRate(s, 100), 8e-4));
  t.true(close(learningRate(s, 250), 8e-4));
  // monotone decreasing after warmup
  for (let k = 11; k <= 100; k++) t.true(learningRate(s, k) <= learningRate(s, k - 1) + 1e-18);
  // hand value at t = 32: p = 22/90
  t.true(close(learningRate(s, 32), 8e-4 + 7.2e-3 * 0.5 * (1 + Math.cos(Math.PI * 22 / 90))));
});

test('lr: no warmup starts at peak; a horizon of one step is its minimum', (t) => {
  t.is(learningRate({ peak: 1, horizon: 10, warmupFraction: 0, minLrRatio: 0.1 }, 1) > 0.97, true);
  t.true(close(learningRate({ peak: 1, horizon: 1, warmupFraction: 0, minLrRatio: 0.1 }, 1), 0.1));
});

test('seq-len warmup stages: 2^10 doubling to seq-len, batch halving so tokens per step are constant', (t) => {
  const stages = seqLenStages({ seqLen: 8192, batch: 2, horizon: 1000, warmup: true, warmupFraction: 0.5 });
  t.deepEqual(stages.map((s) => s.seqLen), [1024, 2048, 4096, 8192]);
  t.deepEqual(stages.map((s) => s.batch), [16, 8, 4, 2]);
  t.deepEqual(stages.map((s) => s.seqLen * s.batch), [16384, 16384, 16384, 16384]);
  t.deepEqual(stages.map((s) => [s.firstStep, s.lastStep]), [[1, 166], [167, 332], [333, 498], [499, Infinity]]);
  t.is(stageAt(stages, 1).seqLen, 1024);
  t.is(stageAt(stages, 166).seqLen, 1024);
  t.is(stageAt(stages, 167).seqLen, 2048);
  t.is(stageAt(stages, 5000).seqLen, 8192);
  // no warmup, or a length at or below 2^10: one stage
  t.is(seqLenStages({ seqLen: 8192, batch: 2, horizon: 1000, warmup: false, warmupFraction: 0.5 }).length, 1);
  t.is(seqLenStages({ seqLen: 512, batch: 2, horizon: 1000, warmup: true, warmupFraction: 0.5 }).length, 1);
  // a final length that is not a power of two
  t.deepEqual(seqLenStages({ seqLen: 3000, batch: 1, horizon: 10, warmup: true, warmupFraction: 0.5 }).map((s) => [s.seqLen, s.batch]), [[1024, 2], [2048, 1], [3000, 1]]);
});
