// Region arguments at the CLI edge, samtools style (1-based, inclusive), turned into 0-based half-open
// Regions: `chr1` (whole sequence), `chr1:100-200`, `chr1:100` and `chr1:100-` (100 to the end),
// `chr1:-200` (1 to 200); thousands separators allowed (`chr1:1,000-2,000`). Names may contain ':'
// (as htslib: a whole-string name wins; `{name}:1-10` forces the split). Plus BED files (--bed).
import { InputError, UsageError } from '../errors.js';
import { checkBedRegions, readBed } from '../genome/bed.js';
import { someNames } from '../genome/open.js';
import type { Genome, Region } from '../genome/types.js';

const RANGE = /^([\d,]*)(?:(-)([\d,]*))?$/;

function unknownName(genome: Genome, name: string): InputError {
  return new InputError(`${genome.path}: no sequence named '${name}' (sequences: ${someNames(genome.sequences.map((s) => s.name))})`);
}

function parseRange(arg: string, name: string, range: string, length: number, genome: Genome): Region {
  const m = RANGE.exec(range);
  const num = (s: string) => Number(s.replace(/,/g, ''));
  if (!m || (m[1] === '' && m[3] === undefined) || /^,|,,|,$/.test(m[1]!) || /^,|,,|,$/.test(m[3] ?? '')) {
    throw new UsageError(`region '${arg}': expected NAME, NAME:START-END, NAME:START or NAME:START- (1-based, inclusive)`);
  }
  const start = m[1] === '' ? 1 : num(m[1]!);
  const end = m[3] === undefined || m[3] === '' ? length : num(m[3]);
  if (start < 1) throw new UsageError(`region '${arg}': positions are 1-based, the first base is 1`);
  if (start > length || end > length) {
    throw new InputError(`${genome.path}: region '${arg}' is outside '${name}', which has ${length} bases (1-${length})`);
  }
  if (end < start) throw new UsageError(`region '${arg}': end ${end} is before start ${start}`);
  return { name, start: start - 1, end };
}

/** One samtools-style region argument → a 0-based half-open Region checked against the genome. */
export function parseRegionArg(arg: string, genome: Genome): Region {
  if (arg.startsWith('{')) {
    const close = arg.indexOf('}');
    if (close < 0) throw new UsageError(`region '${arg}': '{' without '}'`);
    const name = arg.slice(1, close);
    const rest = arg.slice(close + 1);
    const length = genome.length(name);
    if (length === undefined) throw unknownName(genome, name);
    if (rest === '') return { name, start: 0, end: length };
    if (!rest.startsWith(':')) throw new UsageError(`region '${arg}': expected ':' after '}'`);
    return parseRange(arg, name, rest.slice(1), length, genome);
  }
  const colon = arg.lastIndexOf(':');
  const whole = genome.length(arg);
  const prefix = colon > 0 ? arg.slice(0, colon) : undefined;
  const prefixLength = prefix === undefined ? undefined : genome.length(prefix);
  const suffixIsRange = colon > 0 && RANGE.test(arg.slice(colon + 1)) && arg.slice(colon + 1) !== '';
  if (whole !== undefined) {
    if (prefixLength !== undefined && suffixIsRange) {
      throw new UsageError(`region '${arg}' is ambiguous: both a sequence name and ${prefix} with a range; write {${arg}} or {${prefix}}:${arg.slice(colon + 1)}`);
    }
    return { name: arg, start: 0, end: whole };
  }
  if (prefix !== undefined && prefixLength !== undefined) return parseRange(arg, prefix, arg.slice(colon + 1), prefixLength, genome);
  throw unknownName(genome, suffixIsRange && prefix !== undefined ? prefix : arg);
}

/**
 * The regions a command works on: region arguments, then the intervals of a BED file (optionally one
 * split), all checked against the genome; with neither, every sequence whole, in index order.
 */
export async function resolveRegions(genome: Genome, args: readonly string[], bed?: { path: string; split?: string }): Promise<Region[]> {
  const regions = args.map((a) => parseRegionArg(a, genome));
  if (bed) {
    const fromBed = await readBed(bed.path, bed.split === undefined ? {} : { split: bed.split });
    checkBedRegions(genome, fromBed, bed.path);
    regions.push(...fromBed);
  } else if (bed === undefined && args.length === 0) {
    regions.push(...genome.sequences.map((s) => ({ name: s.name, start: 0, end: s.length })));
  }
  return regions;
}
