// `mamba-dna classify train|eval|predict`: species classification of DNA windows (the Mamba paper's
// Great Apes task) with a fine-tuned Mamba backbone + linear head, a linear probe, or a k-mer naive
// Bayes baseline. The library is src/classify/; this module parses flags, reports progress on stderr
// and writes data (tables, JSON, TSV) to stdout.
import { Command, Option } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadCheckpoint } from '../../checkpoint/checkpoint.js';
import { DEFAULT_MAX_N_FRACTION } from '../../data/sampler.js';
import { UsageError } from '../../errors.js';
import type { Genome } from '../../genome/types.js';
import { dims, parameterCount } from '../../model/config.js';
import { MambaModel } from '../../model/mamba.js';
import { DEFAULT_ADAMW } from '../../train/adamw.js';
import { HEAD_FILE, kmerScorer, loadKmerModel, mambaScorer, readClassifierJson, readHead, type Scorer } from '../../classify/classifier.js';
import { evaluateClassifier, predictRegions } from '../../classify/evaluate.js';
import { POOLS, type Pool } from '../../classify/head.js';
import { MAX_K } from '../../classify/kmer.js';
import { formatReport } from '../../classify/metrics.js';
import { confusionSvg } from '../../classify/plot.js';
import {
  openSources, parseSpeciesArgs, readManifest, readSplitTsv, speciesNames, splitGenome, SPLIT_TSV, writeSplitTsv, type SourceSplit, type SpeciesSource,
} from '../../classify/sources.js';
import { classifyStages, fitKmer, loadClassifyCheckpoint, trainClassifier, type ClassifyRun } from '../../classify/train.js';
import { createBackend, parseDevice } from '../../backend/registry.js';
import {
  addDeviceOptions, addRegionOptions, chunkFor, closeModel, collect, fraction, interruptOnSigint, loadModel, nonNegativeInt, openGenome, positiveInt,
  positiveNumber, prepareOutDir, regionsFrom, type DeviceFlags, type RegionFlags,
} from '../common.js';
import { logLine, stdoutSink } from '../io.js';

interface SourceFlags {
  species?: string[];
  manifest?: string;
  holdoutFraction: number;
  testSequences?: string;
}

interface TrainFlags extends SourceFlags, DeviceFlags {
  model?: string;
  out?: string;
  resume?: string;
  baseline?: 'kmer';
  k: number;
  alpha: number;
  kmerSource: 'windows' | 'whole';
  seqLen: number;
  pool: Pool;
  freezeBackbone?: boolean;
  probeWindows?: number;
  steps: number;
  scheduleSteps?: number;
  batch: number;
  seqLenWarmup?: boolean;
  seqLenWarmupFraction: number;
  lr: number;
  minLrRatio: number;
  warmup: number;
  weightDecay: number;
  clip: number;
  rcAug?: boolean;
  maxN: number;
  saveEvery?: number;
  keepCheckpoints: number;
  logEvery: number;
  seed: number;
}

function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--species <name=fasta>', 'a species and an indexed FASTA of it; repeatable, a name given twice pools several genomes', collect)
    .option('--manifest <tsv>', "lines 'name<TAB>fasta[<TAB>split.bed]' (BED 4th column train/test), instead of --species")
    .option('--holdout-fraction <f>', 'test = the last fraction of every sequence (when neither a split BED nor --test-sequences applies)', fraction('--holdout-fraction'), 0.1)
    .option('--test-sequences <names>', 'comma-separated sequence names held out whole for test (e.g. chr20,chr21,chr22)');
}

async function sourcesFrom(flags: SourceFlags): Promise<SpeciesSource[]> {
  if (flags.species && flags.manifest) throw new UsageError('give --species or --manifest, not both');
  if (flags.manifest) return readManifest(flags.manifest);
  if (flags.species) return parseSpeciesArgs(flags.species);
  throw new UsageError('name the species: --species NAME=FASTA (repeat it) or --manifest TSV');
}

async function closeAll(genomes: Genome[]): Promise<void> {
  await Promise.all(genomes.map((g) => g.close()));
}


