// The pretraining loop: windows from the sampler → gradients (a GradientFn) → clipping → AdamW at the
// scheduled learning rate; metrics, validation and checkpoints along the way.
//
// Determinism: every random choice is the window sampler's, which is counter-based (window k of a
// stage depends only on its seed and k), and the sampler state is checkpointed at step boundaries,
// so a run resumed from step-N repeats exactly the losses and weights of a run that never stopped —
// given a deterministic GradientFn (both engines are).
// Step t (1-based) uses: sequence-length stage stageAt(t), micro-batches of `stage.batch` windows,
// `gradAccum` of them (gradients averaged), global-norm clipping, lr = learningRate(t).
// It never touches `process`: cancellation is an AbortSignal (checked between micro-batches; the step
// in flight is dropped and the last completed step is checkpointed).
import { join } from 'node:path';
import { Rng } from '../data/rng.js';
import { WindowSampler } from '../data/sampler.js';
import { InputError } from '../errors.js';
import type { Genome } from '../genome/types.js';
import type { MambaConfig } from '../model/config.js';
import type { MambaWeights } from '../model/weights.js';
import { saveCheckpoint } from '../checkpoint/checkpoint.js';
import { AdamW, type AdamWState, clipGradNorm, namedGrads, namedParams } from './adamw.js';
import { MetricsWriter, METRICS_FILE, truncateMetrics, type TrainRecord, type ValidRecord } from './metrics.js';
import { learningRate, seqLenStages, stageAt, type LrSchedule, type SeqLenStage } from './schedule.js';
import { saveTrainingCheckpoint, type RunSettings, type TrainerState, TRAINER_STATE_KIND } from './trainer-state.js';
import type { GradientFn } from './types.js';
import type { Validator } from './validate.js';

/** A non-finite loss or gradient: the run stops and the last good checkpoint is kept. */
export class DivergenceError extends InputError {
  override name = 'DivergenceError';
}

export interface TrainHooks {
  onStep?(r: TrainRecord): void;
  onValid?(r: ValidRecord): void;
  onSave?(dir: string, step: number): void;
  onStage?(stage: SeqLenStage): void;
}

export interface TrainOptions {
  runDir: string;
  genome: Genome;
  config: MambaConfig;
  /** updated in place */
  weights: MambaWeights;
  run: RunSettings;
  gradientFn: GradientFn;
  validate?: Validator;
  /** continue from a checkpoint: its trainer state and optimizer moments (weights are `weights`) */
  resume?: { state: TrainerState; optimizer: AdamWState; dir: string };
  signal?: AbortSignal;
  hooks?: TrainHooks;
  /** milliseconds clock, for tests */
  now?: () => number;
}

export interface TrainOutcome {
  status: 'done' | 'interrupted';
  /** optimizer steps completed */
  step: number;
  /** newest checkpoint directory, if any was written or resumed from */
  checkpoint?: string;
  lastValid?: ValidRecord;
  lastTrain?: TrainRecord;
}

export function scheduleOf(run: RunSettings): LrSchedule {
  return { peak: run.lr, horizon: run.scheduleSteps, warmupFraction: run.warmupFraction, minLrRatio: run.minLrRatio };
}

export function stagesOf(run: RunSettings): SeqLenStage[] {
  return seqLenStages({ seqLen: run.seqLen, batch: run.batch, horizon: run.scheduleSteps, warmup: run.seqLenWarmup, warmupFraction: run.seqLenWarmupFraction });
}

/** The sampler seed of a sequence-length stage: stages draw unrelated window streams. */
export function stageSeed(seed: number, stage: number): number {
  return Rng.derive(seed, 0x5ea1e7, stage).nextUint32();
}

