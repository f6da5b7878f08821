// `mamba-dna info <fasta> [region...]`: per sequence (or region, or BED interval) length, N count,
// GC fraction of non-N bases and soft-masked (lowercase) fraction; a table, or JSON with --json.
// Rows are written as they are counted, so a huge genome streams and `| head` stops it early.
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { openGenome } from '../../genome/open.js';
import { regionStats, type Counts, type RegionStats, finishStats } from '../../genome/stats.js';
import type { Region } from '../../genome/types.js';
import { writeOut } from '../io.js';
import { resolveRegions } from '../region-args.js';

interface InfoOptions {
  bed?: string;
  split?: string;
  json?: boolean;
}

function label(r: Region, whole: boolean): string {
  return whole ? r.name : `${r.name}:${r.start + 1}-${r.end}`;
}

const frac = (x: number | null) => (x === null ? '-' : x.toFixed(4));

function jsonRow(s: RegionStats): string {
  return JSON.stringify(s);
}

export function register(program: Command): void {
  program
    .command('info')
    .description('per sequence: length, N count, GC fraction of non-N bases, soft-masked (lowercase) fraction')
    .argument('<fasta>', 'indexed FASTA (plain + .fai, or BGZF + .fai + .gzi; see `mamba-dna index`)')
    .argument('[regions...]', 'samtools-style regions, 1-based inclusive: NAME, NAME:START-END, NAME:START')
    .option('--bed <file>', 'count each interval of a BED file (0-based half-open)')
    .option('--split <name>', "with --bed: only rows whose 4th column is this (HyenaDNA's train/valid/test)")
    .option('--json', 'one JSON document instead of the table')
    .action(async (fasta: string, regionArgs: string[], opts: InfoOptions) => {
      if (opts.split !== undefined && opts.bed === undefined) throw new UsageError('--split selects rows of a --bed file; give --bed too');
      const genome = await openGenome(fasta);
      try {
        const bed = opts.bed === undefined ? undefined : { path: opts.bed, ...(opts.split !== undefined ? { split: opts.split } : {}) };
        const regions = await resolveRegions(genome, regionArgs, bed);
        const whole = (r: Region) => r.start === 0 && r.end === genome.length(r.name) && bed === undefined;
        const total: Counts = { nCount: 0, gcCount: 0, lowercaseCount: 0 };
        let totalLength = 0;
        const withLabel = regions.some((r) => r.label !== undefined);
        const nameWidth = Math.max(4, ...regions.map((r) => label(r, whole(r)).length));
        const numWidth = Math.max(6, String(regions.reduce((s, r) => s + r.end - r.start, 0)).length);
        const header = async () => {
          if (opts.json) await writeOut(`{"path":${JSON.stringify(fasta)},"gcFractionOf":"non-N bases","regions":[`);
          else {
            const cols = ['name'.padEnd(nameWidth), 'length'.padStart(numWidth), 'N'.padStart(numWidth), 'GC(non-N)', 'soft-masked'];
            await writeOut(`${cols.join('  ')}${withLabel ? '  label' : ''}\n`);
          }
        };
        // the header waits for the first row, so that a bad index fails before any output
        if (regions.length === 0) await header();
        for (let i = 0; i < regions.length; i++) {
          const r = regions[i]!;
          const region: Region = { name: r.name, start: r.start, end: r.end, ...(r.label !== undefined ? { label: r.label } : {}) };
          const s = await regionStats(genome, region);
          if (i === 0) await header();
          total.nCount += s.nCount;
          total.gcCount += s.gcCount;
          total.lowercaseCount += s.lowercaseCount;
          totalLength += s.length;
          if (opts.json) await writeOut(`${i === 0 ? '\n' : ',\n'}${jsonRow(s)}`);
          else {
            const cols = [
              label(r, whole(r)).padEnd(nameWidth),
              String(s.length).padStart(numWidth),
              String(s.nCount).padStart(numWidth),
              frac(s.gcFraction).padStart(9),
              frac(s.softMaskedFraction).padStart(11),
            ];
            await writeOut(`${cols.join('  ')}${withLabel ? `  ${r.label ?? ''}` : ''}\n`);
          }
        }
        const t = finishStats({ name: 'total', start: 0, end: totalLength }, total);
        if (opts.json) {
          const { name: _n, start: _s, end: _e, ...rest } = t;
          await writeOut(`\n],"total":${JSON.stringify({ regions: regions.length, ...rest })}}\n`);
        } else if (regions.length > 1) {
          const cols = [
            'total'.padEnd(nameWidth),
            String(t.length).padStart(numWidth),
            String(t.nCount).padStart(numWidth),
            frac(t.gcFraction).padStart(9),
            frac(t.softMaskedFraction).padStart(11),
          ];
          await writeOut(`${cols.join('  ')}\n`);
        }
      } finally {
        await genome.close();
      }
    });
}
