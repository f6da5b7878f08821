// Training checkpoints: everything needed to continue a run bit for bit.
//   RUN/checkpoints/step-N/config.json          the model config (mamba_ssm names)
//   RUN/checkpoints/step-N/model.safetensors    weights after optimizer step N (loadable by embed/eval)
//   RUN/checkpoints/step-N/optimizer.safetensors AdamW moments: exp_avg.<name>, exp_avg_sq.<name> (F32)
//   RUN/checkpoints/step-N/trainer-state.json   step, sampler state, elapsed time, the run's settings
// A checkpoint is written whole into a hidden staging directory and renamed to step-N in one step,
// so step-N either exists complete or not at all; a kill at any moment leaves every earlier one
// loadable. Old checkpoints are removed by renaming them hidden first, for the same reason.
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadCheckpoint, saveCheckpoint, syncDir } from '../checkpoint/checkpoint.js';
import { readSafetensors, writeSafetensorsTo, type WriteTensor } from '../checkpoint/safetensors.js';
import type { SamplerState } from '../data/sampler.js';
import { InputError } from '../errors.js';
import type { Region } from '../genome/types.js';
import type { MambaConfig } from '../model/config.js';
import type { MambaWeights } from '../model/weights.js';
import { tensorSpecs } from '../model/weights.js';
import type { AdamWState } from './adamw.js';

export const CHECKPOINTS_DIR = 'checkpoints';
export const TRAINER_STATE_FILE = 'trainer-state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_KIND = 'mamba-dna/trainer-state/v1';

/** The settings of a run, fixed when it starts (only `steps` may grow on --resume). */
export interface RunSettings {
  /** FASTA the windows come from, as given on the command line */
  fasta: string;
  /** BED file of labelled regions, or absent (whole sequences with a held-out tail) */
  bed?: string;
  trainSplit?: string;
  validSplit?: string;
  /** without a BED: fraction of each sequence's end held out for validation */
  validFraction: number;
  trainRegions: Region[];
  validRegions: Region[];
  seed: number;
  /** stop after this optimizer step (total, across resumes) */
  steps: number;
  /** horizon of the lr schedule and sequence-length warmup */
  scheduleSteps: number;
  lr: number;
  minLrRatio: number;
  warmupFraction: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** max global gradient norm; 0 = no clipping */
  clip: number;
  seqLen: number;
  /** windows per micro-batch at the final length */
  batch: number;
  /** micro-batches per optimizer step */
  gradAccum: number;
  seqLenWarmup: boolean;
  seqLenWarmupFraction: number;
  rcAug: boolean;
  maxNFraction: number;
  /** validate every this many steps (0 = only at the end) */
  evalEvery: number;
  /** at most this many validation bases (the first of the validation regions, in order) */
  evalBases: number;
  /** checkpoint every this many steps (0 = only at the end / on interrupt) */
  saveEvery: number;
  /** keep the newest this many checkpoints (0 = all) */
  keepCheckpoints: number;
  /** gradient engine: float32 'cpu' or the float64 'ref' */
  gradEngine: 'cpu' | 'ref';
  /** where the initial weights came from: 'init seed S' or the --init directory */
  initFrom: string;
}

export interface TrainerState {
  kind: typeof TRAINER_STATE_KIND;
  /** optimizer steps completed */
  step: number;
  tokensSeen: number;
  /** wall-clock seconds of training so far, all sessions */
  elapsedSeconds: number;
  /** sequence-length stage the sampler belongs to, and its state after step `step` */
  stage: number;
  sampler: SamplerState;
  run: RunSettings;
}

export interface TrainingCheckpoint {
  dir: string;
  config: MambaConfig;
  weights: MambaWeights;
  optimizer: AdamWState;
  state: TrainerState;
}

function stepDirName(step: number): string {
  return `step-${step}`;
}

async function writeDurable(path: string, text: string): Promise<void> {
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function writeError(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system',
    ENOSPC: 'no space left on device', ENOTDIR: 'a path component is not a directory', ENOENT: 'no such directory',
  };
  if (e && typeof e.code === 'string' && why[e.code]) return new InputError(`cannot write checkpoint ${path}: ${why[e.code]}`);
  return err as Error;
}