export async function train(o: TrainOptions): Promise<TrainOutcome> {
  const { run, config, weights, genome } = o;
  const now = o.now ?? (() => performance.now());
  const schedule = scheduleOf(run);
  const stages = stagesOf(run);
  const params = namedParams(config, weights);
  const opt = new AdamW({ beta1: run.beta1, beta2: run.beta2, eps: run.eps, weightDecay: run.weightDecay });
  let step = 0;
  let tokensSeen = 0;
  let elapsedBefore = 0;
  let checkpoint: string | undefined;
  let sampler: WindowSampler | undefined;
  let stage: SeqLenStage | undefined;

  const makeSampler = (s: SeqLenStage) => new WindowSampler(genome, {
    windowLength: s.seqLen, seed: stageSeed(run.seed, s.index), regions: run.trainRegions,
    maxNFraction: run.maxNFraction, reverseComplement: run.rcAug,
  });

  if (o.resume) {
    const st = o.resume.state;
    opt.restore(o.resume.optimizer);
    step = st.step;
    tokensSeen = st.tokensSeen;
    elapsedBefore = st.elapsedSeconds;
    checkpoint = o.resume.dir;
    stage = stages[st.stage];
    if (!stage) throw new InputError(`${o.resume.dir}: trainer state names sequence-length stage ${st.stage}, this run has ${stages.length}; the checkpoint is damaged`);
    sampler = makeSampler(stage);
    sampler.restore(st.sampler);
    await truncateMetrics(join(o.runDir, METRICS_FILE), step);
  }

  const metrics = await MetricsWriter.open(join(o.runDir, METRICS_FILE));
  const sessionStart = now();
  const elapsed = () => elapsedBefore + (now() - sessionStart) / 1000;
  let lastValid: ValidRecord | undefined;
  let lastTrain: TrainRecord | undefined;
  let savedStep = o.resume ? step : -1;

  const validate = async () => {
    if (!o.validate) return;
    const v = await o.validate(config, weights);
    lastValid = { type: 'valid', step, loss: v.loss, bitsPerBase: v.bitsPerBase, accuracy: v.accuracy, predictions: v.predictions, elapsedSec: elapsed() };
    await metrics.write(lastValid);
    o.hooks?.onValid?.(lastValid);
  };
  const save = async () => {
    const state: TrainerState = {
      kind: TRAINER_STATE_KIND, step, tokensSeen, elapsedSeconds: elapsed(),
      stage: stage?.index ?? 0, sampler: (sampler ?? makeSampler(stageAt(stages, 1))).state(), run,
    };
    checkpoint = await saveTrainingCheckpoint(o.runDir, config, weights, opt.state(), state, run.keepCheckpoints);
    savedStep = step;
    o.hooks?.onSave?.(checkpoint, step);
  };

  try {
    if (!o.resume) await validate();
    while (step < run.steps) {
      if (o.signal?.aborted) break;
      const t = step + 1;
      const s = stageAt(stages, t);
      if (!stage || s.index !== stage.index || !sampler) {
        stage = s;
        sampler = makeSampler(s);
        o.hooks?.onStage?.(s);
      }
      const started = now();
      const before = sampler.state();
      let sum: Float64Array[] | undefined;
      let single: Float32Array[] | undefined;
      let lossSum = 0;
      let count = 0;
      let correct = 0;
      let aborted = false;
      for (let a = 0; a < run.gradAccum; a++) {
        if (a > 0 && o.signal?.aborted) {
          aborted = true;
          break;
        }
        const { ids } = await sampler.nextBatch(s.batch);
        const r = await o.gradientFn(config, weights, { ids, B: s.batch, L: s.seqLen });
        if (!Number.isFinite(r.loss)) throw divergence(t, `the loss is ${r.loss}`);
        lossSum += r.loss * r.count;
        count += r.count;
        correct += r.correct;
        const g = namedGrads(config, r.grads);
        if (run.gradAccum === 1) {
          single = g; // used as is: no extra rounding when there is nothing to average
        } else {
          sum ??= g.map((x) => new Float64Array(x.length));
          for (let i = 0; i < g.length; i++) {
            const acc = sum[i];
            const gi = g[i];
            for (let j = 0; j < gi.length; j++) acc[j] += gi[j];
          }
        }
      }
      if (aborted) {
        sampler.restore(before); // the step is dropped whole: the resumed run redraws its windows
        break;
      }
      // the mean over micro-batches (each is already a mean over its B·(L-1) predictions)
      const grads = run.gradAccum === 1 ? single! : sum!.map((acc) => Float32Array.from(acc, (x) => x / run.gradAccum));
      const gradNorm = clipGradNorm(grads, run.clip);
      if (!Number.isFinite(gradNorm)) throw divergence(t, `the gradient norm is ${gradNorm}`);
      const lr = learningRate(schedule, t);
      opt.update(params, grads, lr);
      step = t;
      const tokens = run.gradAccum * s.batch * s.seqLen;
      tokensSeen += tokens;
      const loss = lossSum / count;
      lastTrain = {
        type: 'train', step, loss, bitsPerBase: loss / Math.LN2, accuracy: correct / count, lr, gradNorm,
        seqLen: s.seqLen, batch: run.gradAccum * s.batch, tokens: tokensSeen,
        tokensPerSec: tokens / Math.max(1e-9, (now() - started) / 1000), elapsedSec: elapsed(),
      };
      await metrics.write(lastTrain);
      o.hooks?.onStep?.(lastTrain);
      if ((run.evalEvery > 0 && step % run.evalEvery === 0) || step === run.steps) await validate();
      if ((run.saveEvery > 0 && step % run.saveEvery === 0) || step === run.steps) await save();
    }
    if (step < run.steps) {
      // interrupted: keep what was completed
      if (savedStep !== step) await save();
      return { status: 'interrupted', step, checkpoint, lastValid, lastTrain };
    }
    if (savedStep !== step) await save();
    await saveCheckpoint(o.runDir, config, weights, { metadata: { 'mamba_dna.step': String(step) } });
    return { status: 'done', step, checkpoint, lastValid, lastTrain };
  } finally {
    await metrics.close();
  }

  function divergence(t: number, what: string): DivergenceError {
    const kept = checkpoint ? `the last good checkpoint ${checkpoint} (step ${savedStep}) is intact` : 'no checkpoint was written';
    return new DivergenceError(`training diverged at step ${t}: ${what} (lr ${learningRate(schedule, t).toExponential(2)}); ${kept}; start again with a lower --lr or a tighter --clip`);
  }
}
