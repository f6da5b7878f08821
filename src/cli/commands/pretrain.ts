// `mamba-dna pretrain <fasta> --out DIR`: next-base pretraining of a Mamba LM on a genome, with
// validation, checkpoints, exact resume (--resume) and clean Ctrl-C. The loop is src/train/loop.ts;
// this module parses flags, prepares the run directory and data split, reports progress, and maps
// the outcome to an exit code (130 after an interrupt).
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createBackend, parseDevice, resolveDevice, shutdownGpu } from '../../backend/registry.js';
import type { Backend } from '../../backend/types.js';
import { loadCheckpoint } from '../../checkpoint/checkpoint.js';
import { DEFAULT_MAX_N_FRACTION } from '../../data/sampler.js';
import { UsageError } from '../../errors.js';
import { readBed, checkBedRegions } from '../../genome/bed.js';
import { openGenome } from '../../genome/open.js';
import type { Genome } from '../../genome/types.js';
import { configToJson, dims, makeConfig, parameterCount, type MambaConfig } from '../../model/config.js';
import { initWeights } from '../../model/init.js';
import type { MambaWeights } from '../../model/weights.js';
import { DEFAULT_ADAMW, type AdamWState } from '../../train/adamw.js';
import { gradientsCpu, gradientsRef } from '../../train/grad.js';
import { makeGradientsGpu, type GpuGradientFn } from '../../train/grad-gpu.js';
import { stagesOf, train, type TrainOutcome } from '../../train/loop.js';
import type { TrainRecord, ValidRecord } from '../../train/metrics.js';
import { capRegions, labelSplit, SPLIT_FILE, tailSplit, writeSplitBed, type DataSplit } from '../../train/split.js';
import { loadTrainingCheckpoint, resolveCheckpointDir, type RunSettings, type TrainerState } from '../../train/trainer-state.js';
import { makeValidator } from '../../train/validate.js';
import { addDeviceOptions, chunkFor, fraction, interruptOnSigint, nonNegativeInt, positiveInt, positiveNumber, prepareOutDir, type DeviceFlags } from '../common.js';
import { logLine } from '../io.js';

interface PretrainFlags extends DeviceFlags {
  out?: string;
  resume?: string;
  init?: string;
  dModel: number;
  nLayer: number;
  dState: number;
  expand: number;
  dConv: number;
  steps: number;
  scheduleSteps?: number;
  seqLen: number;
  batch: number;
  gradAccum: number;
  tokensPerStep?: number;
  lr: number;
  minLrRatio: number;
  warmup: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  clip: number;
  seqLenWarmup?: boolean;
  seqLenWarmupFraction: number;
  rcAug?: boolean;
  maxN: number;
  bed?: string;
  split: string;
  validSplit: string;
  validFraction: number;
  evalEvery?: number;
  evalBases: number;
  saveEvery?: number;
  keepCheckpoints: number;
  logEvery: number;
  seed: number;
  trainChunk?: number;
  gradEngine: 'cpu' | 'ref';
}

/** Flags that define the trajectory: fixed once a run starts (--resume takes them from the checkpoint). */
const RUN_FLAGS: Array<[keyof PretrainFlags, string]> = [
  ['init', '--init'], ['dModel', '--d-model'], ['nLayer', '--n-layer'], ['dState', '--d-state'], ['expand', '--expand'], ['dConv', '--d-conv'],
  ['scheduleSteps', '--schedule-steps'], ['seqLen', '--seq-len'], ['batch', '--batch'], ['gradAccum', '--grad-accum'],
  ['tokensPerStep', '--tokens-per-step'], ['lr', '--lr'], ['minLrRatio', '--min-lr-ratio'], ['warmup', '--warmup'],
  ['weightDecay', '--weight-decay'], ['beta1', '--beta1'], ['beta2', '--beta2'], ['clip', '--clip'], ['seqLenWarmup', '--seq-len-warmup'],
  ['seqLenWarmupFraction', '--seq-len-warmup-fraction'], ['rcAug', '--rc-aug'], ['maxN', '--max-n'], ['bed', '--bed'], ['split', '--split'],
  ['validSplit', '--valid-split'], ['validFraction', '--valid-fraction'], ['evalBases', '--eval-bases'], ['seed', '--seed'], ['gradEngine', '--grad-engine'],
];