/** Saves step N of a run into RUN/checkpoints/step-N atomically; prunes older ones beyond `keep`. */
export async function saveTrainingCheckpoint(
  runDir: string, config: MambaConfig, weights: MambaWeights, optimizer: AdamWState, state: TrainerState, keep: number,
): Promise<string> {
  const root = join(runDir, CHECKPOINTS_DIR);
  const target = join(root, stepDirName(state.step));
  let stage: string;
  try {
    await mkdir(root, { recursive: true });
    stage = await mkdtemp(join(root, `.${stepDirName(state.step)}.saving-`));
  } catch (err) {
    throw writeError(root, err);
  }
  try {
    await saveCheckpoint(stage, config, weights, { metadata: { 'mamba_dna.step': String(state.step) } });
    const tensors = new Map<string, WriteTensor>();
    for (const s of tensorSpecs(config)) {
      const m = optimizer.expAvg.get(s.name);
      const v = optimizer.expAvgSq.get(s.name);
      if (!m || !v) continue; // before the first step there are no moments
      tensors.set(`exp_avg.${s.name}`, { shape: s.shape, data: m });
      tensors.set(`exp_avg_sq.${s.name}`, { shape: s.shape, data: v });
    }
    const fh = await open(join(stage, OPTIMIZER_FILE), 'wx', 0o644);
    try {
      await writeSafetensorsTo(fh, tensors, { format: 'pt', 'mamba_dna.optimizer': 'adamw', 'mamba_dna.step': String(optimizer.step) });
      await fh.sync();
    } finally {
      await fh.close();
    }
    // written last, though the rename below is what makes the checkpoint visible
    await writeDurable(join(stage, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    await syncDir(stage);
    // a checkpoint of this step may exist already (a resumed run re-saving it): move it aside first
    const old = await exists(target) ? `${join(root, `.${stepDirName(state.step)}.old-`)}${Date.now()}` : undefined;
    if (old) await rename(target, old);
    await rename(stage, target);
    await syncDir(root);
    if (old) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(stage, { recursive: true, force: true }).catch(() => undefined);
    throw writeError(target, err);
  }
  if (keep > 0) await pruneCheckpoints(root, keep);
  return target;
}


async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Step numbers of the complete checkpoints under RUN/checkpoints, ascending. */
export async function listCheckpointSteps(checkpointsDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir);
  } catch {
    return [];
  }
  return names.map((n) => /^step-(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
}

async function pruneCheckpoints(root: string, keep: number): Promise<void> {
  const steps = await listCheckpointSteps(root);
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) {
    const hidden = join(root, `.${stepDirName(s)}.deleting-${Date.now()}`);
    try {
      await rename(join(root, stepDirName(s)), hidden);
      await rm(hidden, { recursive: true, force: true });
    } catch {
      // pruning is housekeeping: a failure leaves an extra checkpoint, never a broken one
    }
  }
  // staging / deleting leftovers of a killed process
  for (const n of await readdir(root).catch(() => [] as string[])) {
    if (/^\.+step-\d+\.(saving|deleting|old)-/.test(n)) await rm(join(root, n), { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The checkpoint directory `path` names: a checkpoint itself (holds trainer-state.json), or a run
 * directory (its newest RUN/checkpoints/step-N). InputError when it is neither.
 */
export async function resolveCheckpointDir(path: string): Promise<{ checkpoint: string; runDir: string }> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new InputError(`--resume ${path}: no such directory (give a run directory written by 'mamba-dna pretrain --out', or one of its checkpoints/step-N)`);
  }
  if (!st.isDirectory()) throw new InputError(`--resume ${path}: not a directory`);
  if (await exists(join(path, TRAINER_STATE_FILE))) {
    const parent = dirname(path);
    const runDir = basename(parent) === CHECKPOINTS_DIR ? dirname(parent) : parent;
    return { checkpoint: path, runDir };
  }
  const steps = await listCheckpointSteps(join(path, CHECKPOINTS_DIR));
  if (steps.length === 0) throw new InputError(`--resume ${path}: no checkpoints (expected ${join(path, CHECKPOINTS_DIR, 'step-N', TRAINER_STATE_FILE)}); was the run stopped before its first save?`);
  return { checkpoint: join(path, CHECKPOINTS_DIR, stepDirName(steps[steps.length - 1])), runDir: path };
}

function parseState(text: string, path: string): TrainerState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path}: not valid JSON (${(err as Error).message}); the checkpoint is damaged: resume from an earlier checkpoints/step-N`);
  }
  const s = json as TrainerState;
  const bad = (why: string) => new InputError(`${path}: ${why}; the checkpoint is damaged or from another program: resume from an earlier checkpoints/step-N`);
  if (!s || typeof s !== 'object' || s.kind !== TRAINER_STATE_KIND) throw bad(`not a ${TRAINER_STATE_KIND} file`);
  if (!Number.isSafeInteger(s.step) || s.step < 0) throw bad(`"step" ${JSON.stringify(s.step)} is not a step number`);
  if (!Number.isSafeInteger(s.stage) || s.stage < 0) throw bad(`"stage" ${JSON.stringify(s.stage)} is not a stage number`);
  if (!s.sampler || typeof s.sampler !== 'object') throw bad('"sampler" is missing');
  if (!s.run || typeof s.run !== 'object' || !Array.isArray(s.run.trainRegions)) throw bad('"run" settings are missing');
  if (typeof s.elapsedSeconds !== 'number' || typeof s.tokensSeen !== 'number') throw bad('"elapsedSeconds"/"tokensSeen" missing');
  return s;
}

/** Loads and checks a checkpoint directory (step-N); every problem is an InputError naming the file. */
export async function loadTrainingCheckpoint(dir: string): Promise<TrainingCheckpoint> {
  const statePath = join(dir, TRAINER_STATE_FILE);
  let text: string;
  try {
    text = await readFile(statePath, 'utf8');
  } catch {
    throw new InputError(`${statePath}: missing or unreadable; ${dir} is not a training checkpoint`);
  }
  const state = parseState(text, statePath);
  const { config, weights } = await loadCheckpoint(dir);
  const optPath = join(dir, OPTIMIZER_FILE);
  const file = await readSafetensors(optPath);
  const expAvg = new Map<string, Float32Array>();
  const expAvgSq = new Map<string, Float32Array>();
  const optStep = Number(file.metadata['mamba_dna.step']);
  if (!Number.isSafeInteger(optStep) || optStep !== state.step) {
    throw new InputError(`${optPath}: optimizer step ${file.metadata['mamba_dna.step']} does not match ${statePath} step ${state.step}; the checkpoint is damaged`);
  }
  if (optStep > 0) {
    for (const s of tensorSpecs(config)) {
      const m = file.tensors.get(`exp_avg.${s.name}`);
      const v = file.tensors.get(`exp_avg_sq.${s.name}`);
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (!m || !v || m.data.length !== n || v.data.length !== n) throw new InputError(`${optPath}: moments of ${s.name} are missing or the wrong size; the checkpoint is damaged`);
      expAvg.set(s.name, m.data);
      expAvgSq.set(s.name, v.data);
    }
  }
  return { dir, config, weights, optimizer: { step: optStep, expAvg, expAvgSq }, state };
}
