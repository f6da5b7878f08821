// `classify train`: fit a species classifier.
//   fine-tune (default): backbone + linear head on pooled final-norm hidden states, cross-entropy,
//     gradients through the backbone by backboneGradientsCpuSync (float32, one core), AdamW with
//     linear warmup + cosine (src/train/adamw.ts, schedule.ts), global-norm clipping;
//   --freeze-backbone (linear probe): pooled features of `probeWindows` training windows computed once
//     with the forward model on the chosen device, then the head alone trained on batches drawn from them;
//   --baseline kmer: naive Bayes counts (kmer.ts) from the same training windows, or whole training regions.
// Fine-tuning may warm up the window length as pretraining does (schedule.ts seqLenStages): 1,024,
// 2,048, … below seqLen, then seqLen, with batch·seqLen/L_k windows per step so tokens per step stay
// constant; each stage draws its own window stream (stage 0 keeps the run's seed, so a run without
// warmup is unchanged), and the checkpoint names the stage its sampler state belongs to.
// Checkpoints mirror pretrain's (src/train/trainer-state.ts): RUN/checkpoints/step-N written whole in a
// hidden staging directory and renamed, holding the backbone (config.json + model.safetensors),
// head.safetensors, optimizer.safetensors (AdamW moments, backbone and head) and classify-state.json
// (step, sampler state, the run's settings), so --resume repeats a straight run exactly.
import { mkdir, mkdtemp, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint.js';
import { readSafetensors, writeSafetensors, type WriteTensor } from '../checkpoint/safetensors.js';
import { Rng } from '../data/rng.js';
import { InputError } from '../errors.js';
import type { Genome } from '../genome/types.js';
import type { MambaConfig } from '../model/config.js';
import type { MambaModel } from '../model/mamba.js';
import type { MambaWeights } from '../model/weights.js';
import { encode } from '../tokenizer/index.js';
import { tensorSpecs } from '../model/weights.js';
import { AdamW, clipGradNorm, namedGrads, namedParams, type AdamWState, type NamedParam } from '../train/adamw.js';
import { backboneGradientsCpuSync } from '../train/grad-cpu.js';
import { truncateMetrics } from '../train/metrics.js';
import { stageSeed } from '../train/loop.js';
import { learningRate, seqLenStages, stageAt, type LrSchedule, type SeqLenStage } from '../train/schedule.js';
import { listCheckpointSteps } from '../train/trainer-state.js';
import { CLASSIFIER_FILE, CLASSIFIER_FORMAT, HEAD_FILE, KMER_FILE, pooledFeature, readHead, writeHead, type ClassifierJson } from './classifier.js';
import { HeadBatchLoss, initHead, type ClassifierHead, type Pool } from './head.js';
import { addKmerCounts, KmerModel, writeKmerCounts } from './kmer.js';
import { SpeciesSampler, type SpeciesSamplerState } from './sampler.js';
import { SPLIT_TSV, type SourceSplit, type SpeciesSource, type SplitRule } from './sources.js';

export const STATE_FILE = 'classify-state.json';
export const STATE_KIND = 'mamba-dna/classify-state/v1';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const METRICS_FILE = 'metrics.jsonl';

/** Settings fixed when a run starts (only steps/saveEvery/keepCheckpoints may change on --resume). */
export interface ClassifyRun {
  kind: 'mamba' | 'kmer';
  species: string[];
  sources: SpeciesSource[];
  split: SplitRule;
  /** the pretrained model it started from (mamba) */
  model?: string;
  seqLen: number;
  /** windows per step at the final seqLen */
  batch: number;
  /** fine-tuning: sequence-length warmup (absent in runs made before the flag: off) */
  seqLenWarmup?: boolean;
  /** fraction of the schedule spent in the shorter stages */
  seqLenWarmupFraction?: number;
  steps: number;
  scheduleSteps: number;
  lr: number;
  minLrRatio: number;
  warmupFraction: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  clip: number;
  seed: number;
  pool: Pool;
  freezeBackbone: boolean;
  /** linear probe: feature windows computed once */
  probeWindows: number;
  rcAug: boolean;
  maxNFraction: number;
  saveEvery: number;
  keepCheckpoints: number;
  k: number;
  alpha: number;
  kmerSource: 'windows' | 'whole';
}

export interface ClassifyState {
  kind: typeof STATE_KIND;
  step: number;
  elapsedSeconds: number;
  /** sequence-length stage the sampler state belongs to (absent: 0) */
  stage?: number;
  sampler: SpeciesSamplerState;
  run: ClassifyRun;
}

export interface StepRecord {
  type: 'train';
  step: number;
  loss: number;
  accuracy: number;
  lr: number;
  gradNorm: number;
  /** window length and windows of this step (the sequence-length stage) */
  seqLen: number;
  windows: number;
  windowsPerSec: number;
  elapsedSec: number;
}

export interface ClassifyTrainOptions {
  runDir: string;
  run: ClassifyRun;
  splits: SourceSplit[];
  genomes: Genome[];
  /** mamba: backbone (updated in place unless frozen) */
  config?: MambaConfig;
  weights?: MambaWeights;
  /** mamba with freezeBackbone: the forward model computing probe features */
  featureModel?: MambaModel;
  featureChunk?: number;
  resume?: { state: ClassifyState; head: ClassifierHead; optimizer: AdamWState; dir: string };
  signal?: AbortSignal;
  onStep?(r: StepRecord): void;
  onSave?(dir: string, step: number): void;
  onLog?(line: string): void;
  /** a fine-tuning step starts a new sequence-length stage */
  onStage?(stage: SeqLenStage): void;
  now?: () => number;
}

export function samplerFor(run: ClassifyRun, splits: readonly SourceSplit[], genomes: readonly Genome[], which: 'train' | 'test', seed: number, rc: boolean, windowLength = run.seqLen): SpeciesSampler {
  const sources = splits.map((s, g) => ({ species: run.species.indexOf(s.species), genome: genomes[g], regions: which === 'train' ? s.train : s.test }));
  return new SpeciesSampler(sources, run.species.length, { windowLength, seed, maxNFraction: run.maxNFraction, reverseComplement: rc }, run.species);
}

/** Fine-tuning's sequence-length stages (pretrain's, schedule.ts); one stage without warmup or for a probe. */
export function classifyStages(run: ClassifyRun): SeqLenStage[] {
  return seqLenStages({
    seqLen: run.seqLen, batch: run.batch, horizon: run.scheduleSteps, warmup: (run.seqLenWarmup ?? false) && !run.freezeBackbone,
    warmupFraction: run.seqLenWarmupFraction ?? 0.5,
  });
}

/** Stage k's window-stream seed: stage 0 keeps the run's seed (runs without warmup are unchanged). */
function classifyStageSeed(seed: number, k: number): number {
  return k === 0 ? seed : stageSeed(seed, k);
}

function headParams(head: ClassifierHead): NamedParam[] {
  return [
    { name: 'classifier.weight', param: head.weight, decay: true },
    { name: 'classifier.bias', param: head.bias, decay: false },
  ];
}

function schedule(run: ClassifyRun): LrSchedule {
  return { peak: run.lr, horizon: run.scheduleSteps, warmupFraction: run.warmupFraction, minLrRatio: run.minLrRatio };
}

export function classifierJson(run: ClassifyRun, extra: Partial<ClassifierJson>): ClassifierJson {
  const { sources, ...training } = run;
  return {
    format: CLASSIFIER_FORMAT, kind: run.kind, species: run.species, seqLen: run.seqLen, ...extra, split: SPLIT_TSV,
    training: { ...training, sources: sources.map((s) => ({ ...s })) },
  };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const fh = await open(path, 'w', 0o644);
  try {
    await fh.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The fine-tune / probe loop. Returns the step reached and whether it was interrupted. */
export async function trainClassifier(o: ClassifyTrainOptions): Promise<{ step: number; status: 'done' | 'interrupted'; checkpoint?: string; lastLoss?: number }> {
  const { run } = o;
  const config = o.config!;
  const weights = o.weights!;
  const now = o.now ?? (() => performance.now());
  const D = config.dModel;
  const head = o.resume?.head ?? initHead(run.species.length, D, run.seed);
  const opt = new AdamW({ beta1: run.beta1, beta2: run.beta2, eps: run.eps, weightDecay: run.weightDecay });
  const params = run.freezeBackbone ? headParams(head) : [...namedParams(config, weights), ...headParams(head)];
  const stages = classifyStages(run);
  const makeSampler = (s: SeqLenStage) => samplerFor(run, o.splits, o.genomes, 'train', classifyStageSeed(run.seed, s.index), run.rcAug, s.seqLen);
  let stage = stages[0];
  let sampler = makeSampler(stage);
  let step = 0;
  let elapsedBefore = 0;
  let checkpoint: string | undefined;
  if (o.resume) {
    opt.restore(o.resume.optimizer);
    step = o.resume.state.step;
    elapsedBefore = o.resume.state.elapsedSeconds;
    const k = o.resume.state.stage ?? 0;
    if (!stages[k]) throw new InputError(`${o.resume.dir}: ${STATE_FILE} names sequence-length stage ${k}, this run has ${stages.length}; the checkpoint is damaged`);
    if (k !== stage.index) sampler = makeSampler((stage = stages[k]));
    sampler.restore(o.resume.state.sampler);
    checkpoint = o.resume.dir;
    await truncateMetrics(join(o.runDir, METRICS_FILE), step);
  }
  // linear probe: features of a fixed pool of training windows, computed once
  let probe: { features: Float32Array; labels: Int32Array } | undefined;
  if (run.freezeBackbone) {
    const P = run.probeWindows;
    const features = new Float32Array(P * D); // (P, D)
    const labels = new Int32Array(P);
    const t0 = now();
    for (let k = 0; k < P; k++) {
      const w = await sampler.window(k);
      features.set(await pooledFeature(o.featureModel!, [w.ids], run.pool), k * D);
      labels[k] = w.species;
      if ((k + 1) % 256 === 0 || k + 1 === P) o.onLog?.(`classify: probe features ${k + 1}/${P} windows (${((now() - t0) / 1000).toFixed(1)} s)`);
      if (o.signal?.aborted) return { step, status: 'interrupted', checkpoint };
    }
    probe = { features, labels };
  }
  const metrics = await open(join(o.runDir, METRICS_FILE), 'a');
  const start = now();
  const elapsed = () => elapsedBefore + (now() - start) / 1000;
  let savedStep = o.resume ? step : -1;
  let lastLoss: number | undefined;
  const save = async () => {
    const state: ClassifyState = { kind: STATE_KIND, step, elapsedSeconds: elapsed(), stage: stage.index, sampler: sampler.state(), run };
    checkpoint = await saveClassifyCheckpoint(o.runDir, config, weights, head, opt.state(), state);
    savedStep = step;
    o.onSave?.(checkpoint, step);
  };
  try {
    while (step < run.steps) {
      if (o.signal?.aborted) break;
      const t = step + 1;
      const started = now();
      if (!probe) {
        const s = stageAt(stages, t);
        if (s.index !== stage.index) sampler = makeSampler((stage = s));
        if (s.firstStep === t) o.onStage?.(s);
      }
      const B = probe ? run.batch : stage.batch;
      const L = probe ? run.seqLen : sampler.options.windowLength; // the stage's, as drawn
      let hl: HeadBatchLoss;
      let grads: Float32Array[];
      if (probe) {
        const rng = Rng.derive(run.seed, 0x9a0be, t);
        const pick = Array.from({ length: B }, () => rng.nextInt(run.probeWindows));
        hl = new HeadBatchLoss(head, run.pool, Int32Array.from(pick, (i) => probe!.labels[i]), 1);
        pick.forEach((i, b) => {
          hl.forward(b, 0, probe!.features.subarray(i * D, (i + 1) * D), 1);
          hl.finish(b);
        });
        grads = [Float32Array.from(hl.dWeight), Float32Array.from(hl.dBias)];
      } else {
        const { ids, labels } = await sampler.nextBatch(B);
        hl = new HeadBatchLoss(head, run.pool, labels, L);
        const g = backboneGradientsCpuSync(config, weights, { ids, B, L }, hl); // ids (B, L)
        grads = [...namedGrads(config, g), Float32Array.from(hl.dWeight), Float32Array.from(hl.dBias)];
      }
      if (!Number.isFinite(hl.loss)) throw new InputError(`classification training diverged at step ${t} (loss ${hl.loss}); start again with a lower --lr`);
      const gradNorm = clipGradNorm(grads, run.clip);
      if (!Number.isFinite(gradNorm)) throw new InputError(`classification training diverged at step ${t} (gradient norm ${gradNorm}); start again with a lower --lr`);
      const lr = learningRate(schedule(run), t);
      opt.update(params, grads, lr);
      step = t;
      lastLoss = hl.loss;
      const rec: StepRecord = {
        type: 'train', step, loss: hl.loss, accuracy: hl.correct / B, lr, gradNorm, seqLen: L, windows: B,
        windowsPerSec: B / Math.max(1e-9, (now() - started) / 1000), elapsedSec: elapsed(),
      };
      await metrics.write(`${JSON.stringify(rec)}\n`);
      o.onStep?.(rec);
      if ((run.saveEvery > 0 && step % run.saveEvery === 0) || step === run.steps) await save();
    }
    if (savedStep !== step) await save();
  } finally {
    await metrics.close();
  }
  if (step < run.steps) return { step, status: 'interrupted', checkpoint, lastLoss };
  await writeFinal(o.runDir, run, config, weights, head);
  return { step, status: 'done', checkpoint, lastLoss };
}

/** RUN/{config.json, model.safetensors, head.safetensors, classifier.json}. */
async function writeFinal(runDir: string, run: ClassifyRun, config: MambaConfig, weights: MambaWeights, head: ClassifierHead): Promise<void> {
  await saveCheckpoint(runDir, config, weights, { metadata: { 'mamba_dna.classifier': 'backbone' } });
  await writeHead(join(runDir, HEAD_FILE), head);
  await writeJson(join(runDir, CLASSIFIER_FILE), classifierJson(run, { pool: run.pool, head: HEAD_FILE, frozenBackbone: run.freezeBackbone }));
}

async function saveClassifyCheckpoint(runDir: string, config: MambaConfig, weights: MambaWeights, head: ClassifierHead, opt: AdamWState, state: ClassifyState): Promise<string> {
  const root = join(runDir, 'checkpoints');
  await mkdir(root, { recursive: true });
  const target = join(root, `step-${state.step}`);
  const stage = await mkdtemp(join(root, `.step-${state.step}.saving-`));
  try {
    await saveCheckpoint(stage, config, weights);
    await writeHead(join(stage, HEAD_FILE), head);
    const shapes = new Map<string, readonly number[]>(tensorSpecs(config).map((s) => [s.name, s.shape]));
    shapes.set('classifier.weight', [head.C, head.D]);
    shapes.set('classifier.bias', [head.C]);
    const tensors = new Map<string, WriteTensor>();
    for (const [name, shape] of shapes) {
      const m = opt.expAvg.get(name);
      const v = opt.expAvgSq.get(name);
      if (!m || !v) continue;
      tensors.set(`exp_avg.${name}`, { shape, data: m });
      tensors.set(`exp_avg_sq.${name}`, { shape, data: v });
    }
    await writeSafetensors(join(stage, OPTIMIZER_FILE), tensors, { format: 'pt', 'mamba_dna.optimizer': 'adamw', 'mamba_dna.step': String(opt.step) });
    await writeJson(join(stage, STATE_FILE), state); // last: the rename below is what publishes the checkpoint
    await rm(target, { recursive: true, force: true });
    await rename(stage, target);
  } catch (err) {
    await rm(stage, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  const steps = await listCheckpointSteps(root);
  if (state.run.keepCheckpoints > 0) {
    for (const s of steps.slice(0, Math.max(0, steps.length - state.run.keepCheckpoints))) await rm(join(root, `step-${s}`), { recursive: true, force: true }).catch(() => undefined);
  }
  return target;
}

/** The newest checkpoint of a run directory (or a step-N directory itself), loaded and checked. */
export async function loadClassifyCheckpoint(path: string): Promise<{ dir: string; runDir: string; state: ClassifyState; config: MambaConfig; weights: MambaWeights; head: ClassifierHead; optimizer: AdamWState }> {
  let dir = path;
  let runDir = path;
  const steps = await listCheckpointSteps(join(path, 'checkpoints'));
  if (steps.length > 0) dir = join(path, 'checkpoints', `step-${steps[steps.length - 1]}`);
  else runDir = join(path, '..', '..');
  const statePath = join(dir, STATE_FILE);
  let state: ClassifyState;
  try {
    state = JSON.parse(await readFile(statePath, 'utf8'));
  } catch {
    throw new InputError(`--resume ${path}: no classify checkpoint (expected ${join(path, 'checkpoints', 'step-N', STATE_FILE)}); was the run stopped before its first save?`);
  }
  if (!state || state.kind !== STATE_KIND || !Number.isSafeInteger(state.step) || !state.run) throw new InputError(`${statePath}: not a ${STATE_KIND} file; the checkpoint is damaged`);
  const { config, weights } = await loadCheckpoint(dir);
  const head = await readHead(join(dir, HEAD_FILE), state.run.species.length, config.dModel);
  const file = await readSafetensors(join(dir, OPTIMIZER_FILE));
  const expAvg = new Map<string, Float32Array>();
  const expAvgSq = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (name.startsWith('exp_avg_sq.')) expAvgSq.set(name.slice('exp_avg_sq.'.length), t.data);
    else if (name.startsWith('exp_avg.')) expAvg.set(name.slice('exp_avg.'.length), t.data);
  }
  const optStep = Number(file.metadata['mamba_dna.step']);
  if (optStep !== state.step) throw new InputError(`${join(dir, OPTIMIZER_FILE)}: optimizer step ${optStep} does not match ${statePath} step ${state.step}; the checkpoint is damaged`);
  return { dir, runDir, state, config, weights, head, optimizer: { step: optStep, expAvg, expAvgSq } };
}

/** The k-mer baseline: counts from steps·batch training windows, or from every training region whole. */
export async function fitKmer(runDir: string, run: ClassifyRun, splits: readonly SourceSplit[], genomes: readonly Genome[], onLog?: (line: string) => void): Promise<KmerModel> {
  const C = run.species.length;
  const size = 4 ** run.k;
  const counts = KmerModel.empty(run.k, run.alpha, run.species);
  const view = (c: number) => counts.subarray(c * size, (c + 1) * size);
  if (run.kmerSource === 'whole') {
    for (let g = 0; g < splits.length; g++) {
      const c = run.species.indexOf(splits[g].species);
      for (const r of splits[g].train) {
        for (let s = r.start; s < r.end; s += 1 << 20) {
          const e = Math.min(r.end, s + (1 << 20) + run.k - 1);
          addKmerCounts(encode(await genomes[g].fetch(r.name, s, e)), run.k, view(c));
        }
      }
      onLog?.(`classify: counted ${run.k}-mers of ${splits[g].species} ${splits[g].fasta}`);
    }
  } else {
    const sampler = samplerFor(run, splits, genomes, 'train', run.seed, run.rcAug);
    const n = run.steps * run.batch;
    for (let k = 0; k < n; k++) {
      const w = await sampler.window(k);
      addKmerCounts(w.ids, run.k, view(w.species));
      if ((k + 1) % 1000 === 0 || k + 1 === n) onLog?.(`classify: ${run.k}-mer counts from ${k + 1}/${n} windows`);
    }
  }
  await writeKmerCounts(join(runDir, KMER_FILE), counts, C, run.k);
  await writeJson(join(runDir, CLASSIFIER_FILE), classifierJson(run, { k: run.k, alpha: run.alpha, canonical: true, counts: KMER_FILE, kmerSource: run.kmerSource }));
  return new KmerModel(run.k, run.alpha, run.species, counts);
}

