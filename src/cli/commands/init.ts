// `mamba-dna init --out DIR`: writes a freshly initialised model (config.json + model.safetensors).
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { saveCheckpoint } from '../../checkpoint/checkpoint.js';
import { UsageError, InputError } from '../../errors.js';
import { dims, makeConfig, parameterCount } from '../../model/config.js';
import { initWeights } from '../../model/init.js';
import { logLine } from '../io.js';

function positiveInt(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
      throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
    }
    return Number(value);
  };
}

function nonNegativeInt(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`${flag} must be a non-negative integer, got "${value}"`);
    return Number(value);
  };
}

interface InitOptions {
  out: string;
  dModel: number;
  nLayer: number;
  dState: number;
  expand: number;
  dConv: number;
  dtRank?: number;
  seed: number;
  force?: boolean;
}

export function register(program: Command): void {
  program
    .command('init')
    .description('write a freshly initialised Mamba DNA language model (config.json + model.safetensors, loadable by PyTorch/mamba_ssm)')
    .requiredOption('--out <dir>', 'checkpoint directory to create')
    .option('--d-model <n>', 'model width D', positiveInt('--d-model'), 128)
    .option('--n-layer <n>', 'number of Mamba blocks', positiveInt('--n-layer'), 12)
    .option('--d-state <n>', 'SSM state size N', positiveInt('--d-state'), 16)
    .option('--expand <n>', 'inner width factor (ED = expand·D)', positiveInt('--expand'), 2)
    .option('--d-conv <n>', 'causal conv width K', positiveInt('--d-conv'), 4)
    .option('--dt-rank <n>', 'rank R of the Δ projection (default: ceil(D/16))', positiveInt('--dt-rank'))
    .option('--seed <n>', 'random seed', nonNegativeInt('--seed'), 0)
    .option('--force', 'overwrite the model files in a non-empty --out directory')
    .action(async (opts: InitOptions) => {
      try {
        const st = await stat(opts.out);
        if (!st.isDirectory()) throw new InputError(`--out ${opts.out}: exists and is not a directory; choose a new directory name`);
        if (!opts.force && (await readdir(opts.out)).length > 0) {
          throw new InputError(`--out ${opts.out}: directory is not empty; choose an empty/new directory or pass --force to overwrite its model files`);
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES') throw new InputError(`--out ${opts.out}: permission denied`);
        if (code !== 'ENOENT') throw err;
      }
      const config = makeConfig({
        dModel: opts.dModel,
        nLayer: opts.nLayer,
        dState: opts.dState,
        expand: opts.expand,
        dConv: opts.dConv,
        dtRank: opts.dtRank ?? 'auto',
      });
      const weights = initWeights(config, opts.seed);
      await saveCheckpoint(opts.out, config, weights, { metadata: { 'mamba_dna.init_seed': String(opts.seed) } });
      const d = dims(config);
      logLine(
        `init: wrote ${opts.out} — ${parameterCount(config).toLocaleString('en-US')} parameters ` +
          `(d_model ${d.D}, n_layer ${d.nLayer}, d_state ${d.N}, expand ${config.expand}, d_conv ${d.K}, dt_rank ${d.R}, vocab ${config.vocabSize}→${d.V}, seed ${opts.seed})`,
      );
    });
}
