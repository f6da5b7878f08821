// `mamba-dna embed`: final-norm hidden states of a model over genome regions, to stdout.
import { Command, Option } from 'commander';
import { embedRegions, type EmbedFormat, type Pool } from '../../embed/embed.js';
import { UsageError } from '../../errors.js';
import type { Region } from '../../genome/types.js';
import { stdoutSink } from '../io.js';
import {
  addDeviceOptions, addRegionOptions, chunkFor, closeModel, loadModel, openGenome, positiveInt, regionsFrom, tokenProgress,
  type DeviceFlags, type RegionFlags,
} from '../common.js';

interface EmbedFlags extends DeviceFlags, RegionFlags {
  model: string;
  fasta: string;
  window?: number;
  stride?: number;
  pool: Pool;
  format: EmbedFormat;
  rcAverage?: boolean;
}

/** Windows of `w` bases every `stride` bases inside each region; a window that would run past the end is dropped. */
export function windows(regions: readonly Region[], w: number, stride: number): Region[] {
  const out: Region[] = [];
  for (const r of regions) for (let s = r.start; s + w <= r.end; s += stride) out.push({ name: r.name, start: s, end: s + w });
  return out;
}

export function register(program: Command): void {
  const cmd = program
    .command('embed')
    .description('write embeddings (final-norm hidden states) of genome regions to stdout')
    .requiredOption('--model <dir>', 'model directory (config.json + model.safetensors)')
    .requiredOption('--fasta <fasta>', 'indexed FASTA (plain + .fai, or BGZF + .fai + .gzi)');
  addRegionOptions(cmd)
    .option('--window <bases>', 'embed windows of this many bases (inside the regions, or every sequence)', positiveInt('--window'))
    .option('--stride <bases>', 'with --window: step between window starts (default: the window)', positiveInt('--stride'))
    .addOption(new Option('--pool <pool>', 'none: one row per base (the hidden state after it); mean or last: one row per region').choices(['none', 'mean', 'last']).default('mean'))
    .addOption(new Option('--format <format>', 'tsv: chrom start end v1..vD (BED-like); jsonl: one JSON object per row; npy: a float32 NumPy array (rows, d_model)').choices(['tsv', 'jsonl', 'npy']).default('tsv'))
    .option('--rc-average', 'average with the embedding of the reverse complement (per base with --pool none)');
  addDeviceOptions(cmd)
    .addHelpText('after', `
Exactly the region's bases are fed, no special tokens. Regions stream through the model in chunks
that carry its state, so a 1 Mb region needs no more memory than a 64 kb one.
With --pool none and several regions, npy rows are the regions' bases concatenated in order.

Examples:
  mamba-dna embed --model runs/lambda --fasta genome.fa -r chr1:10001-11000 --pool none --format npy > x.npy
  mamba-dna embed --model runs/lambda --fasta genome.fa --window 1024 --stride 512 > windows.tsv
`)
    .action(async (flags: EmbedFlags) => {
      if (flags.stride !== undefined && flags.window === undefined) throw new UsageError('--stride needs --window');
      if (flags.format === 'npy' && process.stdout.isTTY) throw new UsageError('--format npy writes binary: redirect stdout to a file (> out.npy)');
      const genome = await openGenome(flags.fasta);
      let model;
      try {
        let regions = await regionsFrom(genome, flags);
        if (flags.window !== undefined) {
          regions = windows(regions, flags.window, flags.stride ?? flags.window);
          if (regions.length === 0) throw new UsageError(`--window ${flags.window} is longer than every selected region`);
        }
        model = await loadModel(flags.model, flags);
        const total = regions.reduce((s, r) => s + (r.end - r.start), 0) * (flags.rcAverage ? 2 : 1);
        const progress = tokenProgress(total, 'embed');
        try {
          await embedRegions(model, genome, regions, { pool: flags.pool, format: flags.format, rcAverage: flags.rcAverage ?? false, chunk: chunkFor(model.backend, flags), onProgress: progress.tick }, stdoutSink);
        } finally {
          progress.stop();
        }
      } finally {
        await closeModel(model);
        await genome.close();
      }
    });
}