export function register(program: Command): void {
  const cmd = program
    .command('pretrain')
    .description('pretrain a Mamba DNA language model on a genome (next-base prediction), with validation, checkpoints and exact resume')
    .argument('[fasta]', 'indexed FASTA to train on (plain + .fai, or BGZF + .fai + .gzi); with --resume, defaults to the run\'s')
    .option('--out <dir>', 'run directory to create: final model (config.json + model.safetensors), checkpoints/, metrics.jsonl, split.bed')
    .option('--resume <dir>', 'continue a run exactly: its run directory (newest checkpoint) or one checkpoints/step-N')
    .option('--init <dir>', 'start from this model (e.g. made by `mamba-dna init`) instead of a fresh one of --d-model/--n-layer/--d-state')
    .option('--d-model <n>', 'model width D', positiveInt('--d-model'), 128)
    .option('--n-layer <n>', 'Mamba blocks', positiveInt('--n-layer'), 12)
    .option('--d-state <n>', 'SSM state size N', positiveInt('--d-state'), 16)
    .option('--expand <n>', 'inner width factor', positiveInt('--expand'), 2)
    .option('--d-conv <n>', 'causal conv width K', positiveInt('--d-conv'), 4)
    .option('--steps <n>', 'train until this optimizer step (total, counting resumed steps)', positiveInt('--steps'), 1000)
    .option('--schedule-steps <n>', 'horizon of the lr schedule and seq-len warmup (default: --steps)', positiveInt('--schedule-steps'))
    .option('--seq-len <L>', 'bases per training window (up to 1,048,576)', positiveInt('--seq-len'), 1024)
    .option('--batch <B>', 'windows per micro-batch (at the final --seq-len)', positiveInt('--batch'), 8)
    .option('--grad-accum <n>', 'micro-batches per optimizer step', positiveInt('--grad-accum'), 1)
    .option('--tokens-per-step <n>', 'sets --grad-accum = n / (batch · seq-len), which must be whole', positiveInt('--tokens-per-step'))
    .option('--lr <x>', 'peak learning rate', positiveNumber('--lr'), 8e-3)
    .option('--min-lr-ratio <x>', 'cosine decays to this fraction of --lr', fraction('--min-lr-ratio', true), 0.1)
    .option('--warmup <fraction>', 'linear lr warmup, fraction of the schedule', fraction('--warmup'), 0.1)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay (not on embedding, norms, biases, A_log, D)', fraction('--weight-decay', true), DEFAULT_ADAMW.weightDecay)
    .option('--beta1 <x>', 'AdamW β1', fraction('--beta1'), DEFAULT_ADAMW.beta1)
    .option('--beta2 <x>', 'AdamW β2', fraction('--beta2'), DEFAULT_ADAMW.beta2)
    .option('--clip <x>', 'max global gradient norm (0: no clipping)', (v) => (v === '0' ? 0 : positiveNumber('--clip')(v)), 1.0)
    .option('--seq-len-warmup', 'start at 1,024 bases and double up to --seq-len, more windows per step at shorter lengths (constant tokens per step)')
    .option('--seq-len-warmup-fraction <f>', 'fraction of the schedule spent in the shorter stages, split evenly', fraction('--seq-len-warmup-fraction'), 0.5)
    .option('--rc-aug', 'reverse-complement each training window with probability 1/2')
    .option('--max-n <fraction>', 'redraw windows with more N than this', fraction('--max-n', true), DEFAULT_MAX_N_FRACTION)
    .option('--bed <file>', 'BED of labelled regions (4th column train/valid/test, HyenaDNA style)')
    .option('--split <label>', 'with --bed: label of the training regions', 'train')
    .option('--valid-split <label>', 'with --bed: label of the validation regions', 'valid')
    .option('--valid-fraction <f>', 'without --bed: hold out this last fraction of every sequence for validation', fraction('--valid-fraction'), 0.1)
    .option('--eval-every <n>', 'validate every n steps, 0 = only at the end (default: steps/10)', nonNegativeInt('--eval-every'))
    .option('--eval-bases <n>', 'validate on at most this many held-out bases', positiveInt('--eval-bases'), 100_000)
    .option('--save-every <n>', 'checkpoint every n steps, 0 = only at the end (default: steps/10)', nonNegativeInt('--save-every'))
    .option('--keep-checkpoints <n>', 'keep the newest n checkpoints, 0 = all', nonNegativeInt('--keep-checkpoints'), 3)
    .option('--log-every <n>', 'without a terminal: a progress line every n steps', positiveInt('--log-every'), 10)
    .option('--seed <n>', 'seed of the initial weights and of the window stream', nonNegativeInt('--seed'), 0)
    .option('--train-chunk <tokens>', 'webgpu: tokens per gradient chunk; sets device memory, not the result (default 32768)', positiveInt('--train-chunk'))
    .addOption(new Option('--grad-engine <engine>', 'gradients: float32 (on the --device: webgpu or cpu), or the float64 reference on the CPU (slow; for checking)').choices(['cpu', 'ref']).default('cpu'));
  addDeviceOptions(cmd).addHelpText('after', `
--device chooses where gradients and validation run: webgpu (gpu.js kernels on the GPU, every tensor kept on the
device, chunks of 32,768 tokens with states carried between them: --train-chunk sets that, about 6 GiB of device memory
per 32,768 at the default model; 131,072 trained 18–22 % faster on an 80 GB H100), or cpu (WebAssembly SIMD kernels; a batch of 2 or more is
split over two threads). auto = webgpu on a hardware GPU, else cpu; wasm (gpu.js WebAssembly) validates on wasm and
trains on cpu. --threads/--chunk apply to validation.
Learning rate: linear warmup over --warmup of the schedule, then cosine to --min-lr-ratio·--lr.
Exit codes: 0 done, 2 bad flags, 3 bad input / unwritable --out / damaged checkpoint / diverged
(NaN or infinite loss: the last good checkpoint is kept), 130 interrupted (Ctrl-C; checkpoint saved).

Example (a small model on the bundled lambda genome, a few minutes on a CPU):
  mamba-dna pretrain fixtures/lambda_virus.fa --out runs/lambda --d-model 64 --n-layer 2 \\
    --seq-len 512 --batch 4 --steps 300 --lr 4e-3
  mamba-dna plot runs/lambda --out runs/lambda/curves.svg
`)
    .action(async (fasta: string | undefined, flags: PretrainFlags, command: Command) => {
      const fromCli = (k: keyof PretrainFlags) => command.getOptionValueSource(k as string) === 'cli';
      if (flags.resume) await resumeRun(fasta, flags, fromCli);
      else await freshRun(fasta, flags, fromCli);
    });
}