const RUN_FLAGS: Array<[keyof TrainFlags, string]> = [
  ['model', '--model'], ['species', '--species'], ['manifest', '--manifest'], ['holdoutFraction', '--holdout-fraction'], ['testSequences', '--test-sequences'],
  ['baseline', '--baseline'], ['seqLen', '--seq-len'], ['pool', '--pool'], ['freezeBackbone', '--freeze-backbone'], ['probeWindows', '--probe-windows'],
  ['scheduleSteps', '--schedule-steps'], ['batch', '--batch'], ['lr', '--lr'], ['minLrRatio', '--min-lr-ratio'], ['warmup', '--warmup'],
  ['weightDecay', '--weight-decay'], ['clip', '--clip'], ['rcAug', '--rc-aug'], ['maxN', '--max-n'], ['seed', '--seed'],
  ['seqLenWarmup', '--seq-len-warmup'], ['seqLenWarmupFraction', '--seq-len-warmup-fraction'],
];

function registerTrain(parent: Command): void {
  const cmd = parent
    .command('train')
    .description('train a species classifier: fine-tune a pretrained Mamba with a classification head, a linear probe (--freeze-backbone), or the k-mer baseline (--baseline kmer)')
    .option('--model <dir>', 'pretrained model directory (config.json + model.safetensors), e.g. from pretrain or init')
    .option('--out <dir>', 'classifier directory to create');
  addSourceOptions(cmd)
    .option('--resume <dir>', 'continue a classify run exactly (its directory); only --steps, --save-every, --keep-checkpoints and device flags may be given')
    .addOption(new Option('--baseline <kind>', 'train a baseline instead of a Mamba classifier').choices(['kmer']))
    .option('--k <k>', `k-mer baseline: k (1-${MAX_K})`, positiveInt('--k'), 6)
    .option('--alpha <x>', 'k-mer baseline: additive (Laplace) smoothing', positiveNumber('--alpha'), 1)
    .addOption(new Option('--kmer-source <src>', 'k-mer baseline: count --steps×--batch sampled training windows, or every training base').choices(['windows', 'whole']).default('windows'))
    .option('--seq-len <L>', 'bases per window', positiveInt('--seq-len'), 1024)
    .addOption(new Option('--pool <pool>', 'read the final hidden state at the last position (the Mamba paper) or average it over the window').choices([...POOLS]).default('last'))
    .option('--freeze-backbone', 'train only the head (a linear probe) on features computed once per window with the forward model')
    .option('--probe-windows <n>', 'with --freeze-backbone: training windows to compute features for (default: min(--steps × --batch, 4096))', positiveInt('--probe-windows'))
    .option('--steps <n>', 'optimizer steps (total, counting resumed ones)', positiveInt('--steps'), 1000)
    .option('--schedule-steps <n>', 'horizon of the lr schedule and seq-len warmup (default: --steps)', positiveInt('--schedule-steps'))
    .option('--batch <B>', 'windows per step (at the final --seq-len)', positiveInt('--batch'), 8)
    .option('--seq-len-warmup', 'fine-tuning: start at 1,024 bases and double up to --seq-len, more windows per step at shorter lengths (constant tokens per step), as pretrain')
    .option('--seq-len-warmup-fraction <f>', 'fraction of the schedule spent in the shorter stages, split evenly', fraction('--seq-len-warmup-fraction'), 0.5)
    .option('--lr <x>', 'peak learning rate (the paper fine-tunes at 1e-4)', positiveNumber('--lr'), 1e-4)
    .option('--min-lr-ratio <x>', 'cosine decays to this fraction of --lr', fraction('--min-lr-ratio', true), 0.1)
    .option('--warmup <fraction>', 'linear lr warmup, fraction of the schedule', fraction('--warmup'), 0.1)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', fraction('--weight-decay', true), DEFAULT_ADAMW.weightDecay)
    .option('--clip <x>', 'max global gradient norm (0: none)', (v) => (v === '0' ? 0 : positiveNumber('--clip')(v)), 1.0)
    .option('--rc-aug', 'reverse-complement each training window with probability 1/2')
    .option('--max-n <fraction>', 'redraw windows with more N than this', fraction('--max-n', true), DEFAULT_MAX_N_FRACTION)
    .option('--save-every <n>', 'checkpoint every n steps, 0 = only at the end (default: steps/10)', nonNegativeInt('--save-every'))
    .option('--keep-checkpoints <n>', 'keep the newest n checkpoints, 0 = all', nonNegativeInt('--keep-checkpoints'), 3)
    .option('--log-every <n>', 'a progress line every n steps', positiveInt('--log-every'), 10)
    .option('--seed <n>', 'seed of the head initialisation and the window stream', nonNegativeInt('--seed'), 0);
  addDeviceOptions(cmd).addHelpText('after', `
Windows: a species uniformly, then one of its sequences by length, then a uniform start; windows with
more than --max-n N are redrawn. Fine-tuning gradients run on the CPU (one core); --device runs the
linear probe's features. The split (train/test regions of every genome) is written to OUT/split.tsv.

Examples:
  mamba-dna classify train --model runs/pretrained --species human=hg38.bgz.fa.gz --species chimp=panTro6.bgz.fa.gz \\
    --test-sequences chr20,chr21,chr22 --seq-len 1024 --steps 2000 --lr 1e-4 --out runs/apes
  mamba-dna classify train --baseline kmer --k 6 --species human=hg38.bgz.fa.gz --species chimp=panTro6.bgz.fa.gz \\
    --test-sequences chr20,chr21,chr22 --seq-len 1024 --out runs/apes-kmer
`)
    .action(async (flags: TrainFlags, command: Command) => {
      const fromCli = (k: keyof TrainFlags) => command.getOptionValueSource(k as string) === 'cli';
      if (flags.resume) return resumeTrain(flags, fromCli);
      if (!flags.out) throw new UsageError('classify train needs --out DIR');
      if (!flags.baseline && !flags.model) throw new UsageError('classify train needs --model PRETRAINED (or --baseline kmer)');
      if (flags.baseline && (flags.model || flags.freezeBackbone)) throw new UsageError('--baseline kmer trains no Mamba model: drop --model / --freeze-backbone');
      if (flags.k > MAX_K) throw new UsageError(`--k ${flags.k} is above ${MAX_K}`);
      if (flags.probeWindows !== undefined && !flags.freezeBackbone) throw new UsageError('--probe-windows needs --freeze-backbone');
      if (flags.seqLenWarmup && (flags.baseline || flags.freezeBackbone)) {
        throw new UsageError('--seq-len-warmup applies to fine-tuning only (a linear probe computes its features once and the k-mer baseline counts, both at --seq-len): drop it');
      }
      const sources = await sourcesFrom(flags);
      const species = speciesNames(sources);
      if (species.length < 2) throw new UsageError(`classification needs at least two species, got ${species.join(', ')}`);
      const testSequences = flags.testSequences?.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const genomes = await openSources(sources);
      try {
        const splits: SourceSplit[] = [];
        for (let g = 0; g < sources.length; g++) splits.push(await splitGenome(genomes[g], sources[g], { holdoutFraction: flags.holdoutFraction, testSequences }));
        const run: ClassifyRun = {
          kind: flags.baseline ? 'kmer' : 'mamba', species, sources, split: { holdoutFraction: flags.holdoutFraction, ...(testSequences ? { testSequences } : {}) },
          ...(flags.model ? { model: resolve(flags.model) } : {}),
          seqLen: flags.seqLen, batch: flags.batch, seqLenWarmup: flags.seqLenWarmup ?? false, seqLenWarmupFraction: flags.seqLenWarmupFraction, steps: flags.steps, scheduleSteps: flags.scheduleSteps ?? flags.steps,
          lr: flags.lr, minLrRatio: flags.minLrRatio, warmupFraction: flags.warmup, weightDecay: flags.weightDecay,
          beta1: DEFAULT_ADAMW.beta1, beta2: DEFAULT_ADAMW.beta2, eps: DEFAULT_ADAMW.eps, clip: flags.clip, seed: flags.seed,
          pool: flags.pool, freezeBackbone: flags.freezeBackbone ?? false,
          probeWindows: flags.probeWindows ?? Math.min(flags.steps * flags.batch, 4096),
          rcAug: flags.rcAug ?? false, maxNFraction: flags.maxN,
          saveEvery: flags.saveEvery ?? Math.max(1, Math.round(flags.steps / 10)), keepCheckpoints: flags.keepCheckpoints,
          k: flags.k, alpha: flags.alpha, kmerSource: flags.kmerSource,
        };
        const ckpt = flags.model ? await loadCheckpoint(flags.model) : undefined;
        await prepareOutDir(flags.out);
        await writeSplitTsv(join(flags.out, SPLIT_TSV), splits);
        const bases = (which: 'train' | 'test') => splits.reduce((s, x) => s + x[which].reduce((a, r) => a + r.end - r.start, 0), 0);
        logLine(`classify: ${species.length} species (${species.join(', ')}) from ${sources.length} genome(s); train ${bases('train').toLocaleString('en-US')} bases, test ${bases('test').toLocaleString('en-US')} bases → ${join(flags.out, SPLIT_TSV)}`);
        if (run.kind === 'kmer') {
          const t0 = performance.now();
          await fitKmer(flags.out, run, splits, genomes, logLine);
          logLine(`classify: k-mer baseline (k ${run.k}, canonical, α ${run.alpha}) → ${flags.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
          return;
        }
        const d = dims(ckpt!.config);
        logLine(`classify: ${run.freezeBackbone ? 'linear probe on' : 'fine-tuning'} ${parameterCount(ckpt!.config).toLocaleString('en-US')}-parameter model (d_model ${d.D}, n_layer ${d.nLayer}) from ${flags.model}; pool ${run.pool}, L ${run.seqLen}, batch ${run.batch}, ${run.steps} steps, lr ${run.lr}`);
        const stages = classifyStages(run);
        if (stages.length > 1) logLine(`classify: sequence-length warmup: ${stages.map((s) => `${s.seqLen}×${s.batch} from step ${s.firstStep}`).join(', ')}`);
        await execute(flags.out, run, splits, genomes, ckpt!.config, ckpt!.weights, flags, undefined);
      } finally {
        await closeAll(genomes);
      }
    });
}

async function resumeTrain(flags: TrainFlags, fromCli: (k: keyof TrainFlags) => boolean): Promise<void> {
  const changed = RUN_FLAGS.filter(([k]) => fromCli(k)).map(([, n]) => n);
  if (changed.length) throw new UsageError(`--resume continues a run with its own settings: drop ${changed.join(', ')}`);
  const ck = await loadClassifyCheckpoint(flags.resume!);
  const run: ClassifyRun = { ...ck.state.run };
  if (fromCli('steps')) run.steps = flags.steps;
  if (fromCli('saveEvery')) run.saveEvery = flags.saveEvery!;
  if (fromCli('keepCheckpoints')) run.keepCheckpoints = flags.keepCheckpoints;
  if (run.steps <= ck.state.step) {
    logLine(`classify: ${ck.dir} is at step ${ck.state.step}, already at or past --steps ${run.steps}; nothing to do`);
    return;
  }
  const splits = await readSplitTsv(join(ck.runDir, SPLIT_TSV));
  const genomes = await openSources(splits);
  try {
    logLine(`classify: resuming ${ck.dir} at step ${ck.state.step} of ${run.steps}`);
    await execute(ck.runDir, run, splits, genomes, ck.config, ck.weights, flags, { state: ck.state, head: ck.head, optimizer: ck.optimizer, dir: ck.dir });
  } finally {
    await closeAll(genomes);
  }
}

async function execute(out: string, run: ClassifyRun, splits: SourceSplit[], genomes: Genome[], config: import('../../model/config.js').MambaConfig,
  weights: import('../../model/weights.js').MambaWeights, flags: TrainFlags, resume: Parameters<typeof trainClassifier>[0]['resume']): Promise<void> {
  const interrupt = interruptOnSigint('classify', logLine);
  let model: MambaModel | undefined;
  let outcome;
  try {
    if (run.freezeBackbone) {
      const backend = await createBackend(parseDevice(flags.device), { threads: flags.threads });
      model = await MambaModel.load(backend, config, weights);
    }
    const startStep = resume?.state.step ?? 0;
    const t0 = performance.now();
    outcome = await trainClassifier({
      runDir: out, run, splits, genomes, config, weights, featureModel: model, featureChunk: model ? chunkFor(model.backend, flags) : undefined,
      resume, signal: interrupt.signal, onLog: logLine,
      onStage: (s) => { if (classifyStages(run).length > 1) logLine(`classify: step ${s.firstStep}: sequence length ${s.seqLen}, ${s.batch} windows per step`); },
      onStep: (r) => {
        if (r.step % flags.logEvery === 0 || r.step === run.steps || r.step === startStep + 1) {
          const eta = ((performance.now() - t0) / 1000 / Math.max(1, r.step - startStep)) * (run.steps - r.step);
          logLine(`step ${r.step}/${run.steps}  loss ${r.loss.toFixed(4)}  batch accuracy ${r.accuracy.toFixed(3)}  lr ${r.lr.toExponential(2)}  |g| ${r.gradNorm.toFixed(3)}  ${r.windowsPerSec.toFixed(1)} windows/s  ETA ${eta.toFixed(0)} s`);
        }
      },
    });
  } finally {
    interrupt.release();
    await closeModel(model);
  }
  if (outcome.status === 'interrupted') {
    logLine(`classify: interrupted after step ${outcome.step}; checkpoint ${outcome.checkpoint ?? '(none)'}; continue with: mamba-dna classify train --resume ${out}`);
    process.exit(130);
  }
  logLine(`classify: done at step ${outcome.step} (last batch loss ${outcome.lastLoss?.toFixed(4)}); classifier → ${out} (classifier.json, ${HEAD_FILE}, config.json + model.safetensors)`);
}

interface ScorerFlags extends DeviceFlags {
  model: string;
}

/** Loads either kind of classifier; `close` releases the device. */
async function loadScorer(flags: ScorerFlags): Promise<{ scorer: Scorer; json: Awaited<ReturnType<typeof readClassifierJson>>; close: () => Promise<void> }> {
  const json = await readClassifierJson(flags.model);
  if (json.kind === 'kmer') {
    const m = await loadKmerModel(flags.model, json);
    return { scorer: kmerScorer(m), json, close: async () => {} };
  }
  const model = await loadModel(flags.model, flags);
  try {
    const head = await readHead(join(flags.model, json.head ?? HEAD_FILE), json.species.length, model.dims.D);
    return { scorer: mambaScorer(model, head, json.pool!, json.species, chunkFor(model.backend, flags)), json, close: () => closeModel(model) };
  } catch (err) {
    await closeModel(model);
    throw err;
  }
}

interface EvalFlags extends SourceFlags, ScorerFlags {
  seqLen?: number;
  samples: number;
  seed: number;
  maxN: number;
  json?: boolean;
  plot?: string;
}

function registerEval(parent: Command): void {
  const cmd = parent
    .command('eval')
    .description('accuracy, per-species precision/recall/F1 and the confusion matrix on test windows')
    .requiredOption('--model <dir>', "classifier directory written by 'classify train'");
  addSourceOptions(cmd)
    .option('--seq-len <L>', 'bases per test window (default: the length it was trained at)', positiveInt('--seq-len'))
    .option('--samples <K>', 'test windows per species', positiveInt('--samples'), 100)
    .option('--seed <n>', 'seed of the test windows: same seed, same windows, same numbers', nonNegativeInt('--seed'), 0)
    .option('--max-n <fraction>', 'redraw windows with more N than this', fraction('--max-n', true), DEFAULT_MAX_N_FRACTION)
    .option('--json', 'write {accuracy, perSpecies, confusion, labels, …} as JSON instead of tables')
    .option('--plot <file.svg>', 'also write the confusion matrix as an SVG heat map');
  addDeviceOptions(cmd).addHelpText('after', `
Test windows: without --species/--manifest, the test split (split.tsv) of every genome it was trained on.
With them, a genome it was trained on uses its test split; any other genome (a held-out strain or
assembly) is used whole. Precision is null (- in tables) for a species never predicted.
`)
    .action(async (flags: EvalFlags) => {
      const { scorer, json, close } = await loadScorer(flags);
      let genomes: Genome[] = [];
      try {
        const trained = await readSplitTsv(join(flags.model, json.split));
        let splits: SourceSplit[];
        if (flags.species || flags.manifest) {
          const sources = await sourcesFrom(flags);
          for (const s of sources) if (!json.species.includes(s.species)) throw new UsageError(`species '${s.species}' is not one this classifier knows (${json.species.join(', ')})`);
          genomes = await openSources(sources);
          splits = sources.map((s, g) => {
            const seen = trained.find((t) => t.species === s.species && resolve(t.fasta) === resolve(s.fasta));
            if (seen) return seen;
            if (trained.some((t) => resolve(t.fasta) === resolve(s.fasta))) throw new UsageError(`${s.fasta} was trained on as another species`);
            logLine(`classify eval: ${s.species} ${s.fasta}: not used in training: the whole genome is test`);
            return { ...s, train: [], test: genomes[g].sequences.map((q) => ({ name: q.name, start: 0, end: q.length, label: 'test' })) };
          });
        } else {
          splits = trained;
          genomes = await openSources(trained);
        }
        const seqLen = flags.seqLen ?? json.seqLen;
        const t0 = performance.now();
        const { report } = await evaluateClassifier(scorer, splits, genomes, {
          species: json.species, seqLen, samples: flags.samples, seed: flags.seed, maxNFraction: flags.maxN,
          onProgress: (done, total) => { if (done % 200 === 0 || done === total) logLine(`classify eval: ${done}/${total} windows`); },
        });
        logLine(`classify eval: ${report.samples} windows of ${seqLen} bases in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        const title = `${json.kind === 'kmer' ? `k-mer NB (k ${json.k})` : `Mamba classifier (pool ${json.pool})`}, L = ${seqLen}`;
        if (flags.plot) await writeFile(flags.plot, confusionSvg(report, title));
        if (flags.json) {
          await stdoutSink.write(`${JSON.stringify({ model: flags.model, kind: json.kind, seqLen, samplesPerSpecies: flags.samples, seed: flags.seed, ...report }, null, 2)}\n`);
        } else {
          await stdoutSink.write(`${title}\n${formatReport(report)}`);
        }
      } finally {
        await closeAll(genomes);
        await close();
      }
    });
}

interface PredictFlags extends ScorerFlags, RegionFlags {
  fasta: string;
}

function registerPredict(parent: Command): void {
  const cmd = parent
    .command('predict')
    .description('species and probabilities per region, TSV on stdout (chrom start end species p_<species>…)')
    .requiredOption('--model <dir>', "classifier directory written by 'classify train'")
    .requiredOption('--fasta <fasta>', 'indexed FASTA');
  addRegionOptions(cmd);
  addDeviceOptions(cmd).addHelpText('after', `
Each region is scored whole (the model streams it in chunks; the k-mer baseline counts all of it),
so regions need not be the training length; accuracy was measured at the training length.
Coordinates in the output are BED (0-based half-open). Without -r/--regions, every sequence.
`)
    .action(async (flags: PredictFlags) => {
      const genome = await openGenome(flags.fasta);
      let close: (() => Promise<void>) | undefined;
      try {
        const regions = await regionsFrom(genome, flags);
        const loaded = await loadScorer(flags);
        close = loaded.close;
        await predictRegions(loaded.scorer, genome, regions, stdoutSink);
      } finally {
        await close?.();
        await genome.close();
      }
    });
}

export function register(program: Command): void {
  const cmd = program
    .command('classify')
    .description('species classification of DNA windows (train | eval | predict): a fine-tuned Mamba, a linear probe, or a k-mer baseline');
  registerTrain(cmd);
  registerEval(cmd);
  registerPredict(cmd);
}
