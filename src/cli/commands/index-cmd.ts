// `mamba-dna index <fasta>`: writes <fasta>.fai (samtools faidx format; plus .gzi for BGZF input), or
// with --bgzip a BGZF copy of a plain or plain-gzip FASTA with its .fai and .gzi.
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { indexFasta } from '../../genome/index-fasta.js';
import { logLine } from '../io.js';

interface IndexCmdOptions {
  bgzip?: boolean;
  out?: string;
  force?: boolean;
  level: number;
  quiet?: boolean;
}

function level(value: string): number {
  if (!/^\d$/.test(value)) throw new UsageError(`--level must be 0-9, got "${value}"`);
  return Number(value);
}

export function register(program: Command): void {
  program
    .command('index')
    .description('index a FASTA for random access: writes <fasta>.fai like samtools faidx (and .gzi for BGZF)')
    .argument('<fasta>', 'FASTA file: plain text or BGZF (plain gzip needs --bgzip)')
    .option('--bgzip', 'write a BGZF copy (x.fa → x.fa.gz, plain-gzip x.fa.gz → x.bgz.fa.gz) and index it')
    .option('--out <path>', 'with --bgzip: path of the BGZF copy')
    .option('--force', 'with --bgzip: replace an existing copy')
    .option('--level <0-9>', 'with --bgzip: deflate level', level, 6)
    .option('-q, --quiet', 'no summary on stderr (warnings still print)')
    .action(async (fasta: string, opts: IndexCmdOptions) => {
      if (!opts.bgzip && (opts.force || opts.level !== 6)) throw new UsageError('--force and --level go with --bgzip');
      const result = await indexFasta(fasta, {
        bgzip: opts.bgzip ?? false,
        ...(opts.out !== undefined ? { out: opts.out } : {}),
        force: opts.force ?? false,
        level: opts.level,
      });
      for (const w of result.warnings) logLine(`mamba-dna: warning: ${w}`);
      if (opts.bgzip && !result.wroteBgzf) logLine(`mamba-dna: ${fasta} is already BGZF; indexed it in place`);
      if (!opts.quiet) {
        const bases = result.records.reduce((s, r) => s + r.length, 0);
        const files = [...(result.wroteBgzf ? [result.fasta] : []), result.fai, ...(result.gzi ? [result.gzi] : [])];
        logLine(`mamba-dna: wrote ${files.join(', ')} (${result.records.length} sequences, ${bases} bases)`);
      }
    });
}