async function dataSplit(genome: Genome, bed: string | undefined, trainLabel: string, validLabel: string, validFraction: number): Promise<DataSplit> {
  if (!bed) return tailSplit(genome, validFraction);
  const regions = await readBed(bed);
  checkBedRegions(genome, regions, bed);
  return labelSplit(regions, trainLabel, validLabel, bed);
}

async function freshRun(fasta: string | undefined, flags: PretrainFlags, fromCli: (k: keyof PretrainFlags) => boolean): Promise<void> {
  if (!fasta) throw new UsageError('pretrain needs a FASTA to train on (or --resume DIR)');
  if (!flags.out) throw new UsageError('pretrain needs --out DIR (the run directory to create)');
  if (flags.seqLen < 2) throw new UsageError('--seq-len must be at least 2 (one prediction needs two bases)');
  if (flags.seqLen > 1_048_576) throw new UsageError(`--seq-len ${flags.seqLen} is above the supported 1,048,576`);
  let gradAccum = flags.gradAccum;
  if (flags.tokensPerStep !== undefined) {
    if (fromCli('gradAccum')) throw new UsageError('give --grad-accum or --tokens-per-step, not both');
    const perMicro = flags.batch * flags.seqLen;
    if (flags.tokensPerStep % perMicro !== 0) throw new UsageError(`--tokens-per-step ${flags.tokensPerStep} is not a multiple of --batch × --seq-len = ${perMicro}`);
    gradAccum = flags.tokensPerStep / perMicro;
  }
  if (flags.init && (['dModel', 'nLayer', 'dState', 'expand', 'dConv'] as const).some(fromCli)) throw new UsageError('--init takes the model shape from its config.json: drop --d-model/--n-layer/--d-state/--expand/--d-conv');
  const genome = await openGenome(fasta);
  try {
    const split = await dataSplit(genome, flags.bed, flags.split, flags.validSplit, flags.validFraction);
    let config: MambaConfig;
    let weights: MambaWeights;
    if (flags.init) {
      ({ config, weights } = await loadCheckpoint(flags.init));
    } else {
      config = makeConfig({ dModel: flags.dModel, nLayer: flags.nLayer, dState: flags.dState, expand: flags.expand, dConv: flags.dConv });
      weights = initWeights(config, flags.seed);
    }
    await prepareOutDir(flags.out);
    const auto = Math.max(1, Math.round(flags.steps / 10));
    const run: RunSettings = {
      fasta: resolve(fasta),
      ...(flags.bed ? { bed: resolve(flags.bed), trainSplit: flags.split, validSplit: flags.validSplit } : {}),
      validFraction: flags.bed ? 0 : flags.validFraction,
      trainRegions: split.train,
      validRegions: split.valid,
      seed: flags.seed,
      steps: flags.steps,
      scheduleSteps: flags.scheduleSteps ?? flags.steps,
      lr: flags.lr, minLrRatio: flags.minLrRatio, warmupFraction: flags.warmup,
      beta1: flags.beta1, beta2: flags.beta2, eps: DEFAULT_ADAMW.eps, weightDecay: flags.weightDecay, clip: flags.clip,
      seqLen: flags.seqLen, batch: flags.batch, gradAccum,
      seqLenWarmup: flags.seqLenWarmup ?? false, seqLenWarmupFraction: flags.seqLenWarmupFraction,
      rcAug: flags.rcAug ?? false, maxNFraction: flags.maxN,
      evalEvery: flags.evalEvery ?? auto, evalBases: flags.evalBases,
      saveEvery: flags.saveEvery ?? auto, keepCheckpoints: flags.keepCheckpoints,
      gradEngine: flags.gradEngine,
      initFrom: flags.init ? resolve(flags.init) : `init seed ${flags.seed}`,
    };
    await writeSplitBed(join(flags.out, SPLIT_FILE), split);
    await writeFile(join(flags.out, 'run.json'), `${JSON.stringify({ settings: run, model: configToJson(config), parameters: parameterCount(config) }, null, 2)}\n`);
    const d = dims(config);
    logLine(`pretrain: ${parameterCount(config).toLocaleString('en-US')} parameters (d_model ${d.D}, n_layer ${d.nLayer}, d_state ${d.N}) from ${run.initFrom}; ` +
      `${split.train.length} train region(s), ${split.valid.length} validation region(s) → ${join(flags.out, SPLIT_FILE)}`);
    await execute(genome, flags.out, config, weights, run, flags, undefined);
  } finally {
    await genome.close();
  }
}

