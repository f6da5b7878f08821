// `mamba-dna tokenize`: regions of an indexed FASTA → HyenaDNA token ids (or normalised bases), one line per region.
import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import { openGenome } from '../../genome/open.js';
import { writeTokenized } from '../../tokenizer/index.js';
import { stdoutSink } from '../io.js';
import { resolveRegions } from '../region-args.js';

interface TokenizeFlags {
  region?: string[];
  regions?: string;
  split?: string;
  format: 'ids' | 'bases';
  rc?: boolean;
  names?: boolean;
}

export function register(program: Command): void {
  program
    .command('tokenize')
    .description('print the token ids of regions of an indexed FASTA, one line per region (HyenaDNA vocabulary: A=7 C=8 G=9 T=10 N=11)')
    .argument('<fasta>', 'indexed FASTA (plain + .fai, or BGZF + .fai + .gzi)')
    .option('-r, --region <region>', 'NAME, NAME:START-END, NAME:START- (1-based inclusive); repeatable', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--regions <bed>', 'BED file of regions (0-based half-open), after any --region')
    .option('--split <label>', 'with --regions: only rows whose 4th column is this (train, valid, test)')
    .addOption(new Option('--format <format>', 'ids: space-separated token ids; bases: the tokens as letters (uppercase, IUPAC codes as N)').choices(['ids', 'bases']).default('ids'))
    .option('--rc', 'tokenize the reverse complement of each region')
    .option('--names', 'start each line with NAME:START-END (1-based; "(-)" with --rc) and a tab')
    .addHelpText('after', '\nWith no --region and no --regions, every sequence is tokenized whole, in index order.\n')
    .action(async (fasta: string, flags: TokenizeFlags) => {
      if (flags.split !== undefined && flags.regions === undefined) throw new UsageError('--split needs --regions BED');
      const genome = await openGenome(fasta);
      try {
        const bed = flags.regions === undefined ? undefined : flags.split === undefined ? { path: flags.regions } : { path: flags.regions, split: flags.split };
        const regions = await resolveRegions(genome, flags.region ?? [], bed);
        await writeTokenized(genome, regions, stdoutSink, { format: flags.format, reverseComplement: flags.rc ?? false, names: flags.names ?? false });
      } finally {
        await genome.close();
      }
    });
}