async function resumeRun(fasta: string | undefined, flags: PretrainFlags, fromCli: (k: keyof PretrainFlags) => boolean): Promise<void> {
  const changed = RUN_FLAGS.filter(([k]) => fromCli(k)).map(([, name]) => name);
  if (changed.length) throw new UsageError(`--resume continues a run with its own settings: drop ${changed.join(', ')} (only --steps, --eval-every, --save-every, --keep-checkpoints, --log-every and device flags may be given)`);
  const { checkpoint, runDir } = await resolveCheckpointDir(flags.resume!);
  if (flags.out && resolve(flags.out) !== resolve(runDir)) throw new UsageError(`--resume writes into its own run directory ${runDir}; drop --out (copy the run directory first to branch it)`);
  const ck = await loadTrainingCheckpoint(checkpoint);
  const run: RunSettings = { ...ck.state.run };
  if (fromCli('steps')) run.steps = flags.steps;
  if (fromCli('evalEvery')) run.evalEvery = flags.evalEvery!;
  if (fromCli('saveEvery')) run.saveEvery = flags.saveEvery!;
  if (fromCli('keepCheckpoints')) run.keepCheckpoints = flags.keepCheckpoints;
  if (run.steps <= ck.state.step) {
    logLine(`pretrain: ${checkpoint} is at step ${ck.state.step}, already at or past --steps ${run.steps}; nothing to do (raise --steps to train longer)`);
    return;
  }
  if (run.steps > run.scheduleSteps) logLine(`pretrain: note: --steps ${run.steps} runs past the schedule horizon ${run.scheduleSteps}; the lr stays at its minimum there`);
  const genome = await openGenome(fasta ?? run.fasta);
  try {
    logLine(`pretrain: resuming ${checkpoint} at step ${ck.state.step} of ${run.steps}`);
    await execute(genome, runDir, ck.config, ck.weights, run, flags, { state: ck.state, optimizer: ck.optimizer, dir: checkpoint });
  } finally {
    await genome.close();
  }
}

const fmtTime = (s: number) => {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
};

async function execute(
  genome: Genome, runDir: string, config: MambaConfig, weights: MambaWeights, run: RunSettings, flags: PretrainFlags,
  resume: { state: TrainerState; optimizer: AdamWState; dir: string } | undefined,
): Promise<void> {
  const validRegions = capRegions(run.validRegions, run.evalBases);
  let backend: Backend | undefined;
  const tty = process.stderr.isTTY === true;
  let multibar: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  const report = (line: string) => (multibar ? multibar.log(`${line}\n`) : logLine(line));
  const startStep = resume?.state.step ?? 0;
  const sessionStart = performance.now();
  let lastValid: ValidRecord | undefined;
  const eta = (r: TrainRecord) => ((performance.now() - sessionStart) / 1000 / Math.max(1, r.step - startStep)) * (run.steps - r.step);
  const interrupt = interruptOnSigint('pretrain', report);
  let outcome: TrainOutcome;
  let gpuGrad: GpuGradientFn | undefined;
  try {
    const device = await resolveDevice(parseDevice(flags.device));
    if (run.gradEngine !== 'ref' && device === 'webgpu') {
      gpuGrad = await makeGradientsGpu(flags.trainChunk ? { chunk: flags.trainChunk } : {});
      logLine(`pretrain: gradients on ${gpuGrad.description}`);
    }
    if (validRegions.length > 0) {
      backend = await createBackend(parseDevice(flags.device), { threads: flags.threads });
    }
    const validate = backend ? makeValidator(backend, genome, validRegions, chunkFor(backend, flags)) : undefined;
    if (!validate) logLine('pretrain: no validation regions (empty valid split / --valid-fraction 0): training without validation');
    const stages = stagesOf(run);
    if (stages.length > 1) logLine(`pretrain: sequence-length warmup: ${stages.map((s) => `${s.seqLen}×${s.batch} from step ${s.firstStep}`).join(', ')}`);
    if (tty) {
      multibar = new cliProgress.MultiBar({
        stream: process.stderr, hideCursor: true, clearOnComplete: false,
        format: 'step {value}/{total} [{bar}] loss {loss} bits/base | valid {valid} | {tps} tok/s | ETA {etaText}',
      }, cliProgress.Presets.shades_classic);
      bar = multibar.create(run.steps, startStep, { loss: '-', valid: '-', tps: '-', etaText: '-' });
    }
    outcome = await train({
      runDir, genome, config, weights, run,
      gradientFn: run.gradEngine === 'ref' ? gradientsRef : gpuGrad ?? gradientsCpu,
      validate, resume, signal: interrupt.signal,
      hooks: {
        onStep: (r) => {
          if (bar) {
            bar.update(r.step, { loss: r.bitsPerBase.toFixed(4), valid: lastValid ? lastValid.bitsPerBase.toFixed(4) : '-', tps: Math.round(r.tokensPerSec).toLocaleString('en-US'), etaText: fmtTime(eta(r)) });
          } else if (r.step % flags.logEvery === 0 || r.step === run.steps || r.step === startStep + 1) {
            logLine(`step ${r.step}/${run.steps}  loss ${r.bitsPerBase.toFixed(4)} bits/base  lr ${r.lr.toExponential(2)}  |g| ${r.gradNorm.toFixed(3)}  ` +
              `${Math.round(r.tokensPerSec).toLocaleString('en-US')} tok/s  elapsed ${fmtTime(r.elapsedSec)}  ETA ${fmtTime(eta(r))}`);
          }
        },
        onValid: (r) => {
          lastValid = r;
          report(`valid step ${r.step}: ${r.bitsPerBase.toFixed(4)} bits/base, accuracy ${r.accuracy.toFixed(4)} (${r.predictions.toLocaleString('en-US')} bases)`);
        },
        onSave: (dir) => { if (!bar) logLine(`saved ${dir}`); },
      },
    });
  } finally {
    multibar?.stop();
    interrupt.release();
    await backend?.dispose();
    await gpuGrad?.dispose();
    await shutdownGpu();
  }
  if (outcome.status === 'interrupted') {
    logLine(`pretrain: interrupted after step ${outcome.step}; checkpoint ${outcome.checkpoint ?? '(none)'}; continue with: mamba-dna pretrain --resume ${runDir}`);
    process.exit(130);
  }
  const v = outcome.lastValid ? `, validation ${outcome.lastValid.bitsPerBase.toFixed(4)} bits/base` : '';
  const tr = outcome.lastTrain ? `train loss ${outcome.lastTrain.bitsPerBase.toFixed(4)} bits/base` : 'no steps run';
  logLine(`pretrain: done at step ${outcome.step}: ${tr}${v}; model → ${runDir} (config.json + model.safetensors), metrics → ${join(runDir, 'metrics.jsonl')}`);
}
